"""Roles and what each may do: the rule every service checks (no I/O).

Roles are re-read from the store on every privileged action (``StaffDirectory.require``), so
a revoked role takes effect at once; page hiding in the UI is only a convenience on top of this.
"""

from __future__ import annotations

from dataclasses import dataclass

from vell_core.domain.models import StaffRole

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
