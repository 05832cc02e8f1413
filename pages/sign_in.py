"""Sign-in: Vell SSO (OIDC) when configured; in the sandbox only, pick a seeded staff member."""

from __future__ import annotations

import streamlit as st

from vell_core.ui.bridge import (
    friendly_errors,
    get_services,
    oidc_configured,
    return_after_sign_in,
    sign_in_sandbox,
    sign_in_with_oidc,
    signed_in_but_unknown,
)

services = get_services()
st.title("Vell Delegation Desk")
st.write("Sign in to launch and track AWS temporary delegation requests.")

if signed_in_but_unknown():
    st.error(
        "You are signed in with Vell SSO, but your account has no active role on the desk. "
        "Ask an admin to add you."
    )

if oidc_configured():
    if st.button("Sign in with Vell SSO", key="oidc_sign_in", type="primary"):
        with friendly_errors("sign in with SSO"):
            sign_in_with_oidc()
elif not services.settings.is_sandbox:
    st.error(
        "Sign-in is not configured. An admin must add the `[auth]` section to "
        "`.streamlit/secrets.toml` (see AUTH_README.md)."
    )

if services.settings.is_sandbox:
    with st.container(border=True):
        st.markdown("#### :orange-badge[:material/science: SANDBOX] Local sign-in")
        st.caption(
            "Pick a seeded staff member. This exists only in the sandbox; against real AWS "
            "the desk accepts Vell SSO only."
        )
        members = services.staff.list_active()
        if not members:
            st.warning("No staff members yet. Run `make run` (it seeds the store) or `vell seed`.")
            st.stop()
        labels = {f"{m.name} — {m.role.value}": m.id for m in members}
        choice = st.selectbox("Staff member", list(labels), key="sandbox_sign_in_member")
        if st.button("Sign in (sandbox)", key="sandbox_sign_in"):
            with friendly_errors("sandbox sign-in"):
                sign_in_sandbox(labels[choice])
                return_after_sign_in()
