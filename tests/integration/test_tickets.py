"""Support-ticket CSV import (all-or-nothing, idempotent) and manual entry, on both backends."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select
from sqlalchemy.engine import Engine

from vell_core.domain.clock import FrozenClock
from vell_core.domain.errors import PermissionDenied, ValidationFailed
from vell_core.domain.models import StaffRole, StaffUser, SupportTicket
from vell_core.domain.roles import StaffMember
from vell_core.services.staff import StaffDirectory
from vell_core.services.tickets import TicketInput, TicketService
from vell_core.store import migrate
from vell_core.store.engine import make_engine, session_scope
from vell_core.store.staff import StaffStore
from vell_core.store.tickets import TicketStore

NOW = datetime(2026, 3, 31, 12, 0, tzinfo=UTC)
CS = StaffMember(id=1, name="Lena", email="lena@vell.ai", role=StaffRole.CS)
GOOD = (
    b"External_Ref,opened_at,category,subject,customer,company,extra\n"
    b"ZD-1,2026-03-01T09:30:00Z,setup,Stack failed,123456789012,Acme,x\n"
    b"ZD-2,2026-03-02,,Access denied,,,\n"
    b"ZD-3,2026-03-03 10:00:00+02:00,billing,Invoice,,,\n"
)


@pytest.fixture
def engine(store_url: str) -> Iterator[Engine]:
    migrate.upgrade(store_url)
    engine = make_engine(store_url)
    with session_scope(engine) as session:
        session.add(
            StaffUser(id=1, name="Lena", email="lena@vell.ai", role=StaffRole.CS, created_at=NOW)
        )
        session.add(
            StaffUser(id=2, name="Maya", email="maya@vell.ai", role=StaffRole.SALES, created_at=NOW)
        )
    yield engine
    engine.dispose()


@pytest.fixture
def service(engine: Engine) -> TicketService:
    return TicketService(TicketStore(engine), FrozenClock(NOW), StaffDirectory(StaffStore(engine)))


def stored(engine: Engine) -> list[tuple[str, datetime, str, str]]:
    with session_scope(engine) as session:
        rows = session.execute(
            select(
                SupportTicket.external_ref,
                SupportTicket.opened_at,
                SupportTicket.category,
                SupportTicket.source,
            ).order_by(SupportTicket.external_ref)  # type: ignore[arg-type]
        ).all()
    return [tuple(row) for row in rows]  # type: ignore[misc]


def test_good_file_is_imported(service: TicketService, engine: Engine) -> None:
    report = service.import_csv(CS, GOOD)
    assert (report.ok, report.rows, report.imported, report.already_present) == (True, 3, 3, 0)
    assert stored(engine) == [
        ("ZD-1", datetime(2026, 3, 1, 9, 30, tzinfo=UTC), "setup", "import"),
        ("ZD-2", datetime(2026, 3, 2, tzinfo=UTC), "setup", "import"),  # default category
        ("ZD-3", datetime(2026, 3, 3, 8, tzinfo=UTC), "billing", "import"),  # to UTC
    ]


def test_reimport_is_idempotent(service: TicketService, engine: Engine) -> None:
    service.import_csv(CS, GOOD)
    again = service.import_csv(CS, GOOD + b"ZD-4,2026-03-04,setup,New one,,\n")
    assert (again.imported, again.already_present) == (1, 3)
    assert len(stored(engine)) == 4


def test_one_bad_row_writes_nothing_and_reports_rows(
    service: TicketService, engine: Engine
) -> None:
    bad = (
        b"external_ref,opened_at,subject,customer\n"
        b"ZD-1,2026-03-01,Fine,\n"
        b"ZD-2,yesterday,Bad date,\n"
        b"ZD-3,2026-03-01,,12345\n"
        b"ZD-1,2026-03-02,Duplicate ref,\n"
        b",2027-01-01,Future and no ref,\n"
    )
    report = service.import_csv(CS, bad)
    assert not report.ok
    assert report.imported == 0
    assert {(e.row, e.column) for e in report.errors} == {
        (3, "opened_at"),
        (4, "subject"),
        (4, "customer"),
        (5, "external_ref"),
        (6, "external_ref"),
        (6, "opened_at"),
    }
    reasons = {(e.row, e.column): e.reason for e in report.errors}
    assert reasons[(5, "external_ref")] == "repeats row 2"
    assert reasons[(6, "opened_at")] == "is in the future"
    assert stored(engine) == []


def test_missing_columns_and_non_utf8_are_refused(service: TicketService, engine: Engine) -> None:
    report = service.import_csv(CS, b"ref,when\nA,2026-01-01\n")
    assert {(e.row, e.column) for e in report.errors} == {
        (1, "external_ref"),
        (1, "opened_at"),
        (1, "subject"),
    }
    assert service.import_csv(CS, b"\xff\xfe\x00bad").errors[0].column == "file"
    assert stored(engine) == []


def test_manual_entry_and_duplicate_ref(service: TicketService) -> None:
    entry = TicketInput("ZD-9", datetime(2026, 3, 30, tzinfo=UTC), "Manual one")
    view = service.add(CS, entry)
    assert (view.external_ref, view.source, view.category) == ("ZD-9", "manual", "setup")
    with pytest.raises(ValidationFailed) as caught:
        service.add(CS, entry)
    assert "external_ref" in caught.value.fields
    no_ref = service.add(CS, TicketInput(None, datetime(2026, 3, 30, tzinfo=UTC), "No ref"))
    assert no_ref.external_ref is None
    with pytest.raises(ValidationFailed):
        service.add(CS, TicketInput(None, datetime(2026, 3, 30, tzinfo=UTC), ""))
    assert {t.subject for t in service.recent(CS)} == {"Manual one", "No ref"}


def test_sales_may_not_write_tickets(service: TicketService, engine: Engine) -> None:
    sales = StaffMember(id=2, name="Maya", email="maya@vell.ai", role=StaffRole.SALES)
    with pytest.raises(PermissionDenied):
        service.import_csv(sales, GOOD)
    with session_scope(engine) as session:
        assert session.execute(select(func.count()).select_from(SupportTicket)).scalar_one() == 0
