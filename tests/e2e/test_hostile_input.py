"""Hostile input in a real browser (issue 15): long pastes get a clear error, and text that
customers control (company names, product titles from their Marketplace) stays text on the
page and inert in a CSV.

The customer's own actions (renaming a product in their catalog) go straight to the sandbox
AWS with plain boto3, as a seller would in AWS; everything Vell does goes through the pages.
"""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path

import boto3
import pytest
import requests
from playwright.sync_api import Locator, Page, expect

from tests.e2e.helpers import (
    APP_RUN_TIMEOUT_MS,
    LIVE_TIMEOUT_MS,
    advance_sandbox_clock,
    choose,
    choose_path,
    click,
    connect,
    main,
    open_page,
    rerun_after,
    screenshot,
    scroll_to,
    sign_in,
    start_wizard,
    wait_for_app_run,
    watch_runs,
)

pytestmark = pytest.mark.e2e

REP = "Maya Chen"
CS = "Lena Fischer"
SELLER = "602341187520"  # the small sandbox seller: a few listings, quick to sync
MARKDOWN_COMPANY = "**Bold** :red[Evil] [link](https://evil.example)"
HOSTILE_TITLE = '=HYPERLINK("https://evil.example","**Bold** :red[Evil]")'


def as_shown(text: str) -> re.Pattern[str]:
    """``text`` as the page shows it: the invisible word joiners that stop Streamlit's
    autolinker (``vell_core.views.text``) may sit between any two characters."""
    return re.compile("\u2060?".join(re.escape(c) for c in text))


def no_markup_from(body: Locator, text: str) -> None:
    """``text`` is on the page literally: no bold, no red, no link made from it."""
    expect(body.get_by_text(as_shown(text)).filter(visible=True).first).to_be_visible()
    expect(body.locator("strong", has_text=re.compile(r"^Bold$"))).to_have_count(0)
    expect(body.locator("a[href*='evil.example']")).to_have_count(0)
    expect(body.locator("span", has_text=re.compile(r"^Evil$"))).to_have_count(0)


def test_a_long_company_pasted_into_demo_links_gets_the_length_error(
    page: Page, app_url: str
) -> None:
    """100 characters pasted into Company stay in the field; Create link says the limit."""
    sign_in(page, app_url, REP)
    open_page(page, "Demo links")
    body = main(page)
    field = body.get_by_label("Company", exact=True)
    field.fill("A" * 100)
    expect(field).to_have_value("A" * 100)  # not silently dropped by the browser
    rerun_after(page, body.get_by_role("button", name="Create link").click)
    expect(body.get_by_text(re.compile("at most 80 characters"))).to_be_visible()
    expect(body.get_by_test_id("stCode")).to_have_count(0)
    screenshot(page, "60-demo-link-company-too-long")


def test_a_ticket_customer_pasted_with_dashes_is_stored(page: Page, app_url: str) -> None:
    """An account id copied from the AWS console (with dashes) fits the ticket form."""
    sign_in(page, app_url, CS)
    open_page(page, "Support tickets")
    body = main(page)
    body.get_by_label("Subject", exact=True).fill("E2E pasted account")
    customer = body.get_by_label("Customer account (optional)", exact=True)
    customer.fill("5550-0006-6001")
    expect(customer).to_have_value("5550-0006-6001")
    rerun_after(page, body.get_by_role("button", name="Add ticket").click)
    expect(body.get_by_text(re.compile("Added ticket"))).to_be_visible()
    expect(body.get_by_label("Subject", exact=True)).to_have_value("")  # ready for the next
    expect(customer).to_have_value("")
    screenshot(page, "61-ticket-pasted-account")


def test_a_markdown_company_stays_text_in_the_wizard_and_the_customers_demo_page(
    page: Page, app_url: str
) -> None:
    """The preview and the customer's public demo page show the company name literally."""
    sign_in(page, app_url, REP)
    start_wizard(page, MARKDOWN_COMPANY, SELLER)
    choose_path(page, "Quick Start Demo")
    body = main(page)
    expect(body.get_by_role("heading", name="What will be requested")).to_be_visible()
    no_markup_from(body, MARKDOWN_COMPANY)
    screenshot(page, "62-wizard-markdown-company")

    open_page(page, "Demo links")
    body.get_by_label("Company", exact=True).fill(MARKDOWN_COMPANY)
    rerun_after(page, body.get_by_role("button", name="Create link").click)
    link = body.get_by_test_id("stCode").first.inner_text().strip()
    customer = page.context.browser.new_context()
    try:
        tab = customer.new_page()
        watch_runs(tab)
        tab.goto(link)
        expect(tab.get_by_role("heading", name="Start your Vell demo")).to_be_visible(
            timeout=APP_RUN_TIMEOUT_MS
        )
        wait_for_app_run(tab)
        no_markup_from(main(tab), MARKDOWN_COMPANY)
        screenshot(tab, "63-customer-demo-page-markdown-company")
    finally:
        customer.close()


def rename_product(
    sandbox_url: str, account: str, title: str, product_id: str | None = None
) -> tuple[str, str]:
    """The seller renames a SaaS product (their first unless ``product_id``) in their own
    catalog; AWS applies it.

    Returns the product's id and the title it had, so the test can put it back (the browser
    tests share one sandbox: later screenshots of this seller's listings should not show a
    hostile title)."""
    personas = requests.post(
        f"{sandbox_url}/_sandbox/personas", json={"account_id": account}, timeout=10
    ).json()
    catalog = boto3.client(
        "marketplace-catalog",
        endpoint_url=sandbox_url,
        region_name="us-east-1",
        aws_access_key_id=personas["admin"]["AccessKeyId"],
        aws_secret_access_key=personas["admin"]["SecretAccessKey"],
    )
    products = catalog.list_entities(Catalog="AWSMarketplace", EntityType="SaaSProduct")[
        "EntitySummaryList"
    ]
    product = next(p for p in products if product_id in (None, p["EntityId"]))
    started = catalog.start_change_set(
        Catalog="AWSMarketplace",
        ChangeSet=[
            {
                "ChangeType": "UpdateInformation",
                "Entity": {"Type": "SaaSProduct@1.0", "Identifier": product["EntityId"]},
                "DetailsDocument": {"ProductTitle": title},
            }
        ],
    )
    # AWS takes about half a minute to prepare and apply; the sandbox clock skips it.
    advance_sandbox_clock(sandbox_url, 120)
    status = catalog.describe_change_set(
        Catalog="AWSMarketplace", ChangeSetId=started["ChangeSetId"]
    )["Status"]
    assert status == "SUCCEEDED"
    return str(product["EntityId"]), str(product["Name"])


def test_a_product_title_from_the_customers_marketplace_is_text_and_inert_in_csv(
    page: Page, app_url: str, sandbox_url: str
) -> None:
    """The seller names a product like a formula with Markdown in it; the Live demo shows it
    as typed, and its products.csv carries it as a text cell."""
    company = "E2E Hostile Title Co"
    sign_in(page, app_url, REP)  # the app's first page starts its sandbox AWS
    product_id, original = rename_product(sandbox_url, SELLER, HOSTILE_TITLE)
    try:
        shows_the_hostile_title_as_text(page, company)
    finally:
        rename_product(sandbox_url, SELLER, original, product_id)


def shows_the_hostile_title_as_text(page: Page, company: str) -> None:
    """The Live demo shows the renamed product as typed; products.csv keeps it a text cell."""
    connect(page, company, SELLER, "Quick Start Demo")
    open_page(page, "Live demo")
    choose(page, "Customer", re.compile(rf"^{re.escape(company)} · "), search=company)
    body = main(page)
    expect(body.get_by_text(re.compile(r"^Sync 100%"))).to_be_visible(timeout=LIVE_TIMEOUT_MS)
    wait_for_app_run(page)
    choose(page, "Open a product", HOSTILE_TITLE, search="HYPERLINK")
    heading = body.locator("h3").filter(has_text=as_shown(HOSTILE_TITLE))
    expect(heading).to_be_visible()
    no_markup_from(body, HOSTILE_TITLE)
    scroll_to(heading)
    screenshot(page, "64-live-demo-hostile-title")

    with page.expect_download() as info:  # the Listings tab's first CSV is products.csv
        body.get_by_role("button", name="Download CSV").first.click()
    assert info.value.suggested_filename == "products.csv"
    rows = list(csv.DictReader(io.StringIO(Path(info.value.path()).read_text(encoding="utf-8"))))
    titles = [row["Title"] for row in rows]
    assert "'" + HOSTILE_TITLE in titles
    assert not [t for t in titles if t.startswith(("=", "+", "-", "@"))]


def test_the_wizard_refuses_other_scripts_digits_and_takes_a_padded_paste(
    page: Page, app_url: str
) -> None:
    """Arabic-Indic digits get the 12-digit message; an id pasted with spaces and dashes
    around it (longer than 14 characters) is taken, not dropped by the browser."""
    sign_in(page, app_url, REP)
    open_page(page, "New delegation")
    click(page, "Continue")
    body = main(page)
    body.get_by_label("Company", exact=True).fill("E2E Digits Co")
    account = body.get_by_label("Customer's AWS account id (12 digits)", exact=True)
    account.fill("٦٠٢٣٤١١٨٧٥٢٠")
    rerun_after(page, body.get_by_role("button", name="Continue").click)
    expect(body.get_by_text(re.compile("must be exactly 12 digits")).last).to_be_visible()
    expect(body.get_by_text("Step 2 of 5: Account information")).to_be_visible()
    expect(body.get_by_test_id("stException")).to_have_count(0)
    screenshot(page, "65-wizard-unicode-digits")
    account.fill("   6023-4118-7520   ")
    expect(account).to_have_value("   6023-4118-7520   ")
    rerun_after(page, body.get_by_role("button", name="Continue").click)
    expect(body.get_by_text("Step 3 of 5: Choose onboarding path")).to_be_visible()
    expect(body.get_by_text("E2E Digits Co · AWS account 602341187520")).to_be_visible()
