"""Home: today's figures from the store."""

from __future__ import annotations

import streamlit as st

from vell_core.ui.bridge import friendly_errors, get_services, require_page

member = require_page("home")
services = get_services()
st.title("Vell Delegation Desk")
st.caption("AWS IAM temporary delegation for demos, trials and production onboarding.")

with friendly_errors("load home figures"):
    figures = services.overview.home()
    cols = st.columns(4)
    cols[0].metric("Active demos", figures.active_demos)
    cols[1].metric("Active trials", figures.active_trials)
    cols[2].metric("Pending approvals", figures.pending_approvals)
    cols[3].metric("Trials expiring within 24 h", figures.trials_expiring_24h)
    cols = st.columns(4)
    cols[0].metric("Customers demoed (30 d)", figures.demos_last_30d)
    cols[1].metric("Started a trial (30 d)", figures.trials_last_30d)
    cols[2].metric("Reached production (30 d)", figures.production_last_30d)
    rate = figures.conversion_last_30d
    cols[3].metric(
        "Demo → trial (30 d)",
        "—" if rate is None else f"{rate:.0%}",
        help="Customers whose demo connected in the last 30 days and who then connected a "
        "trial ÷ customers whose demo connected in the last 30 days.",
    )
