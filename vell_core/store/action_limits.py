"""Counts behind the per-staff rate limits: what a member already created, from any process.

Reads only: each count runs on a ``read_session`` snapshot, so checking a limit never queues
behind (or holds up) a writer.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func
from sqlalchemy.engine import Engine
from sqlmodel import col, select

from vell_core.domain.models import DelegationRequest, PromotionRun
from vell_core.store.engine import read_session


class ActionCountStore:
    """How many limited actions a staff member's rows show since a moment."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def delegations_created(self, member_id: int, since: datetime) -> int:
        """Delegation requests ``member_id`` created after ``since``."""
        query = (
            select(func.count())
            .select_from(DelegationRequest)
            .where(DelegationRequest.user_id == member_id)
            .where(col(DelegationRequest.created_at) > since)
        )
        with read_session(self._engine) as session:
            return int(session.exec(query).one())

    def promotions_started(self, member_id: int, since: datetime) -> int:
        """Promotion runs ``member_id`` started after ``since``."""
        query = (
            select(func.count())
            .select_from(PromotionRun)
            .where(PromotionRun.started_by_user_id == member_id)
            .where(col(PromotionRun.created_at) > since)
        )
        with read_session(self._engine) as session:
            return int(session.exec(query).one())
