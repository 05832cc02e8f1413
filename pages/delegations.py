"""Delegations: every request with filters, CSV export, and a detail view with its timeline
and its access record (what Vell did with the customer's credentials, and the customer's link).
"""

from __future__ import annotations

import uuid
from datetime import timedelta

import pandas as pd
import streamlit as st

from vell_core.aws.request_summary import SummaryStatus
from vell_core.domain.models import DelegationPath, DelegationStatus
from vell_core.domain.roles import can
from vell_core.services.access_record import calls_chart, calls_frame, screens_frame
from vell_core.services.delegation import DelegationFilter
from vell_core.services.nudges import ROOT_APPROVED_TEXT
from vell_core.ui.bridge import friendly_errors, get_services, require_page
from vell_core.ui.tables import show_table
from vell_core.views.csv_export import frame_csv, frame_csv_later
from vell_core.views.formatting import countdown, when
from vell_core.views.text import plain

member = require_page("delegation.read_own")
services = get_services()
st.title("Delegations")
LINK_VALIDITY = {"7 days": 7, "14 days": 14, "30 days": 30}
# What fits at 1280 px; AWS state, credentials, root approval and the number are in the CSV and
# in the detail below the table.
ON_SCREEN = ("Company", "Account", "Path", "Status", "Access ends in", "Rep", "Created")


def show_access_record(delegation_id: int) -> None:
    """Every call made with the customer's credentials, by screen; the customer's link."""
    record = services.access_records.for_staff(member, delegation_id)
    st.subheader("What Vell did with the customer's access")
    if record.truncated:
        st.warning(f"Only the first {record.calls:,} calls are shown: there were more.")
    cols = st.columns(3)
    cols[0].metric("Calls with their credentials", record.calls)
    cols[1].metric("Screens opened", len(record.screens))
    cols[2].metric("Changes made", record.changes)
    if record.screens:
        chart = calls_chart(record)
        if chart is not None:
            st.altair_chart(chart)
        show_table(screens_frame(record.screens), key="dl_record_screens")
        with st.expander(f"Every call ({record.calls})"):
            show_table(calls_frame(record), key="dl_record_calls")
        st.download_button(
            "Download record CSV",
            frame_csv(calls_frame(record)),
            f"access-record-{delegation_id}.csv",
            "text/csv",
            key="dl_record_csv",
            on_click="ignore",
        )
    else:
        st.caption("No calls have been made with this customer's credentials.")
    if not record.access_ended:
        st.caption(
            "Once the access has ended you can send the customer a read-only link to this record."
        )
        return
    left, right = st.columns([3, 1], vertical_alignment="bottom")
    validity = left.radio(
        "Customer link valid for", list(LINK_VALIDITY), index=1, horizontal=True, key="dl_rl_ttl"
    )
    if right.button("Create customer link", key="dl_record_link"):
        ttl = timedelta(days=LINK_VALIDITY[validity])
        link = services.access_records.issue_link(member, delegation_id, ttl)
        st.success(
            "Send the customer this read-only link to the record (it names no one at Vell but "
            f"the rep); it works until {when(link.expires_at)}:"
        )
        st.code(link.url, language=None)


SHOWN_NUDGES = 5

if can(member, "delegation.create"):
    with friendly_errors("check your waiting requests"):
        overdue = services.nudges.report(member).nudges
        if overdue:
            with st.container(border=True, key="dl_nudges"):
                st.markdown(f"**:material/schedule: Waiting longer than usual ({len(overdue)})**")
                for nudge in overdue[:SHOWN_NUDGES]:
                    st.markdown(
                        f"- **{plain(nudge.company)}** ({nudge.path.value}) — "
                        f"{plain(nudge.headline)}. {plain(nudge.action)}"
                    )
                if len(overdue) > SHOWN_NUDGES:
                    st.caption(f"…and {len(overdue) - SHOWN_NUDGES} more.")

cols = st.columns(4)
statuses = cols[0].multiselect("Status", [s.value for s in DelegationStatus], key="dl_status")
paths = cols[1].multiselect("Path", [p.value for p in DelegationPath], key="dl_path")
rep_ids: list[int] = []
if can(member, "delegation.read_all"):
    reps = {m.name: m.id for m in services.staff.list_active()}
    rep_ids = [reps[n] for n in cols[2].multiselect("Rep", list(reps), key="dl_rep")]
company = cols[3].text_input("Company contains", key="dl_company")

with friendly_errors("list delegations"):
    views = services.delegations.list(
        member,
        DelegationFilter(
            statuses=tuple(DelegationStatus(s) for s in statuses),
            paths=tuple(DelegationPath(p) for p in paths),
            rep_ids=tuple(rep_ids),
            company_contains=company,
        ),
    )
    now = services.clock.now()
    if not views:
        st.info(
            "No delegation requests match these filters yet. Launch one from **New delegation**."
        )
        st.stop()
    table = pd.DataFrame([v.record(now) for v in views])
    st.caption(f"{len(table)} request(s). Select a row for its timeline.")
    selection = show_table(
        table,
        key="dl_table",
        on_screen=ON_SCREEN,
        on_select="rerun",
        selection_mode="single-row",
    )
    st.download_button(
        "Download CSV",
        frame_csv_later(table),
        "delegations.csv",
        "text/csv",
        key="dl_csv",
        on_click="ignore",
    )
    chosen = selection.selection.rows if selection and selection.selection else []
    if chosen:
        detail = services.delegations.get(member, int(table.iloc[chosen[0]]["Request #"]))
        st.subheader(f"{plain(detail.company)} — {detail.path.value}")
        cols = st.columns(4)
        cols[0].metric("Status", detail.display_status(now).value)
        cols[1].metric("AWS state", detail.aws_state.value if detail.aws_state else "—")
        cols[2].metric("State expires in", countdown(detail.aws_state_expires_at, now))
        cols[3].metric("Access ends in", countdown(detail.credentials_expire_at, now))
        st.write(
            f"**Request id:** `{detail.delegation_request_id or '—'}`  ·  "
            f"**Approver:** {plain(detail.approver_id or '—')}  ·  "
            f"**Rep:** {plain(detail.rep_name)}"
        )
        if detail.console_deep_link:
            st.code(detail.console_deep_link, language=None)
        if detail.rejection_reason:
            st.error(f"Rejected: {plain(detail.rejection_reason)}")
        if detail.root_approved:
            st.warning(ROOT_APPROVED_TEXT, icon=":material/gpp_maybe:")
        entered = [e.occurred_at for e in detail.timeline if e.state is detail.aws_state]
        nudge = services.nudges.for_request(
            detail.aws_state,
            entered[-1] if entered else None,
            detail.aws_state_expires_at,
            detail.session_duration,
        )
        if nudge is not None and detail.rep_id == member.id:
            st.warning(
                f"**{plain(nudge.headline)}.** {plain(nudge.action)}", icon=":material/schedule:"
            )
        summary = detail.aws_summary
        if summary is not None and summary.status is SummaryStatus.AVAILABLE:
            with st.expander("AWS's summary of this request (as AWS wrote it)"):
                st.markdown(plain(summary.content, multiline=True))
        notice = detail.exchange_notice(now)
        if notice is not None:
            show = {"info": st.info, "warning": st.warning, "error": st.error}
            show[notice.level.value](plain(notice.message))
            if notice.action_label and st.button(
                notice.action_label, type="primary", key="dl_exchange_restart"
            ):
                # The wizard reads its state from the session: open it on Choose path.
                st.session_state["wizard_state"] = {
                    "step": 2,
                    "session_id": str(uuid.uuid4()),
                    "company": notice.action_company or detail.company,
                    "account": detail.aws_account_id,
                }
                st.switch_page("pages/wizard.py")
        if detail.ended_at(now):
            st.warning(f"Expired: access ended at {when(detail.ended_at(now))}.")
        offers_restart = notice is not None and notice.action_label is not None
        renew = detail.renewable and detail.rep_id == member.id
        if renew and not offers_restart and can(member, "delegation.create"):
            if st.button("Renew", type="primary", key="dl_renew"):
                st.switch_page("pages/wizard.py", query_params={"renew": str(detail.id)})
            st.caption(
                "Renew sends a new request for the same customer and path; you check it in the "
                "preview first."
            )
        show_table(
            [
                {"State": e.state.value, "What happened": e.label, "When": when(e.occurred_at)}
                for e in detail.timeline
            ],
            key="dl_timeline",
        )
        show_access_record(detail.id)
