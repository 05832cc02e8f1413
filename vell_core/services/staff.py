"""The staff directory: who is signed in, and whether their role allows an action.

The rule itself is ``vell_core.domain.roles``; the rows are ``vell_core.store.staff``.
"""

from __future__ import annotations

from sqlalchemy.engine import Engine

from vell_core.domain.errors import PermissionDenied
from vell_core.domain.roles import StaffMember, can
from vell_core.store.staff import StaffStore


class StaffDirectory:
    """Reads staff members and enforces role rules against the store."""

    def __init__(self, engine: Engine) -> None:
        self._rows = StaffStore(engine)

    def list_active(self) -> list[StaffMember]:
        """Every active staff member, by role then name."""
        return self._rows.list_active()

    def by_email(self, email: str) -> StaffMember | None:
        """The active staff member with this email (case-insensitive), if any."""
        return self._rows.by_email(email)

    def by_id(self, user_id: int) -> StaffMember | None:
        """The active staff member with this id, if any."""
        return self._rows.by_id(user_id)

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
