"""The access record in a real browser: the rep's view on the delegation, then the customer's.

A one-hour trial is used on the Live demo (listings, a listing update, a change set); Delegations
shows every call by screen. The second test advances sandbox time by one hour, so the trial's
access ends and the rep sends the customer the signed link, which opens a read-only page in a
browser with no sign-in; a changed link is refused. Every other test launches its own
delegations, so the hour moved here expires nothing of theirs.
"""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.helpers import (
    APP_RUN_TIMEOUT_MS,
    LIVE_TIMEOUT_MS,
    VIEWPORT,
    advance_sandbox_time,
    allow_in_console,
    choose_path,
    click,
    download_csv,
    expect_connected,
    fill,
    main,
    open_in_console,
    open_page,
    rerun_after,
    screenshot,
    scroll_to,
    see_aws_apply_the_change,
    select_table_row,
    send_request,
    set_slider_to_minimum,
    sign_in,
    start_wizard,
    wait_for_app_run,
    watch_runs,
)
from tests.e2e.test_demo_browser import open_live_demo, open_tab, pick_first

pytestmark = pytest.mark.e2e

REP = "Maya Chen"
COMPANY = "E2E Record Co"
ACCOUNT = "602341187520"
RECORD_HEADING = "What Vell did with the customer's access"
CUSTOMER_TITLE = "What Vell saw and changed in your account"


def open_delegation(page: Page) -> None:
    """Delegations, filtered to the company, with its row selected (the detail below)."""
    open_page(page, "Delegations")
    fill(page, "Company contains", COMPANY)
    select_table_row(page, main(page).get_by_test_id("stDataFrame").first)
    expect(main(page).get_by_role("heading", name=RECORD_HEADING)).to_be_visible()


def use_the_trial(page: Page, sandbox_url: str) -> None:
    """Live demo: the listings sync, one listing update (a change), one change set opened."""
    open_live_demo(page, COMPANY)
    open_tab(page, "Listings")
    pick_first(page, "Open a product")
    update = main(page).get_by_role("button", name="Update short description or highlights")
    expect(update).to_be_enabled(timeout=LIVE_TIMEOUT_MS)
    rerun_after(page, update.click)
    dialog = page.get_by_role("dialog")
    field = dialog.get_by_label("Short description")
    field.fill("Changed from the Vell Delegation Desk access-record browser test.")
    rerun_after(page, lambda: field.press("Tab"), fragment=True)
    rerun_after(page, dialog.get_by_role("button", name="Confirm and send to AWS").click)
    see_aws_apply_the_change(page, sandbox_url)
    open_tab(page, "Change sets")
    pick_first(page, "Open a change set")
    wait_for_app_run(page)


def test_staff_see_every_call_by_screen_on_the_delegation(
    page: Page, app_url: str, sandbox_url: str
) -> None:
    """After a trial is used, the delegation shows its calls grouped by the screens opened."""
    sign_in(page, app_url, REP)
    start_wizard(page, COMPANY, ACCOUNT)
    choose_path(page, "Extended Trial")
    set_slider_to_minimum(page, "Trial length (hours)")
    send_request(page)
    open_in_console(page, COMPANY, "trial")
    allow_in_console(page, COMPANY, "trial")
    open_page(page, "New delegation")
    expect_connected(page, COMPANY)
    use_the_trial(page, sandbox_url)

    open_delegation(page)
    body = main(page)
    expect(body.get_by_text("Once the access has ended you can send the customer")).to_be_visible()
    expect(body.get_by_role("button", name="Create customer link")).to_have_count(0)
    scroll_to(body.get_by_role("heading", name=RECORD_HEADING))
    expect(body.get_by_test_id("stVegaLiteChart")).to_be_visible()
    screenshot(page, "50-access-record-staff")
    rows = download_csv(page, "Download record CSV")
    screens = {row["Screen"] for row in rows}
    assert {"Listings, offers and agreements", "A listing update", "A change set"} <= screens
    assert {row["By"] for row in rows} == {REP}
    changes = [row["Operation"] for row in rows if row["Changes"] == "yes"]
    assert changes == ["marketplace-catalog.StartChangeSet"]


def test_after_expiry_the_customer_opens_a_read_only_record_from_the_signed_link(
    page: Page, app_url: str
) -> None:
    """The hour passes; the rep creates the link; the customer reads the record without
    signing in and downloads it; the same link with a changed character is refused."""
    sign_in(page, app_url, REP)
    advance_sandbox_time(page)
    open_delegation(page)
    click(page, "Create customer link")
    body = main(page)
    code = body.get_by_test_id("stCode").last
    link = code.inner_text().strip()
    assert link.startswith(f"{app_url}/access_record?record=")
    code.scroll_into_view_if_needed()
    screenshot(page, "51-access-record-link")

    customer = page.context.browser.new_context(viewport=VIEWPORT)
    try:
        tab = customer.new_page()
        watch_runs(tab)
        tab.goto(link)
        expect(tab.get_by_role("heading", name=CUSTOMER_TITLE)).to_be_visible(
            timeout=APP_RUN_TIMEOUT_MS
        )
        wait_for_app_run(tab)
        record = main(tab)
        expect(record.get_by_text(re.compile(rf"set up by {REP}"))).to_be_visible()
        expect(record.get_by_role("heading", name="What Vell changed")).to_be_visible()
        expect(tab.get_by_text("Page not found")).to_have_count(0)
        expect(tab.get_by_test_id("stSidebarNav")).to_have_count(0)
        expect(record.get_by_test_id("stVegaLiteChart")).to_be_visible()
        screenshot(tab, "52-customer-access-record")
        scroll_to(record.get_by_role("heading", name="What Vell saw, screen by screen"))
        screenshot(tab, "53-customer-access-record-screens")
        rows = download_csv(tab, "Download CSV")
        assert {row["By"] for row in rows} == {REP}
        assert "marketplace-catalog.StartChangeSet" in {row["Operation"] for row in rows}

        token = link.split("record=", 1)[1]
        middle = len(token.split(".")[0]) // 2  # inside the claims: another delegation, say
        changed = token[:middle] + ("A" if token[middle] != "A" else "B") + token[middle + 1 :]
        tab.goto(link.replace(token, changed))
        expect(tab.get_by_text(re.compile("changed or cut short"))).to_be_visible(
            timeout=APP_RUN_TIMEOUT_MS
        )
        wait_for_app_run(tab)
        expect(main(tab).get_by_test_id("stDataFrame")).to_have_count(0)
        screenshot(tab, "54-customer-access-record-refused")
    finally:
        customer.close()
