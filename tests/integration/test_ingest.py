"""Notification ingestion: once per message, forward only, one exchange, quarantine strangers."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule
from sqlalchemy import text
from sqlalchemy.engine import Engine

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
from vell_core.domain.lifecycle import is_forward
from vell_core.domain.models import AwsDelegationState
from vell_core.services.audit import AuditRecorder
from vell_core.services.ingest import NotificationProcessor, Outcome
from vell_core.store import migrate
from vell_core.store.audit_log import AuditLogStore
from vell_core.store.credentials import CredentialStore
from vell_core.store.engine import make_engine
from vell_core.store.funnel import FunnelRecorder
from vell_core.store.inbox import InboxStore


def build(
    engine: Engine, sts: CountingSts | None = None
) -> tuple[NotificationProcessor, CountingSts, CredentialVault]:
    sts = sts or CountingSts()
    clock = FrozenClock(T0)
    vault = CredentialVault(store=CredentialStore(engine), clock=clock)
    processor = NotificationProcessor(
        store=InboxStore(engine, FunnelRecorder(engine, clock)),
        clock=clock,
        verifier=FakeVerifier(),  # type: ignore[arg-type]
        partner_aws=FakeFactory(sts),  # type: ignore[arg-type]
        vault=vault,
        audit=AuditRecorder(AuditLogStore(engine), clock),
    )
    return processor, sts, vault


def row(engine: Engine) -> dict:
    with engine.connect() as connection:
        return dict(
            connection.execute(
                text(
                    "SELECT aws_state, status, exchange_state, approver_id, credentials_expire_at "
                    "FROM delegation_requests WHERE id = 1"
                )
            )
            .mappings()
            .one()
        )


def count(engine: Engine, sql: str) -> int:
    with engine.connect() as connection:
        return int(connection.execute(text(sql)).scalar() or 0)


@pytest.fixture
def store(engine: Engine) -> Engine:
    insert_request(engine)
    return engine


def test_state_change_moves_the_request_and_records_the_timeline(store: Engine) -> None:
    processor, _, _ = build(store)
    assert processor.process(envelope(state_change("ASSIGNED"))) is Outcome.APPLIED
    assert row(store)["aws_state"] == "ASSIGNED"
    assert count(store, "SELECT count(*) FROM delegation_events WHERE aws_state='ASSIGNED'") == 1


def test_same_message_twice_has_one_effect(store: Engine) -> None:
    processor, _, _ = build(store)
    body = envelope(state_change("ASSIGNED"), message_id="11111111-2222-3333-4444-555555555555")
    assert processor.process(body) is Outcome.APPLIED
    assert processor.process(body) is Outcome.DUPLICATE
    assert count(store, "SELECT count(*) FROM notification_inbox") == 1


def test_late_event_never_moves_state_backwards(store: Engine) -> None:
    processor, _, _ = build(store)
    processor.process(envelope(state_change("ACCEPTED", 3)))
    assert processor.process(envelope(state_change("ASSIGNED", 1))) is Outcome.IGNORED
    assert row(store)["aws_state"] == "ACCEPTED"
    assert count(store, "SELECT count(*) FROM delegation_events") == 2  # recorded, not applied


@pytest.mark.parametrize("token_first", [True, False])
def test_finalized_pair_in_either_order_exchanges_once(store: Engine, token_first: bool) -> None:
    processor, sts, vault = build(store)
    messages = [envelope(exchange_token()), envelope(state_change("FINALIZED", 5))]
    if not token_first:
        messages.reverse()
    for body in [*messages, envelope(exchange_token())]:  # plus a duplicate token message
        processor.process(body)
    current = row(store)
    assert current["aws_state"] == "FINALIZED"
    assert current["status"] == "approved"
    assert current["exchange_state"] == "done"
    assert current["approver_id"].endswith(":user/customer-admin")
    assert sts.calls == 1
    assert vault.get(1) is not None


def test_unknown_request_and_wrong_owner_are_quarantined(store: Engine) -> None:
    processor, sts, _ = build(store)
    stranger = state_change(
        "ASSIGNED",
        RequestId="dr-ffffffffffffffffffff",
        RequestorWorkflowId="vell-ffffffffffffffffffffffffffffffff",
    )
    assert processor.process(envelope(stranger)) is Outcome.QUARANTINED
    wrong_owner = state_change("ASSIGNED", OwnerAccountId="999999999999")
    assert processor.process(envelope(wrong_owner)) is Outcome.QUARANTINED
    assert processor.process(envelope({"Type": "Bogus"})) is Outcome.QUARANTINED
    assert row(store)["aws_state"] == "UNASSIGNED"
    assert count(store, "SELECT count(*) FROM notification_inbox WHERE status='quarantined'") == 3
    assert sts.calls == 0


def test_expired_token_is_a_terminal_failure(store: Engine) -> None:
    sts = CountingSts()
    sts.fail_with = "ExpiredTradeInTokenException"
    processor, _, vault = build(store, sts)
    processor.process(envelope(exchange_token()))
    processor.process(envelope(exchange_token()))
    assert row(store)["exchange_state"] == "failed"
    assert sts.calls == 1
    assert vault.get(1) is None


def test_a_failed_message_is_retried_on_redelivery(
    store: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    processor, _, _ = build(store)
    body = envelope(state_change("ASSIGNED"))
    original = processor._advance
    monkeypatch.setattr(processor, "_advance", lambda *a: (_ for _ in ()).throw(RuntimeError()))
    with pytest.raises(RuntimeError):
        processor.process(body)
    assert count(store, "SELECT count(*) FROM notification_inbox WHERE status='failed'") == 1
    monkeypatch.setattr(processor, "_advance", original)
    assert processor.process(body) is Outcome.APPLIED
    assert row(store)["aws_state"] == "ASSIGNED"


def test_recovered_request_learns_its_id_from_the_first_notification(engine: Engine) -> None:
    insert_request(engine, request_id=None)  # the create response was lost
    processor, _, _ = build(engine)
    assert processor.process(envelope(state_change("ASSIGNED"))) is Outcome.APPLIED
    with engine.connect() as connection:
        rid = connection.execute(
            text("SELECT delegation_request_id FROM delegation_requests")
        ).scalar()
    assert rid == "dr-1234567890abcdef0123"


@pytest.fixture(params=["sqlite", "postgresql"])
def concurrent_store(request: pytest.FixtureRequest, tmp_path) -> Iterator[Engine]:
    url = (
        f"sqlite:///{tmp_path / 'c.db'}"
        if request.param == "sqlite"
        else request.getfixturevalue("postgres_url")
    )
    migrate.upgrade(url)
    engine = make_engine(url)
    insert_request(engine)
    yield engine
    engine.dispose()


def test_two_workers_racing_exchange_exactly_once(concurrent_store: Engine) -> None:
    sts = CountingSts()
    processors = [build(concurrent_store, sts)[0] for _ in range(2)]
    bodies = [envelope(exchange_token()) for _ in range(6)]  # duplicates with distinct ids
    errors: list[BaseException] = []

    def work(index: int) -> None:
        for body in bodies[index::2]:
            try:
                processors[index].process(body)
            except Exception as exc:  # a busy claim is retried by SQS; record for the check
                errors.append(exc)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sts.calls == 1
    assert row(concurrent_store)["exchange_state"] == "done"
    assert all(type(e).__name__ == "MessageInProgress" for e in errors), [
        repr(e)[:300] for e in errors
    ]


STATES = ["ASSIGNED", "PENDING_APPROVAL", "ACCEPTED", "FINALIZED", "REJECTED", "EXPIRED"]


class DeliveryMachine(RuleBasedStateMachine):
    """Deliveries, redeliveries and reordering never regress state or exchange twice."""

    def __init__(self) -> None:
        super().__init__()
        import tempfile

        self.folder = tempfile.mkdtemp()
        url = f"sqlite:///{self.folder}/h.db"
        migrate.upgrade(url)
        self.engine = make_engine(url)
        insert_request(self.engine)
        self.processor, self.sts, _ = build(self.engine)
        self.sent: list[str] = []
        self.previous: str | None = "UNASSIGNED"

    @rule(state=st.sampled_from(STATES), minute=st.integers(0, 60))
    def deliver(self, state: str, minute: int) -> None:
        body = envelope(state_change(state, minute))
        self.sent.append(body)
        self.processor.process(body)

    @rule(minute=st.integers(0, 60))
    def deliver_token(self, minute: int) -> None:
        body = envelope(exchange_token(minute))
        self.sent.append(body)
        self.processor.process(body)

    @rule(index=st.integers(0, 50))
    def redeliver(self, index: int) -> None:
        if self.sent:
            assert self.processor.process(self.sent[index % len(self.sent)]) is Outcome.DUPLICATE

    @invariant()
    def state_only_moves_forward(self) -> None:
        current = row(self.engine)["aws_state"]
        if current != self.previous:
            assert is_forward(AwsDelegationState(self.previous), AwsDelegationState(current))
        self.previous = current

    @invariant()
    def at_most_one_exchange(self) -> None:
        assert self.sts.calls <= 1

    def teardown(self) -> None:
        self.engine.dispose()


TestDeliveryMachine = DeliveryMachine.TestCase
TestDeliveryMachine.settings = settings(
    max_examples=30,
    stateful_step_count=15,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)


def test_no_token_reaches_logs_or_inbox(store: Engine, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level("DEBUG")
    processor, _, _ = build(store)
    processor.process(envelope(exchange_token(token="tok-SENTINEL-LEAK-CHECK")))
    assert "tok-SENTINEL-LEAK-CHECK" not in caplog.text
    with store.connect() as connection:
        dump = "\n".join(
            str(r) for r in connection.execute(text("SELECT * FROM notification_inbox"))
        )
    assert "SENTINEL" not in dump
    assert ACCOUNT  # the account id itself is not a secret
