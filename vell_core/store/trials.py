"""Trials-desk reads: when the production prompt was last sent, promotions, connections.

Read-only: every query runs on a ``read_session`` snapshot, so the desk's refreshing table
never takes SQLite's write lock.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import func
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from vell_core.domain.clock import ensure_utc
from vell_core.domain.models import AuditLog, DelegationRequest, PromotionRun
from vell_core.store.engine import read_session


@dataclass(frozen=True)
class DeskNotes:
    """What the desk shows beside each delegation, by delegation id."""

    prompts: dict[int, datetime] = field(default_factory=dict)  # last prompt sent
    promotions: dict[int, str] = field(default_factory=dict)  # the promotion run's status


class TrialsStore:
    """The trials desk's queries."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def notes(self, ids: Sequence[int], prompt_action: str) -> DeskNotes:
        """The last ``prompt_action`` audit time and the promotion status of each of ``ids``."""
        if not ids:
            return DeskNotes()
        with read_session(self._engine) as session:
            return DeskNotes(_prompts(session, ids, prompt_action), _promotions(session, ids))

    def connection_of(self, delegation_id: int) -> int | None:
        """The permanent connection a delegation was converted to, or its promotion's."""
        with read_session(self._engine) as session:
            row = session.get(DelegationRequest, delegation_id)
            if row is not None and row.cloud_connection_id:
                return row.cloud_connection_id
            return session.exec(
                select(PromotionRun.connection_id).where(
                    PromotionRun.source_delegation_id == delegation_id
                )
            ).first()


def _prompts(session: Session, ids: Sequence[int], action: str) -> dict[int, datetime]:
    rows = session.exec(
        select(AuditLog.delegation_id, func.max(AuditLog.at))
        .where(col(AuditLog.delegation_id).in_(ids))
        .where(AuditLog.action == action)
        .group_by(col(AuditLog.delegation_id))
    ).all()
    return {int(i): _aware(at) for i, at in rows if i is not None and at is not None}


def _promotions(session: Session, ids: Sequence[int]) -> dict[int, str]:
    rows = session.exec(
        select(PromotionRun.source_delegation_id, PromotionRun.status).where(
            col(PromotionRun.source_delegation_id).in_(ids)
        )
    ).all()
    return {int(i): str(getattr(s, "value", s)) for i, s in rows}


def _aware(value: Any) -> datetime:
    """SQLite aggregates bypass the column type: make the timestamp aware UTC."""
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return ensure_utc(value)
