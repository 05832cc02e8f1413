"""Seed data: deterministic, relative to the anchor, and rich enough for every page."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import func
from sqlmodel import Session, select

from vell_core import migrate, seed
from vell_core.db import make_engine
from vell_core.models import (
    DelegationPath,
    DelegationRequest,
    DelegationStatus,
    FunnelEvent,
    FunnelStep,
    StaffRole,
    StaffUser,
    SupportTicket,
)
from vell_core.overview import home_figures

NOW = datetime(2026, 11, 29, 14, 30, 27, tzinfo=UTC)


def _seeded(url: str, now: datetime = NOW):
    migrate.upgrade(url)
    engine = make_engine(url)
    seed.seed(engine, now)
    return engine


def test_same_anchor_gives_identical_data(tmp_path) -> None:
    first = _seeded(f"sqlite:///{tmp_path / 'a.db'}")
    second = _seeded(f"sqlite:///{tmp_path / 'b.db'}", NOW + timedelta(seconds=20))
    assert seed.fingerprint(first) == seed.fingerprint(second)


def test_dates_follow_the_anchor(tmp_path) -> None:
    later = _seeded(f"sqlite:///{tmp_path / 'a.db'}", NOW + timedelta(days=30))
    with Session(later) as session:
        newest = session.exec(select(func.max(FunnelEvent.occurred_at))).one()
        oldest = session.exec(select(func.min(FunnelEvent.occurred_at))).one()
    assert newest <= NOW + timedelta(days=30)
    assert newest > NOW + timedelta(days=29)
    assert oldest >= NOW + timedelta(days=30) - timedelta(days=366)


def test_history_covers_every_role_and_journey(tmp_path) -> None:
    engine = _seeded(f"sqlite:///{tmp_path / 'a.db'}")
    with Session(engine) as session:
        roles = set(session.exec(select(StaffUser.role)).all())
        statuses = set(session.exec(select(DelegationRequest.status)).all())
        paths = set(session.exec(select(DelegationRequest.type)).all())
        steps = set(session.exec(select(FunnelEvent.step)).all())
        tickets = session.exec(select(func.count()).select_from(SupportTicket)).one()
    assert roles == set(StaffRole)
    assert {
        DelegationStatus.EXPIRED,
        DelegationStatus.CONVERTED,
        DelegationStatus.REJECTED,
        DelegationStatus.APPROVED,
        DelegationStatus.PENDING,
    } <= statuses
    assert {DelegationPath.DEMO, DelegationPath.TRIAL} <= paths
    assert {
        FunnelStep.PROVIDER,
        FunnelStep.CONNECTED,
        FunnelStep.FIRST_SYNC,
        FunnelStep.PRODUCTION,
    } <= steps
    assert tickets > 100
    figures = home_figures(engine, NOW)
    assert figures.active_demos > 0
    assert figures.active_trials > 0
    assert figures.trials_expiring_24h > 0
    assert figures.pending_approvals > 0


def test_reset_empties_the_store(tmp_path) -> None:
    engine = _seeded(f"sqlite:///{tmp_path / 'a.db'}")
    assert not seed.is_empty(engine)
    seed.reset(engine)
    assert seed.is_empty(engine)
