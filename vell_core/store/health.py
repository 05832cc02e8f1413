"""The rows behind Admin → AWS setup, health: heartbeats, the inbox, unsettled exchanges.

``HealthStore.snapshot`` reads everything the health page needs in one ``read_session``, so the
figures agree with each other (one snapshot) and the page never takes SQLite's write lock.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from vell_core.domain.clock import ensure_utc
from vell_core.domain.models import (
    DelegationRequest,
    ExchangeState,
    InboxStatus,
    NotificationInbox,
    WorkerHeartbeat,
)
from vell_core.store.engine import read_session


@dataclass(frozen=True)
class HealthWindows:
    """What the snapshot counts: each window's start, and which statuses are trouble."""

    notifications_since: datetime
    problems_since: datetime
    exchanges_since: datetime
    problem_statuses: tuple[InboxStatus, ...]
    exchange_states: tuple[ExchangeState, ...]
    problem_limit: int = 50


@dataclass(frozen=True)
class HealthRows:
    """One consistent read of the store for the health page."""

    heartbeats: list[WorkerHeartbeat]
    last_notification_at: datetime | None
    notifications_recent: int
    problems: list[NotificationInbox]
    problems_recent: int
    unsettled_exchanges: list[DelegationRequest]


class HealthStore:
    """Worker heartbeats, notification-inbox activity and exchange states (reads only)."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def snapshot(self, windows: HealthWindows) -> HealthRows:
        """Everything the health page reads from the store, on one snapshot."""
        with read_session(self._engine) as session:
            last_at, recent = _inbox_activity(session, windows.notifications_since)
            problems, problems_recent = _problems(session, windows)
            return HealthRows(
                heartbeats=_heartbeats(session),
                last_notification_at=last_at,
                notifications_recent=recent,
                problems=problems,
                problems_recent=problems_recent,
                unsettled_exchanges=_unsettled(
                    session, windows.exchange_states, windows.exchanges_since
                ),
            )


def _heartbeats(session: Session) -> list[WorkerHeartbeat]:
    """Every worker's heartbeat, most recent first."""
    query = select(WorkerHeartbeat).order_by(col(WorkerHeartbeat.last_seen_at).desc())
    return list(session.exec(query).all())


def _inbox_activity(session: Session, since: datetime) -> tuple[datetime | None, int]:
    """The newest notification's arrival, and how many arrived after ``since``."""
    last = session.exec(select(func.max(NotificationInbox.received_at))).one()
    count = session.exec(
        select(func.count())
        .select_from(NotificationInbox)
        .where(col(NotificationInbox.received_at) > since)
    ).one()
    # func.max bypasses the column type on some backends; normalise to aware UTC.
    if isinstance(last, str):
        last = datetime.fromisoformat(last)
    if isinstance(last, datetime):
        last = ensure_utc(last)
    return last, int(count)


def _problems(session: Session, windows: HealthWindows) -> tuple[list[NotificationInbox], int]:
    """The newest troubled notifications, and how many arrived inside the window."""
    troubled = col(NotificationInbox.status).in_(windows.problem_statuses)
    rows = session.exec(
        select(NotificationInbox)
        .where(troubled)
        .order_by(col(NotificationInbox.received_at).desc())
        .limit(windows.problem_limit)
    ).all()
    recent = session.exec(
        select(func.count())
        .select_from(NotificationInbox)
        .where(troubled)
        .where(col(NotificationInbox.received_at) > windows.problems_since)
    ).one()
    return list(rows), int(recent)


def _unsettled(
    session: Session, states: Sequence[ExchangeState], since: datetime
) -> list[DelegationRequest]:
    """Delegations whose exchange is in one of ``states``, updated after ``since``, newest first."""
    return list(
        session.exec(
            select(DelegationRequest)
            .where(col(DelegationRequest.exchange_state).in_(states))
            .where(col(DelegationRequest.updated_at) > since)
            .order_by(col(DelegationRequest.updated_at).desc())
        ).all()
    )
