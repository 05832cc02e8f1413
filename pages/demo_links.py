"""Demo links: a rep signs a single-use, expiring link that lets one company start a demo."""

from __future__ import annotations

from datetime import timedelta

import streamlit as st

from vell_core.domain.validation import COMPANY_MAX
from vell_core.ui.bridge import friendly_errors, get_services, require_page
from vell_core.ui.tables import show_table
from vell_core.views.formatting import when
from vell_core.views.text import plain

member = require_page("delegation.create")
services = get_services()
st.title("Demo links")
st.caption(
    "Send a customer a link that starts one 4-hour, read-only demo for their company, "
    "attributed to you. It works once and expires."
)

VALIDITY = {"24 hours": 24, "3 days": 72, "7 days": 168}

with st.form("demo_link_form", border=True):
    # No max_chars: the browser would drop a longer paste silently; validation says why.
    company = st.text_input(
        "Company", key="demo_link_company", help=f"At most {COMPANY_MAX} characters."
    )
    validity = st.radio("Valid for", list(VALIDITY), index=1, horizontal=True, key="demo_link_ttl")
    submitted = st.form_submit_button("Create link", type="primary")
if submitted:
    with friendly_errors("create a demo link"):
        issued = services.demo_links.create(member, company, timedelta(hours=VALIDITY[validity]))
        st.success(f"Link for **{plain(issued.company)}**, valid until {when(issued.expires_at)}:")
        st.code(issued.url, language=None)

with friendly_errors("list demo links"):
    links = services.demo_links.list_mine(member)
    if links:
        st.subheader("Your links" if not member.is_admin else "All links")
        show_table(
            [
                {
                    "Company": link.company,
                    "Status": link.status,
                    "Created": when(link.created_at),
                    "Expires": when(link.expires_at),
                    "Used by account": link.used_account_id or "—",
                    "Link id": link.link_id,
                }
                for link in links
            ],
            key="demo_links_table",
        )
        open_links = {
            f"{x.company} · {x.link_id[:8]}": x.link_id for x in links if x.status == "open"
        }
        if open_links:
            cols = st.columns([3, 1])
            chosen = cols[0].selectbox("Revoke an open link", list(open_links), key="demo_revoke")
            if cols[1].button("Revoke", key="demo_revoke_button"):
                services.demo_links.revoke(member, open_links[chosen])
                st.rerun()
