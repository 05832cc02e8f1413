"""The staff directory: who is signed in, and whether their role allows an action.

The rule itself is ``vell_core.domain.roles``; the rows are ``vell_core.store.staff``.

Every service re-reads the member before it acts, so a deactivated or demoted member loses
access on their next action. One page run is one action: inside :meth:`StaffDirectory.one_read`
(the router wraps each run in it, and a service wraps a call that uses other services) the
member is read from the store once and every later check in that run reuses the read.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from vell_core.domain.errors import PermissionDenied
from vell_core.domain.roles import StaffMember, can
from vell_core.store.staff import StaffStore

# The members read in the current run, by (directory, member id); None outside a run. A context
# variable, so each Streamlit script thread (one per browser session) has its own.
_RUN_READS: ContextVar[dict[tuple[int, int], StaffMember | None] | None] = ContextVar(
    "vell_staff_run_reads", default=None
)


class StaffDirectory:
    """Reads staff members and enforces role rules against the store."""

    def __init__(self, rows: StaffStore) -> None:
        self._rows = rows

    @contextmanager
    def one_read(self) -> Iterator[None]:
        """Within this block each member is read from the store once (one page run, one action).

        Nested blocks share the outer block's reads. On exit the reads are forgotten, so the
        next run sees a deactivation or a role change.
        """
        if _RUN_READS.get() is not None:
            yield
            return
        token = _RUN_READS.set({})
        try:
            yield
        finally:
            _RUN_READS.reset(token)

    def list_active(self) -> list[StaffMember]:
        """Every active staff member, by role then name."""
        return self._rows.list_active()

    def by_email(self, email: str) -> StaffMember | None:
        """The active staff member with this email (case-insensitive), if any."""
        member = self._rows.by_email(email)
        reads = _RUN_READS.get()
        if reads is not None and member is not None:
            reads[(id(self), member.id)] = member  # the run's later checks are by id
        return member

    def by_id(self, user_id: int) -> StaffMember | None:
        """The active staff member with this id, if any (read once per :meth:`one_read`)."""
        reads = _RUN_READS.get()
        if reads is None:
            return self._rows.by_id(user_id)
        key = (id(self), user_id)
        if key not in reads:
            reads[key] = self._rows.by_id(user_id)
        return reads[key]

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
