"""An admin in a real browser: notification health, and the audit trail of a fresh demo."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.helpers import connect, download_csv, main, open_page, screenshot, sign_in

pytestmark = pytest.mark.e2e

ADMIN = "Sam Patel"
COMPANY = "E2E Audit Co"
ACCOUNT = "418295730164"


def test_admin_sees_that_notifications_are_flowing(page: Page, app_url: str) -> None:
    """AWS setup tells an admin at a glance that topic, queue and worker are healthy."""
    sign_in(page, app_url, ADMIN)
    open_page(page, "AWS setup")
    expect(main(page).get_by_text("Notifications are flowing")).to_be_visible(timeout=30_000)
    expect(main(page).get_by_role("heading", name="Partner questionnaire")).to_be_visible()
    screenshot(page, "40-aws-setup")


def test_the_audit_log_records_the_token_exchange_of_a_new_demo(page: Page, app_url: str) -> None:
    """After a demo connects, the audit CSV holds its exchange and its state changes."""
    sign_in(page, app_url, ADMIN)
    connect(page, COMPANY, ACCOUNT, "Quick Start Demo")
    open_page(page, "Audit log")
    rows = download_csv(page, "Download CSV")
    mine = [row for row in rows if row["customer_account_id"] == ACCOUNT]
    actions = {row["action"] for row in mine}
    assert "sts.GetDelegatedAccessToken" in actions
    assert any(action.startswith("delegation → FINALIZED") for action in actions)
    screenshot(page, "41-audit-log")
