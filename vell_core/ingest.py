"""Notification ingestion: verify, record once, apply monotonically, exchange once.

Each SQS body is an SNS envelope from IAM. ``NotificationProcessor.process`` verifies it
(``sns_verify``), records it once in the inbox (unique MessageId; a retried or duplicated
delivery has no second effect), quarantines anything that does not match one of our requests,
moves the request's state forward only (``lifecycle.is_forward``, compare-and-set on the row),
and on ``ExchangeToken`` claims the single token exchange with a compare-and-set so two workers
never both redeem. The token is never stored or logged; the credentials go to the vault.
Any exception leaves the message on the queue (the worker does not delete it), so a failure
is retried and, after the redrive limit, lands in the dead-letter queue for an admin.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError
from sqlalchemy import update
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from vell_core.audit import AuditRecorder
from vell_core.aws import ClientFactory, error_code
from vell_core.clock import Clock
from vell_core.db import session_scope
from vell_core.delegation import record_state_event
from vell_core.errors import VellError
from vell_core.funnel import FunnelRecorder
from vell_core.lifecycle import STATE_TIMEOUT_DAYS, is_forward, status_for
from vell_core.logging_setup import register_secret
from vell_core.models import (
    AwsDelegationState,
    DelegationRequest,
    DelegationStatus,
    ExchangeState,
    FunnelStep,
    InboxStatus,
    NotificationInbox,
)
from vell_core.sns_verify import SnsVerifier, VerifiedMessage
from vell_core.validation import ACCOUNT_ID_RE
from vell_core.vault import CredentialVault, DelegatedCredentials

log = logging.getLogger(__name__)

REQUEST_ID_RE = re.compile(r"^[\w-]{16,128}$")
ACCOUNT_RE = ACCOUNT_ID_RE  # the one account-id rule (ASCII digits only)
INNER_TYPES = ("StateChange", "ExchangeToken")
FINAL_INBOX = (InboxStatus.APPLIED, InboxStatus.IGNORED, InboxStatus.QUARANTINED)
# A "received" inbox row older than this belongs to a worker that died mid-way.
STALE_CLAIM = timedelta(seconds=60)


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
    ) -> None:
        self._engine = engine
        self._clock = clock
        self._verifier = verifier
        self._aws = partner_aws
        self._vault = vault
        self._funnel = funnel
        self._audit = audit

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
            stale = row.status is InboxStatus.RECEIVED and now - row.received_at > STALE_CLAIM
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
            if claimed.rowcount != 1:
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
        row_id = self._match(notification)
        moved = self._advance(row_id, notification)
        exchanged = False
        if notification.type == "ExchangeToken":
            exchanged = self._exchange_once(row_id, notification)
        return moved or exchanged

    def _match(self, notification: IamNotification) -> int:
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
            return row.id or 0

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
        state = notification.state
        with session_scope(self._engine) as session:
            record_state_event(session, row_id, state, notification.updated_at, "sns")
            row = session.get(DelegationRequest, row_id)
            assert row is not None
            current = AwsDelegationState(row.aws_state) if row.aws_state else None
            if not is_forward(current, state):
                return False  # a late or repeated event: recorded, but it changes nothing
            values = _state_values(row, notification, self._clock.now())
            result = session.execute(
                update(DelegationRequest)
                .where(
                    col(DelegationRequest.id) == row_id,
                    _state_is(current),
                )
                .values(**values)
            )
            if result.rowcount != 1:
                raise MessageInProgress("state changed concurrently; retry")
        if state is AwsDelegationState.FINALIZED:
            self._record_funnel(row_id, FunnelStep.APPROVED)
        elif state is AwsDelegationState.REJECTED:
            self._record_funnel(row_id, FunnelStep.REJECTED)
        return True

    def _exchange_once(self, row_id: int, notification: IamNotification) -> bool:
        """Claim the single exchange for this request, then redeem the token."""
        if not self._claim_exchange(row_id):
            return False
        row = self._load(row_id)
        sts = self._aws.client("sts")
        try:
            response = sts.get_delegated_access_token(TradeInToken=notification.token)
        except ClientError as exc:
            code = error_code(exc)
            self._exchange_failed(row, ExchangeState.FAILED, code)
            return False
        except BotoCoreError as exc:
            # We cannot know whether AWS minted credentials: never re-exchange blindly.
            self._exchange_failed(row, ExchangeState.UNKNOWN, type(exc).__name__)
            return False
        self._exchange_succeeded(row, response, notification)
        return True

    def _claim_exchange(self, row_id: int) -> bool:
        with session_scope(self._engine) as session:
            result = session.execute(
                update(DelegationRequest)
                .where(
                    col(DelegationRequest.id) == row_id,
                    col(DelegationRequest.exchange_state) == ExchangeState.NONE,
                )
                .values(exchange_state=ExchangeState.CLAIMED)
            )
            return result.rowcount == 1

    def _exchange_succeeded(
        self, row: DelegationRequest, response: dict[str, Any], notification: IamNotification
    ) -> None:
        creds = response["Credentials"]
        credentials = DelegatedCredentials(
            access_key_id=creds["AccessKeyId"],
            secret_access_key=creds["SecretAccessKey"],
            session_token=creds["SessionToken"],
            expiration=creds["Expiration"],
            assumed_principal=response.get("AssumedPrincipal", ""),
        )
        self._vault.put(row.id or 0, credentials)
        with session_scope(self._engine) as session:
            session.execute(
                update(DelegationRequest)
                .where(col(DelegationRequest.id) == row.id)
                .values(
                    exchange_state=ExchangeState.DONE,
                    credentials_expire_at=credentials.expiration,
                    expires_at=credentials.expiration,
                    approved_at=notification.updated_at,
                    approver_id=credentials.assumed_principal or None,
                    last_error=None,
                    updated_at=self._clock.now(),
                )
            )
        self._audit.record(
            action="sts.GetDelegatedAccessToken",
            outcome="ok",
            customer_account_id=row.aws_account_id,
            delegation_id=row.id,
            staff_user_id=row.user_id,
        )

    def _exchange_failed(self, row: DelegationRequest, state: ExchangeState, code: str) -> None:
        log.warning("Token exchange for delegation %s failed: %s", row.id, code)
        with session_scope(self._engine) as session:
            session.execute(
                update(DelegationRequest)
                .where(col(DelegationRequest.id) == row.id)
                .values(
                    exchange_state=state,
                    last_error=f"Token exchange failed ({code}).",
                    updated_at=self._clock.now(),
                )
            )
        self._audit.record(
            action="sts.GetDelegatedAccessToken",
            outcome=f"error {code}",
            customer_account_id=row.aws_account_id,
            delegation_id=row.id,
            staff_user_id=row.user_id,
        )

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
        state = AwsDelegationState(inner.get("State"))
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
