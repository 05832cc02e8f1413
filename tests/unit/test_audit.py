"""The audit recorder writes every row, in batches, from one writer thread."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

from sqlalchemy import func
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from vell_core.domain.clock import FrozenClock
from vell_core.domain.models import AuditLog
from vell_core.services.audit import AuditRecorder
from vell_core.store.audit_log import AuditLogStore


def _count(engine: Engine) -> int:
    with Session(engine) as session:
        return int(session.exec(select(func.count()).select_from(AuditLog)).one())


def test_every_row_from_many_threads_is_written_in_batches(engine: Engine) -> None:
    recorder = AuditRecorder(AuditLogStore(engine), FrozenClock(datetime(2026, 11, 30, tzinfo=UTC)))
    threads = [
        threading.Thread(
            target=lambda n=n: [
                recorder.record(action=f"svc.Op{n}", outcome="ok", detail=str(i))
                for i in range(250)
            ]
        )
        for n in range(8)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert recorder.flush()
    assert _count(engine) == 2000 == recorder.written
    assert recorder.dropped == 0
    assert recorder.batches < 2000  # one transaction per batch, not per row


def test_rows_are_readable_after_flush_and_keep_their_call_time(engine: Engine) -> None:
    clock = FrozenClock(datetime(2026, 11, 30, 9, 0, tzinfo=UTC))
    recorder = AuditRecorder(AuditLogStore(engine), clock)
    recorder.record(action="marketplace-catalog.ListEntities", outcome="ok")
    clock.advance(timedelta(seconds=60))  # the row keeps the moment it was recorded, not written
    recorder.flush()
    with Session(engine) as session:
        row = session.exec(select(AuditLog)).one()
    assert row.action == "marketplace-catalog.ListEntities"
    assert row.at.replace(tzinfo=UTC) == datetime(2026, 11, 30, 9, 0, tzinfo=UTC)


def test_close_writes_what_is_still_queued(engine: Engine) -> None:
    recorder = AuditRecorder(AuditLogStore(engine), FrozenClock(datetime(2026, 11, 30, tzinfo=UTC)))
    for i in range(300):
        recorder.record(action="iam.GetRole", outcome="ok", detail=str(i))
    assert recorder.close()
    assert recorder.pending == 0
    assert _count(engine) == 300


def test_a_bad_row_does_not_take_its_batch_with_it(engine: Engine) -> None:
    recorder = AuditRecorder(AuditLogStore(engine), FrozenClock(datetime(2026, 11, 30, tzinfo=UTC)))
    recorder.record(action="ok.before", outcome="ok")
    recorder.record(action="bad.fk", outcome="ok", delegation_id=999_999)  # no such request
    recorder.record(action="ok.after", outcome="ok")
    recorder.flush()
    with Session(engine) as session:
        actions = set(session.exec(select(AuditLog.action)).all())
    assert actions == {"ok.before", "ok.after"}
    assert (recorder.written, recorder.dropped) == (2, 1)
