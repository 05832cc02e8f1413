"""Support tickets: import a CSV (all rows valid or nothing is written) or add one by hand."""

from __future__ import annotations

from datetime import UTC, datetime, time

import streamlit as st

from vell_core.services.tickets import TEMPLATE_CSV, TicketInput
from vell_core.ui.bridge import friendly_errors, get_services, require_page
from vell_core.ui.tables import show_table
from vell_core.views.text import plain

ADDED = "tickets_added_message"
CLEAR = "tickets_clear_form"  # set once a ticket is stored: the next run empties the form

member = require_page("tickets.write")
services = get_services()
st.title("Support tickets")
st.caption(
    "Setup tickets feed the ticket-reduction metric. Importing the same export again is safe: "
    "tickets already stored (same external ref) are skipped. The Leadership page picks up "
    "changes on its next run."
)

st.subheader("Import a CSV")
st.caption(
    "Columns: external_ref, opened_at (ISO date or date-time; UTC if no offset), subject, and "
    "optionally category (default setup), customer (12-digit account), company. If any row is "
    "invalid, nothing is imported and each problem is listed by row (the header is row 1)."
)
st.download_button(
    "Download a template",
    TEMPLATE_CSV,
    "vell-tickets-template.csv",
    "text/csv",
    key="tickets_template",
    on_click="ignore",
)
upload = st.file_uploader("CSV file", type=["csv"], key="tickets_upload")
if upload is not None and st.button("Import", type="primary", key="tickets_import"):
    with friendly_errors("import tickets"):
        report = services.tickets.import_csv(member, upload.getvalue())
        if report.ok:
            st.success(
                f"Imported {report.imported} ticket(s); {report.already_present} already present."
            )
        else:
            st.error(f"Nothing was imported: {len(report.errors)} problem(s) in the file.")
            show_table(report.error_records(), key="tickets_errors")

st.subheader("Add a ticket")
if st.session_state.pop(CLEAR, False):
    # Set before the widgets exist: dropping their keys would leave the browser showing the
    # old values (it keeps what it had), while set values are sent to it.
    st.session_state.update(
        ticket_ref="",
        ticket_day=services.clock.now().date(),
        ticket_category="setup",
        ticket_subject="",
        ticket_acct="",
        ticket_company="",
    )
# Kept on a refusal so nothing typed is lost; cleared (below) only once the ticket is stored.
# No max_chars: the browser drops a longer paste without a word; the service says what is wrong.
with st.form("tickets_manual", clear_on_submit=False):
    cols = st.columns(3)
    ref = cols[0].text_input("External ref (optional)", key="ticket_ref")
    day = cols[1].date_input("Opened on (UTC)", key="ticket_day")
    category = cols[2].text_input("Category", value="setup", key="ticket_category")
    subject = st.text_input("Subject", key="ticket_subject")
    cols = st.columns(2)
    customer = cols[0].text_input("Customer account (optional)", key="ticket_acct")
    company = cols[1].text_input("Company (optional)", key="ticket_company")
    submitted = st.form_submit_button("Add ticket", type="primary")
if submitted:
    with friendly_errors("add a ticket"):
        view = services.tickets.add(
            member,
            TicketInput(
                external_ref=ref.strip() or None,
                opened_at=datetime.combine(day, time.min, tzinfo=UTC),  # type: ignore[arg-type]
                subject=subject.strip(),
                category=category.strip().lower() or "setup",
                customer=customer.strip() or None,
                company=company.strip() or None,
            ),
        )
        st.session_state[ADDED] = f"Added ticket {view.external_ref or view.id}."
        st.session_state[CLEAR] = True
        st.rerun()
if ADDED in st.session_state:
    st.success(plain(st.session_state.pop(ADDED)))

st.subheader("Recent tickets")
with friendly_errors("list tickets"):
    rows = services.tickets.recent(member)
    if not rows:
        st.info("No tickets yet.")
    else:
        show_table(
            [
                {
                    "Opened (UTC)": row.opened_at.strftime("%Y-%m-%d %H:%M"),
                    "Ref": row.external_ref or "",
                    "Category": row.category,
                    "Subject": row.subject,
                    "Customer": row.customer or "",
                    "Company": row.company or "",
                    "Source": row.source,
                }
                for row in rows
            ],
            key="tickets_table",
        )
