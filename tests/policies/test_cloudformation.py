"""The production-path CloudFormation template: cfn-lint clean, and it deploys under moto."""

from __future__ import annotations

import ast
import json
import re
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from cfnlint.api import lint
from cfnlint.decode.cfn_yaml import loads as load_cfn_yaml

from tests.conftest import isolated_mock_aws
from tests.policies import policy_docs
from vell_core.config.settings import VELL_PARTNER_ACCOUNT_ID
from vell_core.domain import iam_actions as iam_permissions
from vell_core.domain.policies import policy_path

TEMPLATE_TEXT = policy_path(policy_docs.CFN_TEMPLATE).read_text(encoding="utf-8")
TEMPLATE = json.loads(json.dumps(load_cfn_yaml(TEMPLATE_TEXT)))
ROLE = TEMPLATE["Resources"]["ConnectorRole"]["Properties"]
EXTERNAL_ID = "vell-3f1c9a7be2d04c55a1b2c3d4e5f60718"


def test_cfn_lint_reports_no_errors_or_warnings() -> None:
    matches = lint(TEMPLATE_TEXT)
    assert [f"{m.rule.id}: {m.message}" for m in matches if m.rule.id[0] in "EW"] == []


def test_cfn_lint_can_fail() -> None:
    broken = TEMPLATE_TEXT.replace("Type: AWS::IAM::Role", "Type: AWS::IAM::Rolle")
    assert any(m.rule.id.startswith("E") for m in lint(broken))


def test_parameters() -> None:
    params = TEMPLATE["Parameters"]
    assert params["ExternalId"]["AllowedPattern"] == r"[\w+=,.@:/-]{2,1224}"
    assert params["ExternalId"]["NoEcho"] is False
    assert params["PartnerAccountId"]["Default"] == VELL_PARTNER_ACCOUNT_ID
    assert params["RoleName"]["Default"] + "-" == iam_permissions.CONNECTOR_ROLE_NAME_PREFIX
    assert set(TEMPLATE["Outputs"]) == {"RoleArn", "ExternalId"}


def test_inline_policy_is_the_connector_policy_file() -> None:
    (policy,) = ROLE["Policies"]
    assert policy["PolicyName"] == iam_permissions.CONNECTOR_POLICY_NAME
    assert policy["PolicyDocument"] == policy_docs.raw_file(policy_docs.CONNECTOR_FILE)
    assert ROLE["Path"] == iam_permissions.CONNECTOR_ROLE_PATH
    assert "PermissionsBoundary" not in ROLE


def as_document(value: Any) -> dict[str, Any]:
    """A policy document from boto3 (moto returns CFN inline policies as ``str(dict)``)."""
    if isinstance(value, dict):
        return value
    try:
        return dict(json.loads(value))
    except json.JSONDecodeError:
        return dict(ast.literal_eval(value))


@pytest.fixture
def stack_outputs() -> Iterator[dict[str, Any]]:
    """Create the stack under moto; yield its outputs plus the created role's documents."""
    with isolated_mock_aws():
        cloudformation = boto3.client("cloudformation", region_name="us-east-1")
        cloudformation.create_stack(
            StackName="vell-connector-test",
            TemplateBody=TEMPLATE_TEXT,
            Parameters=[{"ParameterKey": "ExternalId", "ParameterValue": EXTERNAL_ID}],
            Capabilities=["CAPABILITY_NAMED_IAM"],
        )
        stack = cloudformation.describe_stacks(StackName="vell-connector-test")["Stacks"][0]
        outputs = {o["OutputKey"]: o["OutputValue"] for o in stack["Outputs"]}
        iam = boto3.client("iam", region_name="us-east-1")
        role_name = outputs["RoleArn"].rsplit("/", 1)[1]
        role = iam.get_role(RoleName=role_name)["Role"]
        inline = as_document(
            iam.get_role_policy(
                RoleName=role_name, PolicyName=iam_permissions.CONNECTOR_POLICY_NAME
            )["PolicyDocument"]
        )
        yield {"status": stack["StackStatus"], "outputs": outputs, "role": role, "inline": inline}


def test_stack_creates_the_role_with_the_trust_policy(stack_outputs: dict[str, Any]) -> None:
    assert stack_outputs["status"] == "CREATE_COMPLETE"
    role = stack_outputs["role"]
    expected_trust = json.loads(policy_docs.trust_text(external_id=EXTERNAL_ID))
    assert role["AssumeRolePolicyDocument"] == expected_trust
    assert role["Path"] == iam_permissions.CONNECTOR_ROLE_PATH
    assert stack_outputs["inline"] == policy_docs.raw_file(policy_docs.CONNECTOR_FILE)
    assert stack_outputs["outputs"]["ExternalId"] == EXTERNAL_ID


def test_role_name_has_prefix_and_random_suffix(stack_outputs: dict[str, Any]) -> None:
    name = stack_outputs["role"]["RoleName"]
    prefix = re.escape(iam_permissions.CONNECTOR_ROLE_NAME_PREFIX)
    assert re.fullmatch(prefix + r"[0-9a-f]{8}", name)
    assert re.fullmatch(r"[\w+=,.@-]{1,64}", name)
