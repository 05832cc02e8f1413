"""Desk-nudge reads: the timeline's watermark, a rep's new states, requests still waiting.

All reads, on ``read_session`` snapshots: every page polls them, so they must never queue
behind (or hold up) a writer.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime

from sqlalchemy import and_, func
from sqlalchemy.engine import Engine
from sqlmodel import col, select

from vell_core.domain.models import (
    AwsDelegationState,
    DelegationEvent,
    DelegationRequest,
    DelegationStatus,
)
from vell_core.store.engine import read_session


class NudgesStore:
    """The queries behind ``DeskNudges``."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def newest_event_id(self) -> int:
        """The newest timeline event id (0 for an empty timeline)."""
        with read_session(self._engine) as session:
            newest = session.exec(select(func.max(col(DelegationEvent.id)))).one()
        return int(newest or 0)

    def events_after(
        self, user_id: int, after: int, *, skip_sources: Collection[str], limit: int
    ) -> list[tuple[DelegationEvent, DelegationRequest]]:
        """Timeline events after id ``after`` on ``user_id``'s requests, oldest first."""
        query = (
            select(DelegationEvent, DelegationRequest)
            .join(DelegationRequest, col(DelegationRequest.id) == DelegationEvent.delegation_id)
            .where(col(DelegationEvent.id) > after)
            .where(col(DelegationRequest.user_id) == user_id)
            .where(col(DelegationEvent.source).not_in(skip_sources))
            .order_by(col(DelegationEvent.id))
            .limit(limit)
        )
        with read_session(self._engine) as session:
            return [(event, row) for event, row in session.exec(query).all()]

    def waiting(
        self, user_id: int, states: Sequence[AwsDelegationState]
    ) -> list[tuple[DelegationRequest, datetime | None]]:
        """``user_id``'s pending requests in ``states``, each with when it entered its state."""
        entered = and_(
            col(DelegationEvent.delegation_id) == col(DelegationRequest.id),
            col(DelegationEvent.aws_state) == col(DelegationRequest.aws_state),
        )
        query = (
            select(DelegationRequest, DelegationEvent.occurred_at)
            .join(DelegationEvent, entered, isouter=True)
            .where(col(DelegationRequest.user_id) == user_id)
            .where(col(DelegationRequest.status) == DelegationStatus.PENDING)
            .where(col(DelegationRequest.aws_state).in_(states))
        )
        with read_session(self._engine) as session:
            return [(row, occurred) for row, occurred in session.exec(query).all()]

    def state_history(self) -> list[tuple[int, AwsDelegationState, datetime]]:
        """Every timeline event as (delegation id, state, occurred at), for the dwell medians."""
        query = select(
            DelegationEvent.delegation_id, DelegationEvent.aws_state, DelegationEvent.occurred_at
        )
        with read_session(self._engine) as session:
            rows = session.exec(query).all()
        return [(d, AwsDelegationState(s), t) for d, s, t in rows]
