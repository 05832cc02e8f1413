"""Customer console (sandbox): do what the customer does in the IAM console, as them."""

from __future__ import annotations

import streamlit as st

from vell_core.services.customer_console import ConsoleAction, Persona
from vell_core.ui.bridge import friendly_errors, get_services, require_page
from vell_core.views.formatting import countdown, hours_text, when
from vell_core.views.text import plain

member = require_page("sandbox.customer_console")
services = get_services()
st.title("Customer console (sandbox)")
st.warning(
    "You are acting **as the customer** in the sandbox AWS. On real AWS the customer "
    "does this in their own IAM console; Vell never can.",
    icon=":material/science:",
)

with st.sidebar.expander("Sandbox time", expanded=True):
    st.caption(f"Sandbox now: {when(services.clock.now())}")
    hours = st.select_slider(
        "Advance by",
        [1, 4, 12, 24, 24 * 7 + 1],
        value=1,
        format_func=hours_text,
        key="console_advance_hours",
    )
    if st.button("Advance time", key="console_advance"):
        with friendly_errors("advance sandbox time"):
            services.customer_console.advance_time(member, hours * 3600)
            st.rerun()

with friendly_errors("list requests"):
    waiting = services.customer_console.waiting_requests(member)
if not waiting:
    st.info("No delegation request is waiting for a customer. Launch one from **New delegation**.")
    st.stop()

labels = {
    f"{v.company} · {v.aws_account_id} · {v.path.value} · {v.aws_state.value}": v for v in waiting
}
chosen = labels[
    st.selectbox("Request waiting for the customer", list(labels), key="console_request")
]
persona = Persona(
    st.radio(
        "Act as",
        [p.value for p in Persona],
        horizontal=True,
        key="console_persona",
        help="owner: whoever opened the link; admin: has "
        "iam:AcceptDelegationRequest; root: may approve ≤ 4 h only",
    )
)

with friendly_errors("open the request"):
    request = services.customer_console.view(
        member, chosen.aws_account_id, chosen.delegation_request_id, Persona.OWNER
    )
    now = services.clock.now()
    st.markdown(
        f"**{plain(request.requestor_name)}** (account {plain(request.requestor_account)}) "
        "requests "
        f"access for **{request.session_duration / 3600:g} h** · state `{request.state}` "
        f"· expires in {countdown(request.expiration_time, now)}"
    )
    st.info(plain(request.request_message or "(no message)"))
    st.caption(plain(request.description))
    with st.expander("View JSON — the permissions you would grant"):
        st.code(request.policy_pretty, language="json")
    if request.boundary_arns:
        st.caption(
            "Roles created with this access get the boundary: " + ", ".join(request.boundary_arns)
        )
    notes = st.text_input(
        "Note (for forwarding to an admin, or the reason for denying)",
        key="console_notes",
        max_chars=500,
    )
    buttons = st.columns(6)
    actions = [
        (ConsoleAction.ASSOCIATE, "Open request"),
        (ConsoleAction.FORWARD, "Request approval"),
        (ConsoleAction.ACCEPT, "Accept"),
        (ConsoleAction.SEND, "Share access"),
        (ConsoleAction.APPROVE, "Allow access"),
        (ConsoleAction.REJECT, "Deny"),
    ]
    for column, (action, label) in zip(buttons, actions, strict=True):
        if column.button(label, key=f"console_{action.value}", width="stretch"):
            services.customer_console.act(
                member, chosen.aws_account_id, chosen.delegation_request_id, persona, action, notes
            )
            st.toast(f"{label}: done")
            st.rerun()
