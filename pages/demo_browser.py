"""Live demo: the customer's listings, offers, agreements and change sets, synced live.

One page with four tabs, so the delegation picker, the access countdown and the sync progress
sit in one place above all of them. Data comes from ``services.sync`` (per rep, per delegation,
in memory, expiring with the credentials); shaping is in ``vell_core.views.marketplace``.
"""

from __future__ import annotations

from typing import Any

import pandas as pd
import streamlit as st

from vell_core.domain.errors import CredentialsUnavailable, VellError
from vell_core.services.listing_update import ListingEdit, new_request_token
from vell_core.services.sync.progress import DelegationChoice, DemoState, SyncProgress
from vell_core.ui.bridge import friendly_errors, get_services, require_page
from vell_core.ui.tables import show_table
from vell_core.views import marketplace as views
from vell_core.views.csv_export import frame_csv_later
from vell_core.views.demo_charts import bar_spec
from vell_core.views.formatting import (
    countdown,
    day,
    display_frame,
    duration_text,
    when,
)
from vell_core.views.text import plain

member = require_page("demo.browse")
services = get_services()
sync = services.sync
REFRESH = services.settings.vell_live_refresh_seconds
SETTLED_REFRESH = max(REFRESH * 5, 10.0)  # the header once the sync has finished
PICK = "demo_delegation"
PHASE = "demo_phase"
CHANGE = "demo_change"
FULL_RUN = "demo_full_run"
EDITING = "demo_editing"
TAB = "demo_tab"
TAB_NAMES = ["Listings", "Offers", "Agreements", "Change sets"]
# Each tab's picker; kept while its tab is closed (Streamlit drops an unrendered widget's value).
PICKERS = ("demo_product_pick", "demo_offer_pick", "demo_agreement_pick", "demo_change_set_pick")
NONE = "—"

st.title("Live demo")


def csv_button(frame: pd.DataFrame, name: str, key: str) -> None:
    """CSV download of the data behind a table (same rows and headers, values unformatted)."""
    st.download_button(
        "Download CSV",
        frame_csv_later(frame),
        f"{name}.csv",
        "text/csv",
        key=key,
        on_click="ignore",
    )


# Terms: the value gets the room; a term's long id stays in the table, narrow, last.
TERM_COLUMNS = {"Term id": {"width": 90}}


def table(
    shown: pd.DataFrame,
    key: str | None = None,
    columns: Any = None,
    on_screen: tuple[str, ...] | None = None,
) -> None:
    """A table of text already formatted for people (``marketplace_views.*_table``)."""
    show_table(shown, key=key, columns=columns, on_screen=on_screen, as_text=True)


def chart(spec: dict[str, Any] | None) -> None:
    """A small bar chart (reads faster than the table beside it); nothing when empty."""
    if spec is not None:
        st.vega_lite_chart(spec, width="stretch")


def pick_delegation(choices: list[DelegationChoice]) -> DelegationChoice:
    """The delegation to browse: from the URL (``?delegation=``), then the session."""
    by_id = {c.delegation_id: c for c in choices}
    wanted = st.query_params.get("delegation", "")
    if PICK not in st.session_state or st.session_state[PICK] not in by_id:
        first = (
            int(wanted) if wanted.isdigit() and int(wanted) in by_id else choices[0].delegation_id
        )
        st.session_state[PICK] = first
    chosen = st.selectbox(
        "Customer",
        list(by_id),
        format_func=lambda i: by_id[i].label + ("" if by_id[i].live else ended_text(by_id[i])),
        key=PICK,
    )
    st.query_params["delegation"] = str(chosen)
    return by_id[chosen]


def ended_text(choice: DelegationChoice) -> str:
    """The picker's suffix for a delegation whose access has ended."""
    return f" — expired {when(choice.expires_at)}" if choice.expires_at else " — access ended"


def render_expired(choice: DelegationChoice) -> None:
    """After expiry: say so (and when), and offer renewal right here."""
    ended = f" at {when(choice.expires_at)}" if choice.expires_at else ""
    st.warning(
        f"Expired: the temporary access for **{plain(choice.label)}** ended{ended}, so Vell can no "
        "longer read this customer's Marketplace data. Nothing was kept after expiry."
    )
    renew, other = st.columns([1, 4])
    if choice.renewable and renew.button("Renew", type="primary", key="demo_renew"):
        st.switch_page("pages/wizard.py", query_params={"renew": str(choice.delegation_id)})
    if other.button("All delegations", key="demo_all_delegations"):
        st.switch_page("pages/delegations.py")
    st.caption(
        "Renew asks the customer to approve a new request for the same access; you check it "
        "in the preview before it is sent."
    )


def phase(progress: SyncProgress) -> tuple:
    """When this changes, the tables are re-rendered (not on every progress tick)."""
    complete = tuple(k.kind.value for k in progress.kinds if k.complete)
    return (progress.state, progress.first_screen_ready, complete, int(progress.fraction * 10))


def live_header(delegation_id: int) -> None:
    """Countdown and sync progress, refreshed on their own."""
    if st.session_state.get(PICK) != delegation_id:
        return  # a tick queued before the rep picked another customer: draw nothing stale
    try:
        state = sync.header(member, delegation_id)
    except CredentialsUnavailable:
        st.rerun()  # the whole page then shows the expiry message
        return
    cols = st.columns([3, 2, 5])  # wide enough for "11 h 59 min" at 1280 px
    cols[0].metric("Access ends in", countdown(state.expires_at, state.now))
    cols[1].metric("Mode", "Trial" if state.writable else "Demo")
    cols[1].caption("Read and write: listing updates" if state.writable else "Read-only")
    progress = state.progress
    with cols[2]:
        if progress.state == "failed":
            st.error(plain(progress.error or "The sync stopped."))
        else:
            label = " · ".join(k.label for k in progress.kinds[1:])
            st.progress(progress.fraction, text=f"Sync {progress.fraction:.0%} — {label}")
    if st.session_state.pop(FULL_RUN, False):
        return  # the tables below were just drawn from the main run's snapshot
    if phase(progress) != st.session_state.get(PHASE):
        st.session_state[PHASE] = phase(progress)
        st.rerun()


def listings_tab(state: DemoState) -> None:
    """Products table, one product's detail, its health check, and the trial-only update."""
    frame = views.products_frame(state.snapshot, state.now)
    cols = st.columns(4)
    cols[0].metric("Products", len(frame))
    cols[1].metric("Public", int((frame["Visibility"] == "Public").sum()))
    cols[2].metric("Limited", int((frame["Visibility"] == "Limited").sum()))
    cols[3].metric("Other", int((~frame["Visibility"].isin(["Public", "Limited"])).sum()))
    table(views.products_table(frame), key="demo_products_table")
    csv_button(frame, "products", "demo_products_csv")
    titles = views.product_choices(frame)
    picked = st.selectbox(
        "Open a product",
        [NONE, *titles],
        format_func=lambda p: titles.get(p, p),
        key="demo_product_pick",
    )
    if picked != NONE:
        with friendly_errors("load the product"):
            product_view(sync.product(member, state.delegation.id, picked), picked)


def product_view(state: DemoState, product_id: str) -> None:
    """Title, descriptions, highlights, categories, dimensions, versions, offers, health."""
    detail = views.product_detail(state.snapshot, product_id, state.now)
    st.subheader(plain(detail.title))
    st.caption(
        f"{plain(product_id)} · {plain(detail.entity_type)} · {plain(detail.visibility)} · "
        f"last change {when(detail.last_change)}"
    )
    st.markdown(f"**Short description** — {plain(detail.short_description) or '_none_'}")
    with st.expander("Long description"):
        st.markdown(plain(detail.long_description, multiline=True) or "_none_")
    st.markdown("**Highlights**")
    st.markdown("\n".join(f"- {plain(h)}" for h in detail.highlights) or "_none_")
    st.markdown(
        f"**Categories:** {plain(', '.join(detail.categories)) or '_none_'}  \n"
        f"**Search keywords:** {plain(', '.join(detail.keywords)) or '_none_'}  \n"
        f"**Support:** {plain(detail.support) or '_none_'}"
    )
    st.markdown("**Dimensions**")
    table(display_frame(detail.dimensions))
    st.markdown("**Versions**")
    table(display_frame(detail.versions))
    st.markdown("**Offers for this product**")
    offer_list(views.offers_table(detail.offers))
    health_view(detail)
    update_control(state, detail)


def health_view(detail: views.ProductDetail) -> None:
    """The listing health check with what to do about each finding."""
    if detail.health is None:
        return
    st.markdown(f"#### Listing health: {detail.health.score}/100")
    if not detail.health.findings:
        st.success("No issues found by the listing checks.")
    rows = [
        {"Severity": f.severity, "Problem": f.problem, "Suggestion": f.suggestion}
        for f in detail.health.findings
    ]
    # A list, not a grid: each suggestion is a sentence, and a grid cut it off at the frame.
    st.markdown(
        "\n".join(
            f"- **{plain(row['Severity'].capitalize())}** · {plain(row['Problem'])}  \n"
            f"  _What to do:_ {plain(row['Suggestion'])}"
            for row in rows
        )
    )
    health = pd.DataFrame(rows, columns=["Severity", "Problem", "Suggestion"])
    csv_button(health, f"listing-health-{detail.product_id}", "demo_health_csv")


def offer_list(shown: pd.DataFrame) -> None:
    """The product's offers, one line each (names and pricing are sentences a grid cut off)."""
    if shown.empty:
        st.caption("No offers for this product yet.")
        return
    st.markdown(
        "\n".join(
            f"- **{plain(row['Name'])}** · {plain(row['Audience'])} · {plain(row['Status'])}"
            f" · {plain(row['Pricing'])} · {plain(row['Offer id'])}"
            for _, row in shown.iterrows()
        )
    )


def update_control(state: DemoState, detail: views.ProductDetail) -> None:
    """Trial only: edit short description / highlights behind a confirmation dialog."""
    refusal = state.write_refusal
    if st.button(
        "Update short description or highlights",
        key="demo_update_open",
        disabled=refusal is not None or not detail.loaded,
        help=refusal,
    ):
        st.session_state[EDITING] = detail.product_id
    if refusal is None and st.session_state.get(EDITING) == detail.product_id:
        edit_dialog(state.delegation.id, detail)
    if refusal is not None:
        st.caption(f":material/lock: {refusal}")
    change_progress_panel(state.delegation.id)


def close_editor() -> None:
    """The rep dismissed the dialog without sending anything."""
    st.session_state.pop(EDITING, None)


@st.dialog("Update the listing in the customer's AWS account", on_dismiss=close_editor)
def edit_dialog(delegation_id: int, detail: views.ProductDetail) -> None:
    """Confirmation dialog: one idempotency token per opening."""
    token_key = f"demo_edit_token_{detail.product_id}"
    token = st.session_state.setdefault(token_key, new_request_token())
    short = st.text_area(
        "Short description", detail.short_description, max_chars=1000, key="demo_edit_short"
    )
    lines = st.text_area(
        "Highlights (one per line, up to 3)", "\n".join(detail.highlights), key="demo_edit_hl"
    )
    highlights = tuple(line for line in lines.splitlines() if line.strip())
    st.caption(
        "Vell sends StartChangeSet (UpdateInformation) with the customer's trial credentials. "
        "AWS prepares, then applies the change; progress shows below the product."
    )
    if st.button("Confirm and send to AWS", type="primary", key="demo_edit_confirm"):
        edit = ListingEdit(
            product_id=detail.product_id,
            entity_type=f"{detail.entity_type}@1.0",
            short_description=short if short != detail.short_description else None,
            highlights=highlights if highlights != detail.highlights else None,
        )
        with friendly_errors("update the listing"):
            progress = services.listing_updates.submit(member, delegation_id, edit, token)
            st.session_state[CHANGE] = {"id": progress.change_set_id, "product": edit.product_id}
            st.session_state.pop(token_key, None)
            st.session_state.pop(EDITING, None)
            st.rerun()


def change_progress_panel(delegation_id: int) -> None:
    """The submitted change's progress: refreshed on its own only while AWS is still applying
    it (a tick with nothing in flight was a run every second on every open product)."""
    tracked = st.session_state.get(CHANGE)
    in_flight = bool(tracked) and not tracked.get("final")
    every = REFRESH if in_flight else None
    st.fragment(change_progress, run_every=every, key="demo_change_progress")(delegation_id)


def change_progress(delegation_id: int) -> None:
    """Live DescribeChangeSet progress of the change this rep submitted."""
    tracked = st.session_state.get(CHANGE)
    if not tracked:
        return
    if not tracked.get("final"):
        with friendly_errors("read the change set"):
            progress = services.listing_updates.progress(
                member, delegation_id, tracked["id"], product_id=tracked["product"]
            )
            tracked["status"] = progress.status
            tracked["errors"] = list(progress.errors)
            tracked["final"] = progress.finished
            if progress.finished:
                st.rerun()  # show the updated listing
    steps = ["PREPARING", "APPLYING", "SUCCEEDED"]
    status = tracked.get("status", "PREPARING")
    done = steps.index(status) + 1 if status in steps else 3
    st.progress(done / 3, text=f"Change set `{tracked['id']}`: {status}")
    if status == "SUCCEEDED":
        st.success("AWS applied the update; the listing above shows the new text.")
    elif status in ("FAILED", "CANCELLED"):
        st.error(f"The change set {status.lower()}. " + plain(" ".join(tracked.get("errors", []))))


def offers_tab(state: DemoState) -> None:
    """Public vs private, state, targeting, pricing summary."""
    offers = views.offers_frame(state.snapshot, state.now)
    cols = st.columns(4)
    cols[0].metric("Offers", len(offers))
    cols[1].metric("Public", int((offers["Audience"] == "Public").sum()))
    cols[2].metric("Private", int((offers["Audience"] == "Private").sum()))
    cols[3].metric("Active", int((offers["Status"] == "Active").sum()))
    chart(
        bar_spec(
            views.offer_mix(offers),
            value="Offers",
            category="Status",
            title="Offers by status",
            color="Audience",
        )
    )
    table(views.offers_table(offers), key="demo_offers_table", on_screen=views.OFFER_SCREEN_COLUMNS)
    csv_button(offers, "offers", "demo_offers_csv")
    names = views.offer_choices(offers)
    picked = st.selectbox(
        "Open an offer",
        [NONE, *names],
        format_func=lambda o: names.get(o, o),
        key="demo_offer_pick",
    )
    if picked != NONE:
        with friendly_errors("load the offer"):
            fresh = sync.offer(member, state.delegation.id, picked)
            detail = fresh.snapshot.offer_details.get(picked)
            terms = (detail or {}).get("DetailsDocument", {}).get("Terms") or []
            name = offers.loc[offers["Offer id"] == picked, "Name"].iloc[0]
            st.markdown(f"**{plain(name)}** — {plain(views.pricing_summary(terms))}")
            st.caption(f"Offer id {plain(picked)}")
            terms_shown = views.terms_table(views.offer_terms_frame(detail))
            table(terms_shown, key="demo_offer_terms", columns=TERM_COLUMNS)


def agreements_tab(state: DemoState) -> None:
    """Pipeline, contract value, renewals, by product, and one agreement's terms."""
    agreements = views.agreements_frame(state.snapshot, state.now)
    renewals = views.renewals_frame(agreements, state.now)
    totals = views.value_totals(agreements)
    usd = totals[totals["Currency"] == "USD"]
    cols = st.columns(4)
    cols[0].metric("Agreements", len(agreements))
    cols[1].metric("Active", int((agreements["Status"] == "ACTIVE").sum()))
    cols[2].metric("Active TCV (USD)", views.money(usd["Active TCV"].iloc[0]) if len(usd) else NONE)
    cols[3].metric("Active ACV (USD)", views.money(usd["Active ACV"].iloc[0]) if len(usd) else NONE)
    described = int(agreements["TCV"].notna().sum())
    if described < len(agreements):
        st.caption(f"Values in so far for {described} of {len(agreements)} agreements.")
    left, right = st.columns(2)
    buckets = views.renewal_buckets(renewals)
    with left:
        chart(
            bar_spec(
                views.status_counts(agreements),
                value="Agreements",
                category="Status",
                title="Agreements by status",
            )
        )
    with right:
        chart(
            bar_spec(
                buckets,
                value="TCV (USD)",
                category="Bucket",
                title="Renewals due (USD TCV)",
                money=True,
                order=views.RENEWAL_BUCKET_LABELS,
            )
        )
    tables = {
        "Contract value by currency": (totals, views.totals_table, "contract-value"),
        "Pipeline by status": (
            views.pipeline_by_status(agreements),
            views.pipeline_table,
            "pipeline",
        ),
        "Renewals due in 30/60/90 days": (buckets, views.buckets_table, "renewal-buckets"),
        "Agreements due for renewal": (
            renewals,
            lambda frame: views.agreements_table(frame, bucket=True),
            "renewals",
        ),
    }
    for title, (frame, shown, name) in tables.items():
        st.markdown(f"**{title}**")
        table(shown(frame), key=f"demo_{name}")
        csv_button(frame, name, f"demo_{name}_csv")
    products = views.by_product(agreements)
    usd_products = products[products["Currency"] == "USD"].head(15)
    chart(
        bar_spec(
            usd_products,
            value="Active TCV",
            category="Product",
            title="Active TCV by product (USD)",
            money=True,
        )
    )
    table(views.by_product_table(products), key="demo_by_product")
    csv_button(products, "agreements-by-product", "demo_by_product_csv")
    st.markdown("**All agreements**")
    table(views.agreements_table(agreements), key="demo_agreements")
    csv_button(agreements, "agreements", "demo_agreements_csv")
    agreement_picker(state, views.agreement_choices(agreements))


def agreement_picker(state: DemoState, labels: dict[str, str]) -> None:
    """Open one agreement: fetched at once if the background sync has not reached it."""
    picked = st.selectbox(
        "Open an agreement",
        [NONE, *labels],
        format_func=lambda a: labels.get(a, a),
        key="demo_agreement_pick",
    )
    if picked == NONE:
        return
    with friendly_errors("load the agreement"):
        fresh = sync.agreement(member, state.delegation.id, picked)
        detail = views.agreement_detail(fresh.snapshot, picked, fresh.now)
        row = detail.row
        st.subheader(plain(views.agreement_title(row)))
        cols = st.columns(4)
        cols[0].metric("Status", views.status_text(row["Derived status"]))
        cols[1].metric("TCV", views.money(row["TCV"], row["Currency"] or "USD"))
        cols[2].metric("ACV", views.money(row["ACV"], row["Currency"] or "USD"))
        cols[3].metric("Pricing model", row["Pricing model"] or NONE)
        st.caption(
            f"Product {plain(row['Product'])} · buyer {plain(row['Buyer account'])} · "
            f"{day(row['Start'])} → {day(row['End'])} · agreement "
            f"{plain(picked)} · offer {plain(row['Offer id'])}"
        )
        if detail.skipped_unknown_terms:
            st.caption(f"{detail.skipped_unknown_terms} term type(s) unknown to this SDK skipped.")
        table(views.terms_table(detail.terms), key="demo_terms", columns=TERM_COLUMNS)
        csv_button(detail.terms, f"terms-{picked}", "demo_terms_csv")


def change_sets_tab(state: DemoState) -> None:
    """History and status of change sets (the listing timeline)."""
    history = views.change_sets_frame(state.snapshot)
    chart(
        bar_spec(
            views.change_set_status_counts(history),
            value="Change sets",
            category="Status",
            title="Change sets by status",
        )
    )
    table(
        views.change_sets_table(history),
        key="demo_change_sets",
        on_screen=views.CHANGE_SET_SCREEN_COLUMNS,
    )
    csv_button(history, "change-sets", "demo_change_sets_csv")
    labels = views.change_set_choices(history)
    picked = st.selectbox(
        "Open a change set",
        [NONE, *labels],
        format_func=lambda c: labels.get(c, c),
        key="demo_change_set_pick",
    )
    if picked != NONE:
        with friendly_errors("load the change set"):
            described = sync.change_set(member, state.delegation.id, picked)
            status = views.status_text(described.get("Status"))
            st.markdown(f"**{plain(described.get('ChangeSetName'))}** — {plain(status)}")
            if described.get("FailureDescription"):
                st.error(plain(described["FailureDescription"]))
            st.caption(f"Change set id {plain(picked)}")
            table(views.changes_table(views.change_set_changes_frame(described)))


requested = st.query_params.get("delegation", "")
shown = st.session_state.get(PICK) or (int(requested) if requested.isdigit() else None)
choices = sync.choices(member, include=shown)
if not choices:
    st.info(
        "No connected customer yet. Launch a demo from **New delegation**; once the customer "
        "approves, their listings appear here within seconds."
    )
    st.stop()
choice = pick_delegation(choices)
# The header fragment always owns this slot, so a refresh tick that was already queued when
# the page changed (another customer, or expiry) can never draw over the message below it.
header_slot = st.container()
try:
    state = sync.open(member, choice.delegation_id, wait=2.0)
except CredentialsUnavailable:
    render_expired(choice)
    st.stop()
except VellError as error:
    st.error(plain(error.message))
    st.stop()
st.session_state[PHASE] = phase(state.progress)
st.session_state[FULL_RUN] = True
with header_slot:
    # Once the sync has finished, only the countdown (to the minute) and the expiry are left
    # to watch: a slower tick, as every tick of every open tab is a run on the server.
    every = SETTLED_REFRESH if state.progress.finished else REFRESH
    st.fragment(live_header, run_every=every, key="demo_live_header")(choice.delegation_id)
if st.button("Refresh tables", key="demo_refresh"):
    st.rerun()
for picker in PICKERS:
    if picker in st.session_state:
        st.session_state[picker] = st.session_state[picker]  # survives its tab being closed
# Only the open tab runs and is sent (issue 13: building and drawing all four tabs' tables and
# charts on every run made opening Live demo the slowest click a rep makes).
tabs = st.tabs(TAB_NAMES, key=TAB, on_change="rerun")
renderers = (listings_tab, offers_tab, agreements_tab, change_sets_tab)
for tab, render in zip(tabs, renderers, strict=True):
    if tab.open:
        with tab:
            render(state)
stats = state.progress.stats
first = stats.first_screen_seconds
st.caption(
    f"{stats.api_calls} AWS calls with the customer's credentials (all in their CloudTrail)"
    + (f" · first screen in {duration_text(first)}" if first is not None and first >= 1 else "")
    + (f" · first screen in {first * 1000:.0f} ms" if first is not None and first < 1 else "")
)
