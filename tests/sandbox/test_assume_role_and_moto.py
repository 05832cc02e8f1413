"""moto pass-through (SNS, SQS, CloudFormation, IAM) and the interceptors in front of it."""

from __future__ import annotations

import json
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.sandbox.conftest import CONFIG, CUSTOMER, ClientMaker

ROLE_NAME = "VellMarketplaceConnector"
EXTERNAL_ID = "vell-ext-7f3a9c"


def _code(error: pytest.ExceptionInfo[ClientError]) -> str:
    return str(error.value.response["Error"]["Code"])


def _trust(external_id: str = EXTERNAL_ID) -> str:
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"AWS": f"arn:aws:iam::{CONFIG.partner_account_id}:root"},
                    "Action": "sts:AssumeRole",
                    "Condition": {"StringEquals": {"sts:ExternalId": external_id}},
                }
            ],
        }
    )


@pytest.fixture
def customer_role(owner_iam: Any) -> str:
    """A bounded cross-account role in the customer account (as the CFN stack would make)."""
    role = owner_iam.create_role(
        RoleName=ROLE_NAME,
        Path="/vell.ai/",
        AssumeRolePolicyDocument=_trust(),
        PermissionsBoundary=CONFIG.boundary_arn,
    )["Role"]
    owner_iam.put_role_policy(
        RoleName=ROLE_NAME,
        PolicyName="inline",
        PolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Action": ["iam:GetRole", "iam:CreateUser"],
                        "Resource": "*",
                    }
                ],
            }
        ),
    )
    return str(role["Arn"])


@pytest.mark.parametrize("external_id", [None, "wrong-id"])
def test_assume_role_requires_the_external_id(
    customer_role: str, make_client: ClientMaker, partner: dict[str, str], external_id: str | None
) -> None:
    sts = make_client("sts", partner)
    kwargs = {"RoleArn": customer_role, "RoleSessionName": "vell"}
    if external_id:
        kwargs["ExternalId"] = external_id
    with pytest.raises(ClientError) as error:
        sts.assume_role(**kwargs)
    assert _code(error) == "AccessDenied"
    assert error.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
    assert f"on resource: {customer_role}" in error.value.response["Error"]["Message"]


def test_assumed_role_acts_in_customer_account_within_boundary(
    customer_role: str, make_client: ClientMaker, partner: dict[str, str]
) -> None:
    sts = make_client("sts", partner)
    session = sts.assume_role(RoleArn=customer_role, RoleSessionName="vell", ExternalId=EXTERNAL_ID)
    creds = session["Credentials"]
    identity = make_client("sts", creds).get_caller_identity()
    assert identity["Account"] == CUSTOMER
    role_iam = make_client("iam", creds)
    assert role_iam.get_role(RoleName=ROLE_NAME)["Role"]["Arn"] == customer_role
    with pytest.raises(ClientError) as error:  # allowed inline, denied by the boundary
        role_iam.create_user(UserName="intruder")
    assert "explicit deny in a permissions boundary" in error.value.response["Error"]["Message"]
    with pytest.raises(ClientError) as error:  # not in the role's policies
        role_iam.list_roles()
    assert _code(error) == "AccessDenied"


def test_assumed_role_credentials_expire_on_the_sandbox_clock(
    control: Any, customer_role: str, make_client: ClientMaker, partner: dict[str, str]
) -> None:
    creds = make_client("sts", partner).assume_role(
        RoleArn=customer_role,
        RoleSessionName="vell",
        ExternalId=EXTERNAL_ID,
        DurationSeconds=900,
    )["Credentials"]
    control.advance(901)
    with pytest.raises(ClientError) as error:
        make_client("iam", creds).get_role(RoleName=ROLE_NAME)
    assert _code(error) == "ExpiredToken"


def test_partner_boundary_role_shows_boundary(owner_iam: Any, customer_role: str) -> None:
    role = owner_iam.get_role(RoleName=ROLE_NAME)["Role"]
    assert role["PermissionsBoundary"] == {
        "PermissionsBoundaryType": "PermissionsBoundaryPolicy",
        "PermissionsBoundaryArn": CONFIG.boundary_arn,
    }
    assert role["Arn"].startswith(f"arn:aws:iam::{CUSTOMER}:role/vell.ai/")


def test_unknown_access_key_is_refused(make_client: ClientMaker) -> None:
    stranger = {"AccessKeyId": "AKIAUNKNOWN000000000", "SecretAccessKey": "x" * 40}
    with pytest.raises(ClientError) as error:
        make_client("iam", stranger).list_delegation_requests()
    assert _code(error) == "InvalidClientTokenId"
    assert error.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
    with pytest.raises(ClientError) as error:
        make_client("sts", stranger).get_delegated_access_token(TradeInToken="a.b.c")
    assert _code(error) == "InvalidClientTokenId"


def test_moto_services_pass_through(make_client: ClientMaker, partner: dict[str, str]) -> None:
    cfn = make_client("cloudformation", partner)
    template = {
        "Resources": {"Topic": {"Type": "AWS::SNS::Topic", "Properties": {"TopicName": "cfn-t"}}}
    }
    cfn.create_stack(StackName="vell-smoke", TemplateBody=json.dumps(template))
    assert cfn.describe_stacks(StackName="vell-smoke")["Stacks"][0]["StackStatus"] == (
        "CREATE_COMPLETE"
    )
    topics = make_client("sns", partner).list_topics()["Topics"]
    assert {"TopicArn": CONFIG.topic_arn} in topics
    identity = make_client("sts", partner).get_caller_identity()
    assert identity["Arn"] == f"arn:aws:iam::{CONFIG.partner_account_id}:user/vell-desk"
