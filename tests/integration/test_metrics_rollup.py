"""The metrics rollup: kept by every recorded event equal to a rebuild from the raw rows, and
the dashboard read from it equal to the benchmark's pandas computation from the raw events."""

from __future__ import annotations

import random
import sys
import threading
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.engine import Engine

from vell_core.domain.metrics import MetricsFilter, Window
from vell_core.domain.models import (
    Customer,
    CustomerSegment,
    DelegationPath,
    DelegationRequest,
    DelegationStatus,
    StaffRole,
    StaffUser,
    SupportTicket,
)
from vell_core.services.metrics import compute_dashboard
from vell_core.store import migrate
from vell_core.store.engine import make_engine, read_connection, session_scope
from vell_core.store.funnel import FS, insert_event, rebuild_summary
from vell_core.store.metrics import cover, engine_runner, period_ranges
from vell_core.store.rollup import DAY, MONTH, WEEK, R, V, X, day_number, rebuild_rollup
from vell_core.store.tickets import TicketStore

NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
REPS = (2, 3, 4)
WIZARD = ("provider", "account_info", "choose_path", "request_sent", "approved", "connected")
CUSTOMERS = [f"{100000000000 + index:012d}" for index in range(150)]


@pytest.fixture
def store(store_url: str) -> Iterator[Engine]:
    migrate.upgrade(store_url)
    engine = make_engine(store_url)
    with session_scope(engine) as session:
        for rep in (1, *REPS):
            session.add(
                StaffUser(
                    id=rep,
                    name=f"Rep {rep}",
                    email=f"{rep}@vell.ai",
                    role=StaffRole.SALES,
                    created_at=NOW - timedelta(days=900),
                )
            )
    yield engine
    engine.dispose()


def _gap(rng: random.Random) -> timedelta:
    """Mostly minutes; sometimes days (a session the rollup lists as an exception) or back."""
    roll = rng.random()
    if roll < 0.08:
        return timedelta(days=rng.uniform(1, 12))
    if roll < 0.12:
        return -timedelta(days=rng.uniform(0, 3))
    return timedelta(minutes=rng.uniform(0, 90))


def random_events(rng: random.Random, sessions: int, tag: str = "s") -> list[dict[str, Any]]:
    """Wizard sessions and milestones with the edge cases the rollup must place right:
    far-apart and out-of-order steps, demos of one customer on several days, missing reps and
    segments, first syncs below a second, milestones at and after "now"."""
    events: list[dict[str, Any]] = []
    for index in range(sessions):
        sid = f"{tag}{index}"
        customer = rng.choice(CUSTOMERS)
        path = rng.choice(["demo", "demo", "trial", "production", None])
        rep = rng.choice([*REPS, None])
        segment = rng.choice(["smb", "enterprise", None])
        at = NOW - timedelta(days=rng.uniform(0, 420))
        if rng.random() < 0.05:
            at = NOW - timedelta(days=7, minutes=rng.uniform(-300, 300))  # near "7 days ago"
        steps = list(WIZARD[: rng.choice([1, 2, 3, 4, 5, 6, 6, 6, 6, 6])])
        if rng.random() < 0.1:
            steps = steps[1:]  # no Provider step: not a started session
        milestones = []
        if "connected" in steps and rng.random() < 0.6:
            milestones.append(("first_sync", rng.choice([0.4, 45.0, 90.0, rng.uniform(1, 4000)])))
        if rng.random() < 0.3:
            milestones.append(("production", None))
        for step in steps:
            events.append(_event(sid, step, customer, path, rep, segment, at))
            at += _gap(rng)
        for step, value in milestones:
            at += _gap(rng)
            when = min(at, NOW) if rng.random() < 0.9 else NOW + timedelta(hours=rng.uniform(0, 5))
            events.append(_event(sid, step, customer, path, rep, segment, when, value))
    rng.shuffle(events)
    return events


def _event(
    sid: str,
    step: str,
    customer: str,
    path: str | None,
    rep: int | None,
    segment: str | None,
    at: datetime,
    value: float | None = None,
) -> dict[str, Any]:
    return {
        "wizard_session_id": sid,
        "step": step,
        "customer": customer,
        "company": None,
        "segment": segment,
        "path": path,
        "actor_user_id": rep,
        "delegation_id": None,
        "value_seconds": value,
        "occurred_at": at,
    }


def record(engine: Engine, events: list[dict[str, Any]]) -> None:
    with session_scope(engine) as session:
        for values in events:
            insert_event(session, values)


def snapshot(engine: Engine) -> tuple[list[Any], list[Any], list[Any], list[Any]]:
    """The rollup's non-empty rows, the sync values, the exceptions and the summary."""
    with read_connection(engine) as connection:
        rows = connection.execute(select(R).where(R.c.n != 0).order_by(*R.primary_key)).all()
        values = connection.execute(select(V).order_by(V.c.wizard_session_id)).all()
        listed = connection.execute(select(X).order_by(X.c.kind, X.c.key)).all()
        summary = connection.execute(select(FS).order_by(FS.c.wizard_session_id)).all()
    return (
        [tuple(r) for r in rows],
        [tuple(r) for r in values],
        [tuple(r) for r in listed],
        [tuple(r) for r in summary],
    )


def add_tickets(engine: Engine, rng: random.Random, count: int) -> None:
    """Tickets both ways: one by one through the ORM, and a bulk import."""
    rows = [
        SupportTicket(
            external_ref=f"ZD-{index}",
            opened_at=NOW - timedelta(days=rng.uniform(0, 500)),
            category=rng.choice(["setup", "setup", "other"]),
            subject="Ticket",
            source="import",
        )
        for index in range(count)
    ]
    with session_scope(engine) as session:
        for ticket in rows[: count // 2]:
            session.add(ticket)
    TicketStore(engine).add_new(rows[count // 2 :])
    TicketStore(engine).add_new(rows[count // 2 :])  # again: nothing new, nothing counted


def test_recorded_rollup_equals_rebuild(store: Engine) -> None:
    rng = random.Random(14)
    record(store, random_events(rng, 160))
    add_tickets(store, rng, 40)
    kept = snapshot(store)
    assert kept[0], "the data exercise every table"
    assert kept[1]
    assert kept[2]
    assert {row[0] for row in kept[2]} == {"session", "customer"}
    rebuild_summary(store)
    rebuild_rollup(store)
    assert snapshot(store) == kept


def test_backfill_equals_recording_in_another_order(store: Engine) -> None:
    events = random_events(random.Random(15), 120)
    record(store, events)
    kept = snapshot(store)
    with session_scope(store) as session:
        session.execute(R.delete())
    rebuild_rollup(store)
    assert snapshot(store) == kept


def _concurrent_record(engine: Engine, events: list[dict[str, Any]], workers: int) -> None:
    """Record the events from several threads at once, each step of a session in another."""
    barrier = threading.Barrier(workers)
    errors: list[BaseException] = []

    def work(part: list[dict[str, Any]]) -> None:
        try:
            barrier.wait()
            for values in part:
                with session_scope(engine) as session:
                    insert_event(session, values)
        except BaseException as error:
            errors.append(error)

    threads = [
        threading.Thread(target=work, args=(events[index::workers],)) for index in range(workers)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors, errors


def test_concurrent_recorders_keep_the_rollup_exact(store: Engine) -> None:
    """Two recorders on the same sessions at once stay exact.

    On PostgreSQL the session's row lock (``lock_session``) orders them: with a plain SELECT
    instead, this test fails (checked). On SQLite the event insert, the first statement, takes
    the database's one write lock, so writers are serialised anyway.
    """
    rng = random.Random(16)
    events = [e for e in random_events(rng, 40) if e["occurred_at"] <= NOW]
    events.sort(key=lambda e: (e["wizard_session_id"], e["step"]))  # neighbours: one session
    _concurrent_record(store, events, workers=2)
    kept = snapshot(store)
    rebuild_summary(store)
    rebuild_rollup(store)
    assert snapshot(store) == kept


# --- the dashboard from the rollup = the pandas computation from the raw events ------------


def _bench() -> Any:
    root = Path(__file__).resolve().parents[2]
    sys.path.insert(0, str(root / "bench"))
    try:
        import metrics_bench
    finally:
        sys.path.pop(0)
    return metrics_bench


def add_trials(engine: Engine, rng: random.Random) -> None:
    with session_scope(engine) as session:
        for index, account in enumerate(CUSTOMERS):
            session.add(
                Customer(
                    company=f"Co {index}",
                    aws_account_id=account,
                    segment=rng.choice(list(CustomerSegment)),
                    owner_user_id=rng.choice(REPS),
                    created_at=NOW - timedelta(days=600),
                )
            )
        for index in range(40):
            approved = NOW - timedelta(days=rng.uniform(0, 300))
            session.add(
                DelegationRequest(
                    user_id=rng.choice(REPS),
                    company="Co",
                    aws_account_id=rng.choice(CUSTOMERS),
                    requestor_workflow_id=f"wf-{index}",
                    type=DelegationPath.TRIAL,
                    status=DelegationStatus.EXPIRED,
                    approved_at=approved,
                    expires_at=approved + timedelta(days=rng.choice([0.5, 3, 20])),
                    session_duration=43200,
                    template_name="trial",
                    template_arn="arn:aws:iam::aws:delegation-template/x",
                    created_at=approved,
                    updated_at=approved,
                )
            )


FILTERS = [
    MetricsFilter(start=NOW.date() - timedelta(days=89), end=NOW.date()),
    MetricsFilter(start=date(2025, 9, 1), end=NOW.date(), grain="month"),
    MetricsFilter(start=date(2026, 7, 15), end=date(2026, 9, 20)),  # ends in the past
    MetricsFilter(start=date(2026, 6, 3), end=date(2026, 11, 29), grain="month", rep_ids=(2,)),
    MetricsFilter(start=NOW.date() - timedelta(days=120), end=NOW.date(), paths=("demo",)),
    MetricsFilter(start=NOW.date() - timedelta(days=200), end=NOW.date(), segments=("smb",)),
]


@pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)
def test_dashboard_from_the_rollup_equals_pandas_from_raw_events(
    store: Engine, store_url: str
) -> None:
    bench = _bench()
    rng = random.Random(17)
    record(store, random_events(rng, 260))
    add_tickets(store, rng, 60)
    add_trials(store, rng)
    names = {rep: f"Rep {rep}" for rep in (1, *REPS)}
    path = Path(store_url.removeprefix("sqlite:///"))
    for as_of in (NOW, NOW - timedelta(days=9, hours=5)):
        for filters in FILTERS:
            with read_connection(store) as connection:
                ours = compute_dashboard(engine_runner(connection), filters, as_of, names)
            theirs = bench.pandas_dashboard(path, filters, as_of, names)
            assert bench.differences(ours, theirs) == [], (filters, as_of)


def test_cover_uses_whole_buckets_inside_the_days() -> None:
    monday = day_number(datetime(2026, 11, 2, tzinfo=UTC))
    assert cover(monday - 2, monday + 16, "week") == [
        (DAY, monday - 2, monday),
        (WEEK, monday, monday + 14),
        (DAY, monday + 14, monday + 16),
    ]
    assert cover(monday + 1, monday + 5, "week") == [(DAY, monday + 1, monday + 5)]
    first = day_number(datetime(2026, 10, 1, tzinfo=UTC))
    assert cover(first, first + 61, "month") == [(MONTH, first, first + 61)]
    skip = day_number(NOW - timedelta(days=7))
    window_days = period_ranges(Window.of(FILTERS[0], NOW), "week", skip_day=skip)
    covered = sorted(
        day
        for grain, a, b in window_days
        for bucket in (range(a, b) if grain == DAY else range(a, b, 7))
        for day in (range(bucket, bucket + 7) if grain == WEEK else [bucket])
    )
    first_day = day_number(datetime(2026, 9, 2, tzinfo=UTC)) - 90
    assert covered == [d for d in range(first_day, day_number(NOW) + 1) if d != skip]
