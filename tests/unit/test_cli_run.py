"""``vell run`` (what ``make run`` serves): the sandbox in a child process, the services built
before Streamlit opens its port, and nothing heavy imported before the first page."""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

import pytest
import requests
from typer.testing import CliRunner

from tests.conftest import GraphFactory
from vell_core import cli
from vell_core.config.settings import PROJECT_ROOT
from vell_core.sandbox.runtime import RemoteSandbox
from vell_core.services.worker import NotificationWorker
from vell_core.store import migrate
from vell_core.ui import bridge as ui_bridge


@pytest.fixture
def run_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """``vell run``'s environment: a migrated store of the test's own, a free sandbox port
    (never the shared 4599), no worker, and no service graph built yet in this process."""
    url = f"sqlite:///{tmp_path / 'run.db'}"
    migrate.upgrade(url)
    monkeypatch.setenv("VELL_DATABASE_URL", url)
    monkeypatch.setenv("VELL_SANDBOX_PORT", "0")
    monkeypatch.setenv("VELL_START_WORKER", "false")
    monkeypatch.setattr(ui_bridge, "_PROCESS_SERVICES", None)


def test_services_and_sandbox_are_up_before_streamlit_starts(
    run_environment: None, monkeypatch: pytest.MonkeyPatch
) -> None:
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


def test_the_sandbox_runs_in_a_child_process_that_stops_with_the_app(
    run_environment: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: dict[str, object] = {}

    def fake_streamlit_main() -> None:
        services = ui_bridge._PROCESS_SERVICES
        assert services is not None
        seen["endpoint"] = services.sandbox.endpoint
        answer = requests.get(f"{services.sandbox.endpoint}/_sandbox/health", timeout=5)
        seen["health"] = answer.status_code

    monkeypatch.setattr("streamlit.web.cli.main", fake_streamlit_main)
    monkeypatch.setattr(cli.sys, "argv", list(cli.sys.argv))
    try:
        result = CliRunner().invoke(cli.app, ["run"])
        assert result.exit_code == 0, result.output
    finally:
        if ui_bridge._PROCESS_SERVICES is not None:
            ui_bridge._PROCESS_SERVICES.close()
    assert seen["health"] == 200
    assert isinstance(ui_bridge._PROCESS_SERVICES.sandbox, RemoteSandbox)
    with pytest.raises(requests.ConnectionError):  # the child went with the app
        requests.get(f"{seen['endpoint']}/_sandbox/health", timeout=5)


def test_a_sandbox_port_taken_by_something_else_is_a_clear_error(
    run_environment: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        monkeypatch.setenv("VELL_SANDBOX_PORT", str(squatter.getsockname()[1]))
        monkeypatch.setattr("streamlit.web.cli.main", lambda: pytest.fail("served anyway"))
        result = CliRunner().invoke(cli.app, ["run"])
    assert result.exit_code == 2
    assert "The sandbox AWS did not start" in result.output
    assert "Traceback" not in result.output
    assert ui_bridge._PROCESS_SERVICES is None


def test_vell_run_loads_neither_pandas_nor_moto_nor_alembic_before_its_first_page() -> None:
    # What `vell run` imports before Streamlit serves; each of these cost 0.2-0.6 s of start-up
    # (issue 13's ready_s) and is loaded later, where it is used.
    probe = (
        "import sys, vell_core.cli, vell_core.ui.bridge, vell_core.ui.navigation, "
        "vell_core.sandbox.runtime; "
        "print(sorted(m for m in ('pandas', 'numpy', 'moto', 'alembic', 'altair') "
        "if m in sys.modules))"
    )
    loaded = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=120
    ).stdout.strip()
    assert loaded == "[]"


def test_background_work_starts_once_per_graph(make_services: GraphFactory) -> None:
    services = make_services(seeded=False)

    def workers() -> int:
        return sum(isinstance(item, NotificationWorker) for item in services.background)

    assert workers() == 0
    services.start_background()
    services.start_background()
    assert workers() == 1
