"""Connections: every permanent connection with its health; re-validate, disconnect, offboard."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from vell_core.domain.models import ConnectionStatus
from vell_core.ui.bridge import friendly_errors, get_services, require_page
from vell_core.ui.tables import show_table
from vell_core.views.csv_export import records_csv
from vell_core.views.text import plain

member = require_page("connection.manage")
services = get_services()
st.title("Connections")
st.caption(
    "Health is the last successful validation: AssumeRole with the customer's external ID, "
    "then one read per Marketplace action the connector needs."
)

# What fits at 1280 px; the role, its external ID and ARN and the number are in the CSV.
ON_SCREEN = ("Company", "Account", "Set up via", "Status", "Health", "Last validated OK")

cols = st.columns([3, 1])
company = cols[0].text_input("Company contains", key="cx_company")
show_disconnected = cols[1].toggle("Show disconnected", value=False, key="cx_disconnected")

with friendly_errors("list connections"):
    connections = services.connections.list(
        member, company_contains=company, include_disconnected=show_disconnected
    )
if not connections:
    st.info("No permanent connections yet. Promote a trial on the **Trials desk**.")
    st.stop()

now = services.clock.now()
records = [c.record(now) for c in connections]
show_table(pd.DataFrame(records), on_screen=ON_SCREEN)
st.download_button(
    "Download CSV",
    records_csv(records),
    "connections.csv",
    "text/csv",
    key="cx_csv",
    on_click="ignore",
)

labels = {c.id: f"#{c.id} · {c.company} · {c.status.value}" for c in connections}
picked = st.selectbox("Connection", list(labels), format_func=labels.__getitem__, key="cx_pick")
chosen = next(c for c in connections if c.id == picked)

validate_col, disconnect_col = st.columns(2)
if chosen.status is not ConnectionStatus.DISCONNECTED and validate_col.button(
    "Re-validate", key="cx_validate", type="primary"
):
    with st.status("Validating…", expanded=True) as status, friendly_errors("validate"):
        report = services.connections.validate(member, picked)
        if report.probe is not None:
            show_table(pd.DataFrame(report.probe.rows()))
        for explanation in report.explanations:
            st.warning(f"**{explanation.title}** {explanation.fix}")
        status.update(
            label="Connection healthy" if report.ok else "Validation failed",
            state="complete" if report.ok else "error",
        )

if chosen.status is not ConnectionStatus.DISCONNECTED:
    confirm = disconnect_col.checkbox("I understand Vell stops syncing", key="cx_confirm")
    if disconnect_col.button("Disconnect", key="cx_disconnect", disabled=not confirm):
        with friendly_errors("disconnect"):
            services.connections.disconnect(member, picked)
            st.success("Disconnected. Follow the offboarding checklist below.")
            st.rerun()
else:
    st.subheader("Offboarding checklist")
    with friendly_errors("offboarding"):
        checklist = services.connections.offboarding_checklist(member, picked)
        for item in checklist.items:
            icon = ":material/check_circle:" if item.done else ":material/radio_button_unchecked:"
            st.markdown(f"{icon} **{plain(item.label)}** — {plain(item.detail)}")
    if not checklist.complete and st.button("Confirm access is gone", key="cx_gone"):
        with friendly_errors("confirm access gone"):
            result = services.connections.confirm_access_gone(member, picked)
            (st.success if result.gone else st.warning)(result.message)
