"""``vell run`` (what ``make run`` serves) builds the services before Streamlit opens its port."""

from __future__ import annotations

from pathlib import Path

import pytest
import requests
from typer.testing import CliRunner

from vell_core import cli
from vell_core.config.settings import PROJECT_ROOT
from vell_core.store import migrate
from vell_core.ui import bridge as ui_bridge


def test_services_and_sandbox_are_up_before_streamlit_starts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = f"sqlite:///{tmp_path / 'run.db'}"
    migrate.upgrade(url)
    monkeypatch.setenv("VELL_DATABASE_URL", url)
    monkeypatch.setenv("VELL_SANDBOX_PORT", "0")  # a free port, never the shared 4599
    monkeypatch.setenv("VELL_START_WORKER", "false")
    monkeypatch.setattr(ui_bridge, "_PROCESS_SERVICES", None)
    seen: dict[str, object] = {}

    def fake_streamlit_main() -> None:
        services = ui_bridge._PROCESS_SERVICES
        seen["built"] = services is not None
        endpoint = services.sandbox.endpoint if services is not None else ""
        seen["sandbox"] = requests.get(f"{endpoint}/_sandbox/health", timeout=5).status_code
        seen["argv"] = list(cli.sys.argv)

    monkeypatch.setattr("streamlit.web.cli.main", fake_streamlit_main)
    monkeypatch.setattr(cli.sys, "argv", list(cli.sys.argv))
    try:
        result = CliRunner().invoke(cli.app, ["run", "--server.port", "8123"])
        assert result.exit_code == 0, result.output
        assert seen["built"] is True
        assert seen["sandbox"] == 200
        assert seen["argv"] == [
            "streamlit",
            "run",
            str(PROJECT_ROOT / "Home.py"),
            "--server.port",
            "8123",
        ]
        assert ui_bridge.start_services() is ui_bridge._PROCESS_SERVICES  # built once
    finally:
        if ui_bridge._PROCESS_SERVICES is not None:
            ui_bridge._PROCESS_SERVICES.close()
