"""The scale-out topology end to end, every part its own process (issue 11).

On PostgreSQL (a fresh schema): the sandbox AWS served alone (``python -m vell_core.sandbox``),
two ``streamlit run Home.py`` replicas with the in-app worker off (``VELL_START_WORKER=false``),
and one ``vell worker``. They share nothing but the database, the sandbox endpoint and the vault
key. A rep launches a demo on replica A; the customer approves through the sandbox's persona
API calls; the worker is SIGKILLed in the middle of the exchange (after AWS minted the
credentials, before they reached the vault: the test-only ``VELL_TEST_KILL_AT=after_sts``) and
started again; the credentials arrive exactly once; replica B, another process with other
sessions, lists the customer's products.

Skipped, with the reason, without PostgreSQL (``VELL_TEST_DATABASE_URL``) or Chromium.
"""

from __future__ import annotations

import re
import signal
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from cryptography.fernet import Fernet
from playwright.sync_api import Browser, Page, expect
from sqlalchemy import text

from tests.e2e.conftest import app_environment, bootstrap_store, wait_until_healthy
from tests.e2e.helpers import (
    CHROMIUM,
    CHROMIUM_FLAGS,
    REPO_ROOT,
    VIEWPORT,
    expect_connected,
    free_port,
    launch,
    main,
    sign_in,
    streamlit_command,
    watch_runs,
)
from tests.e2e.test_demo_browser import metric, open_live_demo, open_tab
from tests.sandbox.processes import VELL, customer_approves, sandbox_process, spawn, stop
from vell_core.store.engine import make_engine

pytestmark = pytest.mark.e2e

REP = "Maya Chen"
COMPANY = "Scale Out Co"
ACCOUNT = "602341187520"  # a sandbox seller with listings
KILL_STEP = "after_sts"
WAIT_S = 90.0


@dataclass
class Topology:
    """The running processes' addresses and the shared store."""

    sandbox: str
    replica_a: str
    replica_b: str
    env: dict[str, str]
    database_url: str


def _streamlit(port: int, env: dict[str, str], log: str) -> subprocess.Popen[bytes]:
    return spawn(streamlit_command(port), env, log)


@pytest.fixture
def topology(postgres_url: str) -> Iterator[Topology]:
    """Sandbox alone + two app replicas without in-app workers, over one fresh PG schema."""
    if not CHROMIUM.exists():
        pytest.skip(f"the scale-out test drives a browser: it needs Chromium at {CHROMIUM}")
    with sandbox_process() as endpoint:
        env = app_environment(postgres_url, int(endpoint.rsplit(":", 1)[1]))
        env.update(
            {
                "VELL_START_WORKER": "false",  # the one worker is `vell worker` below
                "VELL_VAULT_KEY": Fernet.generate_key().decode(),
                "VELL_EXCHANGE_LEASE_SECONDS": "5",  # a dead worker's claim is taken over soon
                "VELL_WORKER_VISIBILITY_TIMEOUT": "2",  # and its message comes back soon
                "VELL_WORKER_WAIT_SECONDS": "1",  # and a stopped worker finishes its poll soon
                "PYTHONPATH": str(REPO_ROOT),
            }
        )
        bootstrap_store(env)
        ports = [free_port(), free_port()]
        replicas = [
            _streamlit(port, env, f"scale-out-replica-{name}.log")
            for port, name in zip(ports, "ab", strict=True)
        ]
        urls = [f"http://127.0.0.1:{port}" for port in ports]
        try:
            for process, url in zip(replicas, urls, strict=True):
                wait_until_healthy(process, url)
            yield Topology(endpoint, urls[0], urls[1], env, postgres_url)
        finally:
            for process in replicas:
                stop(process)


@pytest.fixture
def browser(playwright_driver: Any) -> Iterator[Browser]:
    """Headless Debian Chromium (the e2e suite's flags), on the run's one Playwright driver."""
    chromium = playwright_driver.chromium.launch(
        executable_path=str(CHROMIUM), args=list(CHROMIUM_FLAGS)
    )
    yield chromium
    chromium.close()


def _page(browser: Browser, base_url: str) -> Page:
    context = browser.new_context(viewport=VIEWPORT, base_url=base_url)
    context.set_default_timeout(15_000)
    tab = context.new_page()
    watch_runs(tab)
    return tab


def _launched_request_id(database_url: str) -> str:
    """The AWS id of the request the rep just launched (the newest row; the seed's are older)."""
    engine = make_engine(database_url)
    try:
        with engine.connect() as connection:
            return str(
                connection.execute(
                    text(
                        "SELECT delegation_request_id FROM delegation_requests "
                        "WHERE delegation_request_id IS NOT NULL ORDER BY id DESC LIMIT 1"
                    )
                ).scalar_one()
            )
    finally:
        engine.dispose()


def _row(database_url: str, request_id: str) -> dict[str, Any]:
    """The delegation row, its sealed credentials and its exchange audit, read from PG."""
    engine = make_engine(database_url)
    try:
        with engine.connect() as connection:
            row = connection.execute(
                text(
                    "SELECT id, exchange_state FROM delegation_requests "
                    "WHERE delegation_request_id = :r"
                ),
                {"r": request_id},
            ).one()
            sealed = connection.execute(
                text("SELECT count(*) FROM sealed_credentials WHERE delegation_id = :d"),
                {"d": row.id},
            ).scalar()
            exchanged = connection.execute(
                text(
                    "SELECT count(*) FROM audit_log WHERE delegation_id = :d "
                    "AND action = 'sts.GetDelegatedAccessToken' AND outcome = 'ok'"
                ),
                {"d": row.id},
            ).scalar()
    finally:
        engine.dispose()
    return {"state": str(row.exchange_state).lower(), "sealed": sealed, "exchanged": exchanged}


def _wait_for(predicate: Any, what: str) -> None:
    """Poll another process's effect, bounded (there is nothing to subscribe to)."""
    deadline = time.monotonic() + WAIT_S
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {WAIT_S:g} s waiting for {what}")
        time.sleep(0.5)


def test_two_replicas_and_a_separate_worker_survive_a_killed_exchange(
    topology: Topology, browser: Browser
) -> None:
    """Launch on A, approve, worker SIGKILLed mid-exchange and restarted, B lists products."""
    page_a = _page(browser, topology.replica_a)
    sign_in(page_a, topology.replica_a, REP)
    launch(page_a, COMPANY, ACCOUNT, "Quick Start Demo")

    doomed = spawn(
        [*VELL, "worker"], {**topology.env, "VELL_TEST_KILL_AT": KILL_STEP}, "scale-out-w1.log"
    )
    worker: subprocess.Popen[bytes] | None = None
    try:
        request_id = _launched_request_id(topology.database_url)
        customer_approves(topology.sandbox, ACCOUNT, request_id)
        _wait_for(lambda: doomed.poll() is not None, f"the worker to die at {KILL_STEP}")
        assert doomed.returncode == -signal.SIGKILL
        killed = _row(topology.database_url, request_id)
        # Mid-exchange: AWS minted the credentials, but none reached the vault.
        assert killed == {"state": "claimed", "sealed": 0, "exchanged": 0}

        worker = spawn([*VELL, "worker"], topology.env, "scale-out-w2.log")
        _wait_for(
            lambda: _row(topology.database_url, request_id)["state"] == "done",
            "the restarted worker to take over the dead claim and finish the exchange",
        )
        # Exactly once: one sealed copy, one successful exchange in the audit trail. (This
        # depends on the exchange lease from the exchange branch, merged from main.)
        assert _row(topology.database_url, request_id) == {
            "state": "done",
            "sealed": 1,
            "exchanged": 1,
        }

        expect_connected(page_a, COMPANY)  # A's wizard, live, from the shared store

        page_b = _page(browser, topology.replica_b)
        sign_in(page_b, topology.replica_b, REP)
        open_live_demo(page_b, COMPANY)  # only connected customers are offered
        open_tab(page_b, "Listings")
        listings = main(page_b).get_by_role("tabpanel", name="Listings")
        products = metric(listings, "Products")
        expect(products).to_be_visible()
        expect(products.get_by_test_id("stMetricValue")).to_have_text(re.compile(r"^[1-9]\d*$"))
        assert worker.poll() is None, "the restarted worker keeps running"
    finally:
        stop(doomed)
        if worker is not None:
            stop(worker)
