"""A second process joins a sandbox served by another one: its clock, and a separate worker.

Issue 11 observation 5: the joining process asked ``/_sandbox//_sandbox/clock`` (404), so a
``vell worker`` outside the app failed every round. These tests use real second processes.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

from tests.conftest import StoreTemplates
from tests.sandbox.processes import (
    VELL,
    clean_environment,
    customer_approves,
    sandbox_process,
    spawn,
    stop,
)
from vell_core.app import Services, build_services
from vell_core.config.settings import load_settings
from vell_core.domain.models import DelegationPath, ExchangeState
from vell_core.sandbox.control import SandboxControl
from vell_core.sandbox.runtime import RemoteSandbox, ensure_sandbox
from vell_core.services.delegation import LaunchRequest, new_launch_token

CUSTOMER = "602341187520"
EXCHANGE_TIMEOUT_S = 60.0


@pytest.fixture(scope="module")
def endpoint() -> Iterator[str]:
    """The sandbox served alone by another process."""
    with sandbox_process() as url:
        yield url


def _port(endpoint: str) -> int:
    return int(endpoint.rsplit(":", 1)[1])


def test_a_joining_process_reads_and_advances_the_sandbox_clock(endpoint: str) -> None:
    """``ensure_sandbox`` joins the other process, and its clock follows the sandbox's."""
    joined = ensure_sandbox(load_settings(vell_sandbox_port=_port(endpoint)))
    assert isinstance(joined, RemoteSandbox)
    served = datetime.fromisoformat(SandboxControl(endpoint).now().replace("Z", "+00:00"))
    assert abs(joined.clock.now() - served) < timedelta(seconds=5)
    after = joined.advance(3600)
    assert after - served >= timedelta(seconds=3600)
    served_after = datetime.fromisoformat(SandboxControl(endpoint).now().replace("Z", "+00:00"))
    assert abs(after - served_after) < timedelta(seconds=5)


@pytest.fixture
def app_services(
    endpoint: str, tmp_path: Path, store_templates: StoreTemplates
) -> Iterator[tuple[Services, dict[str, str]]]:
    """The app's services in this process, joined to the sandbox, on a shared SQLite store."""
    url = store_templates.copy(tmp_path / "shared.db", seeded=True)
    key = Fernet.generate_key().decode()
    settings = load_settings(
        vell_database_url=url, vell_sandbox_port=_port(endpoint), vell_vault_key=key
    )
    services = build_services(settings, start_background=False)
    env = {"VELL_DATABASE_URL": url, "VELL_SANDBOX_PORT": str(_port(endpoint))}
    yield services, {**env, "VELL_VAULT_KEY": key}
    services.close()


def test_a_separate_vell_worker_exchanges_the_token(
    endpoint: str, app_services: tuple[Services, dict[str, str]]
) -> None:
    """A ``vell worker`` process (not the app) receives, verifies and exchanges the token."""
    services, env = app_services
    rep = services.staff.by_email("maya.chen@vell.ai")
    assert rep is not None
    view = services.delegations.launch(
        rep,
        LaunchRequest(
            company="Second Process Co",
            aws_account_id=CUSTOMER,
            path=DelegationPath.DEMO,
            launch_token=new_launch_token(),
        ),
    )
    worker = spawn([*VELL, "worker"], clean_environment(**env), "second-process-worker.log")
    try:
        customer_approves(endpoint, CUSTOMER, view.delegation_request_id)
        deadline = time.monotonic() + EXCHANGE_TIMEOUT_S
        current = services.delegations.get(rep, view.id)
        while current.exchange_state is not ExchangeState.DONE and time.monotonic() < deadline:
            assert worker.poll() is None, "the worker died; see test-results/"
            time.sleep(0.25)  # waiting on another process: nothing to subscribe to
            current = services.delegations.get(rep, view.id)
    finally:
        stop(worker)
    assert current.exchange_state is ExchangeState.DONE
    clients = services.customer_access.for_delegation(rep, view.id)
    assert clients.client("sts").get_caller_identity()["Account"] == CUSTOMER
