"""Seed data: deterministic, relative to the anchor, and rich enough for every page."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import func
from sqlmodel import Session, SQLModel, select

from vell_core.domain.models import (
    DelegationPath,
    DelegationRequest,
    DelegationStatus,
    FunnelEvent,
    FunnelStep,
    StaffRole,
    StaffUser,
    SupportTicket,
    UtcDateTime,
)
from vell_core.services import seed
from vell_core.store import migrate
from vell_core.store.engine import make_engine
from vell_core.store.overview import OverviewStore
from vell_core.store.seed import SeedStore

NOW = datetime(2026, 11, 29, 14, 30, 27, tzinfo=UTC)


def _seeded(url: str, now: datetime = NOW):
    migrate.upgrade(url)
    engine = make_engine(url)
    seed.seed(SeedStore(engine), now)
    return engine


def test_same_anchor_gives_identical_data(tmp_path) -> None:
    first = _seeded(f"sqlite:///{tmp_path / 'a.db'}")
    second = _seeded(f"sqlite:///{tmp_path / 'b.db'}", NOW + timedelta(seconds=20))
    assert SeedStore(first).fingerprint() == SeedStore(second).fingerprint()


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
    figures = OverviewStore(engine).figures(NOW)
    assert figures.active_demos > 0
    assert figures.active_trials > 0
    assert figures.trials_expiring_24h > 0
    assert figures.pending_approvals > 0


def test_reset_empties_the_store(tmp_path) -> None:
    engine = _seeded(f"sqlite:///{tmp_path / 'a.db'}")
    store = SeedStore(engine)
    assert not store.is_empty()
    store.reset()
    assert store.is_empty()


# Columns that name a moment still to come (when access or a state ends): the only ones allowed
# after the seeding moment.
FUTURE_COLUMNS = {"expires_at", "credentials_expire_at", "aws_state_expires_at"}


def test_nothing_is_dated_after_the_seeding_moment(tmp_path) -> None:
    engine = _seeded(f"sqlite:///{tmp_path / 'a.db'}")
    late: list[str] = []
    with Session(engine) as session:
        for table in SQLModel.metadata.sorted_tables:
            for column in table.columns:
                if column.name in FUTURE_COLUMNS or not isinstance(column.type, UtcDateTime):
                    continue
                newest = session.execute(select(func.max(column))).scalar()
                if newest is not None and newest > NOW:
                    late.append(f"{table.name}.{column.name} = {newest}")
    assert late == []


def test_live_demos_end_within_four_hours_of_seeding(tmp_path) -> None:
    engine = _seeded(f"sqlite:///{tmp_path / 'a.db'}")
    with Session(engine) as session:
        live = session.exec(
            select(DelegationRequest)
            .where(DelegationRequest.status == DelegationStatus.APPROVED)
            .where(DelegationRequest.type == DelegationPath.DEMO)
        ).all()
    assert live
    for row in live:
        assert NOW < row.credentials_expire_at <= NOW + timedelta(hours=4)


def test_seeded_connections_have_a_realistic_validation_history(tmp_path) -> None:
    engine = _seeded(f"sqlite:///{tmp_path / 'a.db'}")
    from vell_core.domain.models import AuditLog, CloudConnection, ConnectionStatus
    from vell_core.services.connections import VALIDATE_ACTION

    with Session(engine) as session:
        connections = session.exec(select(CloudConnection)).all()
        validated = set(
            session.exec(
                select(AuditLog.connection_id)
                .where(AuditLog.action == VALIDATE_ACTION)
                .where(AuditLog.outcome == "ok")
            ).all()
        )
    assert connections
    assert {c.id for c in connections} <= validated  # every one has worked at least once
    healthy = [c for c in connections if c.last_validation_ok]
    assert len(healthy) >= 0.85 * len(connections)
    for row in healthy:
        assert NOW - timedelta(days=5) <= row.last_validated_at <= NOW
        assert row.status is ConnectionStatus.ACTIVE


def test_no_worker_heartbeat_is_invented(tmp_path) -> None:
    engine = _seeded(f"sqlite:///{tmp_path / 'a.db'}")
    from vell_core.domain.models import WorkerHeartbeat

    with Session(engine) as session:
        assert session.exec(select(WorkerHeartbeat)).all() == []
