"""The Streamlit server config is hardened (security checklist T4)."""

from __future__ import annotations

import tomllib

from vell_core.config.settings import PROJECT_ROOT


def test_config_is_hardened() -> None:
    config = tomllib.loads((PROJECT_ROOT / ".streamlit" / "config.toml").read_text())
    assert config["server"]["enableXsrfProtection"] is True
    assert config["server"]["enableCORS"] is True
    assert config["server"]["enableStaticServing"] is False
    assert config["server"]["maxUploadSize"] <= 10
    assert config["client"]["showErrorDetails"] == "none"
    assert config["client"]["toolbarMode"] == "viewer"
    assert config["runner"]["magicEnabled"] is False


def test_secrets_file_is_never_committed() -> None:
    ignored = (PROJECT_ROOT / ".gitignore").read_text().splitlines()
    assert ".streamlit/secrets.toml" in ignored


def test_server_neither_watches_files_nor_forces_a_full_gc_per_run() -> None:
    """Issue 13: the watcher (whole repo, .venv and the SQLite WAL) and Streamlit's forced
    ``gc.collect(2)`` after every fragment tick held a core with a tab open."""
    config = tomllib.loads((PROJECT_ROOT / ".streamlit" / "config.toml").read_text())
    assert config["server"]["fileWatcherType"] == "none"
    assert config["runner"]["postScriptGC"] is False
