"""Trials desk (CS): demos and trials by time left; renew, promote, prompt, offboard."""

from __future__ import annotations

from typing import Any

import pandas as pd
import streamlit as st

from vell_core.services.delegation import new_launch_token
from vell_core.services.promotion import StepOutcome, StepState
from vell_core.services.trials import TrialFilter
from vell_core.ui.bridge import friendly_errors, get_services, require_page
from vell_core.ui.tables import show_table
from vell_core.views.csv_export import records_csv
from vell_core.views.text import plain

member = require_page("promotion.run")
services = get_services()
RENEW_TOKENS = "td_renew_tokens"  # one launch token per delegation, so a double click renews once
STATE_ICONS = {
    StepState.DONE: ":material/check_circle:",
    StepState.FAILED: ":material/error:",
    StepState.WAITING: ":material/hourglass_top:",
    StepState.PENDING: ":material/radio_button_unchecked:",
}

st.title("Trials desk")
st.caption(
    "Demos and trials, least time left first. Time left is the credential countdown while "
    "access is live, otherwise the time until AWS expires the request."
)

# What fits at 1280 px: "Time left" is whichever of the access or the request ends first; both,
# the AWS state and the request number are in the CSV.
ON_SCREEN = ("Company", "Account", "Path", "Rep", "Status", "Time left", "Prompt sent", "Promotion")

cols = st.columns([2, 2, 1])
with friendly_errors("load reps"):
    reps = {m.name: m.id for m in services.trials.reps(member)}
chosen_reps = cols[0].multiselect("Rep", list(reps), key="td_rep")
company = cols[1].text_input("Company contains", key="td_company")
include_ended = cols[2].toggle("Include ended", key="td_ended")
filters = TrialFilter(
    rep_ids=tuple(reps[name] for name in chosen_reps),
    company_contains=company,
    include_ended=include_ended,
)


@st.fragment(run_every=max(services.settings.vell_live_refresh_seconds * 15, 15))
def trials_table() -> None:
    """The live table (countdowns refresh on their own)."""
    with friendly_errors("list trials"):
        records = [row.record() for row in services.trials.list(member, filters)]
        if not records:
            st.info("No live demos or trials match these filters.")
            return
        show_table(pd.DataFrame(records), on_screen=ON_SCREEN)
        st.download_button(
            "Download CSV",
            records_csv(records),
            "trials.csv",
            "text/csv",
            key="td_csv",
            on_click="ignore",
        )


trials_table()

with friendly_errors("list trials"):
    rows = services.trials.list(member, filters)
if not rows:
    st.stop()
labels = {
    r.delegation.id: f"#{r.delegation.id} · {r.delegation.company} · {r.delegation.path.value}"
    for r in rows
}
picked = st.selectbox("Act on", list(labels), format_func=labels.__getitem__, key="td_pick")
row = next(r for r in rows if r.delegation.id == picked)
st.subheader(plain(labels[picked]))


def show_step(status: Any, outcome: StepOutcome) -> None:
    """One promotion step's outcome inside the st.status box."""
    status.write(
        f"{STATE_ICONS[outcome.state]} **{outcome.label}** — {plain(outcome.detail or '…')}"
    )


renew_col, prompt_col = st.columns(2)
with renew_col:
    st.markdown("**Renew** — a new request with the same parameters.")
    if renew_col.button("Renew", key="td_renew"):
        tokens = st.session_state.setdefault(RENEW_TOKENS, {})
        token = tokens.setdefault(picked, new_launch_token())
        with friendly_errors("renew"):
            new = services.trials.renew(member, picked, token)
            st.success(f"New request #{new.id} sent. Share the approval link with the customer:")
            st.code(new.console_deep_link or "—", language=None)
with prompt_col:
    st.markdown("**Ready for production?** — record that the prompt went out.")
    note = st.text_input("Note (optional)", key="td_prompt_note")
    if st.button("Record prompt sent", key="td_prompt"):
        with friendly_errors("record prompt"):
            at = services.trials.record_prompt_sent(member, picked, note)
            st.success(f"Recorded at {at:%Y-%m-%d %H:%M} UTC.")
    if row.prompt_sent_at:
        st.caption(f"Last prompt: {row.prompt_sent_at:%Y-%m-%d %H:%M} UTC")

st.markdown("**Promote to production**")
st.caption(
    "Hybrid: Vell creates a bounded, read-only role with an onboarding delegation (a demo or "
    "trial cannot create roles, so an onboarding request is sent first and the customer "
    "approves it). CloudFormation: the customer launches Vell's stack from a prefilled link."
)
hybrid_col, cfn_col = st.columns(2)
if hybrid_col.button("Promote (hybrid)", key="td_promote", type="primary"):
    with st.status("Promoting…", expanded=True) as status, friendly_errors("promote"):
        view = services.trials.promote_hybrid(member, picked, lambda o: show_step(status, o))
        if view.done:
            status.update(label="Promoted: permanent connection active", state="complete")
            st.success(f"Role {plain(view.role_arn)} — connection #{view.connection_id}.")
        elif view.status.value == "waiting":
            status.update(label="Waiting for the customer's approval", state="running")
            st.info("Send the customer this approval link, then press Promote again:")
            st.code(view.waiting_link or "—", language=None)
        else:
            status.update(label="Promotion stopped — fix and press Promote again", state="error")
            st.error(plain(view.last_error or "A step failed."))
if cfn_col.button("Promote (CloudFormation)", key="td_cfn"):
    with friendly_errors("CloudFormation setup"):
        setup = services.trials.promote_cloudformation(member, picked)
        st.write(f"Send {plain(setup.company)} this quick-create link:")
        st.code(setup.quick_create_url, language=None, wrap_lines=True)
        st.caption(f"External ID (already in the link): {setup.external_id}")
        console = "sandbox AWS console" if setup.sandbox_console else "AWS quick-create page"
        st.link_button(f"Open the {console}", setup.quick_create_url)
        st.caption(
            "When the customer sends back the stack's RoleArn, validate it on the "
            "**Production setup** page (this setup is listed under Continue a setup)."
        )

with st.expander("Offboarding checklist"):
    if st.button("Show checklist", key="td_offboard"):
        with friendly_errors("offboarding"):
            checklist = services.trials.offboarding(member, picked)
            for item in checklist.items:
                st.checkbox(
                    item.label,
                    value=item.done,
                    disabled=True,
                    help=item.detail,
                    key=f"td_off_{item.label}",
                )
                st.caption(plain(item.detail))
            st.caption("Disconnect and confirm on the **Connections** page.")
