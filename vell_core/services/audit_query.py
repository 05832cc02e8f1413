"""Reading the audit trail (admins only): customer-credential calls, actions and state changes.

Two sources make one time-ordered list:

* ``audit_log`` — every call made with a customer's credentials (the same calls the customer
  sees in CloudTrail) and every staff action that is recorded (demo links, promotions…);
* ``delegation_events`` — every AWS state a delegation request reached (its timeline).

The queries are ``vell_core.store.audit_log``'s; this module checks the caller, merges the two
sources and shapes the rows. One delegation's customer-credential calls (its access record) are
``AuditLogStore.delegation_calls``; ``access_record`` checks who may see them.

The CSV export neutralises spreadsheet formulas, since company names and details come from
outside Vell.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime

from vell_core.domain.models import StaffUser
from vell_core.domain.roles import StaffMember
from vell_core.services.audit import AuditRecorder
from vell_core.services.staff import StaffDirectory
from vell_core.store.audit_log import ActionRow, AuditLogStore, AuditWindow, EventRow
from vell_core.views.csv_export import records_csv

KIND_ACTION = "action"
KIND_STATE = "state change"
KINDS = (KIND_ACTION, KIND_STATE)
MAX_ROWS = 5000


@dataclass(frozen=True)
class AuditFilter(AuditWindow):
    """Filters of the Audit page: the store's search window plus which kinds, how many."""

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


class AuditQuery:
    """Searches the audit trail after checking the caller is an admin."""

    def __init__(
        self, *, store: AuditLogStore, staff: StaffDirectory, audit: AuditRecorder | None = None
    ) -> None:
        self._store = store
        self._staff = staff
        self._audit = audit  # flushed before each search, so the latest calls show

    def search(self, member: StaffMember, filters: AuditFilter) -> list[AuditRow]:
        """Rows matching ``filters``, newest first (at most ``filters.limit``)."""
        self._staff.require(member, "audit.read")
        limit = max(1, min(filters.limit, MAX_ROWS))
        if self._audit is not None:
            self._audit.flush()
        found = self._store.search(
            filters, limit, actions=KIND_ACTION in filters.kinds, events=KIND_STATE in filters.kinds
        )
        rows = [_action_row(row) for row in found.actions]
        rows += [_event_row(row) for row in found.events]
        rows.sort(key=lambda row: row.at, reverse=True)
        return rows[:limit]

    def staff_options(self, member: StaffMember) -> list[StaffOption]:
        """Everyone who ever had an account, for the staff filter."""
        self._staff.require(member, "audit.read")
        return [_option(user) for user in self._store.staff_users()]

    def export_csv(self, member: StaffMember, filters: AuditFilter) -> str:
        """The filtered rows as CSV text."""
        return to_csv(self.search(member, filters))


def _option(user: StaffUser) -> StaffOption:
    return StaffOption(
        id=user.id or 0,
        label=f"{user.name} ({user.role})" + ("" if user.active else " — deactivated"),
    )


def _action_row(row: ActionRow) -> AuditRow:
    log, user, request, customer = row
    return AuditRow(
        at=log.at,
        kind=KIND_ACTION,
        staff=user.name if user else "system",
        staff_user_id=log.staff_user_id,
        customer_account_id=log.customer_account_id,
        company=(request.company if request else None) or (customer.company if customer else None),
        action=log.action,
        outcome=log.outcome,
        detail=log.detail,
        delegation_id=log.delegation_id,
        aws_request_id=log.aws_request_id,
    )


def _event_row(row: EventRow) -> AuditRow:
    event, request, user = row
    return AuditRow(
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


def to_csv(rows: list[AuditRow]) -> str:
    """CSV of ``rows`` with an ISO-8601 UTC time column first."""
    records = [{**asdict(row), "at": row.at.isoformat()} for row in rows]
    return records_csv(records, list(AuditRow.__dataclass_fields__)).decode("utf-8")
