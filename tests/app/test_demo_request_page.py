"""Customer demo link pages: the rep issues a link; the customer uses it once, without sign-in."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from streamlit.testing.v1 import AppTest

from vell_core.app import Services
from vell_core.config.sandbox_accounts import SANDBOX_CUSTOMERS
from vell_core.domain.roles import StaffMember

ACCOUNT = SANDBOX_CUSTOMERS[0].account_id
COMPANY = SANDBOX_CUSTOMERS[0].company


@pytest.fixture
def maya(app_services: Services) -> StaffMember:
    member = app_services.staff.by_email("maya.chen@vell.ai")
    assert member is not None
    return member


def test_rep_creates_a_link(page: Callable[..., AppTest]) -> None:
    app = page("pages/demo_links.py", as_email="maya.chen@vell.ai").run()
    app.text_input(key="demo_link_company").set_value(COMPANY)
    app.button(key="FormSubmitter:demo_link_form-Create link").click().run()
    assert not app.exception
    assert "/demo_request?demo_link=" in app.code[0].value
    assert COMPANY in list(app.dataframe[0].value["Company"])


def test_customer_redeems_once(
    page: Callable[..., AppTest], app_services: Services, maya: StaffMember
) -> None:
    issued = app_services.demo_links.create(maya, COMPANY)
    app = page("Home.py", demo_link=issued.token).run()
    assert not app.exception
    assert [t.value for t in app.title] == ["Start your Vell demo"]
    assert any("Maya Chen" in m.value for m in app.markdown)
    app.text_input(key="demo_account").set_value(ACCOUNT)
    app.button(key="demo_request_submit").click().run()
    assert not app.exception
    assert not app.error
    assert any(COMPANY in s.value for s in app.success)
    assert app.get("link_button") or app.info

    reused = page("Home.py", demo_link=issued.token).run()
    assert any("already been used" in e.value for e in reused.error)
    assert not reused.text_input


def test_tampered_link_is_refused(
    page: Callable[..., AppTest], app_services: Services, maya: StaffMember
) -> None:
    issued = app_services.demo_links.create(maya, COMPANY)
    body, signature = issued.token.split(".")
    tampered = f"{body[:-2]}{'A' if body[-2] != 'A' else 'B'}{body[-1]}.{signature}"
    app = page("pages/demo_request.py", demo_link=tampered).run()
    assert not app.exception
    assert any("not valid" in e.value for e in app.error)
    assert not app.text_input


def test_missing_token_is_refused(page: Callable[..., AppTest]) -> None:
    app = page("pages/demo_request.py").run()
    assert not app.exception
    assert any("not valid" in e.value for e in app.error)
