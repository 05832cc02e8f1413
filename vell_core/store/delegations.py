"""Delegation rows: the writes other services make to a delegation outside its lifecycle."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import update
from sqlalchemy.engine import Engine
from sqlmodel import col

from vell_core.domain.models import DelegationRequest
from vell_core.store.engine import rows_affected, session_scope


def mark_first_sync(engine: Engine, delegation_id: int, when: datetime) -> bool:
    """Set ``first_sync_at`` unless already set; True only for the call that set it."""
    statement = (
        update(DelegationRequest)
        .where(col(DelegationRequest.id) == delegation_id)
        .where(col(DelegationRequest.first_sync_at).is_(None))
        .values(first_sync_at=when)
    )
    with session_scope(engine) as session:
        return bool(rows_affected(session.execute(statement)))


class FirstSyncMarks:
    """``mark_first_sync`` bound to the engine, for a service that is handed its store."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def mark(self, delegation_id: int, when: datetime) -> bool:
        """Set ``first_sync_at`` unless already set; True only for the call that set it."""
        return mark_first_sync(self._engine, delegation_id, when)
