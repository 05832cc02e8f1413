"""The promotion ledger: one ``promotion_runs`` row per promoted delegation, step by step.

The row is the run's memory across attempts and crashes: each step's outcome, what the steps
learned (role name, role ARN, the onboarding request doing the work, its launch token), and a
lease so that only one attempt drives a run at a time. The service decides what to write and
when; this module only reads and writes the rows.

Reads run on a ``read_session`` snapshot; each write is one transaction.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy import or_, update
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select

from vell_core.domain.models import CloudConnection, PromotionRun
from vell_core.store.engine import read_session, rows_affected, session_scope


class PromotionStore:
    """``promotion_runs``: find, create with its connection, lease, update."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def for_source(self, delegation_id: int) -> PromotionRun | None:
        """The run promoting ``delegation_id``, if there is one."""
        with read_session(self._engine) as session:
            return session.exec(
                select(PromotionRun).where(PromotionRun.source_delegation_id == delegation_id)
            ).first()

    def newest_first(self) -> list[PromotionRun]:
        """Every run, newest first."""
        with read_session(self._engine) as session:
            rows = session.exec(select(PromotionRun).order_by(col(PromotionRun.created_at).desc()))
            return list(rows.all())

    def create(self, connection: CloudConnection, run: PromotionRun) -> PromotionRun | None:
        """Insert the pending connection and its run together, or neither.

        None when the delegation already has a run (a concurrent click created it first); any
        other refusal is raised.
        """
        try:
            with session_scope(self._engine) as session:
                session.add(connection)
                session.flush()  # the run points at the connection's new id
                run.connection_id = connection.id or 0
                session.add(run)
            return run
        except IntegrityError:
            if self.for_source(run.source_delegation_id) is None:
                raise
            return None

    def claim(
        self,
        run_id: int,
        now: datetime,
        until: datetime,
        begin: Callable[[PromotionRun], dict[str, Any]],
    ) -> PromotionRun | None:
        """Take the run's lease until ``until`` unless another attempt holds a live one.

        ``begin`` gets the claimed row and returns the values the attempt starts with; they are
        written in the claim's transaction. None (nothing written) when the lease is taken.
        """
        with session_scope(self._engine) as session:
            claimed = rows_affected(
                session.exec(
                    update(PromotionRun)
                    .where(col(PromotionRun.id) == run_id)
                    .where(
                        or_(
                            col(PromotionRun.lease_expires_at).is_(None),
                            col(PromotionRun.lease_expires_at) < now,
                        )
                    )
                    .values(lease_expires_at=until)
                )
            )
            if claimed != 1:
                return None
            row = session.get(PromotionRun, run_id)
            assert row is not None
            _apply(row, now, begin(row))
            session.add(row)
            return row

    def update(self, run_id: int, now: datetime, **values: Any) -> None:
        """Write ``values`` on the run (and its ``updated_at``) in one transaction."""
        with session_scope(self._engine) as session:
            row = session.get(PromotionRun, run_id)
            assert row is not None
            _apply(row, now, values)
            session.add(row)


def _apply(row: PromotionRun, now: datetime, values: dict[str, Any]) -> None:
    for key, value in values.items():
        setattr(row, key, value)
    row.updated_at = now
