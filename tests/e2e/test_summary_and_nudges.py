"""AWS's own summary before the link goes out, and a desk that nudges, in a real browser.

One test per journey: the rep reads AWS's summary beside the exact policy and message; a state
change reaches the rep on another page; a request waiting longer than usual is nudged with the
next action; root approvers are warned about and flagged. The nudge test advances sandbox time
by an hour, so this file sorts (and runs) after the other browser tests.
"""

from __future__ import annotations

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.e2e.helpers import (
    LIVE_TIMEOUT_MS,
    VIEWPORT,
    act_as,
    advance_sandbox_time,
    choose_path,
    click,
    download_csv,
    expect_connected,
    fill,
    launch,
    main,
    open_in_console,
    open_page,
    screenshot,
    scroll_to,
    send_request,
    sign_in,
    start_wizard,
    switch_user,
    watch_runs,
)

pytestmark = pytest.mark.e2e

REP = "Priya Natarajan"  # her own launch budget: the rate limit is per rep
ACCOUNT = "602341187520"


def test_the_rep_reads_awss_summary_beside_the_exact_request_before_sending_the_link(
    page: Page, app_url: str
) -> None:
    """Waiting step: AWS's plain-language summary, the policy and the message, then the link."""
    company = "E2E Summary Co"
    sign_in(page, app_url, REP)
    start_wizard(page, company, ACCOUNT)
    choose_path(page, "Quick Start Demo")
    body = main(page)
    expect(body.get_by_text("AWS writes its own plain-language summary")).to_be_visible()
    send_request(page)
    heading = body.get_by_role(
        "heading", name="Before you send the link: what AWS tells the customer"
    )
    expect(heading).to_be_visible()
    summary = page.locator(".st-key-wizard_aws_summary")
    expect(summary).to_contain_text(
        "asks for temporary access to your AWS account for 4 hours", timeout=LIVE_TIMEOUT_MS
    )
    expect(summary).to_contain_text("View in AWS Marketplace")
    expect(summary).to_contain_text(f"{ACCOUNT}:AWSMarketplace/*")
    expect(summary).to_contain_text("Written by AWS")
    policy = body.get_by_test_id("stCode").filter(has_text='"aws-marketplace:ListEntities"')
    expect(policy).to_be_visible()
    expect(body.get_by_text(f"Vell Quick Start Demo for {company}")).to_be_visible()
    expect(body.get_by_test_id("stCode").filter(has_text="console.aws.amazon.com")).to_be_visible()
    scroll_to(heading)
    screenshot(page, "50-aws-summary")


def test_a_state_change_reaches_the_rep_on_another_page(
    page: Page, app_url: str, browser: Browser
) -> None:
    """The rep waits on Demo links; the customer opens the request elsewhere; a toast says so."""
    company = "E2E Toast Co"
    sign_in(page, app_url, REP)
    launch(page, company, ACCOUNT, "Quick Start Demo")
    open_page(page, "Demo links")
    customer = browser.new_context(viewport=VIEWPORT, base_url=app_url)
    try:
        tab = customer.new_page()
        watch_runs(tab)
        sign_in(tab, app_url, REP)
        open_in_console(tab, company, "demo")
    finally:
        customer.close()
    toast = page.get_by_test_id("stToast").filter(
        has_text=f"{company} (demo): Opened by the customer — under review."
    )
    expect(toast).to_be_visible(timeout=LIVE_TIMEOUT_MS)
    expect(main(page).get_by_role("heading", name="Demo links")).to_be_visible()
    screenshot(page, "51-state-change-toast", toasts=True)


def test_root_approvers_are_warned_about_before_sending_and_flagged_after(
    page: Page, app_url: str
) -> None:
    """A 12-hour trial: root cannot approve it (preview and waiting step). A demo approved by
    the customer's root user: flagged as not revocable on Connected and in Delegations."""
    sign_in(page, app_url, REP)
    start_wizard(page, "E2E Root Trial Co", ACCOUNT)
    choose_path(page, "Extended Trial")
    body = main(page)
    warning = body.get_by_text("a root user can approve at most 4 hours")
    expect(warning).to_be_visible()
    scroll_to(body.get_by_role("heading", name="What will be requested"))
    screenshot(page, "52-root-warning-preview")
    send_request(page)
    waiting = body.get_by_text("so a root user cannot approve it")
    expect(waiting).to_be_visible()
    scroll_to(waiting)
    screenshot(page, "53-root-warning-waiting")

    company = "E2E Root Demo Co"
    switch_user(page, REP)  # a fresh wizard (signing in again starts one)
    launch(page, company, ACCOUNT, "Quick Start Demo")
    open_in_console(page, company, "demo")
    act_as(page, "root")
    click(page, "Allow access")
    open_page(page, "New delegation")
    expect_connected(page, company)
    expect(body.get_by_text("Approved by the account's root user")).to_be_visible()
    screenshot(page, "54-root-approved")
    open_page(page, "Delegations")
    fill(page, "Company contains", company)
    rows = download_csv(page, "Download CSV")
    assert [(r["Company"], r["Root-approved"]) for r in rows] == [
        (company, "yes (cannot be revoked)")
    ]


def test_a_request_waiting_longer_than_usual_gets_a_nudge_with_the_next_action(
    page: Page, app_url: str
) -> None:
    """Nobody opens the link for an hour: Delegations and the wizard say to resend it."""
    company = "E2E Nudge Co"
    sign_in(page, app_url, REP)
    launch(page, company, ACCOUNT, "Quick Start Demo")
    advance_sandbox_time(page)
    open_page(page, "Delegations")
    body = main(page)
    nudge = body.get_by_role("listitem").filter(has_text=company)
    expect(nudge).to_contain_text("UNASSIGNED for 1 h")
    expect(nudge).to_contain_text("The customer has not opened the link yet: resend it")
    screenshot(page, "55-nudge-delegations")
    open_page(page, "New delegation")
    alert = body.get_by_test_id("stAlert").filter(has_text="UNASSIGNED for 1 h")
    expect(alert).to_contain_text("resend it", timeout=LIVE_TIMEOUT_MS)
    scroll_to(alert)
    screenshot(page, "56-nudge-wizard")
