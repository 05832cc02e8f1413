"""Real-browser fixtures: a fresh store, ``streamlit run Home.py`` on a free port, Chromium.

The suite drives Debian's Chromium (``/usr/bin/chromium``); it never downloads a browser. When
Chromium is absent every test here is skipped with the reason, and no server is started.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Generator, Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.e2e.helpers import (
    CHROMIUM,
    CHROMIUM_FLAGS,
    REPO_ROOT,
    SCREENSHOTS,
    VIEWPORT,
    free_port,
    streamlit_command,
    watch_runs,
)

RESULTS = REPO_ROOT / "test-results"
SERVER_LOG = RESULTS / "e2e-streamlit.log"
STARTUP_TIMEOUT_S = 60.0
BOOTSTRAP_TIMEOUT_S = 120.0
expect.set_options(timeout=15_000)  # a rerun on a loaded CI machine can take a few seconds


@pytest.fixture(scope="session")
def chromium_executable() -> Path:
    """Debian's Chromium, or a skip naming what is missing."""
    if not CHROMIUM.exists():
        pytest.skip(
            f"browser tests need Chromium at {CHROMIUM} "
            "(apt-get install chromium chromium-driver; .ci/run does it)"
        )
    return CHROMIUM


def app_environment(database_url: str, sandbox_port: int, app_url: str = "") -> dict[str, str]:
    """The server's environment: sandbox AWS, this store, a private sandbox port, fast refresh."""
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("VELL_", "AWS_DELEGATION_"))
    }
    env.update(
        {
            "VELL_AWS_MODE": "sandbox",
            "VELL_DATABASE_URL": database_url,
            "VELL_SANDBOX_PORT": str(sandbox_port),
            "VELL_LIVE_REFRESH_SECONDS": "1",
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_CONFIG_FILE": os.devnull,
            "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
        }
    )
    if app_url:  # demo links must point at this server, as they point at make run's
        env["VELL_SANDBOX_APP_URL"] = app_url
    return env


def bootstrap_store(env: dict[str, str]) -> None:
    """``vell bootstrap``: migrate and seed the store the environment names."""
    subprocess.run(
        [sys.executable, "-c", "from vell_core.cli import app; app()", "bootstrap"],
        cwd=REPO_ROOT,
        env=env,
        check=True,
        capture_output=True,
        timeout=BOOTSTRAP_TIMEOUT_S,
    )


def wait_until_healthy(process: subprocess.Popen[bytes], url: str) -> None:
    """Poll Streamlit's health endpoint until it answers (bounded), or fail with the log."""
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"streamlit exited with {process.returncode}; see {SERVER_LOG}")
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(0.25)
    pytest.fail(f"streamlit did not answer within {STARTUP_TIMEOUT_S:g} s; see {SERVER_LOG}")


def stop(process: subprocess.Popen[bytes]) -> None:
    """Terminate the server's whole process group (SIGKILL if it lingers)."""
    if process.poll() is not None:
        return
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)


@pytest.fixture(scope="session")
def sandbox_port() -> int:
    """The port the app's sandbox AWS listens on (the customer's side of a journey uses it)."""
    return free_port()


@pytest.fixture(scope="session")
def sandbox_url(app_url: str, sandbox_port: int) -> str:
    """The sandbox AWS endpoint of the running app (it listens once the app served a page)."""
    return f"http://127.0.0.1:{sandbox_port}"


@pytest.fixture(scope="session")
def app_url(
    chromium_executable: Path, tmp_path_factory: pytest.TempPathFactory, sandbox_port: int
) -> Iterator[str]:
    """Base URL of ``streamlit run Home.py`` on a free port, over a freshly seeded store."""
    store = tmp_path_factory.mktemp("e2e-store") / "vell.db"
    port = free_port()
    while port == sandbox_port:
        port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = app_environment(f"sqlite:///{store}", sandbox_port, url)
    bootstrap_store(env)
    RESULTS.mkdir(exist_ok=True)
    with SERVER_LOG.open("wb") as log:
        process = subprocess.Popen(
            streamlit_command(port),
            cwd=REPO_ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group, so teardown ends all of it
        )
        try:
            wait_until_healthy(process, url)
            yield url
        finally:
            stop(process)


@pytest.fixture(scope="session")
def browser(chromium_executable: Path, playwright_driver: Any) -> Iterator[Browser]:
    """Headless Debian Chromium driven by Playwright (a fresh profile per launch)."""
    chromium = playwright_driver.chromium.launch(
        executable_path=str(chromium_executable), args=list(CHROMIUM_FLAGS)
    )
    yield chromium
    chromium.close()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """Remember each phase's report on the item, so ``page`` can screenshot failures."""
    report: pytest.TestReport = yield
    setattr(item, f"report_{report.when}", report)
    return report


@pytest.fixture
def page(browser: Browser, app_url: str, request: pytest.FixtureRequest) -> Iterator[Page]:
    """A new browser context (so a new Streamlit session); a screenshot is kept on failure."""
    context = browser.new_context(viewport=VIEWPORT, base_url=app_url)
    context.set_default_timeout(15_000)
    tab = context.new_page()
    watch_runs(tab)
    yield tab
    report = getattr(request.node, "report_call", None)
    if report is not None and report.failed:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        tab.screenshot(path=str(SCREENSHOTS / f"FAILED-{request.node.name}.png"), full_page=True)
    context.close()
