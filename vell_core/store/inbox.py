"""The notification inbox and the ingestion's units of work; the workers' heartbeats.

``InboxStore.transaction`` opens one transaction for the notification processor and hands it
an ``IngestWork``: the inbox row (``InboxRows``), the delegation row (``DelegationRows``), the
funnel, audit rows and the sealed credentials, all committed or rolled back together. Each
inbox row is one SNS message (unique ``MessageId``): claiming it is what makes a redelivered
or duplicated message have no second effect.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from datetime import datetime, timedelta
from enum import StrEnum

from sqlalchemy import update
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from vell_core.domain.models import (
    AuditLog,
    InboxStatus,
    NotificationInbox,
    SealedCredential,
    WorkerHeartbeat,
)
from vell_core.store.credentials import replace_in
from vell_core.store.delegations import DelegationRows
from vell_core.store.engine import rows_affected, savepoint, session_scope
from vell_core.store.funnel import FunnelRecorder

FINAL_INBOX = (InboxStatus.APPLIED, InboxStatus.IGNORED, InboxStatus.QUARANTINED)


class InboxRefusal(StrEnum):
    """Why a message cannot be claimed: handled already, or another worker has it now."""

    DUPLICATE = "duplicate"
    BUSY = "busy"


class InboxRows:
    """Inbox rows inside the caller's open transaction (nothing here commits)."""

    def __init__(self, session: Session) -> None:
        self._session = session

    def claim(self, row: NotificationInbox, stale_after: timedelta) -> int | InboxRefusal:
        """Insert ``row``, or re-claim its failed or stale copy; its id, or why not."""
        if self._seen_signature(row.signature_sha256):
            return InboxRefusal.DUPLICATE
        existing = self._by_message_id(row.message_id)
        if existing is None:
            try:
                with savepoint(self._session):
                    self._session.add(row)
                    self._session.flush()
                    return row.id or 0
            except IntegrityError:
                # Another worker inserted this MessageId first (and committed: the unique
                # index waited for it); decide on its row like on any other.
                existing = self._by_message_id(row.message_id)
                if existing is None:
                    raise
        return self._reclaim(existing, row.received_at, stale_after)

    def finish(self, inbox_id: int, status: InboxStatus, error: str | None, now: datetime) -> None:
        """Record how processing the message ended."""
        self._session.execute(
            update(NotificationInbox)
            .where(col(NotificationInbox.id) == inbox_id)
            .values(status=status, error=error, processed_at=now)
        )

    def _reclaim(
        self, row: NotificationInbox, now: datetime, stale_after: timedelta
    ) -> int | InboxRefusal:
        """A failed row, or one received by a worker that died (stale), is taken over."""
        if row.status in FINAL_INBOX:
            return InboxRefusal.DUPLICATE
        stale = row.status is InboxStatus.RECEIVED and now - row.received_at > stale_after
        if row.status is not InboxStatus.FAILED and not stale:
            return InboxRefusal.BUSY
        claimed = self._session.execute(
            update(NotificationInbox)
            .where(
                col(NotificationInbox.id) == row.id,
                col(NotificationInbox.status) == row.status,
                col(NotificationInbox.received_at) == row.received_at,
            )
            .values(status=InboxStatus.RECEIVED, received_at=now, error=None)
        )
        if rows_affected(claimed) != 1:
            return InboxRefusal.BUSY
        return row.id or 0

    def _by_message_id(self, message_id: str) -> NotificationInbox | None:
        return self._session.exec(
            select(NotificationInbox).where(NotificationInbox.message_id == message_id)
        ).first()

    def _seen_signature(self, signature_sha256: str) -> bool:
        """A message with this very signature was handled already (under another id)."""
        found = self._session.exec(
            select(NotificationInbox.id).where(
                NotificationInbox.signature_sha256 == signature_sha256,
                col(NotificationInbox.status).in_(FINAL_INBOX),
            )
        ).first()
        return found is not None


class IngestWork:
    """One transaction of the notification processor, across every row it writes."""

    def __init__(self, session: Session, funnel: FunnelRecorder) -> None:
        self._session = session
        self.inbox = InboxRows(session)
        self.delegations = DelegationRows(session, funnel)

    def savepoint(self) -> AbstractContextManager[None]:
        """A nested transaction: an error inside undoes only its writes (``engine.savepoint``)."""
        return savepoint(self._session)

    def add_audit(self, row: AuditLog) -> None:
        """An audit row that commits with this transaction (``AuditRecorder.entry``)."""
        self._session.add(row)

    def seal(self, row: SealedCredential) -> None:
        """The sealed credentials (``CredentialVault.sealed``), committed with the outcome."""
        replace_in(self._session, row)


class InboxStore:
    """``notification_inbox`` and ``worker_heartbeats``, and the ingestion's transactions."""

    def __init__(self, engine: Engine, funnel: FunnelRecorder) -> None:
        self._engine = engine
        self._funnel = funnel

    @contextmanager
    def transaction(self) -> Iterator[IngestWork]:
        """One transaction: commit on success, roll back on any error (``session_scope``)."""
        with session_scope(self._engine) as session:
            yield IngestWork(session, self._funnel)

    def beat(self, worker_id: str, now: datetime, processed: int, last_error: str | None) -> None:
        """A worker's sign of life for the health page (one row per worker, upserted)."""
        with session_scope(self._engine) as session:
            row = session.get(WorkerHeartbeat, worker_id)
            if row is None:
                row = WorkerHeartbeat(worker_id=worker_id, last_seen_at=now)
            row.last_seen_at = now
            row.messages_processed = processed
            row.last_error = last_error
            session.add(row)
