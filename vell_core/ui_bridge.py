"""The only Streamlit importer in vell_core: cached services, the signed-in user, messages.

Pages call ``get_services()`` and ``current_user()``; tests replace the user through
``set_test_user`` / session state, never by patching Streamlit internals.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager

import streamlit as st

from vell_core.errors import PermissionDenied, VellError
from vell_core.services import Services, build_services
from vell_core.staff import StaffMember, can

log = logging.getLogger(__name__)

SIGNED_IN_KEY = "vell_signed_in_user_id"


@st.cache_resource(show_spinner="Starting Vell Delegation Desk…")
def get_services() -> Services:
    """The process-wide service graph (shared by all sessions; holds no per-user data)."""
    return build_services()


def current_user() -> StaffMember | None:
    """The signed-in staff member, re-read from the store, or None."""
    services = get_services()
    email = _oidc_email()
    if email is not None:
        return services.staff.by_email(email)
    user_id = st.session_state.get(SIGNED_IN_KEY)
    if user_id is None or not services.settings.is_sandbox:
        return None
    return services.staff.by_id(int(user_id))


def _oidc_email() -> str | None:
    try:
        if st.user.is_logged_in:
            return str(st.user.email)
    except (AttributeError, KeyError):  # no [auth] configured
        return None
    return None


def sign_in_sandbox(user_id: int) -> None:
    """Sandbox-only local sign-in (refused in aws mode)."""
    if not get_services().settings.is_sandbox:
        raise PermissionDenied("Local sign-in exists only in the sandbox.")
    st.session_state[SIGNED_IN_KEY] = user_id


def sign_out() -> None:
    """Forget the local sign-in (and log out of OIDC when used)."""
    st.session_state.pop(SIGNED_IN_KEY, None)
    if _oidc_email() is not None:
        st.logout()


def require_page(action: str) -> StaffMember:
    """Stop the page unless the signed-in member may perform ``action``."""
    member = current_user()
    if member is None or not can(member, action):
        st.error("You do not have access to this page.")
        st.stop()
    return member


@contextmanager
def friendly_errors(what: str) -> Iterator[None]:
    """Show a VellError's safe message; log the details; never show a traceback."""
    try:
        yield
    except VellError as exc:
        log.info("%s failed: %s", what, type(exc).__name__)
        st.error(exc.message)
