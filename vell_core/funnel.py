"""Funnel events: each wizard step and lifecycle milestone, recorded once per session and step."""

from __future__ import annotations

from sqlalchemy.engine import Engine
from sqlmodel import select

from vell_core.clock import Clock
from vell_core.db import session_scope
from vell_core.models import Customer, FunnelEvent, FunnelStep


class FunnelRecorder:
    """Writes funnel events; repeated steps in one wizard session count once."""

    def __init__(self, engine: Engine, clock: Clock) -> None:
        self._engine = engine
        self._clock = clock

    def record(
        self,
        *,
        session_id: str,
        step: FunnelStep,
        customer: str,
        company: str | None = None,
        path: str | None = None,
        actor_user_id: int | None = None,
        delegation_id: int | None = None,
        value_seconds: float | None = None,
    ) -> bool:
        """Record ``step`` for this wizard session unless already recorded; True if new."""
        with session_scope(self._engine) as session:
            exists = session.exec(
                select(FunnelEvent.id).where(
                    FunnelEvent.wizard_session_id == session_id, FunnelEvent.step == step
                )
            ).first()
            if exists is not None:
                return False
            segment = session.exec(
                select(Customer.segment).where(Customer.aws_account_id == customer)
            ).first()
            session.add(
                FunnelEvent(
                    wizard_session_id=session_id,
                    step=step,
                    customer=customer,
                    company=company,
                    segment=segment,
                    path=path,
                    actor_user_id=actor_user_id,
                    delegation_id=delegation_id,
                    value_seconds=value_seconds,
                    occurred_at=self._clock.now(),
                )
            )
            return True
