"""CloudFormation in the sandbox: Vell's template at its public URL, the checks AWS makes on
``CreateStack`` (moto makes none), and the console page a quick-create link opens."""

from __future__ import annotations

import re
from typing import Any

import pytest
import requests
from botocore.exceptions import ClientError

from tests import cfn_console
from tests.sandbox.conftest import CONFIG, CUSTOMER, ClientMaker
from vell_core.sandbox.server import RunningSandbox
from vell_core.services.cloudformation import quick_create_url

TEMPLATE_URL = CONFIG.cfn_template_url
EXTERNAL_ID = "vell-0123456789abcdef0123456789abcdef"


@pytest.fixture
def admin_cfn(make_client: ClientMaker, personas: dict[str, dict[str, str]]) -> Any:
    """CloudFormation as the customer's administrator."""
    return make_client("cloudformation", personas["admin"])


def parameters(**values: str) -> list[dict[str, str]]:
    return [{"ParameterKey": k, "ParameterValue": v} for k, v in values.items()]


def refusal(error: pytest.ExceptionInfo[ClientError]) -> tuple[str, str]:
    body = error.value.response["Error"]
    return str(body["Code"]), str(body["Message"])


def link(sandbox: RunningSandbox, partner: str = CONFIG.partner_account_id) -> str:
    return quick_create_url(
        template_url=TEMPLATE_URL,
        external_id=EXTERNAL_ID,
        partner_account_id=partner,
        console_origin=sandbox.endpoint,
    )


def test_the_template_url_serves_vells_template_to_a_customer(admin_cfn: Any) -> None:
    summary = admin_cfn.get_template_summary(TemplateURL=TEMPLATE_URL)
    keys = [p["ParameterKey"] for p in summary["Parameters"]]
    assert sorted(keys) == ["ExternalId", "PartnerAccountId", "RoleName"]
    # AWS reports what the console's IAM acknowledgement is for; moto alone reports nothing.
    assert summary["Capabilities"] == ["CAPABILITY_NAMED_IAM"]
    assert "AWS::IAM::Role" in summary["CapabilitiesReason"]


def test_create_stack_without_the_named_iam_capability_is_refused(admin_cfn: Any) -> None:
    with pytest.raises(ClientError) as error:
        admin_cfn.create_stack(
            StackName="VellMarketplaceConnector",
            TemplateURL=TEMPLATE_URL,
            Parameters=parameters(ExternalId=EXTERNAL_ID),
            Capabilities=["CAPABILITY_IAM"],  # not enough: the role has a custom name
        )
    assert refusal(error) == (
        "InsufficientCapabilitiesException",
        "Requires capabilities : [CAPABILITY_NAMED_IAM]",
    )
    assert admin_cfn.describe_stacks()["Stacks"] == []


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({}, "Parameters: [ExternalId] must have values"),
        (
            {"ExternalId": EXTERNAL_ID, "PartnerAccountId": "٢٥٣٢٦٥١٣٢٤٩٩"},
            "Parameter PartnerAccountId failed to satisfy constraint: A 12-digit AWS account ID.",
        ),
        (
            {"ExternalId": "has space"},
            "Parameter ExternalId failed to satisfy constraint: 2-1224 characters from letters, "
            "digits and +=,.@:/-_ (Vell generates it).",
        ),
        ({"ExternalId": EXTERNAL_ID, "Extra": "x"}, "Parameters: [Extra] do not exist"),
    ],
)
def test_create_stack_checks_parameters_as_aws_does(
    admin_cfn: Any, values: dict[str, str], message: str
) -> None:
    with pytest.raises(ClientError) as error:
        admin_cfn.create_stack(
            StackName="VellMarketplaceConnector",
            TemplateURL=TEMPLATE_URL,
            Parameters=parameters(**values),
            Capabilities=["CAPABILITY_NAMED_IAM"],
        )
    code, text = refusal(error)
    assert code == "ValidationError"
    assert text.startswith(message)


def test_the_quick_create_link_creates_the_stack_through_the_console(
    sandbox: RunningSandbox, admin_cfn: Any
) -> None:
    role_arn = cfn_console.create_stack(link(sandbox), CUSTOMER)
    assert re.fullmatch(
        rf"arn:aws:iam::{CUSTOMER}:role/vell\.ai/VellMarketplaceConnector-[0-9a-f]{{8}}", role_arn
    )
    stack = admin_cfn.describe_stacks(StackName="VellMarketplaceConnector")["Stacks"][0]
    assert {p["ParameterKey"]: p["ParameterValue"] for p in stack["Parameters"]}["ExternalId"] == (
        EXTERNAL_ID
    )


def test_the_console_asks_who_signs_in_before_showing_the_form(sandbox: RunningSandbox) -> None:
    url, query = cfn_console.quick_create_page(link(sandbox), CUSTOMER)
    del query["account"]
    page = requests.get(url, params=query, timeout=10)
    assert page.status_code == 200
    assert "Sign in to the sandbox AWS console" in page.text
    assert f"value='{EXTERNAL_ID}'" in page.text  # the link's parameters are kept for after


def test_the_console_home_routes_the_links_fragment(sandbox: RunningSandbox) -> None:
    page = requests.get(f"{sandbox.endpoint}/cloudformation/home?region=us-east-1", timeout=10)
    assert page.status_code == 200
    assert "#\\/stacks\\/quickcreate" in page.text  # the router script's pattern
    assert '"/quickcreate?"' in page.text


def test_the_console_escapes_what_the_link_carries(sandbox: RunningSandbox) -> None:
    url, query = cfn_console.quick_create_page(link(sandbox), CUSTOMER)
    query["stackName"] = "<script>alert(1)</script>"
    query["param_RoleName"] = "'><img src=x onerror=alert(2)>"
    page = requests.get(url, params=query, timeout=10)
    assert "<script>alert(1)" not in page.text
    assert "<img src=x" not in page.text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page.text


def test_an_aws_refusal_is_shown_on_the_form(sandbox: RunningSandbox) -> None:
    with pytest.raises(cfn_console.StackRefused) as refused:
        cfn_console.create_stack(link(sandbox, partner="12"), CUSTOMER)
    assert refused.value.alerts == [
        "ValidationError: Parameter PartnerAccountId failed to satisfy constraint: A 12-digit "
        "AWS account ID."
    ]
