"""AppTest: a rep drives the wizard from Provider to Connected against the sandbox."""

from __future__ import annotations

import time
from collections.abc import Callable

import boto3
from streamlit.testing.v1 import AppTest

from vell_core.app import Services

CUSTOMER = "418295730164"


def approve_as_customer(services: Services, request_id: str) -> None:
    def iam(persona: str):
        creds = services.sandbox.persona_credentials(CUSTOMER, persona)
        return boto3.client(
            "iam",
            endpoint_url=services.sandbox.endpoint,
            region_name="us-east-1",
            aws_access_key_id=creds["AccessKeyId"],
            aws_secret_access_key=creds["SecretAccessKey"],
        )

    iam("owner").associate_delegation_request(DelegationRequestId=request_id)
    iam("admin").accept_delegation_request(DelegationRequestId=request_id)
    iam("owner").send_delegation_token(DelegationRequestId=request_id)


def test_wizard_reaches_connected(page: Callable[..., AppTest], app_services: Services) -> None:
    at = page("pages/wizard.py", as_email="maya.chen@vell.ai", company="Northwind Observability")
    at.run()
    assert not at.exception
    at.button(key="wizard_provider_next").click().run()
    assert at.text_input(key="wizard_company").value == "Northwind Observability"
    at.text_input(key="wizard_account").set_value("4182-9573-0164")
    at.button(key="wizard_account_next").click().run()
    at.button(key="wizard_path_demo").click().run()
    assert any("2048" in m.value for m in at.metric)
    assert any("Northwind Observability" in i.value for i in at.info)
    at.button(key="wizard_launch").click().run()
    assert not at.exception
    wizard = at.session_state["wizard_state"]
    assert wizard["step"] == 3
    view = app_services.delegations.get(
        app_services.staff.by_email("maya.chen@vell.ai"), wizard["delegation_id"]
    )
    assert any(view.delegation_request_id in c.value for c in at.code)
    approve_as_customer(app_services, view.delegation_request_id)
    deadline = time.monotonic() + 20
    while at.session_state["wizard_state"]["step"] != 4 and time.monotonic() < deadline:
        at.run()
    assert at.session_state["wizard_state"]["step"] == 4
    at.run()
    assert not at.exception
    assert any("Connected to Northwind Observability" in s.value for s in at.success)
    at.button(key="wizard_upgrade").click().run()
    assert at.session_state["wizard_state"]["step"] == 2
    assert at.session_state["wizard_state"]["path"] == "onboarding"


def test_invalid_account_is_refused_before_anything_is_sent(page: Callable[..., AppTest]) -> None:
    at = page("pages/wizard.py", as_email="maya.chen@vell.ai")
    at.run()
    at.button(key="wizard_provider_next").click().run()
    at.text_input(key="wizard_company").set_value("Acme")
    at.text_input(key="wizard_account").set_value("12345")
    at.button(key="wizard_account_next").click().run()
    assert at.session_state["wizard_state"]["step"] == 1
    assert any("12 digits" in e.value for e in at.error)


def test_leadership_cannot_open_the_wizard(page: Callable[..., AppTest]) -> None:
    at = page("pages/wizard.py", as_email="rachel.kim@vell.ai")
    at.run()
    assert any("do not have access" in e.value for e in at.error)
    assert not at.button


def test_upgrade_to_production_prepares_an_onboarding_request(
    page: Callable[..., AppTest], app_services: Services
) -> None:
    at = page("pages/wizard.py", as_email="maya.chen@vell.ai")
    at.session_state["wizard_state"] = {
        "step": 2,
        "session_id": "wiz-upgrade",
        "company": "Acme Analytics",
        "account": "602341187520",
        "path": "onboarding",
        "launch_token": "8a1c7c1e-0d53-4f3b-9e3a-3b8f7e6f5a10",
    }
    at.run()
    assert not at.exception
    assert any("Automated production setup" in i.value for i in at.info)
    assert any("iam:CreateRole" in c.value for c in at.code)
    assert any("43200" in m.value or "12 h" in m.value for m in at.metric)


def choose_production(at: AppTest, company: str, account: str) -> None:
    at.run()
    at.button(key="wizard_provider_next").click().run()
    at.text_input(key="wizard_company").set_value(company)
    at.text_input(key="wizard_account").set_value(account)
    at.button(key="wizard_account_next").click().run()
    at.button(key="wizard_path_production").click().run()
    assert not at.exception


def test_production_card_says_production_setup_and_hands_a_rep_over_to_cs(
    page: Callable[..., AppTest],
) -> None:
    at = page("pages/wizard.py", as_email="maya.chen@vell.ai")
    choose_production(at, "Card Co", "555000099001")
    info = " ".join(i.value for i in at.info)
    assert "Customer success runs it from **Production setup**" in info
    assert "Connections" not in info
    assert any(
        "Hand it to customer success with the company (Card Co) and AWS account 555000099001"
        in c.value
        for c in at.caption
    )
    assert not [b for b in at.button if b.key == "wizard_production_setup"]  # not theirs to run


def test_production_card_offers_cs_the_production_setup_page(
    page: Callable[..., AppTest],
) -> None:
    at = page("pages/wizard.py", as_email="lena.fischer@vell.ai")
    choose_production(at, "Card Co", "555000099001")
    assert at.button(key="wizard_production_setup").label == "Open Production setup"
