"""Vell Delegation Desk: the entry point and router (``streamlit run Home.py``).

Three shapes of navigation, decided before anything else renders:

* a customer who opened a demo link (``?demo_link=…``) gets that one page and nothing else;
* anyone not signed in gets only the sign-in page;
* a signed-in staff member gets the pages their role allows (``navigation.pages_for``).
"""

from __future__ import annotations

import streamlit as st

from vell_core.errors import ConfigurationError
from vell_core.navigation import (
    DEMO_REQUEST_PAGE,
    DEMO_REQUEST_URL_PATH,
    SIGN_IN_PAGE,
    PageSpec,
    pages_for,
)
from vell_core.ui_bridge import current_user, demo_link_token, get_services, sign_out
from vell_core.ui_text import plain

st.set_page_config(page_title="Vell Delegation Desk", page_icon=":material/key:", layout="wide")
try:
    get_services()  # settings are validated here; a bad value gets its message, not a traceback
except ConfigurationError as exc:
    st.error(exc.message)
    st.stop()


def _page(spec: PageSpec, url_path: str | None = None) -> st.Page:
    return st.Page(
        spec.path, title=spec.title, icon=spec.icon, default=spec.default, url_path=url_path
    )


def _customer_navigation() -> st.Page:
    # No staff sidebar, badge or sign-out: the customer sees the demo page only.
    page = _page(DEMO_REQUEST_PAGE, url_path=DEMO_REQUEST_URL_PATH)
    return st.navigation([page], position="hidden")


def _staff_navigation() -> st.Page:
    services = get_services()
    if services.settings.is_sandbox:
        st.sidebar.markdown(":orange-badge[:material/science: SANDBOX] not real AWS")
    member = current_user()
    if member is None:
        return st.navigation([_page(SIGN_IN_PAGE)], position="hidden")
    groups = pages_for(member, sandbox=services.settings.is_sandbox)
    navigation = st.navigation(
        {group: [_page(spec) for spec in specs] for group, specs in groups.items()},
        expanded=True,  # admins see every page; don't hide the admin group behind "View more"
    )
    st.sidebar.caption(f"Signed in as **{plain(member.name)}** · {member.role.value}")
    if st.sidebar.button("Sign out", key="sign_out"):
        sign_out()
        st.rerun()
    return navigation


navigation = _customer_navigation() if demo_link_token() else _staff_navigation()
navigation.run()
