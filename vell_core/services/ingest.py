"""Notification ingestion: verify, record once, apply monotonically, exchange once.

Each SQS body is an SNS envelope from IAM. ``NotificationProcessor.process`` verifies it
(``sns_verify``), records it once in the inbox (unique MessageId; a retried or duplicated
delivery has no second effect), quarantines anything that does not match one of our requests,
moves the request's state forward only (``lifecycle.is_forward``, compare-and-set on the row).

On ``ExchangeToken`` it exchanges the token, once per request, under a *lease*:

1. only for a request on its way to FINALIZED that we have not rejected or expired locally;
2. claim: a compare-and-set takes the exchange if nobody holds it, or if the holder's lease
   ran out (a worker that died mid-exchange is taken over by the next worker or redelivery);
3. ``sts:GetDelegatedAccessToken``, retried on transient errors (``vell_core.aws.exchange``);
   when the attempts run out the claim is released and the message stays on the queue;
4. ``sts:GetCallerIdentity`` with the new credentials: they must act in the request's
   customer account, or they are discarded, the message quarantined and an audit row written;
5. one transaction records the outcome while still holding the lease: the sealed credentials,
   the audit row, ``done`` and the state move, or a final failure with its reason. So the
   outcome is recorded exactly once even when a token is redeemed twice (it may be: a token is
   redeemable until ``ExpiresAt``).

The token is never stored or logged. Any exception leaves the message on the queue (the worker
does not delete it), so a failure is retried and, after the redrive limit, lands in the
dead-letter queue for an admin. Fault points (``vell_core.services.faults``) name each step
for tests.
"""

from __future__ import annotations

import logging
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError
from sqlalchemy import and_, or_, update
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from vell_core.aws.clients import ClientFactory
from vell_core.aws.exchange import (
    IDENTITY_UNVERIFIED,
    ErrorKind,
    ExchangeRetryLater,
    RetryPolicy,
    classify,
    code_of,
    plain_reason,
)
from vell_core.aws.sns_verify import SnsVerifier, VerifiedMessage
from vell_core.aws.vault import CredentialVault, DelegatedCredentials
from vell_core.config.logs import forget_secret, register_secret
from vell_core.domain.clock import Clock
from vell_core.domain.errors import VellError
from vell_core.domain.lifecycle import STATE_TIMEOUT_DAYS, is_forward, status_for
from vell_core.domain.models import (
    AwsDelegationState,
    DelegationRequest,
    DelegationStatus,
    ExchangeState,
    FunnelStep,
    InboxStatus,
    NotificationInbox,
)
from vell_core.domain.validation import ACCOUNT_ID_RE
from vell_core.services.audit import AuditRecorder
from vell_core.services.delegation import record_state_event
from vell_core.services.faults import (
    AFTER_CLAIM,
    AFTER_STS,
    AFTER_VAULT_WRITE,
    BEFORE_CLAIM,
    FaultHook,
    no_faults,
)
from vell_core.store.engine import rows_affected, session_scope
from vell_core.store.funnel import FunnelRecorder

log = logging.getLogger(__name__)

REQUEST_ID_RE = re.compile(r"^[\w-]{16,128}$")
ACCOUNT_RE = ACCOUNT_ID_RE  # the one account-id rule (ASCII digits only)
INNER_TYPES = ("StateChange", "ExchangeToken")
FINAL_INBOX = (InboxStatus.APPLIED, InboxStatus.IGNORED, InboxStatus.QUARANTINED)
# A "received" inbox row, or an exchange lease, older than this belongs to a worker that died
# mid-way: the next worker or redelivery takes it over. Longer than one worker's retries.
EXCHANGE_LEASE = timedelta(seconds=60)
STALE_CLAIM = EXCHANGE_LEASE
# Exchange outcomes recorded once and for all.
FINAL_EXCHANGE = (ExchangeState.DONE, ExchangeState.FAILED)
# Exchange states a worker may claim without a lease to wait for (UNKNOWN: rows from before
# retries existed; the token can be redeemed again, so they are simply retried).
CLAIMABLE = (ExchangeState.NONE, ExchangeState.RETRYING, ExchangeState.UNKNOWN)
# Local statuses in which a request may still receive its token.
AWAITING_TOKEN = (DelegationStatus.PENDING, DelegationStatus.APPROVED)


class Outcome(StrEnum):
    """What processing one message did."""

    APPLIED = "applied"
    DUPLICATE = "duplicate"
    IGNORED = "ignored"
    QUARANTINED = "quarantined"


class MessageInProgress(VellError):
    """Another worker is processing this very message right now; try again later."""


@dataclass(frozen=True)
class IamNotification:
    """The validated inner message IAM publishes."""

    type: str
    request_id: str
    workflow_id: str | None
    state: AwsDelegationState
    owner_account_id: str | None
    updated_at: datetime
    token: str | None = None
    expires_at: datetime | None = None

    def __repr__(self) -> str:  # the token must never show up in a log line or traceback
        return f"IamNotification({self.type}, {self.request_id}, {self.state.value})"


class Quarantine(Exception):
    """The message is valid SNS but does not match one of our requests."""


class NotificationProcessor:
    """Turns one verified SNS message into at most one effect on the store."""

    def __init__(
        self,
        *,
        engine: Engine,
        clock: Clock,
        verifier: SnsVerifier,
        partner_aws: ClientFactory,
        vault: CredentialVault,
        funnel: FunnelRecorder,
        audit: AuditRecorder,
        retry: RetryPolicy | None = None,
        lease: timedelta = EXCHANGE_LEASE,
        fault_hook: FaultHook = no_faults,
    ) -> None:
        self._retry = retry or RetryPolicy()
        self._lease = lease
        self._fault_hook = fault_hook
        self._engine = engine
        self._clock = clock
        self._verifier = verifier
        self._aws = partner_aws
        self._vault = vault
        self._funnel = funnel
        self._audit = audit

    @property
    def partner_aws(self) -> ClientFactory:
        """The factory the exchange's STS calls go through (tests attach wire faults to it)."""
        return self._aws

    def process(self, raw_body: str) -> Outcome:
        """Verify and apply one SQS body; raise to leave it on the queue."""
        message = self._verifier.verify(raw_body)
        if message.type != "Notification":
            return Outcome.IGNORED  # subscription confirmations are done at setup, not here
        inbox_id = self._claim_inbox(message)
        if inbox_id is None:
            return Outcome.DUPLICATE
        try:
            notification = parse_inner(message)
            outcome = self._apply(notification)
        except Quarantine as reason:
            self._finish_inbox(inbox_id, InboxStatus.QUARANTINED, str(reason))
            log.warning("Quarantined SNS message %s: %s", message.message_id, reason)
            return Outcome.QUARANTINED
        except Exception as exc:
            self._finish_inbox(inbox_id, InboxStatus.FAILED, type(exc).__name__)
            raise
        self._finish_inbox(inbox_id, InboxStatus.APPLIED if outcome else InboxStatus.IGNORED)
        return Outcome.APPLIED if outcome else Outcome.IGNORED

    # --- inbox -----------------------------------------------------------------------------

    def _claim_inbox(self, message: VerifiedMessage) -> int | None:
        """Insert the inbox row, or re-claim a failed/stale one; None when already handled."""
        now = self._clock.now()
        try:
            with session_scope(self._engine) as session:
                if _seen_signature(session, message.signature_sha256):
                    return None
                row = NotificationInbox(
                    message_id=message.message_id,
                    signature_sha256=message.signature_sha256,
                    topic_arn=message.topic_arn,
                    sent_at=message.timestamp,
                    received_at=now,
                )
                _describe_inner(row, message)
                session.add(row)
                session.flush()
                return row.id
        except IntegrityError:
            return self._reclaim(message.message_id, now)

    def _reclaim(self, message_id: str, now: datetime) -> int | None:
        with session_scope(self._engine) as session:
            row = session.exec(
                select(NotificationInbox).where(NotificationInbox.message_id == message_id)
            ).one()
            if row.status in FINAL_INBOX:
                return None
            stale = row.status is InboxStatus.RECEIVED and now - row.received_at > self._lease
            if row.status is not InboxStatus.FAILED and not stale:
                raise MessageInProgress()
            claimed = session.execute(
                update(NotificationInbox)
                .where(
                    col(NotificationInbox.id) == row.id,
                    col(NotificationInbox.status) == row.status,
                    col(NotificationInbox.received_at) == row.received_at,
                )
                .values(status=InboxStatus.RECEIVED, received_at=now, error=None)
            )
            if rows_affected(claimed) != 1:
                raise MessageInProgress()
            return row.id

    def _finish_inbox(self, inbox_id: int, status: InboxStatus, error: str | None = None) -> None:
        with session_scope(self._engine) as session:
            session.execute(
                update(NotificationInbox)
                .where(col(NotificationInbox.id) == inbox_id)
                .values(status=status, error=error, processed_at=self._clock.now())
            )

    # --- applying --------------------------------------------------------------------------

    def _apply(self, notification: IamNotification) -> bool:
        row = self._match(notification)
        if notification.type == "ExchangeToken":
            return self._exchange(row, notification)
        return self._advance(row.id or 0, notification)

    def _match(self, notification: IamNotification) -> DelegationRequest:
        with session_scope(self._engine) as session:
            row = session.exec(
                select(DelegationRequest).where(
                    DelegationRequest.delegation_request_id == notification.request_id
                )
            ).first()
            if row is None and notification.workflow_id:
                row = self._adopt_by_workflow(session, notification)
            if row is None:
                raise Quarantine("unknown delegation request id")
            if notification.workflow_id and notification.workflow_id != row.requestor_workflow_id:
                raise Quarantine("RequestorWorkflowId does not match our record")
            if notification.owner_account_id and notification.owner_account_id != (
                row.aws_account_id
            ):
                raise Quarantine("OwnerAccountId is not the customer we asked")
            return row

    def _adopt_by_workflow(
        self, session: Session, notification: IamNotification
    ) -> DelegationRequest | None:
        """A request whose create response was lost: learn its id from the notification."""
        row = session.exec(
            select(DelegationRequest).where(
                DelegationRequest.requestor_workflow_id == notification.workflow_id,
                col(DelegationRequest.delegation_request_id).is_(None),
            )
        ).first()
        if row is not None:
            row.delegation_request_id = notification.request_id
            row.console_deep_link = console_link(notification.request_id)
            row.last_error = None
            session.add(row)
        return row

    def _advance(self, row_id: int, notification: IamNotification) -> bool:
        """Move the row to the reported state if that is forward; record the timeline."""
        with session_scope(self._engine) as session:
            moved = self._advance_in(session, row_id, notification)
        self._after_move(row_id, notification.state if moved else None)
        return moved

    def _advance_in(self, session: Session, row_id: int, notification: IamNotification) -> bool:
        """``_advance`` inside the caller's transaction (the funnel is recorded after it)."""
        state = notification.state
        record_state_event(session, row_id, state, notification.updated_at, "sns")
        row = session.get(DelegationRequest, row_id)
        assert row is not None
        current = AwsDelegationState(row.aws_state) if row.aws_state else None
        if not is_forward(current, state):
            return False  # a late or repeated event: recorded, but it changes nothing
        values = _state_values(row, notification, self._clock.now())
        result = session.execute(
            update(DelegationRequest)
            .where(col(DelegationRequest.id) == row_id, _state_is(current))
            .values(**values)
        )
        if rows_affected(result) != 1:
            raise MessageInProgress("state changed concurrently; retry")
        return True

    def _after_move(self, row_id: int, state: AwsDelegationState | None) -> None:
        if state is AwsDelegationState.FINALIZED:
            self._record_funnel(row_id, FunnelStep.APPROVED)
        elif state is AwsDelegationState.REJECTED:
            self._record_funnel(row_id, FunnelStep.REJECTED)

    # --- the token exchange ----------------------------------------------------------------

    def _exchange(self, row: DelegationRequest, notification: IamNotification) -> bool:
        """Redeem the token under a lease and record the outcome once; False if already done.

        Raises ``MessageInProgress`` while another worker's lease is live and
        ``ExchangeRetryLater`` when transient errors used up the attempts: either way the
        message stays on the queue and SQS delivers it again.
        """
        if row.exchange_state in FINAL_EXCHANGE:
            return False  # the outcome is recorded; a later copy of the token changes nothing
        self._require_awaiting_token(row)
        self._fault(BEFORE_CLAIM)
        claim = self._claim_exchange(row, notification)
        if claim is None:
            return False
        self._fault(AFTER_CLAIM)
        try:
            credentials = self._redeem_and_verify(claim, str(notification.token))
        except _FinalFailure as failure:
            self._record_failure(claim, notification, failure.code)
            return True
        self._record_success(claim, notification, credentials)
        self._fault(AFTER_VAULT_WRITE)
        return True

    def _require_awaiting_token(self, row: DelegationRequest) -> None:
        """AWS sends a token only to a request on its way to FINALIZED; anything else is odd."""
        current = AwsDelegationState(row.aws_state) if row.aws_state else None
        reaches = current is AwsDelegationState.FINALIZED or is_forward(
            current, AwsDelegationState.FINALIZED
        )
        if reaches and DelegationStatus(row.status) in AWAITING_TOKEN:
            return
        where = f"{DelegationStatus(row.status).value}/{current.value if current else 'none'}"
        self._audit.record(
            action="sts.GetDelegatedAccessToken",
            outcome="refused state",
            customer_account_id=row.aws_account_id,
            delegation_id=row.id,
            staff_user_id=row.user_id,
            detail=f"ExchangeToken for a request that is {where} here; not exchanged",
        )
        raise Quarantine(f"ExchangeToken for a request that is {where} here, not awaiting one")

    def _claim_exchange(
        self, row: DelegationRequest, notification: IamNotification
    ) -> _Claim | None:
        """Take the lease (fresh, retrying, or expired); None once the outcome is recorded."""
        now = self._clock.now()
        claim = _Claim(
            row_id=row.id or 0,
            claim_id=uuid.uuid4().hex,
            account_id=row.aws_account_id,
            user_id=row.user_id,
        )
        state = col(DelegationRequest.exchange_state)
        lease = col(DelegationRequest.exchange_lease_until)
        with session_scope(self._engine) as session:
            taken = session.execute(
                update(DelegationRequest)
                .where(
                    col(DelegationRequest.id) == claim.row_id,
                    or_(
                        state.in_(CLAIMABLE),
                        and_(
                            state == ExchangeState.CLAIMED,
                            or_(lease.is_(None), lease <= now),
                        ),
                    ),
                )
                .values(
                    exchange_state=ExchangeState.CLAIMED,
                    exchange_claim_id=claim.claim_id,
                    exchange_claimed_at=now,
                    exchange_lease_until=now + self._lease,
                    exchange_attempts=col(DelegationRequest.exchange_attempts) + 1,
                    exchange_token_expires_at=notification.expires_at,
                    updated_at=now,
                )
            )
            if rows_affected(taken) == 1:
                return claim
            current = session.exec(
                select(DelegationRequest.exchange_state).where(DelegationRequest.id == claim.row_id)
            ).one()
        if ExchangeState(current) in FINAL_EXCHANGE:
            return None
        raise MessageInProgress("another worker holds the exchange lease")

    def _redeem_and_verify(self, claim: _Claim, token: str) -> DelegatedCredentials:
        """Trade the token in, then make sure the credentials act in the customer's account."""
        sts = self._aws.client("sts")
        response = self._attempt(
            claim,
            "GetDelegatedAccessToken",
            lambda: sts.get_delegated_access_token(TradeInToken=token),
            counted=True,
        )
        self._fault(AFTER_STS)
        credentials = _credentials(response)
        delegated = self._aws.with_credentials(credentials.as_static()).client("sts")
        try:
            identity = self._attempt(
                claim, "GetCallerIdentity", delegated.get_caller_identity, counted=False
            )
        except _FinalFailure:
            _discard(credentials)
            raise _FinalFailure(IDENTITY_UNVERIFIED) from None
        except Exception:
            _discard(credentials)
            raise
        account = str(identity.get("Account", ""))
        if account != claim.account_id:
            _discard(credentials)
            self._refuse_identity(claim, account)
        return credentials

    def _attempt(
        self, claim: _Claim, operation: str, call: Callable[[], Any], *, counted: bool
    ) -> Any:
        """Call with retries on transient errors, renewing the lease before each retry.

        ``counted`` calls are exchange attempts (the rep sees their number); the claim itself
        counted the first one. The first try needs no renewal (the lease is fresh), which
        keeps the happy path at two transactions: the claim and the outcome.
        """
        for attempt in range(1, self._retry.max_attempts + 1):
            if attempt > 1:
                self._renew(claim, count=counted)
            try:
                return call()
            except (ClientError, BotoCoreError) as exc:
                code = code_of(exc)
                if classify(exc, operation) is ErrorKind.FINAL:
                    raise _FinalFailure(code) from None
                log.info("%s for delegation %s: transient %s", operation, claim.row_id, code)
                if attempt == self._retry.max_attempts:
                    self._release_for_retry(claim, code)
                    raise ExchangeRetryLater(
                        f"{operation} still failing ({code}) after {attempt} attempts; "
                        "left on the queue for redelivery"
                    ) from None
                self._retry.sleep(self._retry.backoff(attempt, exc, operation))
        raise AssertionError("unreachable")  # pragma: no cover - the loop returns or raises

    def _renew(self, claim: _Claim, *, count: bool) -> None:
        """Extend the lease (and count an attempt); a lost lease stops this worker."""
        now = self._clock.now()
        values: dict[str, Any] = {"exchange_lease_until": now + self._lease, "updated_at": now}
        if count:
            values["exchange_attempts"] = col(DelegationRequest.exchange_attempts) + 1
        with session_scope(self._engine) as session:
            renewed = session.execute(
                update(DelegationRequest).where(*_holds(claim)).values(**values)
            )
            if rows_affected(renewed) != 1:
                raise MessageInProgress("the exchange lease was taken over")

    def _release_for_retry(self, claim: _Claim, code: str) -> None:
        log.warning("Token exchange for delegation %s will be retried (%s)", claim.row_id, code)
        with session_scope(self._engine) as session:
            session.execute(
                update(DelegationRequest)
                .where(*_holds(claim))
                .values(
                    exchange_state=ExchangeState.RETRYING,
                    exchange_claim_id=None,
                    exchange_lease_until=None,
                    exchange_error_code=code[:64],
                    updated_at=self._clock.now(),
                )
            )

    def _refuse_identity(self, claim: _Claim, account: str) -> None:
        """Another account's credentials: give the lease back, audit, quarantine the message."""
        with session_scope(self._engine) as session:
            session.execute(
                update(DelegationRequest)
                .where(*_holds(claim))
                .values(
                    exchange_state=ExchangeState.NONE,
                    exchange_claim_id=None,
                    exchange_lease_until=None,
                    exchange_token_expires_at=None,
                    updated_at=self._clock.now(),
                )
            )
            session.add(
                self._audit.entry(
                    action="sts.GetDelegatedAccessToken",
                    outcome="refused identity",
                    customer_account_id=claim.account_id,
                    delegation_id=claim.row_id,
                    staff_user_id=claim.user_id,
                    detail=f"Credentials act in account {account or 'unknown'}, not "
                    f"{claim.account_id}; discarded, never stored",
                )
            )
        raise Quarantine(
            f"the credentials' caller identity is account {account or 'unknown'}, not the "
            "request's customer account; discarded"
        )

    def _record_success(
        self, claim: _Claim, notification: IamNotification, credentials: DelegatedCredentials
    ) -> None:
        """One transaction: the outcome, the sealed credentials, the audit row, the state."""
        now = self._clock.now()
        with session_scope(self._engine) as session:
            done = session.execute(
                update(DelegationRequest)
                .where(*_holds(claim))
                .values(
                    exchange_state=ExchangeState.DONE,
                    exchange_claim_id=None,
                    exchange_lease_until=None,
                    exchange_error_code=None,
                    credentials_expire_at=credentials.expiration,
                    expires_at=credentials.expiration,
                    approved_at=notification.updated_at,
                    approver_id=credentials.assumed_principal or None,
                    last_error=None,
                    updated_at=now,
                )
            )
            if rows_affected(done) != 1:
                raise MessageInProgress("the exchange lease was taken over; not recorded")
            self._vault.seal_in(session, claim.row_id, credentials)
            session.add(self._exchange_audit(claim, "ok"))
            moved = self._advance_in(session, claim.row_id, notification)
        self._vault.remember(claim.row_id, credentials)
        self._after_move(claim.row_id, notification.state if moved else None)

    def _record_failure(self, claim: _Claim, notification: IamNotification, code: str) -> None:
        """A final answer from AWS: recorded once, with its reason, for the rep to see."""
        log.warning("Token exchange for delegation %s failed: %s", claim.row_id, code)
        with session_scope(self._engine) as session:
            failed = session.execute(
                update(DelegationRequest)
                .where(*_holds(claim))
                .values(
                    exchange_state=ExchangeState.FAILED,
                    exchange_claim_id=None,
                    exchange_lease_until=None,
                    exchange_error_code=code[:64],
                    last_error=f"Token exchange failed: {plain_reason(code)} ({code}).",
                    updated_at=self._clock.now(),
                )
            )
            if rows_affected(failed) != 1:
                raise MessageInProgress("the exchange lease was taken over; not recorded")
            session.add(self._exchange_audit(claim, f"error {code}"))
            moved = self._advance_in(session, claim.row_id, notification)
        self._after_move(claim.row_id, notification.state if moved else None)

    def _exchange_audit(self, claim: _Claim, outcome: str) -> Any:
        return self._audit.entry(
            action="sts.GetDelegatedAccessToken",
            outcome=outcome,
            customer_account_id=claim.account_id,
            delegation_id=claim.row_id,
            staff_user_id=claim.user_id,
        )

    def _fault(self, step: str) -> None:
        self._fault_hook(step)

    def _record_funnel(self, row_id: int, step: FunnelStep) -> None:
        row = self._load(row_id)
        self._funnel.record(
            session_id=row.wizard_session_id or row.requestor_workflow_id,
            step=step,
            customer=row.aws_account_id,
            company=row.company,
            path=row.type.value,
            actor_user_id=row.user_id,
            delegation_id=row_id,
        )

    def _load(self, row_id: int) -> DelegationRequest:
        with session_scope(self._engine) as session:
            row = session.get(DelegationRequest, row_id)
            assert row is not None
            return row


@dataclass(frozen=True)
class _Claim:
    """The lease one worker holds on one request's exchange."""

    row_id: int
    claim_id: str
    account_id: str
    user_id: int


class _FinalFailure(Exception):
    """AWS's definitive answer about the token (or the credentials): record and stop."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


def _holds(claim: _Claim) -> tuple[Any, ...]:
    """WHERE clauses: this worker still holds the lease."""
    return (
        col(DelegationRequest.id) == claim.row_id,
        col(DelegationRequest.exchange_state) == ExchangeState.CLAIMED,
        col(DelegationRequest.exchange_claim_id) == claim.claim_id,
    )


def _credentials(response: dict[str, Any]) -> DelegatedCredentials:
    creds = response["Credentials"]
    credentials = DelegatedCredentials(
        access_key_id=creds["AccessKeyId"],
        secret_access_key=creds["SecretAccessKey"],
        session_token=creds["SessionToken"],
        expiration=creds["Expiration"],
        assumed_principal=response.get("AssumedPrincipal", ""),
    )
    for secret in credentials.secrets():
        register_secret(secret)  # redacted from logs from the moment they exist
    return credentials


def _discard(credentials: DelegatedCredentials) -> None:
    """Credentials that will never be stored: nothing keeps them."""
    for secret in credentials.secrets():
        forget_secret(secret)


def parse_inner(message: VerifiedMessage) -> IamNotification:
    """Validate IAM's inner JSON strictly; anything odd is quarantined."""
    try:
        inner = message.inner()
    except Exception as exc:
        raise Quarantine("inner message is not JSON") from exc
    if not isinstance(inner, dict) or inner.get("Type") not in INNER_TYPES:
        raise Quarantine("unknown inner message type")
    request_id = inner.get("RequestId")
    if not isinstance(request_id, str) or not REQUEST_ID_RE.match(request_id):
        raise Quarantine("invalid RequestId")
    try:
        state = AwsDelegationState(inner.get("State", ""))
        updated_at = _parse_time(inner.get("UpdatedAt"))
    except (ValueError, TypeError) as exc:
        raise Quarantine("invalid State or UpdatedAt") from exc
    owner = inner.get("OwnerAccountId")
    if owner is not None and (not isinstance(owner, str) or not ACCOUNT_RE.match(owner)):
        raise Quarantine("invalid OwnerAccountId")
    workflow = inner.get("RequestorWorkflowId")
    if workflow is not None and not isinstance(workflow, str):
        raise Quarantine("invalid RequestorWorkflowId")
    if inner["Type"] == "StateChange":
        return IamNotification("StateChange", request_id, workflow, state, owner, updated_at)
    return _exchange_notification(inner, request_id, workflow, state, owner, updated_at)


def _exchange_notification(
    inner: dict[str, Any],
    request_id: str,
    workflow: str | None,
    state: AwsDelegationState,
    owner: str | None,
    updated_at: datetime,
) -> IamNotification:
    token = inner.get("ExchangeToken")
    if not isinstance(token, str) or not token or state is not AwsDelegationState.FINALIZED:
        raise Quarantine("ExchangeToken message without a token or not FINALIZED")
    register_secret(token)
    try:
        expires_at = _parse_time(inner.get("ExpiresAt"))
    except (ValueError, TypeError) as exc:
        raise Quarantine("invalid ExpiresAt") from exc
    return IamNotification(
        "ExchangeToken", request_id, workflow, state, owner, updated_at, token, expires_at
    )


def _parse_time(value: Any) -> datetime:
    if not isinstance(value, str):
        raise TypeError("timestamp must be a string")
    parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    if parsed.tzinfo is None:
        raise ValueError("timestamp without a time zone")
    return parsed


def _state_is(current: AwsDelegationState | None) -> Any:
    column = col(DelegationRequest.aws_state)
    return column.is_(None) if current is None else column == current


def _state_values(
    row: DelegationRequest, notification: IamNotification, now: datetime
) -> dict[str, Any]:
    state = notification.state
    values: dict[str, Any] = {
        "aws_state": state,
        "status": status_for(state, DelegationStatus(row.status)),
        "updated_at": now,
        "aws_state_expires_at": (
            notification.updated_at + timedelta(days=STATE_TIMEOUT_DAYS[state])
            if state in STATE_TIMEOUT_DAYS
            else None
        ),
    }
    if notification.owner_account_id and row.owner_account_id is None:
        values["owner_account_id"] = notification.owner_account_id
    if state is AwsDelegationState.FINALIZED and row.approved_at is None:
        values["approved_at"] = notification.updated_at
    if values["status"] is DelegationStatus.PENDING and values["aws_state_expires_at"]:
        # While pending, the request ends when its current AWS state times out.
        values["expires_at"] = values["aws_state_expires_at"]
    return values


def _seen_signature(session: Session, signature_sha256: str) -> bool:
    return (
        session.exec(
            select(NotificationInbox.id).where(
                NotificationInbox.signature_sha256 == signature_sha256,
                col(NotificationInbox.status).in_(FINAL_INBOX),
            )
        ).first()
        is not None
    )


def _describe_inner(row: NotificationInbox, message: VerifiedMessage) -> None:
    """Copy the non-secret inner fields onto the inbox row (never the token)."""
    try:
        inner = message.inner()
    except Exception:
        return
    if not isinstance(inner, dict):
        return
    row.inner_type = str(inner.get("Type"))[:20] if inner.get("Type") else None
    request_id = inner.get("RequestId")
    row.request_id = request_id[:128] if isinstance(request_id, str) else None
    workflow = inner.get("RequestorWorkflowId")
    row.requestor_workflow_id = workflow[:400] if isinstance(workflow, str) else None
    state = inner.get("State")
    row.state = state[:20] if isinstance(state, str) else None


def console_link(request_id: str) -> str:
    """The console review page of a request (the shape AWS returns as ConsoleDeepLink)."""
    return (
        "https://us-east-1.console.aws.amazon.com/iam/account-access-requests/review/" + request_id
    )
