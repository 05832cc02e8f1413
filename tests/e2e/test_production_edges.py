"""Promotion edges in a real browser: the Production card's next step, the link to send, an
empty RoleArn, and the CloudFormation path finished in the sandbox's AWS console."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.helpers import (
    LIVE_TIMEOUT_MS,
    choose,
    choose_path,
    click,
    connect,
    create_stack_in_sandbox_console,
    fill,
    main,
    open_page,
    page_screenshot,
    screenshot,
    sign_in,
    start_wizard,
    switch_user,
)

pytestmark = pytest.mark.e2e


def fill_form(page: Page, values: dict[str, str]) -> None:
    """Type into fields of an ``st.form`` (they commit with its submit button, not on Tab)."""
    for label, value in values.items():
        main(page).get_by_label(label, exact=True).fill(value)


REP = "Maya Chen"
CS = "Lena Fischer"


def test_production_card_sends_the_rep_to_production_setup_not_connections(
    page: Page, app_url: str
) -> None:
    """A rep reads who runs production setup and where; CS opens it filled in."""
    company, account = "E2E Card Co", "555000088001"
    sign_in(page, app_url, REP)
    start_wizard(page, company, account)
    choose_path(page, "Production Setup")
    body = main(page)
    expect(body.get_by_text("Customer success runs it from Production setup")).to_be_visible()
    expect(
        body.get_by_text(f"Hand it to customer success with the company ({company})")
    ).to_be_visible()
    expect(body.get_by_text("from Connections")).to_have_count(0)
    screenshot(page, "50-production-card-rep")

    switch_user(page, CS)
    start_wizard(page, company, account)
    choose_path(page, "Production Setup")
    click(page, "Open Production setup")
    expect(body.get_by_role("heading", name="Production setup (CloudFormation)")).to_be_visible()
    expect(body.get_by_label("Company", exact=True)).to_have_value(company)
    expect(body.get_by_label("AWS account ID", exact=True)).to_have_value(account)


def test_send_the_link_shows_the_link_and_an_empty_role_arn_says_why(
    page: Page, app_url: str
) -> None:
    """Step 2 shows the quick-create link itself; Validate with no RoleArn gives the reason."""
    sign_in(page, app_url, CS)
    open_page(page, "Production setup")
    fill_form(page, {"Company": "E2E Link Co", "AWS account ID": "555000088002"})
    click(page, "Generate external ID and link")
    body = main(page)
    link = body.get_by_test_id("stCode").first
    expect(link).to_contain_text("/cloudformation/home?region=us-east-1#/stacks/quickcreate?")
    expect(link).to_contain_text("param_ExternalId=vell-")
    external_id = body.get_by_test_id("stCode").nth(1).inner_text().strip()
    expect(link).to_contain_text(f"param_ExternalId={external_id}")
    click(page, "Validate")
    expect(body.get_by_text("Not connected yet: No RoleArn was pasted yet.")).to_be_visible()
    expect(body.get_by_text("copy the RoleArn value from its Outputs tab")).to_be_visible()
    screenshot(page, "51-send-the-link-empty-role-arn")


def test_cloudformation_promotion_finishes_in_the_sandbox_console(page: Page, app_url: str) -> None:
    """A connected trial is promoted through CloudFormation: the link opens the sandbox's
    console, the customer creates the stack, its RoleArn validates, Connections lists it."""
    company, account = "E2E Stack Co", "555000088003"
    sign_in(page, app_url, REP)
    connect(page, company, account, "Extended Trial")
    switch_user(page, CS)
    open_page(page, "Trials desk")
    fill(page, "Company contains", company)
    choose(page, "Act on", re.compile(rf"· {re.escape(company)} · trial$"), search=company)
    click(page, "Promote (CloudFormation)")
    body = main(page)
    expect(body.get_by_text(f"Send {company} this quick-create link:")).to_be_visible()
    screenshot(page, "52-trials-desk-cloudformation-link")

    with page.context.expect_page() as opened:
        body.get_by_role("link", name="Open the sandbox AWS console").click()
    console = opened.value
    expect(console).to_have_url(re.compile(r"/cloudformation/home"))
    expect(
        console.get_by_role("heading", name="Sign in to the sandbox AWS console")
    ).to_be_visible()
    page_screenshot(console, "53-sandbox-console-sign-in")
    role_arn = create_stack_in_sandbox_console(console, account, "54-sandbox-console-quick-create")
    assert re.fullmatch(
        rf"arn:aws:iam::{account}:role/vell\.ai/VellMarketplaceConnector-\w+", role_arn
    )
    page_screenshot(console, "55-sandbox-console-stack-outputs")
    console.close()

    open_page(page, "Production setup")
    choose(page, "Continue a setup", re.compile(rf"· {re.escape(company)} · {account}$"))
    fill(page, "RoleArn from the stack's Outputs", role_arn)
    click(page, "Validate")
    expect(body.get_by_text("Connected: the role works")).to_be_visible(timeout=LIVE_TIMEOUT_MS)
    expect(body.get_by_text(re.compile(r"Connection #\d+ is active"))).to_be_visible()
    screenshot(page, "56-production-setup-validated")

    open_page(page, "Connections")
    fill(page, "Company contains", company)
    connection = re.compile(rf"· {re.escape(company)} · active$")
    expect(page.get_by_role("combobox", name="Connection")).to_have_value(connection)
    open_page(page, "Trials desk")
    fill(page, "Company contains", company)
    expect(body.get_by_text("No live demos or trials match these filters.")).to_be_visible()
