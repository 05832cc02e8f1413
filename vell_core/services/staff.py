"""Staff directory and role rules: who may see which page and do which action.

Roles are re-read from the store on every privileged action (``require``), so a revoked role
takes effect at once; page hiding in the UI is only a convenience on top of this.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.engine import Engine
from sqlmodel import col, select

from vell_core.domain.errors import PermissionDenied
from vell_core.domain.models import StaffRole, StaffUser
from vell_core.store.engine import read_session

# Action -> roles allowed. Admins may do everything.
ACTION_ROLES: dict[str, frozenset[StaffRole]] = {
    "home": frozenset(StaffRole),
    "delegation.create": frozenset({StaffRole.SALES, StaffRole.CS}),
    "delegation.read_own": frozenset({StaffRole.SALES, StaffRole.CS}),
    "delegation.read_all": frozenset({StaffRole.CS}),
    "demo.browse": frozenset({StaffRole.SALES, StaffRole.CS}),
    "listing.update": frozenset({StaffRole.SALES, StaffRole.CS}),
    "promotion.run": frozenset({StaffRole.CS}),
    "connection.manage": frozenset({StaffRole.CS}),
    "metrics.read": frozenset({StaffRole.LEADERSHIP, StaffRole.CS}),
    "tickets.write": frozenset({StaffRole.CS, StaffRole.LEADERSHIP}),
    "sandbox.customer_console": frozenset({StaffRole.SALES, StaffRole.CS}),
    "audit.read": frozenset(),
    "settings.read": frozenset(),
    "settings.write": frozenset(),
}


@dataclass(frozen=True)
class StaffMember:
    """A signed-in staff member, as read from the store (never cached across actions)."""

    id: int
    name: str
    email: str
    role: StaffRole

    @property
    def is_admin(self) -> bool:
        """Admins may do everything."""
        return self.role is StaffRole.ADMIN


def can(member: StaffMember, action: str) -> bool:
    """Whether ``member``'s role allows ``action``."""
    return member.is_admin or member.role in ACTION_ROLES.get(action, frozenset())


class StaffDirectory:
    """Reads staff members and enforces role rules against the store."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def list_active(self) -> list[StaffMember]:
        """Every active staff member, by role then name."""
        with read_session(self._engine) as session:  # no write lock: staff reads are hot
            rows = session.exec(
                select(StaffUser)
                .where(col(StaffUser.active))
                .order_by(col(StaffUser.role), col(StaffUser.name))
            ).all()
        return [_member(row) for row in rows]

    def by_email(self, email: str) -> StaffMember | None:
        """The active staff member with this email (case-insensitive), if any."""
        with read_session(self._engine) as session:  # no write lock: staff reads are hot
            row = session.exec(
                select(StaffUser).where(col(StaffUser.email) == email.strip().lower())
            ).first()
        return _member(row) if row is not None and row.active else None

    def by_id(self, user_id: int) -> StaffMember | None:
        """The active staff member with this id, if any."""
        with read_session(self._engine) as session:  # no write lock: staff reads are hot
            row = session.get(StaffUser, user_id)
        return _member(row) if row is not None and row.active else None

    def from_identity(
        self, email: str | None, *, email_verified: bool | None
    ) -> StaffMember | None:
        """Map an OIDC identity to an active staff member; default deny.

        Only an address the provider says is verified is accepted (README): anyone can put an
        unverified ``@vell.ai`` address on a social account, and a provider that does not send
        ``email_verified`` at all has not vouched for the address either.
        """
        if not email or email_verified is not True:
            return None
        return self.by_email(email)

    def local_sign_in(self, user_id: int, *, sandbox: bool) -> StaffMember:
        """The sandbox-only "pick a seeded staff member" sign-in; refused outside the sandbox.

        Checked here, not only by hiding the UI, so no page or test path can sign in without
        OIDC against real AWS.
        """
        if not sandbox:
            raise PermissionDenied("Local sign-in exists only in the sandbox; use Vell SSO.")
        member = self.by_id(user_id)
        if member is None:
            raise PermissionDenied("That staff member does not exist or is deactivated.")
        return member

    def require(self, member: StaffMember | None, action: str) -> StaffMember:
        """Re-read ``member`` from the store and check ``action``; raise PermissionDenied."""
        if member is None:
            raise PermissionDenied("Please sign in first.")
        fresh = self.by_id(member.id)
        if fresh is None or not can(fresh, action):
            raise PermissionDenied()
        return fresh


def _member(row: StaffUser) -> StaffMember:
    return StaffMember(id=row.id or 0, name=row.name, email=row.email, role=StaffRole(row.role))
