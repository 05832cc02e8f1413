"""Customer success in a real browser: a rep's trial is promoted to a permanent connection."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.helpers import (
    LIVE_TIMEOUT_MS,
    approve_in_console,
    choose,
    click,
    connect,
    fill,
    main,
    open_page,
    screenshot,
    sign_in,
    switch_user,
)

pytestmark = pytest.mark.e2e

REP = "Maya Chen"
CS = "Lena Fischer"
COMPANY = "E2E Trial Co"
ACCOUNT = "418295730164"


def pick_trial(page: Page) -> None:
    """Trials desk: act on the E2E company's trial."""
    open_page(page, "Trials desk")
    fill(page, "Company contains", COMPANY)
    choose(page, "Act on", re.compile(rf"· {re.escape(COMPANY)} · trial$"), search=COMPANY)


def test_trial_is_promoted_to_a_permanent_connection(page: Page, app_url: str) -> None:
    """CS promotes a connected trial (hybrid); the customer approves; Connections lists it."""
    sign_in(page, app_url, REP)
    connect(page, COMPANY, ACCOUNT, "Extended Trial")
    switch_user(page, CS)
    pick_trial(page)
    screenshot(page, "20-trials-desk")
    click(page, "Promote (hybrid)")
    expect(main(page).get_by_text("Waiting for the customer's approval")).to_be_visible()
    screenshot(page, "21-promotion-waiting")

    approve_in_console(page, COMPANY, "onboarding")
    pick_trial(page)
    click(page, "Promote (hybrid)")
    expect(main(page).get_by_text("Promoted: permanent connection active")).to_be_visible(
        timeout=LIVE_TIMEOUT_MS
    )
    screenshot(page, "22-promoted")

    open_page(page, "Connections")
    fill(page, "Company contains", COMPANY)
    connection = re.compile(rf"· {re.escape(COMPANY)} · active$")
    expect(page.get_by_role("combobox", name="Connection")).to_have_value(connection)
    screenshot(page, "23-connections")
