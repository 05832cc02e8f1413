"""Cloud-connection rows: the list, one connection, inserts, validation outcomes, disconnects.

Also the reads a connection's page needs from neighbouring tables: the customer an account
belongs to, its health (the last successful validation in the audit log), whether an
offboarding step was audited, and the delegation a CloudFormation setup was started from.
Conversion (delegations pointing at their permanent connection) is written here too: it is the
moment a connection takes over from a delegation, for both production paths.

Reads run on a ``read_session`` snapshot (no write lock); each write is one transaction.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from enum import Enum
from typing import Any

from sqlalchemy import func
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select

from vell_core.domain.clock import ensure_utc
from vell_core.domain.models import (
    AuditLog,
    CloudConnection,
    ConnectionStatus,
    ConnectionVia,
    Customer,
    DelegationRequest,
    DelegationStatus,
)
from vell_core.store.engine import read_session, session_scope
from vell_core.store.production import active_connection_id

StatusRule = Callable[[ConnectionStatus], ConnectionStatus]


class Added(Enum):
    """How inserting a connection went."""

    ADDED = "added"
    EXTERNAL_ID_TAKEN = "external_id_taken"  # the unique external ID collided
    REFUSED = "refused"  # another constraint refused the row (e.g. the account-id check)


class ConnectionStore:
    """``cloud_connections`` and the reads and writes that hang off a connection."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    # -- reads --------------------------------------------------------------------------------

    def search(self, company_contains: str, *, include_disconnected: bool) -> list[CloudConnection]:
        """Connections by company (case-insensitive part), company then newest first."""
        query = select(CloudConnection)
        if company_contains:
            pattern = f"%{company_contains.lower()}%"
            query = query.where(col(CloudConnection.company).ilike(pattern))
        if not include_disconnected:
            query = query.where(CloudConnection.status != ConnectionStatus.DISCONNECTED)
        query = query.order_by(col(CloudConnection.company), col(CloudConnection.id).desc())
        with read_session(self._engine) as session:
            return list(session.exec(query).all())

    def get(self, connection_id: int) -> CloudConnection | None:
        """One connection."""
        with read_session(self._engine) as session:
            return session.get(CloudConnection, connection_id)

    def pending(self, via: ConnectionVia) -> list[CloudConnection]:
        """Pending connections created ``via`` one path, newest first."""
        with read_session(self._engine) as session:
            rows = session.exec(
                select(CloudConnection)
                .where(CloudConnection.created_via == via)
                .where(CloudConnection.status == ConnectionStatus.PENDING)
                .order_by(col(CloudConnection.created_at).desc())
            ).all()
            return list(rows)

    def pending_for(self, account: str, via: ConnectionVia) -> CloudConnection | None:
        """The account's pending connection created ``via`` one path, if there is one."""
        with read_session(self._engine) as session:
            return session.exec(
                select(CloudConnection)
                .where(CloudConnection.aws_account_id == account)
                .where(CloudConnection.created_via == via)
                .where(CloudConnection.status == ConnectionStatus.PENDING)
            ).first()

    def active_for_account(self, account: str) -> int | None:
        """The id of the account's active connection (the "in production" rule)."""
        return active_connection_id(self._engine, account)

    def customer_id(self, account: str) -> int | None:
        """The customer row of an AWS account, if Vell has one."""
        with read_session(self._engine) as session:
            return session.exec(
                select(Customer.id).where(Customer.aws_account_id == account)
            ).first()

    def audited(self, connection_id: int, action: str) -> bool:
        """Whether the audit log has an ``action`` row for the connection."""
        with read_session(self._engine) as session:
            found = session.exec(
                select(AuditLog.id)
                .where(AuditLog.connection_id == connection_id)
                .where(AuditLog.action == action)
            ).first()
        return found is not None

    def last_successes(self, connection_ids: Sequence[int], action: str) -> dict[int, datetime]:
        """Each connection's latest successful ``action`` (its health), by connection id."""
        if not connection_ids:
            return {}
        with read_session(self._engine) as session:
            rows = session.exec(
                select(AuditLog.connection_id, func.max(AuditLog.at))
                .where(col(AuditLog.connection_id).in_(connection_ids))
                .where(AuditLog.action == action)
                .where(AuditLog.outcome == "ok")
                .group_by(col(AuditLog.connection_id))
            ).all()
        return {int(cid): _aware(at) for cid, at in rows if cid is not None and at is not None}

    def setup_source(self, connection_id: int, action: str) -> DelegationRequest | None:
        """The delegation named by the connection's first ``action`` audit row (setup start)."""
        with read_session(self._engine) as session:
            delegation_id = session.exec(
                select(AuditLog.delegation_id)
                .where(AuditLog.connection_id == connection_id)
                .where(AuditLog.action == action)
                .order_by(col(AuditLog.at))
            ).first()
            return session.get(DelegationRequest, delegation_id) if delegation_id else None

    # -- writes -------------------------------------------------------------------------------

    def add(self, row: CloudConnection) -> Added:
        """Insert a new connection (``row`` gets its id), or say which constraint refused it."""
        try:
            with session_scope(self._engine) as session:
                session.add(row)
            return Added.ADDED
        except IntegrityError:
            return Added.EXTERNAL_ID_TAKEN if self._external_id_taken(row) else Added.REFUSED

    def record_validation(
        self,
        connection_id: int,
        *,
        role_arn: str | None,
        ok: bool,
        now: datetime,
        status_after: StatusRule,
    ) -> bool:
        """Store a validation outcome; False when the role ARN is another connection's."""
        try:
            with session_scope(self._engine) as session:
                row = session.get(CloudConnection, connection_id)
                assert row is not None
                if role_arn and row.role_arn != role_arn:
                    row.role_arn = role_arn
                row.last_validated_at = now
                row.last_validation_ok = ok
                row.status = status_after(ConnectionStatus(row.status))
                row.updated_at = now
                session.add(row)
        except IntegrityError:
            return False
        return True

    def disconnect(self, connection_id: int, now: datetime) -> str | None:
        """Mark the connection disconnected; its account, or None when there is no such row."""
        with session_scope(self._engine) as session:
            row = session.get(CloudConnection, connection_id)
            if row is None:
                return None
            row.status = ConnectionStatus.DISCONNECTED
            row.updated_at = now
            session.add(row)
            return row.aws_account_id

    def mark_converted(
        self, delegation_ids: Sequence[int], role_arn: str, connection_id: int, now: datetime
    ) -> None:
        """Mark delegations converted (sticky), pointing at the permanent role and connection."""
        with session_scope(self._engine) as session:
            for delegation_id in delegation_ids:
                row = session.get(DelegationRequest, delegation_id)
                if row is None:
                    continue
                row.status = DelegationStatus.CONVERTED
                row.persistent_role_arn = role_arn
                row.cloud_connection_id = connection_id
                row.updated_at = now
                session.add(row)

    def _external_id_taken(self, row: CloudConnection) -> bool:
        with read_session(self._engine) as session:
            found = session.exec(
                select(CloudConnection.id).where(CloudConnection.external_id == row.external_id)
            ).first()
        return found is not None


def _aware(value: Any) -> datetime:
    """SQLite aggregates bypass the column type: make the timestamp aware UTC."""
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return ensure_utc(value)
