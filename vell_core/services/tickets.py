"""Support tickets: CSV import (all-or-nothing, idempotent on ``external_ref``) and manual entry.

Setup tickets feed the ticket-reduction metric (``vell_core.services.metrics``). The CSV import
validates every row first; a file with any bad row is refused with a per-row report and
writes nothing. Rows whose ``external_ref`` is already stored are skipped, so re-importing the
same export is harmless (the stored ticket is kept as it is).

CSV columns (header names are case-insensitive; unknown columns are ignored, so a help-desk
export can be uploaded as is):

* ``external_ref`` — required, unique, at most 64 characters (e.g. the Zendesk id);
* ``opened_at`` — required, ISO 8601 date or date-time; without an offset it is read as UTC;
  not in the future;
* ``subject`` — required, at most 200 characters;
* ``category`` — optional, default ``setup``; lower-case letters, digits, ``_`` or ``-``;
* ``customer`` — optional 12-digit AWS account id; ``company`` — optional, at most 120.

Row numbers in reports count the header as row 1, as a spreadsheet shows them.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time
from typing import Any

from vell_core.domain import validation
from vell_core.domain.clock import Clock
from vell_core.domain.errors import ValidationFailed
from vell_core.domain.models import SupportTicket
from vell_core.domain.roles import StaffMember
from vell_core.services.staff import StaffDirectory
from vell_core.store.tickets import TicketStore

MAX_BYTES = 5 * 1024 * 1024
MAX_ROWS = 50_000
REQUIRED_COLUMNS = ("external_ref", "opened_at", "subject")
CATEGORY_PATTERN = re.compile(r"^[a-z0-9_-]{1,40}$")


@dataclass(frozen=True)
class TicketInput:
    """One ticket as entered or read from a CSV row (already stripped)."""

    external_ref: str | None
    opened_at: datetime
    subject: str
    category: str = "setup"
    customer: str | None = None
    company: str | None = None


@dataclass(frozen=True)
class RowError:
    """Why one CSV row was refused."""

    row: int
    column: str
    reason: str


@dataclass(frozen=True)
class ImportReport:
    """Outcome of an import: nothing is written unless ``errors`` is empty."""

    rows: int
    imported: int = 0
    already_present: int = 0
    errors: tuple[RowError, ...] = field(default_factory=tuple)

    @property
    def ok(self) -> bool:
        """True when the file was accepted."""
        return not self.errors

    def error_records(self) -> list[dict[str, Any]]:
        """Errors as table rows for the page."""
        return [{"row": e.row, "column": e.column, "reason": e.reason} for e in self.errors]


@dataclass(frozen=True)
class TicketView:
    """A stored ticket, for the page's recent-tickets table."""

    id: int
    external_ref: str | None
    opened_at: datetime
    category: str
    subject: str
    customer: str | None
    company: str | None
    source: str


def parse_opened_at(text: str, now: datetime) -> datetime:
    """ISO date or date-time → aware UTC; naive means UTC; refuses the future."""
    value = text.strip()
    if not value:
        raise ValueError("is required")
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        try:
            parsed = datetime.combine(date.fromisoformat(value), time.min)
        except ValueError:
            raise ValueError("is not an ISO 8601 date or date-time") from None
    parsed = parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)
    if parsed > now:
        raise ValueError("is in the future")
    return parsed


def validate_ticket(raw: dict[str, str], now: datetime) -> tuple[TicketInput | None, list[str]]:
    """Check one row's fields; returns (ticket, []) or (None, ["column: reason", ...])."""
    problems: list[str] = []
    get = {key: (value or "").strip() for key, value in raw.items()}
    ref = get.get("external_ref", "")
    _check_text(problems, "external_ref", ref, 64)
    opened: datetime | None = None
    try:
        opened = parse_opened_at(get.get("opened_at", ""), now)
    except ValueError as exc:
        problems.append(f"opened_at: {exc}")
    subject = get.get("subject", "")
    _check_text(problems, "subject", subject, 200)
    category = get.get("category", "").lower() or "setup"
    if not CATEGORY_PATTERN.match(category):
        problems.append("category: use lower-case letters, digits, _ or - (max 40)")
    customer = get.get("customer", "") or None
    if customer is not None:
        try:  # the one account rule: the dashes and spaces people paste are removed
            customer = validation.account_id(customer)
        except ValidationFailed:
            problems.append("customer: must be a 12-digit AWS account id")
    company = get.get("company", "") or None
    _check_text(problems, "company", company or "", 120, required=False)
    if problems or opened is None:
        return None, problems
    return TicketInput(ref or None, opened, subject, category, customer, company), []


def _check_text(
    problems: list[str], column: str, value: str, maximum: int, *, required: bool = True
) -> None:
    problem = validation.text_problem(value, maximum, required=required)
    if problem is not None:
        problems.append(f"{column}: {problem}")


def parse_csv(data: bytes, now: datetime) -> tuple[list[tuple[int, TicketInput]], list[RowError]]:
    """Every row validated; returns the good rows with their numbers, and every error."""
    if len(data) > MAX_BYTES:
        return [], [RowError(0, "file", f"is larger than {MAX_BYTES // (1024 * 1024)} MB")]
    try:
        text = data.decode("utf-8-sig")  # Excel writes a BOM
    except UnicodeDecodeError:
        return [], [RowError(0, "file", "is not UTF-8 text")]
    # strict: an unbalanced quote is an error, not a cell that swallows the rest of the file.
    reader = csv.DictReader(io.StringIO(text, newline=""), strict=True)
    try:
        headers = [(name or "").strip().lower() for name in reader.fieldnames or []]
    except csv.Error as exc:
        return [], [RowError(1, "file", _unreadable(exc))]
    missing = [name for name in REQUIRED_COLUMNS if name not in headers]
    if missing:
        return [], [RowError(1, name, "column is missing") for name in missing]
    reader.fieldnames = headers
    good: list[tuple[int, TicketInput]] = []
    errors: list[RowError] = []
    seen: dict[str, int] = {}
    for index, raw in _rows(reader, errors):
        if index - 1 > MAX_ROWS:
            return [], [RowError(index, "file", f"has more than {MAX_ROWS} rows")]
        if None in raw:  # more cells than headers
            errors.append(RowError(index, "row", "has more cells than the header"))
            continue
        ticket, problems = validate_ticket({k: v or "" for k, v in raw.items()}, now)
        errors += [RowError(index, *problem.split(": ", 1)) for problem in problems]
        if ticket is None:
            continue
        ref = ticket.external_ref or ""
        if ref in seen:
            errors.append(RowError(index, "external_ref", f"repeats row {seen[ref]}"))
            continue
        seen[ref] = index
        good.append((index, ticket))
    if not good and not errors:
        errors.append(RowError(2, "file", "has no data rows"))
    return good, errors


def _rows(
    reader: csv.DictReader[str], errors: list[RowError]
) -> Iterator[tuple[int, dict[str, str | None]]]:
    """(row number, row) until the file ends or cannot be read further (then one error).

    A reading error stops the file: after an unbalanced quote or an oversized cell the csv
    module no longer knows where rows begin, so nothing after it can be trusted.
    """
    index = 1
    while True:
        index += 1
        try:
            raw = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            errors.append(RowError(index, "file", _unreadable(exc)))
            return
        yield index, raw


def _unreadable(exc: csv.Error) -> str:
    """The csv module's reason, in words a help-desk export's owner can act on."""
    reason = str(exc)
    if "field larger than field limit" in reason:
        return (
            f"a cell is larger than {csv.field_size_limit() // 1024} KB (no column takes that "
            "much); nothing after it was read"
        )
    if "unexpected end of data" in reason or "expected after" in reason:
        return (
            'a quoted cell is not closed properly (unbalanced "); the rows after it would be '
            "read as part of it"
        )
    return f"cannot be read as CSV from here on ({reason})"


class TicketService:
    """Imports and records support tickets; wired as ``services.tickets``."""

    def __init__(self, store: TicketStore, clock: Clock, staff: StaffDirectory) -> None:
        self._store = store
        self._clock = clock
        self._staff = staff

    def import_csv(self, member: StaffMember | None, data: bytes) -> ImportReport:
        """Validate every row; write all new rows in one transaction, or nothing."""
        member = self._staff.require(member, "tickets.write")
        good, errors = parse_csv(data, self._clock.now())
        rows = len(good) + len({e.row for e in errors if e.row > 1})
        if errors:
            return ImportReport(rows=rows, errors=tuple(errors))
        added = self._store.add_new([_row(t, member, "import") for _, t in good])
        return ImportReport(
            rows=rows, imported=added.imported, already_present=added.already_present
        )

    def add(self, member: StaffMember | None, ticket: TicketInput) -> TicketView:
        """Record one ticket entered by hand (refused if its external_ref exists)."""
        member = self._staff.require(member, "tickets.write")
        raw = {
            "external_ref": ticket.external_ref or "-",  # optional by hand; checked below
            "opened_at": ticket.opened_at.isoformat(),
            "subject": ticket.subject,
            "category": ticket.category,
            "customer": ticket.customer or "",
            "company": ticket.company or "",
        }
        checked, problems = validate_ticket(raw, self._clock.now())
        if checked is None:
            raise ValidationFailed(fields=dict(p.split(": ", 1) for p in problems))
        checked = TicketInput(ticket.external_ref or None, *_fields_after_ref(checked))
        stored = self._store.add_unless_ref_exists(_row(checked, member, "manual"))
        if stored is None:
            raise ValidationFailed(fields={"external_ref": "a ticket with this id exists"})
        return _view(stored)

    def recent(self, member: StaffMember | None, limit: int = 50) -> list[TicketView]:
        """The most recently opened tickets, newest first."""
        self._staff.require(member, "tickets.write")
        return [_view(row) for row in self._store.recent(limit)]


def _row(ticket: TicketInput, member: StaffMember, source: str) -> SupportTicket:
    """The row to store for ``ticket``, attributed to ``member``."""
    return SupportTicket(
        external_ref=ticket.external_ref,
        opened_at=ticket.opened_at,
        customer=ticket.customer,
        company=ticket.company,
        category=ticket.category,
        subject=ticket.subject,
        source=source,
        created_by_user_id=member.id,
    )


def _fields_after_ref(ticket: TicketInput) -> tuple[Any, ...]:
    return (ticket.opened_at, ticket.subject, ticket.category, ticket.customer, ticket.company)


def _view(row: SupportTicket) -> TicketView:
    return TicketView(
        id=int(row.id or 0),
        external_ref=row.external_ref,
        opened_at=row.opened_at,
        category=row.category,
        subject=row.subject,
        customer=row.customer,
        company=row.company,
        source=row.source,
    )


TEMPLATE_CSV = (
    "external_ref,opened_at,category,subject,customer,company\n"
    "ZD-10001,2026-01-15T09:30:00Z,setup,CloudFormation stack failed to create,"
    "123456789012,Example Co\n"
)
