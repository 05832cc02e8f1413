"""Screens that read like a product, in a real browser (issue 13).

Walks the sales, customer-success and leadership pages at the suite's usual width (1280 px),
in a tab tall enough that each page fits in one screenshot, and checks what only a browser
can: that no figure on a tile is cut off ("Demo (…", "user/customer-…"). Each page's tall
screenshot is kept under ``test-results/screenshots/screens-*.png``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.e2e.helpers import (
    LIVE_TIMEOUT_MS,
    VIEWPORT,
    approve_in_console,
    launch,
    main,
    open_options,
    open_page,
    rerun_after,
    screenshot,
    show_metrics_section,
    sign_in,
    switch_user,
    wait_for_app_run,
    watch_runs,
)
from vell_core.views.metrics import DASHBOARD_SECTIONS as METRICS_SECTIONS

pytestmark = pytest.mark.e2e

TALL = {"width": VIEWPORT["width"], "height": 4200}
ACCOUNT = "602341187520"  # a sandbox seller with listings, offers and agreements
# A tile's label or value whose text is wider than its box (Streamlit ends it with "…").
CUT_OFF = """
root => [...root.querySelectorAll('[data-testid="stMetricValue"], [data-testid="stMetricLabel"]')]
  .filter(tile => [tile, ...tile.querySelectorAll('*')]
    .some(part => part.scrollWidth > part.clientWidth + 1))
  .map(tile => tile.innerText)
"""
# A table whose columns are wider than its frame: the reader has to scroll sideways to see the
# rest (the grid draws on a canvas; its scroller is the only DOM that knows the width).
SIDEWAYS = """
root => [...root.querySelectorAll('[data-testid="stDataFrame"]')]
  .filter(frame => {
    const scroller = frame.querySelector('.dvn-scroller');
    return scroller && scroller.scrollWidth > scroller.clientWidth + 1;
  })
  .map(frame => (frame.closest('[class*="st-key-"]')?.className.match(/st-key-(\\S+)/) || [])[1])
"""


@pytest.fixture
def tall_page(browser: Browser, app_url: str) -> Iterator[Page]:
    """A tab of the usual width, tall enough that most pages fit in one screenshot."""
    context = browser.new_context(viewport=TALL, base_url=app_url)
    context.set_default_timeout(20_000)
    tab = context.new_page()
    watch_runs(tab)
    yield tab
    context.close()


def cut_off(page: Page) -> list[str]:
    """The tiles on the page whose text does not fit."""
    wait_for_app_run(page)
    return main(page).evaluate(CUT_OFF)


def look(page: Page, name: str) -> None:
    """Nothing cut off and no table wider than the page on this screen; keep its screenshot."""
    screenshot(page, f"screens-{name}")
    assert cut_off(page) == [], name
    assert main(page).evaluate(SIDEWAYS) == [], name


def show_tab(page: Page, name: str) -> None:
    """Show one of the live demo's tabs."""
    target = main(page).get_by_role("tab", name=name)
    if target.get_attribute("aria-selected") != "true":  # only the open tab is drawn, by a rerun
        rerun_after(page, target.click)
    expect(target).to_have_attribute("aria-selected", "true")


def open_first(page: Page, label: str, name: str) -> None:
    """Keep a screenshot of a picker's open list, then pick its first real option."""
    box = page.get_by_role("combobox", name=label)
    box.scroll_into_view_if_needed()
    open_options(box)
    screenshot(page, f"screens-{name}-picker")
    rerun_after(page, page.get_by_role("option").nth(1).click)
    look(page, name)


def test_sales_cs_and_leadership_screens_cut_nothing_off(tall_page: Page, app_url: str) -> None:
    """Every tile on the rep's, CS's and leadership's pages shows its whole label and value."""
    page = tall_page
    company = "Screens Co"
    sign_in(page, app_url, "Maya Chen")
    look(page, "home")
    launch(page, company, ACCOUNT, "Extended Trial")
    approve_in_console(page, company)
    open_page(page, "New delegation")
    expect(main(page).get_by_text(f"Connected to {company}")).to_be_visible(timeout=LIVE_TIMEOUT_MS)
    look(page, "connected")  # "Approved by" was cut off at "user/customer-…"

    open_page(page, "Live demo")
    expect(main(page).get_by_text(re.compile(r"^Sync 100%"))).to_be_visible(timeout=LIVE_TIMEOUT_MS)
    look(page, "demo-listings")  # "Mode" was cut off at "Trial (rea…" / "Demo (…"
    open_first(page, "Open a product", "demo-product")
    show_tab(page, "Offers")
    look(page, "demo-offers")
    open_first(page, "Open an offer", "demo-offer")
    show_tab(page, "Agreements")
    look(page, "demo-agreements")
    open_first(page, "Open an agreement", "demo-agreement")
    show_tab(page, "Change sets")
    look(page, "demo-change-sets")
    open_first(page, "Open a change set", "demo-change-set")
    open_page(page, "Delegations")
    look(page, "delegations")

    switch_user(page, "Lena Fischer")
    for title in ("Trials desk", "Connections", "Support tickets"):
        open_page(page, title)
        look(page, title.lower().replace(" ", "-"))

    switch_user(page, "Rachel Kim")
    page.set_viewport_size({"width": TALL["width"], "height": 6400})
    open_page(page, "Leadership metrics")
    for section in METRICS_SECTIONS:
        show_metrics_section(page, section)
        look(page, "metrics-" + section.lower().replace(" ", "-").replace("→", "to"))
