"""AppTest: the CloudFormation production setup, from external ID to a validated connection."""

from __future__ import annotations

from collections.abc import Callable

import boto3
from streamlit.testing.v1 import AppTest

from tests.app.test_trials_desk_page import prod_page
from vell_core.app import Services
from vell_core.domain.policies import policy_path
from vell_core.services.connection_identity import STACK_NAME

__all__ = ["prod_page"]  # fixture
PAGE = "pages/production_setup.py"
ACCOUNT = "555000066001"


def customer_stack(services: Services, external_id: str) -> str:
    creds = services.sandbox.persona_credentials(ACCOUNT, "admin")
    cfn = boto3.client(
        "cloudformation",
        endpoint_url=services.sandbox.endpoint,
        region_name="us-east-1",
        aws_access_key_id=creds["AccessKeyId"],
        aws_secret_access_key=creds["SecretAccessKey"],
    )
    cfn.create_stack(
        StackName=STACK_NAME,
        TemplateBody=policy_path("cloudformation/vell-marketplace-connector-role.yaml").read_text(),
        Parameters=[{"ParameterKey": "ExternalId", "ParameterValue": external_id}],
        Capabilities=["CAPABILITY_NAMED_IAM"],
    )
    outputs = cfn.describe_stacks(StackName=STACK_NAME)["Stacks"][0]["Outputs"]
    return next(o["OutputValue"] for o in outputs if o["OutputKey"] == "RoleArn")


def test_generate_link_then_validate(
    prod_page: Callable[..., AppTest], app_services: Services
) -> None:
    at = prod_page(PAGE, as_email="lena.fischer@vell.ai")
    at.run()
    assert not at.exception
    at.text_input(key="ps_company").set_value("Setup Page Co")
    at.text_input(key="ps_account").set_value("5550-0006-6001")
    at.button[0].click().run()  # the form's submit button
    assert not at.exception
    external_id = at.code[0].value
    assert external_id.startswith("vell-")

    at.text_input(key="ps_role_arn").set_value("arn:aws:iam::555000066001:user/bob").run()
    at.button(key="ps_validate").click().run()
    assert any("not an IAM role ARN" in w.value for w in at.warning)

    role_arn = customer_stack(app_services, external_id)
    at.text_input(key="ps_role_arn").set_value(role_arn).run()
    at.button(key="ps_validate").click().run()
    assert not at.exception
    assert any("is active" in s.value for s in at.success)
