"""The token exchange under faults: transient STS errors, killed workers, leases, wrong tokens.

A "kill" is a ``BaseException`` raised from the processor's fault hook at a named step: nothing
after that point runs (no inbox bookkeeping, no release), exactly as if the process had died
there. The "restarted worker" is a fresh processor and vault (same store, same vault key).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from datetime import timedelta

import pytest
from botocore.exceptions import EndpointConnectionError
from cryptography.fernet import Fernet
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
from vell_core.aws.exchange import ExchangeRetryLater, RetryPolicy
from vell_core.aws.vault import CredentialVault
from vell_core.domain.clock import FrozenClock
from vell_core.services.audit import AuditRecorder
from vell_core.services.ingest import (
    EXCHANGE_LEASE,
    MessageInProgress,
    NotificationProcessor,
    Outcome,
)
from vell_core.store import migrate
from vell_core.store.audit_log import AuditLogStore
from vell_core.store.credentials import CredentialStore
from vell_core.store.engine import make_engine
from vell_core.store.funnel import FunnelRecorder
from vell_core.store.inbox import InboxStore

OTHER_ACCOUNT = "111122223333"
B_REQUEST_ID = "dr-bbbbbbbbbbbbbbbbbbbb"
B_WORKFLOW_ID = "vell-bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
KEY = Fernet.generate_key()


class Killed(BaseException):
    """The process died here (not an Exception: no handler in the app may catch it)."""


class Harness:
    """One store, one STS, one clock; processors are the workers that come and go."""

    def __init__(self, engine: Engine, sts: CountingSts | None = None) -> None:
        self.engine = engine
        self.sts = sts or CountingSts()
        self.clock = FrozenClock(T0)
        self.sleeps: list[float] = []

    def processor(
        self, kill_at: str | None = None
    ) -> tuple[NotificationProcessor, CredentialVault]:
        vault = CredentialVault(store=CredentialStore(self.engine), clock=self.clock, key=KEY)

        def hook(step: str) -> None:
            if step == kill_at:
                raise Killed(step)

        processor = NotificationProcessor(
            store=InboxStore(self.engine, FunnelRecorder(self.engine, self.clock)),
            clock=self.clock,
            verifier=FakeVerifier(),  # type: ignore[arg-type]
            partner_aws=FakeFactory(self.sts),  # type: ignore[arg-type]
            vault=vault,
            audit=AuditRecorder(AuditLogStore(self.engine), self.clock),
            retry=RetryPolicy(max_attempts=4, sleep=self.sleeps.append),
            fault_hook=hook,
        )
        return processor, vault

    def row(self, row_id: int = 1) -> dict:
        with self.engine.connect() as connection:
            return dict(
                connection.execute(
                    text(
                        "SELECT aws_state, status, exchange_state, exchange_attempts, "
                        "exchange_error_code, last_error FROM delegation_requests WHERE id = :i"
                    ),
                    {"i": row_id},
                )
                .mappings()
                .one()
            )

    def count(self, sql: str) -> int:
        with self.engine.connect() as connection:
            return int(connection.execute(text(sql)).scalar() or 0)

    def vault_writes(self) -> int:
        """Credentials stored: one audit row per vault write, written in the same transaction."""
        return self.count(
            "SELECT count(*) FROM audit_log WHERE action = 'sts.GetDelegatedAccessToken' "
            "AND outcome = 'ok'"
        )


@pytest.fixture
def harness(engine: Engine) -> Harness:
    insert_request(engine)
    return Harness(engine)


def insert_second_request(engine: Engine, *, status: str = "pending", state: str = "ACCEPTED"):
    """Request B, for another customer account, launched by the same rep."""
    with engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO delegation_requests (id, user_id, company, aws_account_id, "
                "delegation_request_id, requestor_workflow_id, type, status, aws_state, "
                "expires_at, create_persistent_role, session_duration, template_name, "
                "template_arn, exchange_state, wizard_session_id, created_at, updated_at) "
                "VALUES (2, 1, 'Borealis', :acct, :rid, :wf, 'demo', :status, :state, :exp, "
                "false, 14400, 'read-only', 'arn:aws:iam:::delegation-template/x', 'none', "
                "'wiz-2', :t, :t)"
            ),
            {
                "acct": OTHER_ACCOUNT,
                "rid": B_REQUEST_ID,
                "wf": B_WORKFLOW_ID,
                "status": status,
                "state": state,
                "t": T0,
                "exp": T0 + timedelta(days=1),
            },
        )


def token_for_b(token: str) -> dict:
    """An ExchangeToken notification naming request B."""
    message = exchange_token(token=token)
    message.update(
        RequestId=B_REQUEST_ID, RequestorWorkflowId=B_WORKFLOW_ID, OwnerAccountId=OTHER_ACCOUNT
    )
    return message


# --- 1. transient STS errors -----------------------------------------------------------------

TRANSIENT: dict[str, Callable[[], str | Exception]] = {
    "ServiceUnavailable": lambda: "ServiceUnavailable",
    "Throttling": lambda: "Throttling",
    "InternalFailure": lambda: "InternalFailure",
    "dropped connection": lambda: EndpointConnectionError(endpoint_url="https://sts"),
}


@pytest.mark.parametrize("fault", list(TRANSIENT))
def test_one_transient_sts_error_is_retried_not_failed(harness: Harness, fault: str) -> None:
    harness.sts.fail_next = [TRANSIENT[fault]()]
    processor, vault = harness.processor()
    assert processor.process(envelope(exchange_token())) is Outcome.APPLIED
    assert harness.row()["exchange_state"] == "done"
    assert harness.sts.calls == 2
    assert len(harness.sleeps) == 1  # backed off once, through the injected sleeper
    assert vault.get(1) is not None
    assert harness.vault_writes() == 1


def test_exhausted_retries_leave_the_message_on_the_queue(harness: Harness) -> None:
    harness.sts.fail_next = ["ServiceUnavailable"] * 4
    processor, _ = harness.processor()
    body = envelope(exchange_token())
    with pytest.raises(ExchangeRetryLater):
        processor.process(body)  # raising = the worker does not delete it: SQS redelivers
    current = harness.row()
    assert current["exchange_state"] == "retrying"
    assert current["exchange_attempts"] == 4
    assert harness.sts.calls == 4
    assert processor.process(body) is Outcome.APPLIED  # the redelivery, token still valid
    assert harness.row()["exchange_state"] == "done"
    assert harness.vault_writes() == 1


@pytest.mark.parametrize(
    "code", ["ExpiredTradeInTokenException", "AccessDenied", "ValidationError"]
)
def test_a_final_sts_error_is_recorded_once_with_its_reason(harness: Harness, code: str) -> None:
    harness.sts.fail_with = code
    processor, vault = harness.processor()
    body = envelope(exchange_token())
    assert processor.process(body) is Outcome.APPLIED  # recorded: the message may go
    assert processor.process(body) is Outcome.DUPLICATE
    assert processor.process(envelope(exchange_token())) is Outcome.IGNORED  # outcome is final
    current = harness.row()
    assert current["exchange_state"] == "failed"
    assert current["exchange_error_code"] == code
    assert harness.sts.calls == 1
    assert harness.sleeps == []
    assert vault.get(1) is None
    assert (
        harness.count(
            "SELECT count(*) FROM audit_log WHERE action = 'sts.GetDelegatedAccessToken' "
            f"AND outcome = 'error {code}'"
        )
        == 1
    )


def test_a_transient_identity_check_error_is_retried_without_redeeming_again(
    harness: Harness,
) -> None:
    harness.sts.identity_failures = ["ServiceUnavailable"]
    processor, vault = harness.processor()
    assert processor.process(envelope(exchange_token())) is Outcome.APPLIED
    assert harness.sts.calls == 1
    assert vault.get(1) is not None


# --- 2. a worker killed mid-exchange ------------------------------------------------------------

# STS redemptions each kill point costs in total (the token may be redeemed again; the vault
# is written once either way).
REDEMPTIONS = {"before_claim": 1, "after_claim": 1, "after_sts": 2, "after_vault_write": 1}


@pytest.mark.parametrize("step", list(REDEMPTIONS))
def test_a_kill_at_each_step_ends_with_credentials_stored_once(harness: Harness, step: str) -> None:
    body = envelope(exchange_token())
    first, _ = harness.processor(kill_at=step)
    with pytest.raises(Killed):
        first.process(body)
    harness.clock.advance(EXCHANGE_LEASE + timedelta(seconds=1))  # SQS redelivers later
    restarted, vault = harness.processor()
    assert restarted.process(body) in (Outcome.APPLIED, Outcome.IGNORED)
    assert restarted.process(body) is Outcome.DUPLICATE
    assert harness.row()["exchange_state"] == "done"
    assert harness.sts.calls == REDEMPTIONS[step]
    assert harness.vault_writes() == 1
    assert vault.get(1) is not None  # unsealed by the restarted process


def test_a_live_lease_keeps_a_redelivered_token_on_the_queue(harness: Harness) -> None:
    first, _ = harness.processor(kill_at="after_claim")
    with pytest.raises(Killed):
        first.process(envelope(exchange_token()))
    second, _ = harness.processor()
    duplicate = envelope(exchange_token())  # another copy, another MessageId
    with pytest.raises(MessageInProgress):
        second.process(duplicate)  # the lease is live: not ignored, not deleted
    assert harness.sts.calls == 0
    harness.clock.advance(EXCHANGE_LEASE + timedelta(seconds=1))
    assert second.process(duplicate) is Outcome.APPLIED
    assert harness.row()["exchange_state"] == "done"
    assert harness.sts.calls == 1


# --- 3. the credentials must be the request's -------------------------------------------------


def test_a_token_for_another_account_is_discarded_and_quarantined(harness: Harness) -> None:
    insert_second_request(harness.engine)
    processor, vault = harness.processor()
    # A's token (its credentials act in ACCOUNT) inside a notification naming request B.
    assert processor.process(envelope(token_for_b("tok-belongs-to-A"))) is Outcome.QUARANTINED
    current = harness.row(2)
    assert current["exchange_state"] == "none"  # B can still receive its own token
    assert current["aws_state"] == "ACCEPTED"  # and the poisoned message moved nothing
    assert vault.get(2) is None
    assert harness.count("SELECT count(*) FROM sealed_credentials") == 0
    assert (
        harness.count(
            "SELECT count(*) FROM notification_inbox WHERE status = 'quarantined' "
            "AND error LIKE '%caller identity%'"
        )
        == 1
    )
    assert (
        harness.count(
            "SELECT count(*) FROM audit_log WHERE delegation_id = 2 "
            "AND outcome = 'refused identity'"
        )
        == 1
    )
    harness.sts.token_accounts["tok-for-B"] = OTHER_ACCOUNT
    assert processor.process(envelope(token_for_b("tok-for-B"))) is Outcome.APPLIED
    assert harness.row(2)["exchange_state"] == "done"
    assert ACCOUNT != OTHER_ACCOUNT


@pytest.mark.parametrize(("status", "state"), [("rejected", "REJECTED"), ("expired", "ASSIGNED")])
def test_no_exchange_for_a_request_that_is_not_awaiting_its_token(
    harness: Harness, status: str, state: str
) -> None:
    insert_second_request(harness.engine, status=status, state=state)
    harness.sts.token_accounts["tok-for-B"] = OTHER_ACCOUNT
    processor, vault = harness.processor()
    assert processor.process(envelope(token_for_b("tok-for-B"))) is Outcome.QUARANTINED
    assert harness.sts.calls == 0
    assert harness.row(2)["exchange_state"] == "none"
    assert harness.row(2)["status"] == status
    assert vault.get(2) is None


# --- leases on both backends --------------------------------------------------------------------


@pytest.fixture
def any_store(store_url: str) -> Iterator[Engine]:
    migrate.upgrade(store_url)
    engine = make_engine(store_url)
    insert_request(engine)
    yield engine
    engine.dispose()


def test_a_stale_claim_is_taken_over_by_exactly_one_worker(any_store: Engine) -> None:
    harness = Harness(any_store)
    dead, _ = harness.processor(kill_at="after_claim")
    with pytest.raises(Killed):
        dead.process(envelope(exchange_token()))
    assert harness.row()["exchange_state"] == "claimed"
    harness.clock.advance(EXCHANGE_LEASE + timedelta(seconds=1))
    workers = [harness.processor()[0] for _ in range(2)]
    bodies = [envelope(exchange_token()) for _ in range(2)]
    errors: list[BaseException] = []

    def work(index: int) -> None:
        try:
            workers[index].process(bodies[index])
        except Exception as exc:  # the loser stays on the queue
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert harness.row()["exchange_state"] == "done"
    assert harness.sts.calls == 1
    assert harness.vault_writes() == 1
    assert all(isinstance(e, MessageInProgress) for e in errors), errors


def test_state_change_alone_never_exchanges(harness: Harness) -> None:
    processor, _ = harness.processor()
    processor.process(envelope(state_change("FINALIZED", 5)))
    assert harness.sts.calls == 0
    assert harness.row()["exchange_state"] == "none"
