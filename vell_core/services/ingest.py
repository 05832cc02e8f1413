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
    AuditLog,
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
from vell_core.services.faults import (
    AFTER_CLAIM,
    AFTER_STS,
    AFTER_VAULT_WRITE,
    BEFORE_CLAIM,
    FaultHook,
    no_faults,
)
from vell_core.store.inbox import InboxRefusal, InboxStore, IngestWork

log = logging.getLogger(__name__)

REQUEST_ID_RE = re.compile(r"^[\w-]{16,128}$")
ACCOUNT_RE = ACCOUNT_ID_RE  # the one account-id rule (ASCII digits only)
INNER_TYPES = ("StateChange", "ExchangeToken")
# A "received" inbox row, or an exchange lease, older than this belongs to a worker that died
# mid-way: the next worker or redelivery takes it over. Longer than one worker's retries.
EXCHANGE_LEASE = timedelta(seconds=60)
STALE_CLAIM = EXCHANGE_LEASE
# Exchange outcomes recorded once and for all.
FINAL_EXCHANGE = (ExchangeState.DONE, ExchangeState.FAILED)
# The funnel step a state move reaches (recorded in the transaction that moves the state).
FUNNEL_STEPS = {
    AwsDelegationState.FINALIZED: FunnelStep.APPROVED,
    AwsDelegationState.REJECTED: FunnelStep.REJECTED,
}
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
    """The message is valid SNS but does not match one of our requests.

    ``audit`` is a row to record with the quarantine (in the transaction that decides it).
    """

    def __init__(self, reason: str, *, audit: AuditLog | None = None) -> None:
        super().__init__(reason)
        self.audit = audit


class NotificationProcessor:
    """Turns one verified SNS message into at most one effect on the store.

    Transactions per message: a StateChange (or anything that is ignored, quarantined or a
    duplicate) is one; an ExchangeToken is one before the STS calls (inbox, match, claim), one
    recording the outcome (the last one for a final failure or a refused identity), and, after
    a success, one marking the message applied. That last one stays separate on purpose: a
    worker dying right after the credentials were stored (``after_vault_write``) must leave the
    message to be processed again, not seen as a duplicate.
    """

    def __init__(
        self,
        *,
        store: InboxStore,
        clock: Clock,
        verifier: SnsVerifier,
        partner_aws: ClientFactory,
        vault: CredentialVault,
        audit: AuditRecorder,
        retry: RetryPolicy | None = None,
        lease: timedelta = EXCHANGE_LEASE,
        fault_hook: FaultHook = no_faults,
    ) -> None:
        self._retry = retry or RetryPolicy()
        self._lease = lease
        self._fault_hook = fault_hook
        self._store = store
        self._clock = clock
        self._verifier = verifier
        self._aws = partner_aws
        self._vault = vault
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
        failure: Exception | None = None
        with self._store.transaction() as work:
            inbox_id = self._claim_inbox(work, message)
            if inbox_id is None:
                return Outcome.DUPLICATE
            try:
                with work.savepoint():
                    applied = self._apply(work, message)
            except Quarantine as reason:
                self._quarantine(work, inbox_id, message.message_id, reason)
                return Outcome.QUARANTINED
            except Exception as exc:
                # The message's own writes are undone (savepoint); its failure is recorded.
                self._finish(work, inbox_id, InboxStatus.FAILED, type(exc).__name__)
                failure = exc
            else:
                if not isinstance(applied, _Claim):
                    return self._finish_applied(work, inbox_id, applied)
        if failure is not None:
            raise failure  # after the commit: the message stays on the queue
        assert isinstance(applied, _Claim)  # the lease is committed: now the STS calls
        return self._exchange(inbox_id, message.message_id, applied)

    # --- inbox -----------------------------------------------------------------------------

    def _claim_inbox(self, work: IngestWork, message: VerifiedMessage) -> int | None:
        """Claim the inbox row (new, failed or stale); None when the message was handled."""
        row = NotificationInbox(
            message_id=message.message_id,
            signature_sha256=message.signature_sha256,
            topic_arn=message.topic_arn,
            sent_at=message.timestamp,
            received_at=self._clock.now(),
        )
        _describe_inner(row, message)
        claimed = work.inbox.claim(row, self._lease)
        if claimed is InboxRefusal.BUSY:
            raise MessageInProgress()
        if claimed is InboxRefusal.DUPLICATE:
            return None
        return claimed

    def _finish(
        self, work: IngestWork, inbox_id: int, status: InboxStatus, error: str | None = None
    ) -> None:
        work.inbox.finish(inbox_id, status, error, self._clock.now())

    def _finish_applied(self, work: IngestWork, inbox_id: int, applied: bool) -> Outcome:
        self._finish(work, inbox_id, InboxStatus.APPLIED if applied else InboxStatus.IGNORED)
        return Outcome.APPLIED if applied else Outcome.IGNORED

    def _quarantine(
        self, work: IngestWork, inbox_id: int, message_id: str, reason: Quarantine
    ) -> None:
        """Record the quarantine (and its audit row) in the transaction that decided it."""
        if reason.audit is not None:
            work.add_audit(reason.audit)
        self._finish(work, inbox_id, InboxStatus.QUARANTINED, str(reason))
        log.warning("Quarantined SNS message %s: %s", message_id, reason)

    def _fail_inbox(self, inbox_id: int, exc: Exception) -> None:
        """A failure after the first transaction: record it in a transaction of its own."""
        with self._store.transaction() as work:
            self._finish(work, inbox_id, InboxStatus.FAILED, type(exc).__name__)

    # --- applying --------------------------------------------------------------------------

    def _apply(self, work: IngestWork, message: VerifiedMessage) -> bool | _Claim:
        """Apply a StateChange (True if it moved the request); claim an ExchangeToken's lease."""
        notification = parse_inner(message)
        row = self._match(work, notification)
        if notification.type == "ExchangeToken":
            return self._prepare_exchange(work, row, notification)
        return self._advance(work, row.id or 0, notification)

    def _match(self, work: IngestWork, notification: IamNotification) -> DelegationRequest:
        row = work.delegations.by_request_id(notification.request_id)
        if row is None and notification.workflow_id:
            row = self._adopt_by_workflow(work, notification)
        if row is None:
            raise Quarantine("unknown delegation request id")
        if notification.workflow_id and notification.workflow_id != row.requestor_workflow_id:
            raise Quarantine("RequestorWorkflowId does not match our record")
        if notification.owner_account_id and notification.owner_account_id != (row.aws_account_id):
            raise Quarantine("OwnerAccountId is not the customer we asked")
        return row

    def _adopt_by_workflow(
        self, work: IngestWork, notification: IamNotification
    ) -> DelegationRequest | None:
        """A request whose create response was lost: learn its id from the notification."""
        row = work.delegations.unadopted_by_workflow(str(notification.workflow_id))
        if row is not None:
            request_id = notification.request_id
            work.delegations.adopt(row, request_id, console_link(request_id))
        return row

    def _advance(self, work: IngestWork, row_id: int, notification: IamNotification) -> bool:
        """Move the row to the reported state if that is forward; record timeline and funnel."""
        state = notification.state
        rows = work.delegations
        rows.record_state_event(row_id, state, notification.updated_at, "sns")
        row = rows.get(row_id)
        assert row is not None
        current = AwsDelegationState(row.aws_state) if row.aws_state else None
        if not is_forward(current, state):
            return False  # a late or repeated event: recorded, but it changes nothing
        values = _state_values(row, notification, self._clock.now())
        if not rows.move_state(row_id, current, values):
            raise MessageInProgress("state changed concurrently; retry")
        self._record_milestone(work, row, state)
        return True

    def _record_milestone(
        self, work: IngestWork, row: DelegationRequest, state: AwsDelegationState
    ) -> None:
        """Approved or rejected: the funnel step, in the transaction that moved the state."""
        step = FUNNEL_STEPS.get(state)
        if step is None:
            return
        work.delegations.record_funnel(
            session_id=row.wizard_session_id or row.requestor_workflow_id,
            step=step,
            customer=row.aws_account_id,
            company=row.company,
            path=row.type.value,
            actor_user_id=row.user_id,
            delegation_id=row.id,
        )

    # --- the token exchange ----------------------------------------------------------------

    def _prepare_exchange(
        self, work: IngestWork, row: DelegationRequest, notification: IamNotification
    ) -> bool | _Claim:
        """Take the exchange lease in the first transaction; False if the outcome is recorded.

        Raises ``MessageInProgress`` while another worker's lease is live: the message stays
        on the queue and SQS delivers it again.
        """
        if row.exchange_state in FINAL_EXCHANGE:
            return False  # the outcome is recorded; a later copy of the token changes nothing
        self._require_awaiting_token(row)
        self._fault(BEFORE_CLAIM)
        claim = self._claim_exchange(work, row, notification)
        return False if claim is None else claim

    def _exchange(self, inbox_id: int, message_id: str, claim: _Claim) -> Outcome:
        """Redeem the token under the committed lease and record the outcome once.

        Raises ``ExchangeRetryLater`` when transient errors used up the attempts, and
        ``MessageInProgress`` when the lease was taken over: the message stays on the queue.
        """
        self._fault(AFTER_CLAIM)
        try:
            credentials = self._redeem_and_verify(claim, claim.token)
        except _FinalFailure as failure:
            self._record_failure(inbox_id, claim, failure.code)
            return Outcome.APPLIED
        except _RefusedIdentity as refused:
            self._refuse_identity(inbox_id, message_id, claim, refused.account)
            return Outcome.QUARANTINED
        except _OutOfAttempts as out:
            self._release_for_retry(inbox_id, claim, out.code)
            raise ExchangeRetryLater(str(out)) from None
        except Exception as exc:
            self._fail_inbox(inbox_id, exc)
            raise
        self._record_success(inbox_id, claim, credentials)
        self._fault(AFTER_VAULT_WRITE)
        with self._store.transaction() as work:
            self._finish(work, inbox_id, InboxStatus.APPLIED)
        return Outcome.APPLIED

    def _require_awaiting_token(self, row: DelegationRequest) -> None:
        """AWS sends a token only to a request on its way to FINALIZED; anything else is odd."""
        current = AwsDelegationState(row.aws_state) if row.aws_state else None
        reaches = current is AwsDelegationState.FINALIZED or is_forward(
            current, AwsDelegationState.FINALIZED
        )
        if reaches and DelegationStatus(row.status) in AWAITING_TOKEN:
            return
        where = f"{DelegationStatus(row.status).value}/{current.value if current else 'none'}"
        refusal = self._audit.entry(
            action="sts.GetDelegatedAccessToken",
            outcome="refused state",
            customer_account_id=row.aws_account_id,
            delegation_id=row.id,
            staff_user_id=row.user_id,
            detail=f"ExchangeToken for a request that is {where} here; not exchanged",
        )
        raise Quarantine(
            f"ExchangeToken for a request that is {where} here, not awaiting one", audit=refusal
        )

    def _claim_exchange(
        self, work: IngestWork, row: DelegationRequest, notification: IamNotification
    ) -> _Claim | None:
        """Take the lease (fresh, retrying, or expired); None once the outcome is recorded."""
        now = self._clock.now()
        claim = _Claim(
            row_id=row.id or 0,
            claim_id=uuid.uuid4().hex,
            account_id=row.aws_account_id,
            user_id=row.user_id,
            notification=notification,
        )
        rows = work.delegations
        if rows.claim_exchange(
            claim.row_id, claim.claim_id, now, now + self._lease, notification.expires_at
        ):
            return claim
        if rows.exchange_state(claim.row_id) in FINAL_EXCHANGE:
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
            raise _RefusedIdentity(account)
        return credentials

    def _attempt(
        self, claim: _Claim, operation: str, call: Callable[[], Any], *, counted: bool
    ) -> Any:
        """Call with retries on transient errors, renewing the lease before each retry.

        ``counted`` calls are exchange attempts (the rep sees their number); the claim itself
        counted the first one. The first try needs no renewal (the lease is fresh), which
        keeps the happy path free of extra transactions.
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
                    raise _OutOfAttempts(
                        code,
                        f"{operation} still failing ({code}) after {attempt} attempts; "
                        "left on the queue for redelivery",
                    ) from None
                self._retry.sleep(self._retry.backoff(attempt, exc, operation))
        raise AssertionError("unreachable")  # pragma: no cover - the loop returns or raises

    def _renew(self, claim: _Claim, *, count: bool) -> None:
        """Extend the lease (and count an attempt); a lost lease stops this worker."""
        now = self._clock.now()
        with self._store.transaction() as work:
            renewed = work.delegations.renew_lease(
                claim.row_id, claim.claim_id, now, now + self._lease, count=count
            )
            if not renewed:
                raise MessageInProgress("the exchange lease was taken over")

    def _release_for_retry(self, inbox_id: int, claim: _Claim, code: str) -> None:
        """Give the lease back for the redelivery, and mark the message failed, in one go."""
        log.warning("Token exchange for delegation %s will be retried (%s)", claim.row_id, code)
        with self._store.transaction() as work:
            work.delegations.update_held(
                claim.row_id,
                claim.claim_id,
                {
                    "exchange_state": ExchangeState.RETRYING,
                    "exchange_claim_id": None,
                    "exchange_lease_until": None,
                    "exchange_error_code": code[:64],
                    "updated_at": self._clock.now(),
                },
            )
            self._finish(work, inbox_id, InboxStatus.FAILED, ExchangeRetryLater.__name__)

    def _refuse_identity(self, inbox_id: int, message_id: str, claim: _Claim, account: str) -> None:
        """Another account's credentials: give the lease back, audit, quarantine the message."""
        with self._store.transaction() as work:
            work.delegations.update_held(
                claim.row_id,
                claim.claim_id,
                {
                    "exchange_state": ExchangeState.NONE,
                    "exchange_claim_id": None,
                    "exchange_lease_until": None,
                    "exchange_token_expires_at": None,
                    "updated_at": self._clock.now(),
                },
            )
            audit = self._audit.entry(
                action="sts.GetDelegatedAccessToken",
                outcome="refused identity",
                customer_account_id=claim.account_id,
                delegation_id=claim.row_id,
                staff_user_id=claim.user_id,
                detail=f"Credentials act in account {account or 'unknown'}, not "
                f"{claim.account_id}; discarded, never stored",
            )
            reason = Quarantine(
                f"the credentials' caller identity is account {account or 'unknown'}, not the "
                "request's customer account; discarded",
                audit=audit,
            )
            self._quarantine(work, inbox_id, message_id, reason)

    def _record_success(
        self, inbox_id: int, claim: _Claim, credentials: DelegatedCredentials
    ) -> None:
        """One transaction: the outcome, the sealed credentials, the audit row, the state."""
        notification = claim.notification
        values = {
            "exchange_state": ExchangeState.DONE,
            "exchange_claim_id": None,
            "exchange_lease_until": None,
            "exchange_error_code": None,
            "credentials_expire_at": credentials.expiration,
            "expires_at": credentials.expiration,
            "approved_at": notification.updated_at,
            "approver_id": credentials.assumed_principal or None,
            "last_error": None,
            "updated_at": self._clock.now(),
        }

        def write(work: IngestWork) -> None:
            self._record_outcome(work, claim, values, "ok")
            work.seal(self._vault.sealed(claim.row_id, credentials))

        self._in_outcome_transaction(inbox_id, write)
        self._vault.remember(claim.row_id, credentials)

    def _record_failure(self, inbox_id: int, claim: _Claim, code: str) -> None:
        """A final answer from AWS: recorded once, with its reason, for the rep to see."""
        log.warning("Token exchange for delegation %s failed: %s", claim.row_id, code)
        values = {
            "exchange_state": ExchangeState.FAILED,
            "exchange_claim_id": None,
            "exchange_lease_until": None,
            "exchange_error_code": code[:64],
            "last_error": f"Token exchange failed: {plain_reason(code)} ({code}).",
            "updated_at": self._clock.now(),
        }

        def write(work: IngestWork) -> None:
            self._record_outcome(work, claim, values, f"error {code}")
            # Nothing can fail after this (no credentials to keep): the message is done too.
            self._finish(work, inbox_id, InboxStatus.APPLIED)

        self._in_outcome_transaction(inbox_id, write)

    def _record_outcome(
        self, work: IngestWork, claim: _Claim, values: dict[str, Any], outcome: str
    ) -> None:
        """The exchange's final state (while still holding the lease), its audit row, the move."""
        if not work.delegations.update_held(claim.row_id, claim.claim_id, values):
            raise MessageInProgress("the exchange lease was taken over; not recorded")
        work.add_audit(self._exchange_audit(claim, outcome))
        self._advance(work, claim.row_id, claim.notification)

    def _in_outcome_transaction(self, inbox_id: int, write: Callable[[IngestWork], None]) -> None:
        """Run ``write`` in one transaction; if it fails, mark the message failed and raise."""
        try:
            with self._store.transaction() as work:
                write(work)
        except Exception as exc:
            self._fail_inbox(inbox_id, exc)
            raise

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


@dataclass(frozen=True)
class _Claim:
    """The lease one worker holds on one request's exchange, and the message it serves."""

    row_id: int
    claim_id: str
    account_id: str
    user_id: int
    notification: IamNotification

    @property
    def token(self) -> str:
        """The exchange token (never stored, never logged)."""
        return str(self.notification.token)


class _FinalFailure(Exception):
    """AWS's definitive answer about the token (or the credentials): record and stop."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


class _RefusedIdentity(Exception):
    """The credentials act in another account than the request's customer."""

    def __init__(self, account: str) -> None:
        super().__init__(account)
        self.account = account


class _OutOfAttempts(Exception):
    """Transient errors used up this worker's attempts (the message is retried later)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


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
