"""Audit log (admins): customer-credential calls, staff actions and state changes; CSV export."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

import streamlit as st

from vell_core.services.audit_query import KINDS, AuditFilter, to_csv
from vell_core.ui.bridge import friendly_errors, get_services, require_page
from vell_core.ui.tables import show_table
from vell_core.views.formatting import when

member = require_page("audit.read")
services = get_services()
st.title("Audit log")
st.caption(
    "Every call made with a customer's credentials (the same calls the customer sees in "
    "CloudTrail), recorded staff actions, and every state a delegation request reached."
)


def day_start(day: object) -> datetime:
    """Midnight UTC of a date widget's value."""
    return datetime.combine(day, time.min, tzinfo=UTC)  # type: ignore[arg-type]


with friendly_errors("load the audit log"):
    today = services.clock.now().date()
    options = {option.label: option.id for option in services.audit_query.staff_options(member)}
    cols = st.columns([2, 2, 2, 2])
    staff = cols[0].multiselect("Staff member", list(options), key="audit_staff")
    customer = cols[1].text_input("Customer (account id or company)", key="audit_customer")
    period = cols[2].date_input(
        "Between (UTC)", (today - timedelta(days=30), today), key="audit_period"
    )
    kinds = cols[3].multiselect("Kind", list(KINDS), default=list(KINDS), key="audit_kinds")
    start, end = (period[0], period[-1]) if isinstance(period, tuple) and period else (today, today)
    filters = AuditFilter(
        staff_ids=tuple(options[name] for name in staff),
        customer=customer,
        since=day_start(start),
        until=day_start(end) + timedelta(days=1),
        kinds=tuple(kinds),
    )
    rows = services.audit_query.search(member, filters)
    if not rows:
        st.info("Nothing matches these filters.")
        st.stop()
    st.caption(f"{len(rows)} row(s), newest first (at most {filters.limit}).")
    show_table(
        [
            {
                "When": when(row.at),
                "Kind": row.kind,
                "Staff": row.staff,
                "Account": row.customer_account_id or "—",
                "Company": row.company or "—",
                "Action": row.action,
                "Outcome": row.outcome,
                "Detail": row.detail or "",
                "AWS request id": row.aws_request_id or "",
            }
            for row in rows
        ],
        key="audit_table",
    )
    st.download_button(
        "Download CSV",
        to_csv(rows),
        f"vell-audit-{start}-{end}.csv",
        "text/csv",
        key="audit_csv",
        on_click="ignore",
    )
