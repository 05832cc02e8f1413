"""Home-page figures, computed in SQL on the store."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import distinct, func
from sqlalchemy.engine import Engine
from sqlalchemy.orm import aliased
from sqlmodel import Session, col, select

from vell_core.domain.models import (
    AwsDelegationState,
    DelegationPath,
    DelegationRequest,
    DelegationStatus,
    FunnelEvent,
    FunnelStep,
)
from vell_core.domain.numbers import percent

PENDING_STATES = (
    AwsDelegationState.UNASSIGNED,
    AwsDelegationState.ASSIGNED,
    AwsDelegationState.PENDING_APPROVAL,
    AwsDelegationState.ACCEPTED,
)


@dataclass(frozen=True)
class HomeFigures:
    """What the home page shows at a glance."""

    active_demos: int
    active_trials: int
    pending_approvals: int
    trials_expiring_24h: int
    demos_last_30d: int
    trials_last_30d: int
    production_last_30d: int

    demoed_then_trialled_30d: int = 0

    @property
    def conversion_last_30d(self) -> float | None:
        """Of the customers demoed in the last 30 days, the share who went on to a trial."""
        if self.demos_last_30d == 0:
            return None
        return self.demoed_then_trialled_30d / self.demos_last_30d


@dataclass(frozen=True)
class Tile:
    """One figure on the home page, with a line saying exactly what it counts."""

    label: str
    value: str
    counts: str


def home_tiles(figures: HomeFigures) -> dict[str, tuple[Tile, ...]]:
    """The home page's figures in two groups, each worded for someone new to the desk.

    The 30-day figures count different groups of customers (a customer who started a trial
    may have had their demo earlier), so each says whom it counts and the demo → trial rate
    names its own numerator and denominator: side by side they never read as a contradiction.
    """
    demoed, trialled = figures.demos_last_30d, figures.demoed_then_trialled_30d
    rate = figures.conversion_last_30d
    return {
        "Right now": (
            Tile("Active demos", str(figures.active_demos), "Demo access approved and live now."),
            Tile(
                "Active trials", str(figures.active_trials), "Trial access approved and live now."
            ),
            Tile(
                "Waiting for approval",
                str(figures.pending_approvals),
                "Requests sent, not yet approved by the customer.",
            ),
            Tile(
                "Trials ending within 24 h",
                str(figures.trials_expiring_24h),
                "Live trials whose access ends in the next 24 hours.",
            ),
        ),
        "Last 30 days (customers)": (
            Tile("Demoed", str(demoed), "Customers whose demo connected in the last 30 days."),
            Tile(
                "Started a trial",
                str(figures.trials_last_30d),
                "Customers whose trial connected in the last 30 days, whenever their demo was.",
            ),
            Tile(
                "Reached production",
                str(figures.production_last_30d),
                "Customers who got a permanent connection in the last 30 days.",
            ),
            Tile(
                "Demo → trial",
                percent(rate),
                f"{trialled} of the {demoed} customers demoed in the last 30 days went on "
                "to a trial."
                if demoed
                else "No customer was demoed in the last 30 days.",
            ),
        ),
    }


def home_figures(engine: Engine, now: datetime) -> HomeFigures:
    """Counts for the home page as of ``now``."""
    with Session(engine) as session:
        return HomeFigures(
            active_demos=_active(session, DelegationPath.DEMO, now),
            active_trials=_active(session, DelegationPath.TRIAL, now),
            pending_approvals=_pending(session, now),
            trials_expiring_24h=_expiring(session, now, timedelta(hours=24)),
            demos_last_30d=_customers_with(session, "demo", now),
            trials_last_30d=_customers_with(session, "trial", now),
            production_last_30d=_production(session, now),
            demoed_then_trialled_30d=_demoed_then_trialled(session, now),
        )


def _active(session: Session, path: DelegationPath, now: datetime) -> int:
    query = select(func.count()).where(
        DelegationRequest.type == path,
        DelegationRequest.status == DelegationStatus.APPROVED,
        col(DelegationRequest.expires_at) > now,
    )
    return int(session.exec(query).one())


def _pending(session: Session, now: datetime) -> int:
    query = select(func.count()).where(
        DelegationRequest.status == DelegationStatus.PENDING,
        col(DelegationRequest.aws_state).in_(PENDING_STATES),
        col(DelegationRequest.expires_at) > now,
    )
    return int(session.exec(query).one())


def _expiring(session: Session, now: datetime, window: timedelta) -> int:
    query = select(func.count()).where(
        DelegationRequest.type == DelegationPath.TRIAL,
        DelegationRequest.status == DelegationStatus.APPROVED,
        col(DelegationRequest.expires_at) > now,
        col(DelegationRequest.expires_at) <= now + window,
    )
    return int(session.exec(query).one())


def _customers_with(session: Session, path: str, now: datetime) -> int:
    query = select(func.count(distinct(col(FunnelEvent.customer)))).where(
        FunnelEvent.step == FunnelStep.CONNECTED,
        FunnelEvent.path == path,
        col(FunnelEvent.occurred_at) > now - timedelta(days=30),
    )
    return int(session.exec(query).one())


def _demoed_then_trialled(session: Session, now: datetime) -> int:
    """Customers with a connected demo in the window who later connected a trial."""
    demo = aliased(FunnelEvent)
    trial = aliased(FunnelEvent)
    query = (
        select(func.count(distinct(col(demo.customer))))
        .join(trial, col(trial.customer) == col(demo.customer))
        .where(
            demo.step == FunnelStep.CONNECTED,
            demo.path == "demo",
            col(demo.occurred_at) > now - timedelta(days=30),
            trial.step == FunnelStep.CONNECTED,
            trial.path == "trial",
            col(trial.occurred_at) >= col(demo.occurred_at),
        )
    )
    return int(session.exec(query).one())


def _production(session: Session, now: datetime) -> int:
    query = select(func.count(distinct(col(FunnelEvent.customer)))).where(
        FunnelEvent.step == FunnelStep.PRODUCTION,
        col(FunnelEvent.occurred_at) > now - timedelta(days=30),
    )
    return int(session.exec(query).one())
