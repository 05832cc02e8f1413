"""AppTest: the trials desk lists live demos and trials; its actions work in the sandbox."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from streamlit.testing.v1 import AppTest

from vell_core.app import Services
from vell_core.domain.models import DelegationPath
from vell_core.services.delegation import LaunchRequest, new_launch_token

PAGE = "pages/trials_desk.py"
CS = "lena.fischer@vell.ai"
ACCOUNT = "555000077001"


@pytest.fixture
def prod_page(page: Callable[..., AppTest], app_services: Services) -> Callable[..., AppTest]:
    """The page factory for the production pages (the graph wires their services)."""
    return page


def launch_trial(services: Services, company: str = "Desk Test Trials") -> int:
    member = services.staff.by_email(CS)
    request = LaunchRequest(
        company=company,
        aws_account_id=ACCOUNT,
        path=DelegationPath.TRIAL,
        launch_token=new_launch_token(),
    )
    return services.delegations.launch(member, request).id


def test_sales_cannot_open_the_desk(prod_page: Callable[..., AppTest]) -> None:
    at = prod_page(PAGE, as_email="maya.chen@vell.ai")
    at.run()
    assert not at.exception
    assert any("do not have access" in e.value for e in at.error)


def test_desk_lists_trials_and_filters_by_company(
    prod_page: Callable[..., AppTest], app_services: Services
) -> None:
    trial_id = launch_trial(app_services)
    at = prod_page(PAGE, as_email=CS)
    at.run()
    assert not at.exception
    at.text_input(key="td_company").set_value("Desk Test").run()
    assert not at.exception
    frame = at.dataframe[0].value
    assert list(frame["Request #"]) == [trial_id]
    assert frame["Time left"].iloc[0] not in ("", "—")
    assert next(iter(frame.columns)) == "Company"
    assert list(frame.columns)[-1] == "Request #"
    assert at.selectbox(key="td_pick").value == trial_id


def test_record_prompt_renew_and_promote(
    prod_page: Callable[..., AppTest], app_services: Services
) -> None:
    trial_id = launch_trial(app_services, "Desk Actions Co")
    at = prod_page(PAGE, as_email=CS)
    at.run()
    at.text_input(key="td_company").set_value("Desk Actions").run()
    at.text_input(key="td_prompt_note").set_value("sent via email")
    at.button(key="td_prompt").click().run()
    assert not at.exception
    assert any("Recorded at" in s.value for s in at.success)

    at.button(key="td_renew").click().run()
    assert not at.exception
    assert any("New request" in s.value for s in at.success)

    at.button(key="td_promote").click().run()
    assert not at.exception
    # A trial cannot create roles: an onboarding request goes out and the run waits for it.
    assert any("approval link" in i.value for i in at.info)
    member = app_services.staff.by_email(CS)
    view = app_services.promotion.get(member, trial_id)
    assert view.status.value == "waiting"
    assert any(view.waiting_link == c.value for c in at.code)


def test_cloudformation_promotion_shows_the_quick_create_link(
    prod_page: Callable[..., AppTest], app_services: Services
) -> None:
    launch_trial(app_services, "Desk CFN Co")
    at = prod_page(PAGE, as_email=CS)
    at.run()
    at.text_input(key="td_company").set_value("Desk CFN").run()
    at.button(key="td_cfn").click().run()
    assert not at.exception
    link = at.code[0].value
    assert link.startswith(f"{app_services.sandbox.endpoint}/cloudformation/home?")
    assert "#/stacks/quickcreate?" in link
    external_id = link.split("param_ExternalId=")[1].split("&")[0]
    assert any(external_id in c.value for c in at.caption)
    assert [b.proto.url for b in at.get("link_button")] == [link]
