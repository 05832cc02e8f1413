"""Vell Delegation Desk: the entry point and router (``streamlit run Home.py``).

Three shapes of navigation, decided before anything else renders:

* a customer who opened a demo link (``?demo_link=…``) gets that one page and nothing else;
  so does a customer who opened the link to their access record (``?record=…``);
* anyone not signed in gets only the sign-in page, served at every staff page's address, so a
  deep link (``/demo_browser?delegation=92``) shows the sign-in there and, once signed in, the
  same address (query included) opens the page it names;
* a signed-in staff member gets the pages their role allows (``navigation.pages_for``).

Streamlit serves the default page at ``/`` only, so a page that must also answer at its own
address (the customer's ``/demo_request``) is listed a second time, hidden, under that path.
"""

from __future__ import annotations

import streamlit as st

from vell_core.domain.errors import ConfigurationError
from vell_core.ui.bridge import (
    after_page,
    current_user,
    demo_link_token,
    follow_return_to,
    get_services,
    keep_session_cookie,
    record_link_token,
    sign_out,
)
from vell_core.ui.navigation import (
    ACCESS_RECORD_PAGE,
    ACCESS_RECORD_URL_PATH,
    DEMO_REQUEST_PAGE,
    DEMO_REQUEST_URL_PATH,
    SIGN_IN_PAGE,
    PageSpec,
    pages_for,
    staff_url_paths,
    url_path_of,
)
from vell_core.views.text import plain

st.set_page_config(page_title="Vell Delegation Desk", page_icon=":material/key:", layout="wide")
try:
    get_services()  # settings are validated here; a bad value gets its message, not a traceback
except ConfigurationError as exc:
    st.error(exc.message)
    st.stop()


def _page(spec: PageSpec, url_path: str | None = None, *, default: bool | None = None) -> st.Page:
    return st.Page(
        spec.path,
        title=spec.title,
        icon=spec.icon,
        default=spec.default if default is None else default,
        url_path=url_path,
    )


def _at_addresses(spec: PageSpec, url_paths: list[str]) -> list[st.Page]:
    """``spec`` as the default page and again, hidden, at each of ``url_paths``.

    The default page gets its own unused path: two pages may not share a pathname.
    """
    aliases = [_page(spec, url_path=path, default=False) for path in url_paths]
    return [_page(spec, url_path=f"{url_path_of(spec)}_home"), *aliases]


def _customer_navigation(spec: PageSpec, url_path: str) -> st.Page:
    # No staff sidebar, badge or sign-out: the customer sees the one page their link opens.
    return st.navigation(_at_addresses(spec, [url_path]), position="hidden")


def _staff_navigation() -> st.Page:
    services = get_services()
    if services.settings.is_sandbox:
        st.sidebar.markdown(":orange-badge[:material/science: SANDBOX] not real AWS")
    member = current_user()
    keep_session_cookie()
    if member is None:
        pages = _at_addresses(SIGN_IN_PAGE, staff_url_paths())
        return st.navigation(pages, position="hidden")
    groups = pages_for(member, sandbox=services.settings.is_sandbox)
    navigation = st.navigation(
        {group: [_page(spec) for spec in specs] for group, specs in groups.items()},
        expanded=True,  # admins see every page; don't hide the admin group behind "View more"
    )
    st.sidebar.caption(f"Signed in as **{plain(member.name)}** · {member.role.value}")
    if st.sidebar.button("Sign out", key="sign_out"):
        sign_out()
        st.rerun()
    follow_return_to()
    return navigation


if demo_link_token():
    navigation = _customer_navigation(DEMO_REQUEST_PAGE, DEMO_REQUEST_URL_PATH)
elif record_link_token():
    navigation = _customer_navigation(ACCESS_RECORD_PAGE, ACCESS_RECORD_URL_PATH)
else:
    navigation = _staff_navigation()
try:
    navigation.run()
finally:  # a page may stop or rerun the script; the background work starts either way
    after_page()
