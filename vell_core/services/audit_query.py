"""Reading the audit trail (admins only): customer-credential calls, actions and state changes.

Two sources make one time-ordered list:

* ``audit_log`` — every call made with a customer's credentials (the same calls the customer
  sees in CloudTrail) and every staff action that is recorded (demo links, promotions…);
* ``delegation_events`` — every AWS state a delegation request reached (its timeline).

:func:`delegation_calls` reads one delegation's customer-credential calls for its access record
(``access_record``; the caller checks who may see it).

The CSV export neutralises spreadsheet formulas, since company names and details come from
outside Vell.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import or_
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from vell_core.domain.models import (
    AuditLog,
    Customer,
    DelegationEvent,
    DelegationRequest,
    ScreenKind,
    StaffUser,
)
from vell_core.domain.roles import StaffMember
from vell_core.services.audit import AuditRecorder
from vell_core.services.staff import StaffDirectory
from vell_core.views.csv_export import records_csv

KIND_ACTION = "action"
KIND_STATE = "state change"
KINDS = (KIND_ACTION, KIND_STATE)
MAX_ROWS = 5000
# Clients built on a customer's credentials (customer_access) call only these services; a row
# of theirs recorded before screens were recorded has no screen, but is still such a call.
CUSTOMER_CREDENTIAL_SERVICES = ("marketplace-catalog", "marketplace-agreement", "iam")
MAX_RECORD_CALLS = 50_000  # far above a full sync of the largest sandbox seller


@dataclass(frozen=True)
class AuditFilter:
    """Filters of the Audit page; empty means "any"."""

    staff_ids: tuple[int, ...] = ()
    customer: str = ""  # 12-digit account id, or part of the company name
    since: datetime | None = None
    until: datetime | None = None
    kinds: tuple[str, ...] = KINDS
    limit: int = 1000


@dataclass(frozen=True)
class AuditRow:
    """One line of the audit page."""

    at: datetime
    kind: str
    staff: str
    staff_user_id: int | None
    customer_account_id: str | None
    company: str | None
    action: str
    outcome: str
    detail: str | None
    delegation_id: int | None
    aws_request_id: str | None


@dataclass(frozen=True)
class StaffOption:
    """A staff member to filter by (including deactivated ones: their history stays)."""

    id: int
    label: str


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


def delegation_calls(
    engine: Engine, *, delegation_id: int, account_id: str, limit: int = MAX_RECORD_CALLS
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
    with Session(engine) as session:
        rows = session.exec(query).all()
    return [
        CallRow(
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
        for log, user in rows
    ]


class AuditQuery:
    """Searches the audit trail after checking the caller is an admin."""

    def __init__(
        self, *, engine: Engine, staff: StaffDirectory, audit: AuditRecorder | None = None
    ) -> None:
        self._engine = engine
        self._staff = staff
        self._audit = audit  # flushed before each search, so the latest calls show

    def search(self, member: StaffMember, filters: AuditFilter) -> list[AuditRow]:
        """Rows matching ``filters``, newest first (at most ``filters.limit``)."""
        self._staff.require(member, "audit.read")
        limit = max(1, min(filters.limit, MAX_ROWS))
        if self._audit is not None:
            self._audit.flush()
        rows: list[AuditRow] = []
        with Session(self._engine) as session:
            if KIND_ACTION in filters.kinds:
                rows += _audit_rows(session, filters, limit)
            if KIND_STATE in filters.kinds:
                rows += _event_rows(session, filters, limit)
        rows.sort(key=lambda row: row.at, reverse=True)
        return rows[:limit]

    def staff_options(self, member: StaffMember) -> list[StaffOption]:
        """Everyone who ever had an account, for the staff filter."""
        self._staff.require(member, "audit.read")
        with Session(self._engine) as session:
            users = session.exec(select(StaffUser).order_by(col(StaffUser.name))).all()
        return [
            StaffOption(
                id=user.id or 0,
                label=f"{user.name} ({user.role})" + ("" if user.active else " — deactivated"),
            )
            for user in users
        ]

    def export_csv(self, member: StaffMember, filters: AuditFilter) -> str:
        """The filtered rows as CSV text."""
        return to_csv(self.search(member, filters))


def _audit_rows(session: Session, filters: AuditFilter, limit: int) -> list[AuditRow]:
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
    if filters.staff_ids:
        query = query.where(col(AuditLog.staff_user_id).in_(filters.staff_ids))
    query = _time_window(query, col(AuditLog.at), filters)
    term = filters.customer.strip()
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
    return [
        AuditRow(
            at=log.at,
            kind=KIND_ACTION,
            staff=user.name if user else "system",
            staff_user_id=log.staff_user_id,
            customer_account_id=log.customer_account_id,
            company=(request.company if request else None)
            or (customer.company if customer else None),
            action=log.action,
            outcome=log.outcome,
            detail=log.detail,
            delegation_id=log.delegation_id,
            aws_request_id=log.aws_request_id,
        )
        for log, user, request, customer in session.exec(query).all()
    ]


def _event_rows(session: Session, filters: AuditFilter, limit: int) -> list[AuditRow]:
    query = (
        select(DelegationEvent, DelegationRequest, StaffUser)
        .join(DelegationRequest, col(DelegationRequest.id) == col(DelegationEvent.delegation_id))
        .join(StaffUser, col(StaffUser.id) == col(DelegationRequest.user_id), isouter=True)
    )
    if filters.staff_ids:
        # A state change belongs to the rep whose request it is.
        query = query.where(col(DelegationRequest.user_id).in_(filters.staff_ids))
    query = _time_window(query, col(DelegationEvent.occurred_at), filters)
    term = filters.customer.strip()
    if term:
        query = query.where(
            or_(
                col(DelegationRequest.aws_account_id) == term,
                col(DelegationRequest.company).ilike(f"%{term.lower()}%"),
            )
        )
    query = query.order_by(col(DelegationEvent.occurred_at).desc()).limit(limit)
    return [
        AuditRow(
            at=event.occurred_at,
            kind=KIND_STATE,
            staff=user.name if user else "—",
            staff_user_id=request.user_id,
            customer_account_id=request.aws_account_id,
            company=request.company,
            action=f"delegation → {event.aws_state}",
            outcome=event.source,
            detail=event.detail,
            delegation_id=request.id,
            aws_request_id=request.delegation_request_id,
        )
        for event, request, user in session.exec(query).all()
    ]


def _time_window(query: Any, column: Any, filters: AuditFilter) -> Any:
    if filters.since is not None:
        query = query.where(column >= filters.since)
    if filters.until is not None:
        query = query.where(column < filters.until)
    return query


def to_csv(rows: list[AuditRow]) -> str:
    """CSV of ``rows`` with an ISO-8601 UTC time column first."""
    records = [{**asdict(row), "at": row.at.isoformat()} for row in rows]
    return records_csv(records, list(AuditRow.__dataclass_fields__)).decode("utf-8")
