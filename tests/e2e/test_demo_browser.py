"""The live demo in a real browser: listings, an agreement's terms, a trial's listing update."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Locator, Page, expect
from playwright.sync_api import TimeoutError as PlaywrightTimeoutError

from tests.e2e.helpers import (
    LIVE_TIMEOUT_MS,
    choose,
    connect,
    main,
    open_options,
    open_page,
    require_page_link,
    rerun_after,
    screenshot,
    scroll_to,
    see_aws_apply_the_change,
    sign_in,
    wait_for_app_run,
)

pytestmark = pytest.mark.e2e

DEMO_PAGE = "Live demo"
REP = "Diego Alvarez"
ACCOUNT = "602341187520"  # a sandbox seller with listings, offers and agreements


def open_live_demo(page: Page, company: str) -> None:
    """Open the live demo on the company's delegation and wait for its sync to finish."""
    open_page(page, DEMO_PAGE)
    choose(page, "Customer", re.compile(rf"^{re.escape(company)} · "), search=company)
    # While syncing, the page reruns itself as data arrives, which would close an open list.
    expect(main(page).get_by_text(re.compile(r"^Sync 100%"))).to_be_visible(timeout=LIVE_TIMEOUT_MS)
    wait_for_app_run(page)


def metric(container: Locator, label: str) -> Locator:
    """The metric tile labelled exactly ``label`` inside ``container``."""
    return container.get_by_test_id("stMetric").filter(
        has=container.page.get_by_text(label, exact=True)
    )


def open_tab(page: Page, name: str) -> None:
    """Show one of the live demo's tabs (a rerun draws only the open tab)."""
    tab = main(page).get_by_role("tab", name=name)
    if tab.get_attribute("aria-selected") != "true":  # the open tab's click runs nothing
        rerun_after(page, tab.click)
    expect(tab).to_have_attribute("aria-selected", "true")


def pick_first(page: Page, label: str) -> str:
    """Pick the first real option (after "—") of a select box; return its text.

    A live view's rerun (the sync noting the change set just applied, say) redraws the page
    and closes an open list, as it would for a person, who opens it again: so does this, once.
    """
    for attempt in (1, 2):
        wait_for_app_run(page)
        open_options(page.get_by_role("combobox", name=label))
        option = page.get_by_role("option").nth(1)
        try:
            text = option.inner_text(timeout=5_000)
        except PlaywrightTimeoutError:
            if attempt == 2:
                raise
            continue
        rerun_after(page, option.click)
        return text
    raise AssertionError("unreachable")


def test_rep_browses_listings_and_opens_an_agreements_terms(page: Page, app_url: str) -> None:
    """A connected demo lists the customer's listings and agreements and opens one's terms."""
    company = "E2E Browse Co"
    sign_in(page, app_url, REP)
    require_page_link(page, DEMO_PAGE)
    connect(page, company, ACCOUNT, "Quick Start Demo")
    open_live_demo(page, company)

    open_tab(page, "Listings")
    listings = main(page).get_by_role("tabpanel", name="Listings")
    expect(metric(listings, "Products")).to_be_visible()
    screenshot(page, "10-listings")

    open_tab(page, "Agreements")
    agreements = main(page).get_by_role("tabpanel", name="Agreements")
    expect(metric(agreements, "Agreements")).to_be_visible()
    screenshot(page, "11-agreements")
    # The picker names what a person recognises: "<product> · buyer <account> · <status> · …"
    agreement = pick_first(page, "Open an agreement")
    product, buyer = re.match(r"^(.+?) · buyer (\d{12}) · ", agreement).groups()  # type: ignore[union-attr]
    heading = main(page).get_by_role("heading", name=f"{product} — buyer {buyer}")
    expect(heading).to_be_visible()
    expect(metric(agreements, "Pricing model")).to_be_visible()
    scroll_to(heading)
    screenshot(page, "12-agreement-terms")


def test_trial_rep_updates_a_listing_and_sees_aws_apply_it(
    page: Page, app_url: str, sandbox_url: str
) -> None:
    """On a trial the rep edits a product's short description; the change set succeeds."""
    company = "E2E Listing Co"
    new_text = "Updated live from the Vell Delegation Desk end-to-end test."
    sign_in(page, app_url, REP)
    require_page_link(page, DEMO_PAGE)
    connect(page, company, ACCOUNT, "Extended Trial")
    open_live_demo(page, company)
    open_tab(page, "Listings")
    pick_first(page, "Open a product")

    update = main(page).get_by_role("button", name="Update short description or highlights")
    expect(update).to_be_enabled(timeout=LIVE_TIMEOUT_MS)
    rerun_after(page, update.click)
    dialog = page.get_by_role("dialog")
    field = dialog.get_by_label("Short description")
    field.fill(new_text)
    rerun_after(page, lambda: field.press("Tab"), fragment=True)  # a dialog is a fragment
    screenshot(page, "13-listing-update")
    rerun_after(page, dialog.get_by_role("button", name="Confirm and send to AWS").click)

    see_aws_apply_the_change(page, sandbox_url)
    expect(main(page).get_by_text(new_text).first).to_be_visible(timeout=LIVE_TIMEOUT_MS)
    screenshot(page, "14-listing-updated")
