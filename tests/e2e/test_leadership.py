"""Leadership in a real browser: the metrics count a customer a rep has just connected."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.helpers import (
    connect,
    download_csv,
    main,
    open_page,
    screenshot,
    scroll_to,
    show_metrics_section,
    sign_in,
    switch_user,
)

pytestmark = pytest.mark.e2e

LEADER = "Rachel Kim"
REP = "Priya Natarajan"
COMPANY = "E2E Metrics Co"
ACCOUNT = "305781246903"  # an account nobody has used: a new customer
FUNNEL_HEADING = "Demo → trial → production (customers)"
FUNNEL_CSV = "Download customer funnel (CSV)"


def demoed_customers(page: Page) -> int:
    """Leadership metrics: customers at the "Demo connected" stage, from the funnel CSV."""
    open_page(page, "Leadership metrics")
    show_metrics_section(page, "Customers")
    expect(main(page).get_by_role("heading", name=FUNNEL_HEADING)).to_be_visible()
    rows = download_csv(page, FUNNEL_CSV)
    return next(int(row["customers"]) for row in rows if row["stage"] == "Demo connected")


def test_sign_in_as_leadership_shows_only_leadership_pages(page: Page, app_url: str) -> None:
    """Leadership sees the metrics page and none of the sales or sandbox pages."""
    sign_in(page, app_url, LEADER)
    nav = page.get_by_test_id("stSidebarNav")
    expect(nav.get_by_role("link", name="Leadership metrics")).to_be_visible()
    expect(nav.get_by_role("link", name="New delegation")).to_have_count(0)
    expect(nav.get_by_role("link", name="Customer console")).to_have_count(0)


def test_metrics_include_a_newly_connected_customer(page: Page, app_url: str) -> None:
    """A demo connected by a rep adds one customer to the leadership funnel."""
    sign_in(page, app_url, LEADER)
    before = demoed_customers(page)
    switch_user(page, REP)
    connect(page, COMPANY, ACCOUNT, "Quick Start Demo")
    switch_user(page, LEADER)
    assert demoed_customers(page) == before + 1
    scroll_to(main(page).get_by_role("heading", name=FUNNEL_HEADING))
    screenshot(page, "31-customer-funnel")
    scroll_to(main(page).get_by_role("heading", name="Leadership metrics"))
    screenshot(page, "30-leadership-metrics")
