"""A real ``vell worker`` process SIGKILLed mid-exchange, restarted, and the credentials arrive
exactly once.

The test process serves the sandbox AWS on a free port and owns the store (a SQLite file, and
PostgreSQL when configured); the worker runs as a subprocess that joins both.
``VELL_TEST_KILL_AT`` makes it SIGKILL itself at one exchange step (the one settings class
reads it; sandbox only). The sandbox clock is then moved past the exchange lease, so the
restarted worker takes the claim over, and a one-second SQS visibility timeout makes SQS
deliver the dead worker's message again.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from sqlalchemy import text

from tests.conftest import private_channel
from tests.integration.exchange_sandbox_helpers import (
    CUSTOMER,
    Redemptions,
    approve,
    launch,
    rep,
)
from vell_core.app import Services, build_services
from vell_core.config.settings import PROJECT_ROOT, load_settings
from vell_core.domain.models import ExchangeState
from vell_core.services import seed
from vell_core.services.faults import AFTER_CLAIM, AFTER_STS, AFTER_VAULT_WRITE, BEFORE_DELETE
from vell_core.store import migrate
from vell_core.store.seed import SeedStore

# What the killed worker leaves behind (exchange state, redemptions so far), and the
# redemptions the whole story costs. ``before_delete`` dies at the first message's delete,
# which may be a StateChange or the ExchangeToken (IAM's order is not fixed): either is fine.
AFTER_KILL: dict[str, tuple[tuple[str, ...], tuple[int, ...], int]] = {
    AFTER_CLAIM: (("claimed",), (0,), 1),
    AFTER_STS: (("claimed",), (1,), 2),
    AFTER_VAULT_WRITE: (("done",), (1,), 1),
    BEFORE_DELETE: (("none", "done"), (0, 1), 1),
}
DEADLINE_SECONDS = 90


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def setup(store_url: str) -> Iterator[tuple[Services, dict[str, str]]]:
    """The sandbox here, the store on each backend, and the worker's environment."""
    url = store_url
    migrate.upgrade(url)
    channel = private_channel()
    key = Fernet.generate_key().decode()
    port = free_port()
    settings = load_settings(
        vell_database_url=url, vell_sandbox_port=port, vell_vault_key=key, **channel
    )
    graph = build_services(settings, start_background=False)
    seed.seed(SeedStore(graph.engine), datetime.now(UTC))
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("VELL_", "AWS_DELEGATION"))},
        "PYTHONPATH": str(PROJECT_ROOT),
        "VELL_DATABASE_URL": url,
        "VELL_SANDBOX_PORT": str(port),
        "VELL_VAULT_KEY": key,
        "AWS_DELEGATION_SNS_TOPIC_ARN": channel["aws_delegation_sns_topic_arn"],
        "VELL_DELEGATION_QUEUE_URL": channel["vell_delegation_queue_url"],
        "VELL_WORKER_VISIBILITY_TIMEOUT": "1",
        "VELL_WORKER_WAIT_SECONDS": "1",
        "VELL_LOG_LEVEL": "WARNING",
    }
    yield graph, env
    graph.close()


def start_worker(env: dict[str, str], log: Path, kill_at: str | None = None) -> subprocess.Popen:
    worker_env = {**env, **({"VELL_TEST_KILL_AT": kill_at} if kill_at else {})}
    return subprocess.Popen(
        [sys.executable, "-m", "vell_core.cli", "worker"],
        cwd=PROJECT_ROOT,
        env=worker_env,
        stdout=log.open("ab"),
        stderr=subprocess.STDOUT,
    )


def exchange_row(services: Services, delegation_id: int) -> tuple[str, int]:
    with services.engine.connect() as connection:
        state = connection.execute(
            text("SELECT exchange_state FROM delegation_requests WHERE id = :d"),
            {"d": delegation_id},
        ).scalar()
        stored = connection.execute(
            text(
                "SELECT count(*) FROM audit_log WHERE delegation_id = :d "
                "AND action = 'sts.GetDelegatedAccessToken' AND outcome = 'ok'"
            ),
            {"d": delegation_id},
        ).scalar()
    return str(state), int(stored or 0)


def settled(services: Services, delegation_id: int) -> bool:
    """The exchange is done, no message is half-processed, and the queue is empty."""
    with services.engine.connect() as connection:
        open_inbox = connection.execute(
            text("SELECT count(*) FROM notification_inbox WHERE status IN ('received', 'failed')")
        ).scalar()
    attributes = services.aws.client("sqs").get_queue_attributes(
        QueueUrl=str(services.settings.vell_delegation_queue_url),
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    )["Attributes"]
    queued = sum(int(v) for v in attributes.values())
    return exchange_row(services, delegation_id)[0] == "done" and not open_inbox and not queued


@pytest.mark.parametrize("step", list(AFTER_KILL))
def test_sigkilled_worker_restarts_and_credentials_arrive_exactly_once(
    setup: tuple[Services, dict[str, str]],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    step: str,
) -> None:
    services, env = setup
    redemptions = Redemptions(services, monkeypatch)
    log = tmp_path / "worker.log"
    view = launch(services)
    approve(services, view)

    killed = start_worker(env, log, kill_at=step)
    try:
        returncode = killed.wait(timeout=DEADLINE_SECONDS)
    finally:
        if killed.poll() is None:
            killed.kill()
    assert returncode == -signal.SIGKILL, log.read_text()[-2000:]
    left_state, redeemed_before, redeemed_total = AFTER_KILL[step]
    assert exchange_row(services, view.id)[0] in left_state
    assert redemptions.count in redeemed_before

    # SQS redelivers after the visibility timeout; the lease and the inbox claim have run out.
    services.sandbox.advance(2 * services.settings.vell_exchange_lease_seconds + 1)
    restarted = start_worker(env, log)
    try:
        deadline = time.monotonic() + DEADLINE_SECONDS
        while not settled(services, view.id) and time.monotonic() < deadline:
            assert restarted.poll() is None, log.read_text()[-2000:]
            time.sleep(0.2)  # another process is working; nothing here to wait on but the store
        assert settled(services, view.id), log.read_text()[-2000:]
    finally:
        restarted.send_signal(signal.SIGTERM)
        restarted.wait(timeout=30)

    assert exchange_row(services, view.id) == (ExchangeState.DONE.value, 1)  # stored once
    assert redemptions.count == redeemed_total
    clients = services.customer_access.for_delegation(rep(services), view.id)  # unsealed here
    assert clients.client("sts").get_caller_identity()["Account"] == CUSTOMER
