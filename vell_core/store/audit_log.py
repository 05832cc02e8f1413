"""Audit-trail rows: the recorder's batched inserts, the admins' search, one delegation's calls.

One home for the ``audit_log`` table. ``vell_core.services.audit.AuditRecorder`` decides what
a row says and when a batch is written; ``AuditLogStore.append`` is the one insert. Every read
is a ``read_session``: a search never takes SQLite's write lock, so it cannot stall the
writer thread that is flushing the latest calls. Rows that must commit with a caller's own
state change are added to that caller's session instead (``AuditRecorder.entry``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import insert, or_
from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.pool import StaticPool
from sqlmodel import Session, col, select

from vell_core.domain.models import (
    AuditLog,
    Customer,
    DelegationEvent,
    DelegationRequest,
    ScreenKind,
    StaffUser,
)
from vell_core.store.engine import read_session, table_of

# Clients built on a customer's credentials (customer_access) call only these services; a row
# of theirs recorded before screens were recorded has no screen, but is still such a call.
CUSTOMER_CREDENTIAL_SERVICES = ("marketplace-catalog", "marketplace-agreement", "iam")
MAX_RECORD_CALLS = 50_000  # far above a full sync of the largest sandbox seller


@dataclass(frozen=True)
class AuditWindow:
    """What to search for; empty means "any"."""

    staff_ids: tuple[int, ...] = ()
    customer: str = ""  # 12-digit account id, or part of the company name
    since: datetime | None = None
    until: datetime | None = None


@dataclass(frozen=True)
class CallRow:
    """One call made with a delegation's customer credentials, as recorded."""

    id: int
    at: datetime
    staff_user_id: int | None
    staff_name: str | None
    action: str
    outcome: str
    screen: ScreenKind | None
    screen_subject: str | None
    aws_request_id: str | None


_AUDIT_TABLE: Any = table_of(AuditLog)


class AuditWriteFailed(Exception):
    """The database refused an audit batch (a held lock, a dangling foreign key…)."""


ActionRow = tuple[AuditLog, StaffUser | None, DelegationRequest | None, Customer | None]
EventRow = tuple[DelegationEvent, DelegationRequest, StaffUser | None]


@dataclass(frozen=True)
class AuditRows:
    """One search's rows from both sources, read in one snapshot."""

    actions: list[ActionRow]
    events: list[EventRow]


class AuditLogStore:
    """``audit_log``: the one insert, and the queries over it and ``delegation_events``."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    @property
    def single_connection(self) -> bool:
        """An in-memory store (tests): one shared connection another thread must not use."""
        return isinstance(self._engine.pool, StaticPool)

    def append(self, rows: Sequence[dict[str, Any]]) -> None:
        """Insert ``rows`` (column dicts) in one transaction; ``AuditWriteFailed`` if refused."""
        try:
            with self._engine.begin() as connection:
                connection.execute(insert(_AUDIT_TABLE), list(rows))
        except SQLAlchemyError as error:
            raise AuditWriteFailed(type(error).__name__) from error

    def search(self, window: AuditWindow, limit: int, *, actions: bool, events: bool) -> AuditRows:
        """The newest ``limit`` action rows and/or state-change rows in ``window``."""
        with read_session(self._engine) as session:
            return AuditRows(
                actions=_action_rows(session, window, limit) if actions else [],
                events=_event_rows(session, window, limit) if events else [],
            )

    def staff_users(self) -> Sequence[StaffUser]:
        """Everyone who ever had an account (deactivated too: their history stays), by name."""
        with read_session(self._engine) as session:
            return session.exec(select(StaffUser).order_by(col(StaffUser.name))).all()

    def delegation_calls(
        self, *, delegation_id: int, account_id: str, limit: int = MAX_RECORD_CALLS
    ) -> list[CallRow]:
        """The calls made with ``delegation_id``'s credentials in ``account_id``, oldest first
        (at most ``limit``).

        Both ids must match: a row of another customer's account is never part of this record.
        Staff actions (demo links, promotions…) and Vell's own token exchange are not such calls.
        """
        credential_call = or_(
            col(AuditLog.screen).is_not(None),
            *(
                col(AuditLog.action).startswith(f"{service}.")
                for service in CUSTOMER_CREDENTIAL_SERVICES
            ),
        )
        query = (
            select(AuditLog, StaffUser)
            .join(StaffUser, col(StaffUser.id) == col(AuditLog.staff_user_id), isouter=True)
            .where(col(AuditLog.delegation_id) == delegation_id)
            .where(col(AuditLog.customer_account_id) == account_id)
            .where(credential_call)
            .order_by(col(AuditLog.at), col(AuditLog.id))
            .limit(limit)
        )
        with read_session(self._engine) as session:
            rows = session.exec(query).all()
        return [_call(log, user) for log, user in rows]


def _call(log: AuditLog, user: StaffUser | None) -> CallRow:
    return CallRow(
        id=log.id or 0,
        at=log.at,
        staff_user_id=log.staff_user_id,
        staff_name=user.name if user else None,
        action=log.action,
        outcome=log.outcome,
        screen=ScreenKind(log.screen) if log.screen else None,
        screen_subject=log.screen_subject,
        aws_request_id=log.aws_request_id,
    )


def _action_rows(session: Session, window: AuditWindow, limit: int) -> list[ActionRow]:
    query = (
        select(AuditLog, StaffUser, DelegationRequest, Customer)
        .join(StaffUser, col(StaffUser.id) == col(AuditLog.staff_user_id), isouter=True)
        .join(
            DelegationRequest,
            col(DelegationRequest.id) == col(AuditLog.delegation_id),
            isouter=True,
        )
        .join(
            Customer,
            col(Customer.aws_account_id) == col(AuditLog.customer_account_id),
            isouter=True,
        )
    )
    if window.staff_ids:
        query = query.where(col(AuditLog.staff_user_id).in_(window.staff_ids))
    query = _time_window(query, col(AuditLog.at), window)
    term = window.customer.strip()
    if term:
        pattern = f"%{term.lower()}%"
        query = query.where(
            or_(
                col(AuditLog.customer_account_id) == term,
                col(DelegationRequest.company).ilike(pattern),
                col(Customer.company).ilike(pattern),
            )
        )
    query = query.order_by(col(AuditLog.at).desc()).limit(limit)
    return [(log, user, request, customer) for log, user, request, customer in session.exec(query)]


def _event_rows(session: Session, window: AuditWindow, limit: int) -> list[EventRow]:
    query = (
        select(DelegationEvent, DelegationRequest, StaffUser)
        .join(DelegationRequest, col(DelegationRequest.id) == col(DelegationEvent.delegation_id))
        .join(StaffUser, col(StaffUser.id) == col(DelegationRequest.user_id), isouter=True)
    )
    if window.staff_ids:
        # A state change belongs to the rep whose request it is.
        query = query.where(col(DelegationRequest.user_id).in_(window.staff_ids))
    query = _time_window(query, col(DelegationEvent.occurred_at), window)
    term = window.customer.strip()
    if term:
        query = query.where(
            or_(
                col(DelegationRequest.aws_account_id) == term,
                col(DelegationRequest.company).ilike(f"%{term.lower()}%"),
            )
        )
    query = query.order_by(col(DelegationEvent.occurred_at).desc()).limit(limit)
    return [(event, request, user) for event, request, user in session.exec(query)]


def _time_window(query: Any, column: Any, window: AuditWindow) -> Any:
    if window.since is not None:
        query = query.where(column >= window.since)
    if window.until is not None:
        query = query.where(column < window.until)
    return query
