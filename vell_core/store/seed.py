"""Writing the seed data: one transaction for the whole history, and the store-wide helpers.

The generator (``vell_core.services.seed``) decides what the rows are; ``SeedStore.write``
hands it a ``SeedWriter`` inside one transaction and, once every row is in, rebuilds the
funnel summary in that same transaction, so a seed either lands completely or not at all.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable
from typing import TypeVar

from sqlalchemy import func
from sqlalchemy.engine import Engine
from sqlmodel import Session, SQLModel, delete, select

from vell_core.domain.models import (
    AuditLog,
    CloudConnection,
    Customer,
    DelegationEvent,
    DelegationRequest,
    FunnelEvent,
    StaffUser,
    SupportTicket,
)
from vell_core.store.engine import read_session, session_scope
from vell_core.store.funnel import rebuild_summary
from vell_core.store.rollup import rebuild_rollup

Result = TypeVar("Result")

# The seeded tables whose content ``fingerprint`` digests, in a fixed order.
FINGERPRINTED: tuple[type[SQLModel], ...] = (
    StaffUser,
    Customer,
    DelegationRequest,
    FunnelEvent,
    CloudConnection,
    SupportTicket,
    DelegationEvent,
    AuditLog,
)


class SeedWriter:
    """What the generator may do with the seed transaction: add rows, and flush for their ids."""

    def __init__(self, session: Session) -> None:
        self._session = session

    def add(self, row: SQLModel) -> None:
        """Stage one new (or changed) row."""
        self._session.add(row)

    def add_all(self, rows: Iterable[SQLModel]) -> None:
        """Stage several rows, in order."""
        self._session.add_all(rows)

    def flush(self) -> None:
        """Write what is staged so far (the new rows get their ids); nothing is committed."""
        self._session.flush()


class SeedStore:
    """The whole store as the seed sees it: empty or not, wiped, filled, fingerprinted."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def is_empty(self) -> bool:
        """True when no staff user exists yet (a never-seeded store)."""
        with read_session(self._engine) as session:
            return session.exec(select(func.count()).select_from(StaffUser)).one() == 0

    def reset(self) -> None:
        """Delete every row, children first (keeps the schema)."""
        with session_scope(self._engine) as session:
            for table in reversed(SQLModel.metadata.sorted_tables):
                if table.name != "alembic_version":
                    session.execute(delete(table))

    def write(self, fill: Callable[[SeedWriter], Result]) -> Result:
        """Run ``fill`` on one transaction, rebuild the funnel summary and rollup; commit once."""
        with session_scope(self._engine) as session:
            result = fill(SeedWriter(session))
            session.flush()
            # The seed adds events directly (with historical times), so fill the metrics'
            # per-session summary and the rollup the same way the migrations' backfills do.
            rebuild_summary(session)
            rebuild_rollup(session)
            return result

    def fingerprint(self) -> str:
        """A stable digest of the seeded content (for determinism tests)."""
        digest = hashlib.sha256()
        with read_session(self._engine) as session:
            for model in FINGERPRINTED:
                for row in session.exec(select(model)).all():
                    digest.update(repr(sorted(row.model_dump().items())).encode())
        return digest.hexdigest()
