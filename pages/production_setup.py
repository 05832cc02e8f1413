"""Production setup (CloudFormation): external ID → quick-create link → validate the role."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from vell_core.ui.bridge import friendly_errors, get_services, require_page
from vell_core.ui.tables import show_table
from vell_core.views.text import plain

member = require_page("connection.manage")
services = get_services()
CURRENT = "ps_connection_id"  # the setup this browser session is working on

st.title("Production setup (CloudFormation)")
st.caption(
    "Vell generates the external ID (never typed by anyone), the customer launches Vell's stack "
    "from a prefilled link, and Vell validates the role by assuming it and probing each action."
)

with friendly_errors("list setups"):
    pending = services.production_setup.pending(member)
if pending:
    labels = {
        s.connection_id: f"#{s.connection_id} · {s.company} · {s.aws_account_id}" for s in pending
    }
    resume = st.selectbox(
        "Continue a setup",
        [None, *labels],
        format_func=lambda k: labels.get(k, "—"),
        key="ps_resume",
    )
    if resume is not None:
        st.session_state[CURRENT] = resume

with st.form("ps_start_form"):
    st.markdown("**1. Customer**")
    cols = st.columns(2)
    company = cols[0].text_input("Company", key="ps_company")
    account = cols[1].text_input("AWS account ID", key="ps_account")
    if st.form_submit_button("Generate external ID and link"):
        with friendly_errors("start setup"):
            setup = services.production_setup.start(member, company=company, aws_account_id=account)
            st.session_state[CURRENT] = setup.connection_id

connection_id = st.session_state.get(CURRENT)
if connection_id is None:
    st.stop()
with friendly_errors("load setup"):
    setup = services.production_setup.get(member, int(connection_id))

st.markdown(
    f"**2. Send {plain(setup.company)} the link** (AWS account {plain(setup.aws_account_id)})"
)
st.caption(
    "The link opens CloudFormation's quick-create page with Vell's template, the stack name and "
    "both parameters filled in. Copy it into your message to the customer:"
)
st.code(setup.quick_create_url, language=None, wrap_lines=True)
st.caption("External ID (already in the link as the stack's ExternalId parameter):")
st.code(setup.external_id, language=None)
console = "sandbox AWS console" if setup.sandbox_console else "AWS quick-create page"
st.link_button(f"Open the {console}", setup.quick_create_url)
st.caption(
    f"The customer signs in to account {plain(setup.aws_account_id)}, ticks the IAM "
    f"acknowledgement and creates stack {plain(setup.stack_name)}. When it shows "
    "CREATE_COMPLETE, they copy RoleArn from its Outputs and send it back."
    + (
        " In the sandbox the link opens the sandbox's console: you act as the customer there."
        if setup.sandbox_console
        else ""
    )
)

st.markdown("**3. Validate**")
role_arn = st.text_input(
    "RoleArn from the stack's Outputs", value=setup.role_arn or "", key="ps_role_arn"
)
if st.button("Validate", key="ps_validate", type="primary"):
    with st.status("Validating…", expanded=True) as status, friendly_errors("validate"):
        report = services.production_setup.validate(member, setup.connection_id, role_arn)
        if report.probe is not None:
            show_table(pd.DataFrame(report.probe.rows()))
        for explanation in report.explanations:
            st.warning(f"**{plain(explanation.title)}** {plain(explanation.fix)}")
        if report.ok:
            status.update(label="Connected: the role works", state="complete", expanded=True)
            st.success(f"Connection #{setup.connection_id} is active.")
        else:
            reason = report.explanations[0].title if report.explanations else "see the checks"
            status.update(label=f"Not connected yet: {reason}", state="error", expanded=True)
