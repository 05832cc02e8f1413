"""Staff rows: the queries behind the staff directory."""

from __future__ import annotations

from sqlalchemy.engine import Engine
from sqlmodel import col, select

from vell_core.domain.models import StaffRole, StaffUser
from vell_core.domain.roles import StaffMember
from vell_core.store.engine import read_session


class StaffStore:
    """Active staff members by id or email (reads only: staff reads are hot, no write lock)."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def list_active(self) -> list[StaffMember]:
        """Every active staff member, by role then name."""
        with read_session(self._engine) as session:
            rows = session.exec(
                select(StaffUser)
                .where(col(StaffUser.active))
                .order_by(col(StaffUser.role), col(StaffUser.name))
            ).all()
        return [_member(row) for row in rows]

    def by_email(self, email: str) -> StaffMember | None:
        """The active staff member with this email (case-insensitive), if any."""
        with read_session(self._engine) as session:
            row = session.exec(
                select(StaffUser).where(col(StaffUser.email) == email.strip().lower())
            ).first()
        return _member(row) if row is not None and row.active else None

    def by_id(self, user_id: int) -> StaffMember | None:
        """The active staff member with this id, if any."""
        with read_session(self._engine) as session:
            row = session.get(StaffUser, user_id)
        return _member(row) if row is not None and row.active else None


def _member(row: StaffUser) -> StaffMember:
    return StaffMember(id=row.id or 0, name=row.name, email=row.email, role=StaffRole(row.role))
