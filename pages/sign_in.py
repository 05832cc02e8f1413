"""Sign-in: OIDC when configured, or (sandbox only) pick a seeded staff member."""

from __future__ import annotations

import streamlit as st

from vell_core.ui_bridge import get_services, sign_in_sandbox

services = get_services()
st.title("Vell Delegation Desk")
st.write("Sign in to launch and track AWS temporary delegation requests.")

if services.settings.is_sandbox:
    st.info(
        "Sandbox sign-in: choose a seeded staff member. This option does not exist on real AWS."
    )
    members = services.staff.list_active()
    if not members:
        st.warning("No staff members yet. Run `make run` (it seeds the store) or `vell seed`.")
        st.stop()
    labels = {f"{m.name} — {m.role.value}": m.id for m in members}
    choice = st.selectbox("Staff member", list(labels), key="sandbox_sign_in_member")
    if st.button("Sign in", key="sandbox_sign_in", type="primary"):
        sign_in_sandbox(labels[choice])
        st.rerun()
else:
    st.button("Sign in with Vell SSO", key="oidc_sign_in", on_click=st.login, type="primary")
