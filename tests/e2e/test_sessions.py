"""Sign-in and sessions in a real browser: reloads, second tabs, sign-out, deep links, and the
customer's demo link."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.helpers import (
    APP_RUN_TIMEOUT_MS,
    main,
    open_page,
    rerun_after,
    screenshot,
    sign_in,
    sign_in_as,
    sign_out,
    start_wizard,
    switch_user,
    wait_for_app_run,
    watch_runs,
)

pytestmark = pytest.mark.e2e

REP = "Maya Chen"
OTHER_REP = "Diego Alvarez"
ACCOUNT = "602341187520"


def signed_in_as(page: Page, member: str) -> None:
    expect(page.get_by_text(f"Signed in as {member}")).to_be_visible(timeout=APP_RUN_TIMEOUT_MS)
    wait_for_app_run(page)


def test_reload_keeps_the_sign_in_and_the_page(page: Page, app_url: str) -> None:
    """F5 on Delegations: still signed in, still on Delegations."""
    sign_in(page, app_url, REP)
    open_page(page, "Delegations")
    page.reload()
    signed_in_as(page, REP)
    expect(main(page).get_by_role("heading", name="Delegations")).to_be_visible()


def test_a_second_tab_is_signed_in_too(page: Page, app_url: str) -> None:
    """A new tab of the same browser opens signed in."""
    sign_in(page, app_url, REP)
    second = page.context.new_page()
    watch_runs(second)
    second.goto(app_url)
    signed_in_as(second, REP)


def test_after_sign_out_a_reload_stays_signed_out(page: Page, app_url: str) -> None:
    """Signing out ends the session for reloads as well."""
    sign_in(page, app_url, REP)
    sign_out(page)
    page.reload()
    expect(page.get_by_text("Local sign-in")).to_be_visible(timeout=APP_RUN_TIMEOUT_MS)
    expect(page.get_by_text(f"Signed in as {REP}")).to_have_count(0)


def test_the_next_user_does_not_see_the_previous_users_wizard(page: Page, app_url: str) -> None:
    """Maya leaves a wizard half done and signs out; Diego starts from the first step."""
    sign_in(page, app_url, REP)
    start_wizard(page, "Contoso Retail", ACCOUNT)
    switch_user(page, OTHER_REP)
    open_page(page, "New delegation")
    body = main(page)
    expect(body.get_by_text("Step 1 of 5: Provider")).to_be_visible()
    expect(body.get_by_text("Contoso Retail")).to_have_count(0)


def test_a_signed_out_deep_link_returns_there_after_sign_in(page: Page, app_url: str) -> None:
    """/demo_browser?delegation=… signed out: sign in, and the Live demo opens."""
    page.goto(f"{app_url}/demo_browser?delegation=92")
    expect(page.get_by_text("Local sign-in")).to_be_visible(timeout=APP_RUN_TIMEOUT_MS)
    wait_for_app_run(page)
    expect(page.get_by_text("Page not found")).to_have_count(0)
    sign_in_as(page, REP)
    expect(main(page).get_by_role("heading", name="Live demo")).to_be_visible()
    assert re.search(r"/demo_browser(\?|$)", page.url)


def test_the_customers_demo_link_opens_without_page_not_found(page: Page, app_url: str) -> None:
    """A rep's demo link, opened by the customer in a fresh browser, renders cleanly."""
    sign_in(page, app_url, REP)
    open_page(page, "Demo links")
    body = main(page)
    body.get_by_label("Company", exact=True).fill("E2E Link Co")
    rerun_after(page, body.get_by_role("button", name="Create link").click)
    link = body.get_by_test_id("stCode").first.inner_text().strip()
    assert link.startswith(f"{app_url}/demo_request?demo_link=")

    customer = page.context.browser.new_context()
    try:
        tab = customer.new_page()
        watch_runs(tab)
        tab.goto(link)
        expect(tab.get_by_role("heading", name="Start your Vell demo")).to_be_visible(
            timeout=APP_RUN_TIMEOUT_MS
        )
        wait_for_app_run(tab)
        expect(tab.get_by_text("Page not found")).to_have_count(0)
        screenshot(tab, "45-customer-demo-link")
    finally:
        customer.close()
