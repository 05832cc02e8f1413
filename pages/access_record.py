"""The customer's access record: what Vell saw and changed, opened from a signed link.

Read-only and without staff sign-in (Home.py shows this page alone). Everything shown comes from
``services.access_records.open_link``, which refuses a changed, expired or unknown link and
names no one at Vell but the rep.
"""

from __future__ import annotations

import streamlit as st

from vell_core.services.access_record import AccessRecord, calls_chart, calls_frame, screens_frame
from vell_core.ui.bridge import friendly_errors, get_services, record_link_token
from vell_core.ui.tables import show_table
from vell_core.views.csv_export import frame_csv
from vell_core.views.formatting import when
from vell_core.views.text import plain

services = get_services()
st.title("What Vell saw and changed in your account")
if services.settings.is_sandbox:
    st.caption(":orange-badge[:material/science: SANDBOX] this record comes from simulated AWS")


def show(record: AccessRecord) -> None:
    """The record: who and when, what changed, the screens, every call, the export."""
    st.write(
        f"**{plain(record.company)}** (AWS account {plain(record.aws_account_id)}) gave Vell "
        f"temporary access ({plain(record.path)}, set up by **{plain(record.rep_name)}**) "
        f"from {when(record.granted_at)} until {when(record.access_ends_at)}. That access has "
        "ended. Every call Vell made with it is listed here, grouped by the screen the Vell "
        "team had open; the same calls are in your CloudTrail (match them by AWS request id)."
    )
    if record.truncated:
        st.warning(f"Only the first {record.calls:,} calls are shown: there were more.")
    cols = st.columns(3)
    cols[0].metric("Calls with your credentials", record.calls)
    cols[1].metric("Screens opened", len(record.screens))
    cols[2].metric("Changes made", record.changes)
    st.subheader("What Vell changed")
    if record.changed_screens:
        show_table(screens_frame(record.changed_screens), key="ar_changed")
    else:
        st.success("Vell changed nothing in your account.")
    st.subheader("What Vell saw, screen by screen")
    if not record.screens:
        st.info("Vell made no calls with this access.")
        return
    chart = calls_chart(record)
    if chart is not None:
        st.altair_chart(chart)
    show_table(screens_frame(record.screens), key="ar_screens")
    with st.expander(f"Every call ({record.calls})"):
        show_table(calls_frame(record), key="ar_calls")
    st.download_button(
        "Download CSV",
        frame_csv(calls_frame(record)),
        "vell-access-record.csv",
        "text/csv",
        key="ar_csv",
        on_click="ignore",
    )
    st.caption(
        f"This page is read-only. The link works until {when(record.link_expires_at)}; "
        "ask your Vell contact if you need it again later."
    )


with friendly_errors("open an access record"):
    show(services.access_records.open_link(record_link_token() or ""))
