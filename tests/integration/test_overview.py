"""Home figures against a hand-built fixture."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy.engine import Engine
from sqlmodel import Session

from vell_core.domain.models import FunnelEvent, FunnelStep
from vell_core.store.overview import OverviewStore

NOW = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)


def _connected(session: Session, customer: str, path: str, days_ago: int) -> None:
    session.add(
        FunnelEvent(
            wizard_session_id=f"{customer}-{path}",
            step=FunnelStep.CONNECTED,
            customer=customer,
            path=path,
            occurred_at=NOW - timedelta(days=days_ago),
        )
    )


def test_demo_to_trial_conversion_follows_the_demo_cohort(engine: Engine) -> None:
    with Session(engine) as session:
        _connected(session, "111111111111", "demo", 10)
        _connected(session, "111111111111", "trial", 5)  # demoed, then trialled
        _connected(session, "222222222222", "demo", 3)  # demoed only
        _connected(session, "333333333333", "trial", 2)  # trial without a demo in the window
        _connected(session, "444444444444", "demo", 40)  # outside the window
        _connected(session, "444444444444", "trial", 20)
        session.commit()
    figures = OverviewStore(engine).figures(NOW)
    assert figures.demos_last_30d == 2
    assert figures.demoed_then_trialled_30d == 1
    assert figures.conversion_last_30d == 0.5


def test_no_demos_means_no_rate(engine: Engine) -> None:
    assert OverviewStore(engine).figures(NOW).conversion_last_30d is None
