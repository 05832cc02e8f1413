"""Vell Delegation Desk: the entry point and router (``streamlit run Home.py``)."""

from __future__ import annotations

import streamlit as st

from vell_core.navigation import pages_for
from vell_core.ui_bridge import current_user, get_services, sign_out

st.set_page_config(page_title="Vell Delegation Desk", page_icon=":material/key:", layout="wide")

services = get_services()
member = current_user()

if services.settings.is_sandbox:
    st.sidebar.markdown(":orange-badge[:material/science: SANDBOX] not real AWS")

if member is None:
    navigation = st.navigation(
        [st.Page("pages/sign_in.py", title="Sign in", icon=":material/login:")]
    )
else:
    groups = pages_for(member, sandbox=services.settings.is_sandbox)
    navigation = st.navigation(
        {
            group: [
                st.Page(page.path, title=page.title, icon=page.icon, default=page.default)
                for page in pages
            ]
            for group, pages in groups.items()
        }
    )
    st.sidebar.caption(f"Signed in as **{member.name}** · {member.role.value}")
    if st.sidebar.button("Sign out", key="sign_out"):
        sign_out()
        st.rerun()

navigation.run()
