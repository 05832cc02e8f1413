"""Ticket CSV import at its edges (issue 15 item 2), on SQLite and PostgreSQL.

A file the csv module cannot read, or a cell PostgreSQL would refuse, is refused with a
per-row report and nothing is written; the same accepted file stores the same rows on both
backends.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select
from sqlalchemy.engine import Engine

from tests.hostile import hostile_text
from vell_core.domain.clock import FrozenClock
from vell_core.domain.models import StaffRole, StaffUser, SupportTicket
from vell_core.domain.roles import StaffMember
from vell_core.services.staff import StaffDirectory
from vell_core.services.tickets import TicketService
from vell_core.store import migrate
from vell_core.store.engine import make_engine, session_scope
from vell_core.store.staff import StaffStore
from vell_core.store.tickets import TicketStore

NOW = datetime(2026, 3, 31, 12, 0, tzinfo=UTC)
CS = StaffMember(id=1, name="Lena", email="lena@vell.ai", role=StaffRole.CS)
HEADER = b"external_ref,opened_at,subject,customer,company\n"


@pytest.fixture
def engine(store_url: str) -> Iterator[Engine]:
    migrate.upgrade(store_url)
    engine = make_engine(store_url)
    with session_scope(engine) as session:
        session.add(
            StaffUser(id=1, name="Lena", email="lena@vell.ai", role=StaffRole.CS, created_at=NOW)
        )
    yield engine
    engine.dispose()


@pytest.fixture
def service(engine: Engine) -> TicketService:
    return TicketService(TicketStore(engine), FrozenClock(NOW), StaffDirectory(StaffStore(engine)))


def stored(engine: Engine) -> list[tuple[object, ...]]:
    with session_scope(engine) as session:
        rows = session.execute(
            select(
                SupportTicket.external_ref,
                SupportTicket.opened_at,
                SupportTicket.subject,
                SupportTicket.customer,
                SupportTicket.company,
            ).order_by(SupportTicket.external_ref)  # type: ignore[arg-type]
        ).all()
    return [tuple(row) for row in rows]


def count(engine: Engine) -> int:
    with session_scope(engine) as session:
        return int(session.execute(select(func.count()).select_from(SupportTicket)).scalar_one())


def test_a_200_kb_cell_is_refused_with_a_report(service: TicketService, engine: Engine) -> None:
    data = HEADER + b"ZD-1,2026-03-01,ok,,\nZD-2,2026-03-01," + b"x" * 200_000 + b",,\n"
    report = service.import_csv(CS, data)
    assert [(e.row, e.column) for e in report.errors] == [(3, "file")]
    assert "larger than" in report.errors[0].reason
    assert count(engine) == 0


def test_a_nul_byte_is_refused_on_both_backends(service: TicketService, engine: Engine) -> None:
    report = service.import_csv(CS, HEADER + b"ZD-1,2026-03-01,Stack\x00failed,,Acme\n")
    assert [(e.row, e.column) for e in report.errors] == [(2, "subject")]
    assert "U+0000" in report.errors[0].reason
    assert count(engine) == 0


def test_an_unbalanced_quote_does_not_merge_the_following_rows(
    service: TicketService, engine: Engine
) -> None:
    data = HEADER + b'ZD-1,2026-03-01,"Stack failed,,\nZD-2,2026-03-02,Access denied,,\n'
    report = service.import_csv(CS, data)
    assert [(e.row, e.column) for e in report.errors] == [(2, "file")]
    assert "quoted cell" in report.errors[0].reason
    assert count(engine) == 0


def test_zero_width_and_right_to_left_text_is_stored_identically(
    service: TicketService, engine: Engine
) -> None:
    subject = "\u202eevil\u200b =HYPERLINK(1) مرحبا"
    data = HEADER + f'ZD-1,2026-03-01,"{subject}",,Acme\u200d\n'.encode()
    assert service.import_csv(CS, data).ok
    assert stored(engine) == [
        ("ZD-1", datetime(2026, 3, 1, tzinfo=UTC), subject, None, "Acme\u200d")
    ]


def _csv_bytes(rows: list[list[str]]) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["external_ref", "opened_at", "subject", "customer", "company"])
    writer.writerows(rows)
    return buffer.getvalue().encode("utf-8", "surrogatepass")


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    cells=st.lists(
        st.tuples(hostile_text(), hostile_text(), hostile_text(account_like=True), hostile_text()),
        min_size=1,
        max_size=4,
    ),
    raw_tail=st.sampled_from([b"", b'"', b"\x00", b'ZD-9,2026-01-01,"open', b"\xff"]),
)
def test_any_file_is_imported_whole_or_refused_whole(
    service: TicketService, engine: Engine, cells: list[tuple[str, str, str, str]], raw_tail: bytes
) -> None:
    rows = [
        [f"ZD-{i}-{ref[:20]}", "2026-03-01", subj, cust, comp]
        for i, (ref, subj, cust, comp) in enumerate(cells)
    ]
    before = stored(engine)
    report = service.import_csv(CS, _csv_bytes(rows) + raw_tail)
    after = stored(engine)
    if report.ok:
        assert len(after) - len(before) == report.imported
        for row in after:
            assert all("\x00" not in str(value) for value in row)
    else:
        assert report.errors
        assert all(error.reason for error in report.errors)
        assert after == before  # nothing written
