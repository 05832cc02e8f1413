"""Partner-onboarding rows: the prerequisites checklist and the questionnaire answers.

Reads run on a ``read_session`` snapshot; each save is one transaction.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from vell_core.domain.models import PartnerChecklistItem, PartnerProfileValue, StaffRole, StaffUser
from vell_core.store.engine import read_session, session_scope


@dataclass(frozen=True)
class ChecklistRows:
    """The stored prerequisites by key, and staff names by id (who last changed one)."""

    items: dict[str, PartnerChecklistItem]
    staff_names: dict[int | None, str]


@dataclass(frozen=True)
class ProfileRows:
    """The stored questionnaire answers by key, and the active admins' emails (sorted)."""

    values: dict[str, str]
    admin_emails: list[str]


class OnboardingStore:
    """``partner_checklist_items`` and ``partner_profile_values``."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def checklist(self) -> ChecklistRows:
        """Every stored prerequisite, with the names of the staff who changed them."""
        with read_session(self._engine) as session:
            items = {row.key: row for row in session.exec(select(PartnerChecklistItem)).all()}
            names = {user.id: user.name for user in session.exec(select(StaffUser)).all()}
        return ChecklistRows(items=items, staff_names=names)

    def set_checklist_item(
        self, key: str, *, done: bool, note: str | None, at: datetime, by_user_id: int
    ) -> None:
        """Create or update one prerequisite's status."""
        with session_scope(self._engine) as session:
            row = session.get(PartnerChecklistItem, key) or PartnerChecklistItem(
                key=key, updated_at=at
            )
            row.done, row.note = done, note
            row.updated_at, row.updated_by_user_id = at, by_user_id
            session.add(row)

    def profile(self) -> ProfileRows:
        """The stored answers and the admins' emails, on one snapshot."""
        with read_session(self._engine) as session:
            values = {row.key: row.value for row in session.exec(select(PartnerProfileValue))}
            return ProfileRows(values=values, admin_emails=_admin_emails(session))

    def set_profile(self, values: Mapping[str, str], *, at: datetime, by_user_id: int) -> None:
        """Save every answer in one transaction; an empty value deletes the stored one."""
        with session_scope(self._engine) as session:
            for key, value in values.items():
                row = session.get(PartnerProfileValue, key)
                if not value:
                    if row is not None:
                        session.delete(row)
                    continue
                row = row or PartnerProfileValue(key=key, value=value, updated_at=at)
                row.value, row.updated_at, row.updated_by_user_id = value, at, by_user_id
                session.add(row)


def _admin_emails(session: Session) -> list[str]:
    """The active admins' emails, sorted."""
    rows = session.exec(
        select(StaffUser.email)
        .where(StaffUser.role == StaffRole.ADMIN)
        .where(col(StaffUser.active))
        .order_by(col(StaffUser.email))
    ).all()
    return list(rows)
