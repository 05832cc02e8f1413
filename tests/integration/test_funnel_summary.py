"""funnel_sessions: the recorder keeps it in step, and the backfill gives the same rows.

Runs on SQLite and PostgreSQL (``store_url``).
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select, text
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError

from vell_core.domain.clock import FrozenClock
from vell_core.domain.models import FunnelStep, StaffRole, StaffUser
from vell_core.store import migrate
from vell_core.store.engine import make_engine, session_scope
from vell_core.store.funnel import FS, FunnelRecorder, insert_event, rebuild_summary

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


@pytest.fixture
def store(store_url: str) -> Iterator[Engine]:
    migrate.upgrade(store_url)
    engine = make_engine(store_url)
    with session_scope(engine) as session:
        for user_id in (1, 2, 3):
            session.add(
                StaffUser(
                    id=user_id,
                    name=f"Rep {user_id}",
                    email=f"{user_id}@vell.ai",
                    role=StaffRole.SALES,
                    created_at=T0,
                )
            )
    yield engine
    engine.dispose()


def summary(engine: Engine) -> list[dict[str, Any]]:
    with engine.connect() as connection:
        rows = connection.execute(select(FS).order_by(FS.c.wizard_session_id)).mappings().all()
    return [dict(row) for row in rows]


def test_recorder_keeps_the_summary_in_step(store: Engine) -> None:
    clock = FrozenClock(T0)
    recorder = FunnelRecorder(store, clock)
    # Early steps carry no path and no customer (as in the live wizard).
    assert recorder.record(session_id="s1", step=FunnelStep.PROVIDER, customer="", actor_user_id=2)
    clock.advance(timedelta(minutes=1))
    recorder.record(session_id="s1", step=FunnelStep.ACCOUNT_INFO, customer="", actor_user_id=2)
    clock.advance(timedelta(minutes=1))
    recorder.record(
        session_id="s1",
        step=FunnelStep.REQUEST_SENT,
        customer="111111111111",
        path="trial",
        actor_user_id=2,
    )
    clock.advance(timedelta(minutes=5))
    recorder.record(
        session_id="s1", step=FunnelStep.CONNECTED, customer="111111111111", path="trial"
    )
    clock.advance(timedelta(seconds=90))
    recorder.record(
        session_id="s1",
        step=FunnelStep.FIRST_SYNC,
        customer="111111111111",
        path="trial",
        actor_user_id=2,
        value_seconds=90.0,
    )
    # A later production milestone by a CS member does not take the session from its rep.
    clock.advance(timedelta(days=3))
    recorder.record(
        session_id="s1",
        step=FunnelStep.PRODUCTION,
        customer="111111111111",
        path="trial",
        actor_user_id=3,
    )
    # The same step again counts once and changes nothing.
    assert not recorder.record(
        session_id="s1", step=FunnelStep.PROVIDER, customer="999999999999", actor_user_id=3
    )
    (row,) = summary(store)
    assert row["wizard_session_id"] == "s1"
    assert (row["customer"], row["rep"], row["path"]) == ("111111111111", 2, "trial")
    assert row["started_at"] == T0
    assert row["account_info_at"] == T0 + timedelta(minutes=1)
    assert row["choose_path_at"] is None
    assert row["request_sent_at"] == T0 + timedelta(minutes=2)
    assert row["connected_at"] == T0 + timedelta(minutes=7)
    assert row["first_sync_at"] == T0 + timedelta(minutes=7, seconds=90)
    assert row["first_sync_seconds"] == 90.0
    assert row["production_at"] == T0 + timedelta(days=3, minutes=8, seconds=30)
    assert summary(store) == (rebuild_summary(store), summary(store))[1]


def random_events(rng: random.Random, sessions: int) -> list[dict[str, Any]]:
    """Journeys with gaps, out-of-order times, NULL attributes and non-wizard-only sessions."""
    steps = [step.value for step in FunnelStep]
    events = []
    for index in range(sessions):
        sid = f"s{index:03d}"
        start = T0 + timedelta(hours=rng.randint(0, 2000))
        for step in rng.sample(steps, rng.randint(1, len(steps))):
            events.append(
                {
                    "wizard_session_id": sid,
                    "step": step,
                    "customer": rng.choice(["", "111111111111", "222222222222"]),
                    "company": None,
                    "segment": rng.choice([None, "smb", "enterprise"]),
                    "path": rng.choice([None, "demo", "trial", "production"]),
                    "actor_user_id": rng.choice([None, 1, 2, 3]),
                    "delegation_id": None,
                    "value_seconds": rng.uniform(5, 5000) if step == "first_sync" else None,
                    "occurred_at": start + timedelta(minutes=rng.randint(-30, 600)),
                }
            )
    rng.shuffle(events)
    return events


def test_backfill_equals_incremental(store: Engine) -> None:
    events = random_events(random.Random(6), 60)
    with session_scope(store) as session:
        for event in events:
            assert insert_event(session, event)
        assert not insert_event(session, events[0])  # duplicates are refused quietly
    incremental = summary(store)
    assert len(incremental) == 60
    assert rebuild_summary(store) == 60
    assert summary(store) == incremental


def test_step_is_unique_per_session(store: Engine) -> None:
    values = (
        "INSERT INTO funnel_events (wizard_session_id, step, customer, occurred_at) "
        "VALUES ('dup', 'provider', '', '2026-03-02 09:00:00')"
    )
    with store.begin() as connection:
        connection.execute(text(values))
    with pytest.raises(IntegrityError), store.begin() as connection:
        connection.execute(text(values))


def test_migration_backfills_and_drops_duplicate_steps(store_url: str) -> None:
    migrate.upgrade(store_url, "0003")
    engine = make_engine(store_url)
    insert = text(
        "INSERT INTO funnel_events (wizard_session_id, step, customer, path, occurred_at) "
        "VALUES (:sid, :step, '111111111111', 'demo', :at)"
    )
    with engine.begin() as connection:
        for sid, step, minutes in (
            ("a", "provider", 0),
            ("a", "connected", 5),
            ("a", "connected", 9),  # a duplicate from before the unique index
            ("b", "production", 60),
        ):
            at = (T0 + timedelta(minutes=minutes)).strftime("%Y-%m-%d %H:%M:%S")
            connection.execute(insert, {"sid": sid, "step": step, "at": at})
    migrate.upgrade(store_url)
    rows = {row["wizard_session_id"]: row for row in summary(engine)}
    assert set(rows) == {"a", "b"}
    assert rows["a"]["connected_at"] == T0 + timedelta(minutes=5)  # the first one is kept
    assert rows["b"]["production_at"] == T0 + timedelta(hours=1)
    with engine.connect() as connection:
        count = connection.execute(text("SELECT count(*) FROM funnel_events")).scalar_one()
    assert count == 3
    engine.dispose()
