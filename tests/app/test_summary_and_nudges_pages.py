"""AppTest: AWS's summary beside the exact request in the wizard, and a desk that nudges.

* the wizard's waiting step shows AWS's summary (``GetHumanReadableSummary``) beside the exact
  policy and message, with progress while AWS writes it and a friendly message if it fails;
* a state change of one of the rep's requests is toasted on another page;
* a request waiting longer than usual is nudged with its next action (toast and Delegations);
* a trial over 4 hours warns that root cannot approve it; a root-approved request is flagged.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import boto3
import pytest
from streamlit.testing.v1 import AppTest

from vell_core.app import Services
from vell_core.aws.request_summary import NOTICES, SummaryStatus
from vell_core.domain.models import AwsDelegationState, DelegationPath, ExchangeState
from vell_core.services.delegation import LaunchRequest, new_launch_token
from vell_core.services.nudges import ROOT_APPROVED_TEXT, ROOT_LIMIT_TEXT

CUSTOMER = "739104552816"
# Reps of their own: the launch rate limit (10 per 10 minutes per rep) is shared by the session.
REP = "priya.natarajan@vell.ai"  # AWS's summary, root approvers
WATCHER = "tom.becker@vell.ai"  # toasts and nudges
LIVE_SECONDS = 20


def shown(elements: Any) -> list[str]:
    """Element texts as the rep reads them (pages escape Markdown in untrusted strings)."""
    return [element.value.replace("\\", "") for element in elements]


def company() -> str:
    return f"Summary Test {uuid.uuid4().hex[:6]}"


@pytest.fixture
def slow_summaries(app_services: Services) -> Iterator[None]:
    """AWS takes a minute of sandbox time to write a summary (so the test sees it pending)."""
    control = app_services.sandbox.control
    control.set_config(summary_seconds=60)
    yield
    control.set_config(summary_seconds=3.0, summary_failures=False)


def launch(
    services: Services, name: str, path: DelegationPath, rep: str = REP, hours: int | None = None
) -> Any:
    member = services.staff.by_email(rep)
    assert member is not None
    return services.delegations.launch(
        member,
        LaunchRequest(
            company=name,
            aws_account_id=CUSTOMER,
            path=path,
            launch_token=new_launch_token(),
            session_duration=hours * 3600 if hours else None,
        ),
    )


def customer_iam(services: Services, persona: str) -> Any:
    creds = services.sandbox.persona_credentials(CUSTOMER, persona)
    return boto3.client(
        "iam",
        endpoint_url=services.sandbox.endpoint,
        region_name="us-east-1",
        aws_access_key_id=creds["AccessKeyId"],
        aws_secret_access_key=creds["SecretAccessKey"],
    )


def waiting_wizard(page: Callable[..., AppTest], delegation_id: int) -> AppTest:
    at = page("pages/wizard.py", as_email=REP)
    at.session_state["wizard_state"] = {
        "step": 3,
        "session_id": f"wiz-{uuid.uuid4().hex[:8]}",
        "company": "x",
        "account": CUSTOMER,
        "delegation_id": delegation_id,
    }
    return at.run()


def run_until(at: AppTest, found: Callable[[AppTest], bool]) -> AppTest:
    """Rerun until ``found`` (the worker delivers notifications in the background)."""
    deadline = time.monotonic() + LIVE_SECONDS
    while not found(at) and time.monotonic() < deadline:
        at.run()
    return at


# -- part 1: AWS's summary in the wizard -------------------------------------------------------


def test_waiting_step_shows_aws_summary_beside_the_exact_policy_and_message(
    page: Callable[..., AppTest], app_services: Services, slow_summaries: None
) -> None:
    name = company()
    view = launch(app_services, name, DelegationPath.DEMO)
    at = waiting_wizard(page, view.id)
    assert not at.exception
    assert NOTICES[SummaryStatus.GENERATING] in shown(at.info)
    assert any("This refreshes on its own" in c for c in shown(at.caption))
    assert any(name in i for i in shown(at.info))  # the message the customer will see
    assert any('"aws-marketplace:ListEntities"' in c.value for c in at.code)  # the policy
    app_services.sandbox.advance(61)
    at.run()
    assert not at.exception
    texts = shown(at.markdown)
    assert any(t.startswith("Vell (AWS account 253265132499) asks for temporary") for t in texts)
    assert any(f"{CUSTOMER}:AWSMarketplace/*" in t for t in texts)
    assert NOTICES[SummaryStatus.GENERATING] not in shown(at.info)
    kept = at.session_state["wizard_summary_view"]
    assert kept[0] == view.id
    assert kept[1].status is SummaryStatus.AVAILABLE


def test_a_failed_summary_is_a_friendly_message_and_the_link_is_still_there(
    page: Callable[..., AppTest], app_services: Services, slow_summaries: None
) -> None:
    app_services.sandbox.control.set_config(summary_failures=True, summary_seconds=0)
    view = launch(app_services, company(), DelegationPath.DEMO)
    at = waiting_wizard(page, view.id)
    at.run()
    assert not at.exception
    assert NOTICES[SummaryStatus.FAILED] in shown(at.warning)
    assert any(view.delegation_request_id in c.value for c in at.code)  # the console link


def test_once_the_customer_has_opened_it_the_wizard_says_aws_shows_it_to_them_only(
    page: Callable[..., AppTest], app_services: Services, slow_summaries: None
) -> None:
    view = launch(app_services, company(), DelegationPath.DEMO)
    customer_iam(app_services, "owner").associate_delegation_request(
        DelegationRequestId=view.delegation_request_id
    )
    at = waiting_wizard(page, view.id)
    assert not at.exception
    assert NOTICES[SummaryStatus.OUT_OF_REACH] in shown(at.info)


# -- part 2a: state changes on whatever page ---------------------------------------------------


def test_a_state_change_is_toasted_on_another_page(
    page: Callable[..., AppTest], app_services: Services
) -> None:
    name = company()
    view = launch(app_services, name, DelegationPath.DEMO, WATCHER)
    at = page("pages/demo_links.py", as_email=WATCHER)
    at.run()
    assert not at.exception
    assert not any(name in t for t in shown(at.toast))  # its creation is the rep's own doing
    customer_iam(app_services, "owner").associate_delegation_request(
        DelegationRequestId=view.delegation_request_id
    )
    wanted = f"{name} (demo): Opened by the customer — under review."
    run_until(at, lambda at: wanted in shown(at.toast))
    assert wanted in shown(at.toast)
    at.run()
    assert wanted not in shown(at.toast)  # told once


def test_another_reps_state_change_is_not_toasted(
    page: Callable[..., AppTest], app_services: Services
) -> None:
    name = company()
    view = launch(app_services, name, DelegationPath.DEMO, WATCHER)
    at = page("pages/demo_links.py", as_email="diego.alvarez@vell.ai")
    at.run()
    customer_iam(app_services, "owner").associate_delegation_request(
        DelegationRequestId=view.delegation_request_id
    )
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        at.run()
        assert not any(name in t for t in shown(at.toast))


# -- part 2b: longer than usual ------------------------------------------------------------------


def test_a_request_waiting_longer_than_usual_is_nudged_with_the_next_action(
    page: Callable[..., AppTest], app_services: Services
) -> None:
    name = company()
    launch(app_services, name, DelegationPath.DEMO, WATCHER)
    usual = app_services.nudges.usual()[AwsDelegationState.UNASSIGNED]
    app_services.sandbox.advance(usual.total_seconds() + 60)
    at = page("pages/delegations.py", as_email=WATCHER)
    at.run()
    assert not at.exception
    nudges = [m for m in shown(at.markdown) if name in m]
    assert any("UNASSIGNED for" in m and "resend it" in m for m in nudges), nudges
    assert any(name in t and "resend it" in t for t in shown(at.toast))


# -- part 2c: root approvers ---------------------------------------------------------------------


def test_a_long_trial_warns_before_sending_that_root_cannot_approve_it(
    page: Callable[..., AppTest], app_services: Services, slow_summaries: None
) -> None:
    at = page("pages/wizard.py", as_email=REP)
    at.session_state["wizard_state"] = {
        "step": 2,
        "session_id": f"wiz-{uuid.uuid4().hex[:8]}",
        "company": company(),
        "account": CUSTOMER,
        "path": "trial",
        "launch_token": new_launch_token(),
        "hours": 6,
    }
    at.run()
    assert not at.exception
    assert any("a root user can approve at most 4 hours" in w for w in shown(at.warning))
    at.button(key="wizard_launch").click().run()
    assert at.session_state["wizard_state"]["step"] == 3
    assert ROOT_LIMIT_TEXT in shown(at.warning)


def test_a_four_hour_demo_has_no_root_warning(
    page: Callable[..., AppTest], app_services: Services, slow_summaries: None
) -> None:
    view = launch(app_services, company(), DelegationPath.DEMO)
    at = waiting_wizard(page, view.id)
    assert ROOT_LIMIT_TEXT not in shown(at.warning)


def test_a_root_approved_request_is_flagged(
    page: Callable[..., AppTest], app_services: Services
) -> None:
    name = company()
    view = launch(app_services, name, DelegationPath.DEMO)
    request_id = view.delegation_request_id
    customer_iam(app_services, "owner").associate_delegation_request(DelegationRequestId=request_id)
    root = customer_iam(app_services, "root")
    root.accept_delegation_request(DelegationRequestId=request_id)
    root.send_delegation_token(DelegationRequestId=request_id)
    member = app_services.staff.by_email(REP)
    deadline = time.monotonic() + LIVE_SECONDS
    while time.monotonic() < deadline:
        done = app_services.delegations.get(member, view.id)
        if done.exchange_state is ExchangeState.DONE:
            break
        time.sleep(0.2)  # test only: the app's worker thread exchanges in the background
    assert done.root_approved

    at = page("pages/delegations.py", as_email=REP)
    at.run()
    at.text_input(key="dl_company").set_value(name).run()
    assert list(at.dataframe[0].value["Root-approved"]) == ["yes (cannot be revoked)"]
    at.session_state["dl_table"] = {"selection": {"rows": [0], "columns": []}}
    at.run()
    assert not at.exception
    assert ROOT_APPROVED_TEXT in shown(at.warning)

    wizard = page("pages/wizard.py", as_email=REP)
    wizard.session_state["wizard_state"] = {
        "step": 4,
        "session_id": f"wiz-{uuid.uuid4().hex[:8]}",
        "company": name,
        "account": CUSTOMER,
        "delegation_id": view.id,
    }
    wizard.run()
    assert not wizard.exception
    assert ROOT_APPROVED_TEXT in shown(wizard.warning)
