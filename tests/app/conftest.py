"""AppTest fixtures: one seeded store and one sandbox per session, a signed-in user per test.

Pages reach the service graph only through ``vell_core.ui.bridge.get_services``; the fixture
points that at a graph built on a temp SQLite store, so each page runs exactly as in the app.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from tests.conftest import StoreTemplates, private_channel
from vell_core.app import Services, build_services
from vell_core.config.settings import PROJECT_ROOT, load_settings
from vell_core.ui import bridge as ui_bridge

APP_TIMEOUT = 30


@pytest.fixture(scope="session")
def app_services(
    tmp_path_factory: pytest.TempPathFactory, store_templates: StoreTemplates
) -> Iterator[Services]:
    """A full service graph (sandbox included) on a freshly seeded SQLite store."""
    folder: Path = tmp_path_factory.mktemp("appstore")
    url = store_templates.copy(folder / "vell.db", seeded=True)
    settings = load_settings(
        vell_database_url=url,
        vell_sandbox_port=0,
        vell_start_worker=True,
        vell_worker_wait_seconds=1,  # closing the graph waits for the worker's last poll
        vell_live_refresh_seconds=0.5,
        **private_channel(),
    )
    # The worker runs, as in the app once its first page is drawn.
    services = build_services(settings, start_background=True)
    yield services
    services.close()


@pytest.fixture
def page(app_services: Services, monkeypatch: pytest.MonkeyPatch) -> Callable[..., AppTest]:
    """Factory: ``page("pages/x.py", as_email="maya.chen@vell.ai")`` → an AppTest, not yet run."""
    monkeypatch.setattr(ui_bridge, "get_services", lambda: app_services)

    def make(path: str, *, as_email: str | None = None, **query: str) -> AppTest:
        test = AppTest.from_file(str(PROJECT_ROOT / path), default_timeout=APP_TIMEOUT)
        if as_email is not None:
            member = app_services.staff.by_email(as_email)
            assert member is not None, as_email
            test.session_state[ui_bridge.SIGNED_IN_KEY] = member.id
        for key, value in query.items():
            test.query_params[key] = value
        return test

    return make
