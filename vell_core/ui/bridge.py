"""The only Streamlit importer in vell_core: cached services, the signed-in user, messages.

Pages call ``get_services()`` and ``current_user()``; tests replace the user through session
state (``SIGNED_IN_KEY``), never by patching Streamlit internals.

Who is signed in:

* with ``[auth]`` in ``.streamlit/secrets.toml``, ``st.login`` (OIDC) sets ``st.user``; its
  verified email is mapped to an active staff member in *our* store (default deny);
* in the sandbox only, the sign-in page can pick a seeded staff member
  (``StaffDirectory.local_sign_in`` refuses this in ``aws`` mode, and ``current_user`` ignores
  a local sign-in outside the sandbox even if session state says otherwise). That sign-in is
  also kept in a signed, expiring cookie (``session_tokens``), so a reload or a second tab
  stays signed in; signing out revokes it and clears every per-user value in session state.

``st.user`` is read from the identity cookie only when a session starts, so the role is re-read
from the store on every run here and again by every service call (``StaffDirectory.require``).
"""

from __future__ import annotations

import gc
import importlib
import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import urlparse

import streamlit as st
import streamlit.components.v1 as components
from streamlit.errors import StreamlitAuthError

from vell_core.app import Services, build_services
from vell_core.config.settings import Settings
from vell_core.domain.errors import ConfigurationError, VellError
from vell_core.domain.roles import StaffMember, can
from vell_core.domain.signed_tokens import COOKIE_NAME, SESSION_HOURS
from vell_core.ui.navigation import staff_url_paths
from vell_core.views.text import plain

log = logging.getLogger(__name__)

SIGNED_IN_KEY = "vell_signed_in_user_id"
DESK_SEEN_KEY = "vell_desk_seen"  # desk_nudges.Seen: what this session was already told
MAX_TOASTS = 3  # more at once would bury the page
SESSION_TOKEN_KEY = "vell_session_token"
SIGNED_OUT_KEY = "vell_signed_out"
RETURN_TO_KEY = "vell_return_to"
DEMO_LINK_PARAM = "demo_link"  # same as vell_core.services.demo_links.QUERY_PARAM
RECORD_LINK_PARAM = "record"  # same as vell_core.services.access_record.QUERY_PARAM
DESK_REFRESH_FACTOR = 3  # desk toasts tick every 3 live refreshes (6 s by default)
BACKGROUND_START_SECONDS = 1.0  # after the first page: the browser has drawn it by then
OIDC_KEYS = ("redirect_uri", "cookie_secret", "client_id", "client_secret", "server_metadata_url")


_PROCESS_SERVICES: Services | None = None
_PROCESS_LOCK = threading.Lock()
_WARMED = False
# What pages draw tables and charts with; none of it is needed to serve the first page.
PAGE_LIBRARIES = (
    "pandas",
    "altair",
    "vell_core.ui.tables",
    "vell_core.views.marketplace",
    "vell_core.views.metrics",
    "vell_core.views.metrics_charts",
)


def start_services(settings: Settings | None = None) -> Services:
    """Build this process's service graph once (sandbox, worker, engine), then reuse it.

    ``vell run`` (what ``make run`` serves) calls this with its settings before the server opens
    its port, so the first page needs no build; a bare ``streamlit run Home.py`` builds on the
    first page instead (from the environment's settings).
    """
    global _PROCESS_SERVICES  # one graph per process, by design
    with _PROCESS_LOCK:
        if _PROCESS_SERVICES is None:
            _PROCESS_SERVICES = build_services(settings)
        return _PROCESS_SERVICES


@st.cache_resource(show_spinner="Starting Vell Delegation Desk…")
def get_services() -> Services:
    """The process-wide service graph (shared by all sessions; holds no per-user data)."""
    return start_services()


def after_page() -> None:
    """Call when a page has been drawn: the first time, start the process's background work
    (the notification worker, the model preload) and load the libraries the other pages
    draw with, now that neither delays that page."""
    global _WARMED  # once per process, like the services
    if _WARMED:  # every later run: nothing to do
        return
    services = get_services()
    with _PROCESS_LOCK:
        if _WARMED:
            return
        _WARMED = True
    # A moment later, on its own thread: started at once, its imports and client builds held
    # the GIL while this run's last messages went out, and the page showed later.
    starter = threading.Timer(BACKGROUND_START_SECONDS, _warm_up, args=(services,))
    starter.daemon = True
    starter.start()


def _warm_up(services: Services) -> None:
    """The worker (where this process runs it), then the page libraries, off any page's path:
    the first table or chart a person opens would otherwise wait for pandas and Altair."""
    if services.runs_worker_here:
        services.start_background()
    for module in PAGE_LIBRARIES:
        importlib.import_module(module)
    _exercise_page_libraries()
    # What is loaded now stays for the life of the process: with it frozen, a full collection
    # no longer walks ~250k objects (~130 ms) in the middle of someone's click.
    gc.freeze()


def _exercise_page_libraries() -> None:
    """Convert one tiny table and chart the way pages do: pandas, pyarrow and Altair load more
    of themselves on first use (Arrow's pandas bridge, narwhals, Vega-Lite's schema), which
    the first page with a table or chart would otherwise wait for."""
    import altair as alt
    import pandas as pd
    import pyarrow as pa

    frame = pd.DataFrame({"name": ["a"], "value": [1]})
    pa.Table.from_pandas(frame)  # what st.dataframe sends
    alt.Chart(frame).mark_bar().encode(x="name", y="value").to_dict()  # validated, as pages do


def current_user() -> StaffMember | None:
    """The signed-in staff member, re-read from the store, or None."""
    services = get_services()
    identity = _oidc_identity()
    if identity is not None:
        email, verified = identity
        return services.staff.from_identity(email, email_verified=verified)
    if not services.settings.is_sandbox:
        return None
    user_id = st.session_state.get(SIGNED_IN_KEY)
    if user_id is None:
        user_id = _resume_from_cookie(services)
    return None if user_id is None else services.staff.by_id(int(user_id))


def _resume_from_cookie(services: Services) -> int | None:
    """A reloaded tab: take the sign-in from the session cookie, if it is still valid."""
    if st.session_state.get(SIGNED_OUT_KEY):
        return None  # this browser session signed out; its old cookie must not sign it back in
    token = st.context.cookies.get(COOKIE_NAME)
    verified = services.session_tokens.verify(token)
    if verified is None:
        return None
    st.session_state[SIGNED_IN_KEY] = verified.staff_id
    st.session_state[SESSION_TOKEN_KEY] = token
    return verified.staff_id


def keep_session_cookie() -> None:
    """Write (or, after sign-out, delete) the session cookie in the browser.

    Streamlit has no API to set a cookie, so a zero-height component runs one line of script;
    its iframe shares the app's origin. Rendered on every run so it survives reruns; the same
    content is not reloaded by the browser.
    """
    token = st.session_state.get(SESSION_TOKEN_KEY)
    if token and st.context.cookies.get(COOKIE_NAME) != token:
        value, max_age = token, SESSION_HOURS * 3600
    elif st.session_state.get(SIGNED_OUT_KEY) and st.context.cookies.get(COOKIE_NAME):
        value, max_age = "", 0
    else:
        return
    script = (
        "<script>window.parent.document.cookie = "
        f'"{COOKIE_NAME}={value}; Max-Age={max_age}; Path=/; SameSite=Strict";</script>'
    )
    with st.sidebar:
        components.html(script, height=0)


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
    return_to = st.session_state.get(RETURN_TO_KEY)
    for key in list(st.session_state):  # nothing of a previous user survives a sign-in
        del st.session_state[key]
    if return_to is not None:
        st.session_state[RETURN_TO_KEY] = return_to
    st.session_state[SIGNED_IN_KEY] = member.id
    st.session_state[SESSION_TOKEN_KEY] = services.session_tokens.issue(member.id or 0)
    return member


def sign_out() -> None:
    """Forget the sign-in and every per-user value (wizard, pickers, filters); log out of OIDC.

    Session state holds only UI values of the signed-in member, so all of it goes: the next
    person to sign in on this browser starts clean.
    """
    services = get_services()
    services.session_tokens.revoke(st.session_state.get(SESSION_TOKEN_KEY))
    services.session_tokens.revoke(st.context.cookies.get(COOKIE_NAME))
    for key in list(st.session_state):
        del st.session_state[key]
    st.session_state[SIGNED_OUT_KEY] = True
    if _oidc_identity() is not None:
        st.logout()


def signed_in_but_unknown() -> bool:
    """True when OIDC says someone is signed in but no active staff member matches."""
    return _oidc_identity() is not None and current_user() is None


def demo_link_token() -> str | None:
    """The customer demo-link token in the URL, if this session was opened from one."""
    value = st.query_params.get(DEMO_LINK_PARAM)
    return value if value else None


def record_link_token() -> str | None:
    """The customer's access-record token in the URL, if this session was opened from one."""
    value = st.query_params.get(RECORD_LINK_PARAM)
    return value if value else None


def require_page(action: str) -> StaffMember:
    """Stop the page unless a signed-in member may perform ``action``.

    Pages hidden by navigation can still be reached by URL, so each page checks again here;
    services check a third time against the store.
    """
    member = current_user()
    if member is None:
        _bounce_to_sign_in()
        st.error("Please sign in to use the Vell Delegation Desk.")
        st.stop()
    if not can(member, action):
        st.error("You do not have access to this page.")
        st.stop()
    watch_desk(member)
    return member


def watch_desk(member: StaffMember) -> None:
    """On every page: toast new states of the rep's own requests, and requests waiting longer
    than usual with the next action (``desk_nudges``). Polls every ``DESK_REFRESH_FACTOR``
    live refreshes; a tick with nothing new does no store work."""
    if not can(member, "delegation.create"):
        return
    services = get_services()

    def watch() -> None:
        seen, notices = services.nudges.poll(member, st.session_state.get(DESK_SEEN_KEY))
        st.session_state[DESK_SEEN_KEY] = seen
        for notice in notices[:MAX_TOASTS]:
            st.toast(plain(notice.text), icon=notice.icon)
        if len(notices) > MAX_TOASTS:
            st.toast(
                f"{len(notices) - MAX_TOASTS} more updates on your requests: see **Delegations**.",
                icon=":material/notifications:",
            )

    # The rep's *other* requests: a toast within a few seconds is soon enough, and the page's
    # own live view (the waiting step, Live demo) keeps the live refresh. Every tick of every
    # open tab costs the server a fragment run, so this one ticks less often.
    every = services.settings.vell_live_refresh_seconds * DESK_REFRESH_FACTOR
    with st.sidebar:  # the toasts are page-wide; the fragment itself draws nothing
        st.fragment(watch, run_every=every)()


def _bounce_to_sign_in() -> None:
    """A page ran without Home.py's navigation (the first browser session after the server
    starts, opened on a deep link, runs ``pages/<name>.py`` directly): remember where it was
    going and go through Home.py's sign-in, which comes back here afterwards."""
    if st.session_state.get(RETURN_TO_KEY) is not None:
        return
    name = urlparse(st.context.url or "").path.rstrip("/").rsplit("/", 1)[-1]
    if name not in staff_url_paths():
        return
    st.session_state[RETURN_TO_KEY] = (f"pages/{name}.py", dict(st.query_params.to_dict()))
    st.switch_page("Home.py")


def return_after_sign_in() -> None:
    """After a sign-in: rerun, so Home.py builds the member's navigation (and then
    ``follow_return_to`` opens the deep link that led to the sign-in, if any)."""
    st.rerun()


def follow_return_to() -> None:
    """Call after ``st.navigation``: go to the page a signed-out deep link asked for."""
    target = st.session_state.pop(RETURN_TO_KEY, None)
    if target is not None:
        path, query = target
        st.switch_page(path, query_params=query)


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
