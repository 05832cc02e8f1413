"""Support-ticket rows: the all-or-nothing import, one ticket by hand, the recent list.

``external_ref`` is unique, so the import is idempotent: rows already stored are skipped, and
the insert itself ignores a duplicate another import wrote meanwhile.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Engine

from vell_core.domain.models import SupportTicket
from vell_core.store.engine import read_session, session_scope, table_of
from vell_core.store.rollup import tickets_added

TICKETS = table_of(SupportTicket)


@dataclass(frozen=True)
class Imported:
    """What an import wrote: new rows, and the refs that were already stored."""

    imported: int
    already_present: int


class TicketStore:
    """``support_tickets``: writes in one transaction each, reads on a read-only snapshot."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def add_new(self, tickets: Sequence[SupportTicket]) -> Imported:
        """Insert every ticket whose ``external_ref`` is not stored yet, in one transaction."""
        refs = [ticket.external_ref for ticket in tickets]
        with session_scope(self._engine) as session:
            present = set(
                session.execute(
                    select(TICKETS.c.external_ref).where(TICKETS.c.external_ref.in_(refs))
                ).scalars()
            )
            new = [t for t in tickets if t.external_ref not in present]
            if new:
                stored = session.execute(
                    self._insert_ignoring_duplicates().returning(
                        TICKETS.c.opened_at, TICKETS.c.category
                    ),
                    [_values(t) for t in new],
                ).all()
                # Only the rows this import wrote count (another import may have won a ref).
                tickets_added(session, [(row.opened_at, row.category) for row in stored])
        return Imported(imported=len(new), already_present=len(present))

    def add_unless_ref_exists(self, ticket: SupportTicket) -> SupportTicket | None:
        """Insert ``ticket``; None (nothing written) if its ``external_ref`` is already stored."""
        with session_scope(self._engine) as session:
            if (
                ticket.external_ref
                and session.execute(
                    select(func.count()).where(TICKETS.c.external_ref == ticket.external_ref)
                ).scalar_one()
            ):
                return None
            session.add(ticket)
            session.flush()  # the rollup counts it (``vell_core.store.rollup``'s insert hook)
            return ticket

    def recent(self, limit: int) -> list[SupportTicket]:
        """The most recently opened tickets, newest first."""
        with read_session(self._engine) as session:
            rows = session.execute(
                select(SupportTicket).order_by(TICKETS.c.opened_at.desc()).limit(limit)
            ).scalars()
            return list(rows)

    def _insert_ignoring_duplicates(self) -> Any:
        # A concurrent import of the same file must not fail half-way: the unique
        # external_ref lets the database drop the rows the other import already wrote.
        insert = sqlite_insert if self._engine.dialect.name == "sqlite" else postgresql_insert
        return insert(TICKETS).on_conflict_do_nothing(index_elements=["external_ref"])


def _values(ticket: SupportTicket) -> dict[str, Any]:
    """The columns an import writes (the id is the database's)."""
    return ticket.model_dump(exclude={"id"})
