"""A sales rep's journey in a real browser: sandbox sign-in → demo request → Connected."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.helpers import (
    LIVE_TIMEOUT_MS,
    allow_in_console,
    choose_path,
    click,
    expect_connected,
    fill,
    main,
    open_app,
    open_in_console,
    open_page,
    screenshot,
    scroll_to,
    send_request,
    sign_in,
    sign_in_as,
    start_wizard,
)

pytestmark = pytest.mark.e2e

REP = "Maya Chen"
COMPANY = "E2E Test Co"
ACCOUNT = "602341187520"


def test_sandbox_sign_in_shows_the_reps_pages(page: Page, app_url: str) -> None:
    """A rep signs in on the sandbox and sees the sales and sandbox pages."""
    open_app(page, app_url)
    expect(page.get_by_text("SANDBOX").first).to_be_visible()
    screenshot(page, "01-sign-in")
    sign_in_as(page, REP)
    nav = page.get_by_test_id("stSidebarNav")
    for title in ("New delegation", "Delegations", "Customer console"):
        expect(nav.get_by_role("link", name=title)).to_be_visible()
    screenshot(page, "02-signed-in")


def test_wrong_account_id_is_refused_before_anything_is_sent(page: Page, app_url: str) -> None:
    """An 11-digit account id stays on Account information with an error."""
    sign_in(page, app_url, REP)
    open_page(page, "New delegation")
    click(page, "Continue")
    fill(page, "Company", "Typo Inc")
    fill(page, "Customer's AWS account id (12 digits)", "60234118752")
    click(page, "Continue")
    expect(main(page).get_by_text("12 digits").last).to_be_visible()
    expect(main(page).get_by_text("Step 2 of 5: Account information")).to_be_visible()


def test_demo_request_reaches_connected_after_the_customer_allows_it(
    page: Page, app_url: str
) -> None:
    """Launch a demo, approve it as the customer in the sandbox, watch it reach Connected."""
    sign_in(page, app_url, REP)
    start_wizard(page, COMPANY, ACCOUNT)
    screenshot(page, "03-choose-path")
    choose_path(page, "Quick Start Demo")
    preview = main(page).get_by_role("heading", name="What will be requested")
    scroll_to(preview)
    screenshot(page, "04-preview")
    send_request(page)
    body = main(page)
    expect(body.get_by_text("Send the customer this link")).to_be_visible()
    expect(body.get_by_test_id("stCode").filter(has_text="console.aws.amazon.com")).to_be_visible()
    expect(body.get_by_test_id("stDataFrame")).to_be_visible()
    screenshot(page, "05-waiting")

    open_in_console(page, COMPANY, "demo")
    screenshot(page, "06-customer-console")
    open_page(page, "New delegation")
    expect(body.get_by_text("Current state: ASSIGNED")).to_be_visible(timeout=LIVE_TIMEOUT_MS)
    screenshot(page, "07-state-arrives")

    allow_in_console(page, COMPANY, "demo")
    open_page(page, "New delegation")
    expect_connected(page, COMPANY)
    expect(body.get_by_text("Step 5 of 5: Connected")).to_be_visible()
    screenshot(page, "08-connected")
