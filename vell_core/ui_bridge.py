"""The only Streamlit importer in vell_core: cached services, the signed-in user, messages.

Pages call ``get_services()`` and ``current_user()``; tests replace the user through session
state (``SIGNED_IN_KEY``), never by patching Streamlit internals.

Who is signed in:

* with ``[auth]`` in ``.streamlit/secrets.toml``, ``st.login`` (OIDC) sets ``st.user``; its
  verified email is mapped to an active staff member in *our* store (default deny);
* in the sandbox only, the sign-in page can pick a seeded staff member
  (``StaffDirectory.local_sign_in`` refuses this in ``aws`` mode, and ``current_user`` ignores
  a local sign-in outside the sandbox even if session state says otherwise).

``st.user`` is read from the identity cookie only when a session starts, so the role is re-read
from the store on every run here and again by every service call (``StaffDirectory.require``).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import streamlit as st
from streamlit.errors import StreamlitAuthError

from vell_core.errors import ConfigurationError, VellError
from vell_core.services import Services, build_services
from vell_core.staff import StaffMember, can
from vell_core.ui_text import plain

log = logging.getLogger(__name__)

SIGNED_IN_KEY = "vell_signed_in_user_id"
DEMO_LINK_PARAM = "demo_link"  # same as vell_core.demo_links.QUERY_PARAM
OIDC_KEYS = ("redirect_uri", "cookie_secret", "client_id", "client_secret", "server_metadata_url")


@st.cache_resource(show_spinner="Starting Vell Delegation Desk…")
def get_services() -> Services:
    """The process-wide service graph (shared by all sessions; holds no per-user data)."""
    return build_services()


def current_user() -> StaffMember | None:
    """The signed-in staff member, re-read from the store, or None."""
    services = get_services()
    identity = _oidc_identity()
    if identity is not None:
        email, verified = identity
        return services.staff.from_identity(email, email_verified=verified)
    user_id = st.session_state.get(SIGNED_IN_KEY)
    if user_id is None or not services.settings.is_sandbox:
        return None
    return services.staff.by_id(int(user_id))


def oidc_configured() -> bool:
    """Whether ``[auth]`` in secrets.toml has every key ``st.login`` needs."""
    try:
        if not st.secrets.load_if_toml_exists():
            return False
        section: Any = st.secrets.get("auth")
    except Exception:  # a malformed secrets file must not take the sign-in page down
        log.warning("could not read the [auth] section of secrets.toml")
        return False
    if not hasattr(section, "get"):
        return False
    return all(str(section.get(key) or "").strip() for key in OIDC_KEYS)


def _oidc_identity() -> tuple[str, bool | None] | None:
    """(email, email_verified) from the OIDC cookie, or None when not signed in that way."""
    try:
        if not st.user.is_logged_in:
            return None
        email = st.user.get("email")
        verified = st.user.get("email_verified")
    except (AttributeError, KeyError):  # no [auth] configured
        return None
    if not email:
        return None
    return str(email), verified if isinstance(verified, bool) else None


def sign_in_with_oidc() -> None:
    """Start the OIDC flow (``st.login``); refused when ``[auth]`` is not configured."""
    if not oidc_configured():
        raise ConfigurationError(
            "Single sign-on is not configured ([auth] in .streamlit/secrets.toml)."
        )
    try:
        st.login()
    except StreamlitAuthError as exc:  # e.g. Authlib missing, or a bad [auth] section
        log.error("st.login refused: %s", type(exc).__name__)
        raise ConfigurationError("Single sign-on is misconfigured; ask an admin.") from None


def sign_in_sandbox(user_id: int) -> StaffMember:
    """Sandbox-only local sign-in; the staff directory refuses it in aws mode."""
    services = get_services()
    member = services.staff.local_sign_in(user_id, sandbox=services.settings.is_sandbox)
    st.session_state[SIGNED_IN_KEY] = member.id
    return member


def sign_out() -> None:
    """Forget the local sign-in (and log out of OIDC when used)."""
    st.session_state.pop(SIGNED_IN_KEY, None)
    if _oidc_identity() is not None:
        st.logout()


def signed_in_but_unknown() -> bool:
    """True when OIDC says someone is signed in but no active staff member matches."""
    return _oidc_identity() is not None and current_user() is None


def demo_link_token() -> str | None:
    """The customer demo-link token in the URL, if this session was opened from one."""
    value = st.query_params.get(DEMO_LINK_PARAM)
    return value if value else None


def require_page(action: str) -> StaffMember:
    """Stop the page unless a signed-in member may perform ``action``.

    Pages hidden by navigation can still be reached by URL, so each page checks again here;
    services check a third time against the store.
    """
    member = current_user()
    if member is None:
        st.error("Please sign in to use the Vell Delegation Desk.")
        st.stop()
    if not can(member, action):
        st.error("You do not have access to this page.")
        st.stop()
    return member


@contextmanager
def friendly_errors(what: str) -> Iterator[None]:
    """Show a VellError's safe message; log the details; never show a traceback.

    Anything else propagates to Streamlit, which shows no details (``showErrorDetails="none"``).
    """
    try:
        yield
    except VellError as exc:
        log.info("%s failed: %s", what, type(exc).__name__)
        st.error(plain(exc.message))  # messages can quote customer input or AWS text
