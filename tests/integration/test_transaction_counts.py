"""How many transactions one unit of work commits: pinned, so nobody adds them back unnoticed.

Commits are counted with SQLAlchemy's ``commit`` event on the engine (savepoints are not
commits), in the calling thread only (the audit writer thread batches on its own schedule).
A StateChange is one transaction. An ExchangeToken is one before the STS calls (inbox, match,
lease) and one recording the outcome; after a success one more marks the message applied
(the ``after_vault_write`` fault point sits between those two on purpose). A launch is one
before the AWS call (the row) and one after it (the created request and its funnel step).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from sqlalchemy import event, text
from sqlalchemy.engine import Engine

from tests.conftest import GraphFactory
from tests.integration.ingest_helpers import (
    ACCOUNT,
    T0,
    CountingSts,
    FakeFactory,
    FakeVerifier,
    envelope,
    exchange_token,
    insert_request,
    state_change,
)
from vell_core.aws.vault import CredentialVault
from vell_core.domain.clock import FrozenClock
from vell_core.domain.models import DelegationPath
from vell_core.services.audit import AuditRecorder
from vell_core.services.delegation import LaunchRequest, new_launch_token
from vell_core.services.ingest import NotificationProcessor, Outcome
from vell_core.store.audit_log import AuditLogStore
from vell_core.store.credentials import CredentialStore
from vell_core.store.funnel import FunnelRecorder
from vell_core.store.inbox import InboxStore


class Commits:
    """Counts the commits the calling thread makes on one engine."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._thread = threading.get_ident()
        self.count = 0

    def _on_commit(self, _connection: Any) -> None:
        if threading.get_ident() == self._thread:
            self.count += 1

    @contextmanager
    def counting(self) -> Iterator[Commits]:
        """Count from zero inside the block."""
        self.count = 0
        event.listen(self._engine, "commit", self._on_commit)
        try:
            yield self
        finally:
            event.remove(self._engine, "commit", self._on_commit)


def processor(engine: Engine, sts: CountingSts) -> NotificationProcessor:
    clock = FrozenClock(T0)
    return NotificationProcessor(
        store=InboxStore(engine, FunnelRecorder(engine, clock)),
        clock=clock,
        verifier=FakeVerifier(),  # type: ignore[arg-type]
        partner_aws=FakeFactory(sts),  # type: ignore[arg-type]
        vault=CredentialVault(store=CredentialStore(engine), clock=clock),
        audit=AuditRecorder(AuditLogStore(engine), clock),
    )


@pytest.fixture
def ingest(engine: Engine) -> tuple[NotificationProcessor, CountingSts, Commits]:
    insert_request(engine)
    sts = CountingSts()
    return processor(engine, sts), sts, Commits(engine)


def test_a_state_change_is_one_transaction(ingest) -> None:
    processor, _, commits = ingest
    with commits.counting():
        assert processor.process(envelope(state_change("ASSIGNED", 1))) is Outcome.APPLIED
    assert commits.count == 1


def test_a_finalizing_state_change_with_its_funnel_step_is_one_transaction(
    ingest, engine: Engine
) -> None:
    processor, _, commits = ingest
    with commits.counting():
        assert processor.process(envelope(state_change("FINALIZED", 1))) is Outcome.APPLIED
    assert commits.count == 1
    assert _count(engine, "SELECT count(*) FROM funnel_events WHERE step = 'approved'") == 1


def test_a_duplicate_a_late_state_and_a_quarantine_are_one_transaction_each(ingest) -> None:
    processor, _, commits = ingest
    body = envelope(state_change("ASSIGNED", 1))
    processor.process(body)
    with commits.counting():
        assert processor.process(body) is Outcome.DUPLICATE
    assert commits.count == 1
    with commits.counting():
        assert processor.process(envelope(state_change("UNASSIGNED", 0))) is Outcome.IGNORED
    assert commits.count == 1
    stranger = state_change("ASSIGNED", 2, OwnerAccountId="111122223333")
    with commits.counting():
        assert processor.process(envelope(stranger)) is Outcome.QUARANTINED
    assert commits.count == 1


def test_an_exchange_is_the_claim_the_outcome_and_the_inbox(ingest, engine: Engine) -> None:
    processor, sts, commits = ingest
    with commits.counting():
        assert processor.process(envelope(exchange_token())) is Outcome.APPLIED
    assert sts.calls == 1
    assert commits.count == 3
    assert _count(engine, "SELECT count(*) FROM sealed_credentials") == 1


def test_a_final_exchange_failure_is_two_transactions(ingest) -> None:
    processor, sts, commits = ingest
    sts.fail_with = "ExpiredTradeInTokenException"
    with commits.counting():
        assert processor.process(envelope(exchange_token())) is Outcome.APPLIED
    assert commits.count == 2


def test_credentials_of_another_account_are_refused_in_two_transactions(ingest) -> None:
    processor, sts, commits = ingest
    sts.token_accounts["tok-elsewhere"] = "111122223333"
    with commits.counting():
        body = envelope(exchange_token(token="tok-elsewhere"))
        assert processor.process(body) is Outcome.QUARANTINED
    assert commits.count == 2


def test_a_launch_is_two_transactions(make_services: GraphFactory) -> None:
    services = make_services()
    member = services.staff.by_email("maya.chen@vell.ai")
    assert member is not None
    request = LaunchRequest(
        company="Acme Analytics",
        aws_account_id=ACCOUNT,
        path=DelegationPath.DEMO,
        launch_token=new_launch_token(),
        wizard_session_id="wiz-counts",
    )
    commits = Commits(services.engine)
    with commits.counting():
        view = services.delegations.launch(member, request)
    assert view.delegation_request_id is not None
    assert commits.count == 2
    with commits.counting():
        assert services.delegations.launch(member, request).id == view.id  # a retried launch
    assert commits.count == 0


def _count(engine: Engine, sql: str) -> int:
    with engine.connect() as connection:
        return int(connection.execute(text(sql)).scalar() or 0)
