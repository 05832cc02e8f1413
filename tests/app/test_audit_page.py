"""Audit page (admins): actions and state changes, filters, CSV export; nobody else gets in."""

from __future__ import annotations

import uuid
from collections.abc import Callable

import pytest
from streamlit.testing.v1 import AppTest

from vell_core.app import Services


@pytest.fixture
def marker(app_services: Services) -> str:
    """One audit row with a unique detail, attributed to Maya for a sandbox customer."""
    detail = f"marker-{uuid.uuid4().hex[:8]}"
    maya = app_services.staff.by_email("maya.chen@vell.ai")
    assert maya is not None
    app_services.audit.record(
        action="marketplace-catalog.ListEntities",
        outcome="ok",
        staff_user_id=maya.id,
        customer_account_id="602341187520",
        detail=detail,
        aws_request_id="req-1",
    )
    return detail


def _details(app: AppTest) -> list[str]:
    return list(app.dataframe[0].value["Detail"])


def test_admin_sees_actions_and_state_changes(page: Callable[..., AppTest], marker: str) -> None:
    app = page("pages/audit.py", as_email="sam.patel@vell.ai").run()
    assert not app.exception
    assert [t.value for t in app.title] == ["Audit log"]
    table = app.dataframe[0].value
    assert marker in list(table["Detail"])
    assert {"action", "state change"} <= set(table["Kind"])
    assert app.get("download_button")


def test_filters_by_customer_and_staff(page: Callable[..., AppTest], marker: str) -> None:
    app = page("pages/audit.py", as_email="sam.patel@vell.ai").run()
    app.text_input(key="audit_customer").set_value("602341187520").run()
    assert marker in _details(app)
    assert set(app.dataframe[0].value["Account"]) == {"602341187520"}

    maya = next(o for o in app.multiselect(key="audit_staff").options if o.startswith("Maya"))
    app.multiselect(key="audit_staff").set_value([maya]).run()
    assert set(app.dataframe[0].value["Staff"]) == {"Maya Chen"}

    app.text_input(key="audit_customer").set_value("no-such-customer").run()
    assert not app.dataframe
    assert any("Nothing matches" in info.value for info in app.info)


@pytest.mark.parametrize(
    "email", ["maya.chen@vell.ai", "lena.fischer@vell.ai", "rachel.kim@vell.ai"]
)
def test_non_admins_are_refused(page: Callable[..., AppTest], email: str) -> None:
    app = page("pages/audit.py", as_email=email).run()
    assert [e.value for e in app.error] == ["You do not have access to this page."]
    assert not app.dataframe
