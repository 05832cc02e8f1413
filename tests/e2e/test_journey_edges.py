"""Where the rep's journeys end, in a real browser: rejected, refused, expired, renewed.

Each test is one journey edge and ends in a clear state with a next action. The expiry test
advances sandbox time by one hour, so it runs last and uses a one-hour trial.
"""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.helpers import (
    LIVE_TIMEOUT_MS,
    act_as,
    advance_sandbox_time,
    allow_in_console,
    choose,
    choose_path,
    click,
    deny_in_console,
    download_csv,
    expect_connected,
    fill,
    launch,
    main,
    open_in_console,
    open_page,
    screenshot,
    select_table_row,
    send_request,
    set_slider_to_minimum,
    sign_in,
    start_wizard,
)

pytestmark = pytest.mark.e2e

REP = "Maya Chen"
ACCOUNT = "602341187520"


def test_rejected_request_shows_rejected_with_the_reason_and_next_actions(
    page: Page, app_url: str
) -> None:
    """The customer denies: the wizard says Rejected, AWS's reason, and offers what next."""
    company = "E2E Rejected Co"
    sign_in(page, app_url, REP)
    launch(page, company, ACCOUNT, "Quick Start Demo")
    deny_in_console(page, company, "Not this quarter")
    open_page(page, "New delegation")
    body = main(page)
    expect(body.get_by_role("heading", name="Rejected")).to_be_visible(timeout=LIVE_TIMEOUT_MS)
    expect(body.get_by_text(f"{company} rejected the request")).to_be_visible()
    expect(body.get_by_text("AWS does not pass the customer's reason on")).to_be_visible()
    expect(body.get_by_text("Send the customer this link")).to_have_count(0)
    expect(body.get_by_role("button", name="Start again")).to_be_visible()
    screenshot(page, "40-rejected")
    click(page, "Back to Delegations")
    expect(body.get_by_role("heading", name="Delegations")).to_be_visible()


def test_start_again_after_a_rejection_keeps_the_customer(page: Page, app_url: str) -> None:
    """Start again returns to the path cards for the same company and account."""
    company = "E2E Retry Co"
    sign_in(page, app_url, REP)
    launch(page, company, ACCOUNT, "Quick Start Demo")
    deny_in_console(page, company, "Wrong account")
    open_page(page, "New delegation")
    expect(main(page).get_by_role("heading", name="Rejected")).to_be_visible(
        timeout=LIVE_TIMEOUT_MS
    )
    click(page, "Start again")
    expect(main(page).get_by_text("Step 3 of 5: Choose onboarding path")).to_be_visible()
    expect(main(page).get_by_text(f"{company} · AWS account {ACCOUNT}")).to_be_visible()


def test_root_approval_of_a_trial_says_why_in_awss_words(page: Page, app_url: str) -> None:
    """Root cannot allow a 12-hour trial: the console says so, not "a conflict"."""
    company = "E2E Root Co"
    sign_in(page, app_url, REP)
    launch(page, company, ACCOUNT, "Extended Trial")
    open_in_console(page, company, "trial")
    act_as(page, "root")
    click(page, "Allow access")
    body = main(page)
    expect(body.get_by_text("A root user can approve requests of 4 hours or less")).to_be_visible()
    expect(body.get_by_text("conflict with an existing resource")).to_have_count(0)
    screenshot(page, "41-root-refused")


def test_trial_request_text_says_it_can_update_listings(page: Page, app_url: str) -> None:
    """The trial's customer-facing description is not the read-only demo's."""
    sign_in(page, app_url, REP)
    start_wizard(page, "E2E Text Co", ACCOUNT)
    choose_path(page, "Extended Trial")
    expect(main(page).get_by_text("may update your listings")).to_be_visible()
    choose_path(page, "Quick Start Demo")
    expect(main(page).get_by_text("asks for read-only access")).to_be_visible()


def test_expired_trial_is_shown_expired_and_renewed_through_the_preview(
    page: Page, app_url: str
) -> None:
    """A one-hour trial ends: Live demo and Delegations say expired (and when); Renew opens
    the preview prefilled for the same customer and path."""
    company = "E2E Expiry Co"
    sign_in(page, app_url, REP)
    start_wizard(page, company, ACCOUNT)
    choose_path(page, "Extended Trial")
    set_slider_to_minimum(page, "Trial length (hours)")
    expect(main(page).get_by_test_id("stMetric").filter(has_text="Duration")).to_contain_text("1 h")
    send_request(page)
    open_in_console(page, company, "trial")
    allow_in_console(page, company, "trial")
    open_page(page, "New delegation")
    expect_connected(page, company)
    advance_sandbox_time(page)

    open_page(page, "Live demo")
    choose(page, "Customer", re.compile(re.escape(company)), search=company)
    body = main(page)
    expect(
        body.get_by_text(re.compile(r"Expired: the temporary access .* ended at"))
    ).to_be_visible()
    expect(page.get_by_role("combobox", name="Customer")).to_have_value(re.compile("expired"))
    screenshot(page, "42-live-demo-expired")

    open_page(page, "Delegations")
    fill(page, "Company contains", company)
    rows = download_csv(page, "Download CSV")
    assert [(r["Company"], r["Status"]) for r in rows] == [(company, "expired")]
    assert rows[0]["Ended"].endswith("UTC")
    select_table_row(page, body.get_by_test_id("stDataFrame").first)
    expect(body.get_by_text(re.compile("Expired: access ended at"))).to_be_visible()
    screenshot(page, "43-delegations-expired")
    click(page, "Renew")
    expect(body.get_by_text("Step 3 of 5: Choose onboarding path")).to_be_visible()
    expect(body.get_by_text(re.compile(r"Renewing request #\d+"))).to_be_visible()
    expect(body.get_by_text(f"{company} · AWS account {ACCOUNT}")).to_be_visible()
    expect(body.get_by_role("heading", name="What will be requested")).to_be_visible()
    expect(body.get_by_test_id("stMetric").filter(has_text="Duration")).to_contain_text("1 h")
    screenshot(page, "44-renew-preview")


def test_renew_from_the_live_demo_opens_the_preview(page: Page, app_url: str) -> None:
    """The Live demo's expiry message has a Renew button (after the expiry test above)."""
    sign_in(page, app_url, REP)
    open_page(page, "Live demo")
    company = "E2E Expiry Co"
    choose(page, "Customer", re.compile(re.escape(company)), search=company)
    click(page, "Renew")
    body = main(page)
    expect(body.get_by_text(re.compile(r"Renewing request #\d+"))).to_be_visible()
    expect(body.get_by_role("heading", name="What will be requested")).to_be_visible()
    click(page, "Send request to AWS")
    expect(body.get_by_text("Step 4 of 5: Waiting for approval")).to_be_visible()
