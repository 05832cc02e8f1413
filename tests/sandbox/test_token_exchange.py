"""STS GetDelegatedAccessToken and what the delegated credentials may do."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.sandbox.conftest import (
    CONFIG,
    CUSTOMER,
    ONBOARDING_ARN,
    ClientMaker,
    exchange_token,
    finalize,
)
from vell_core.sandbox.wire import assert_matches_output_shape

TRUST = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:aws:iam::{CONFIG.partner_account_id}:root"},
                "Action": "sts:AssumeRole",
            }
        ],
    }
)


def _code(error: pytest.ExceptionInfo[ClientError]) -> str:
    return str(error.value.response["Error"]["Code"])


def _delegated(make_client: ClientMaker, partner: dict[str, str]) -> dict[str, Any]:
    sts = make_client("sts", partner)
    return dict(sts.get_delegated_access_token(TradeInToken=exchange_token(make_client, partner)))


def test_exchange_returns_approver_credentials_in_customer_account(
    partner_iam: Any,
    owner_iam: Any,
    admin_iam: Any,
    make_client: ClientMaker,
    partner: dict[str, str],
) -> None:
    request_id = partner_iam.create_delegation_request(
        Description="d" * 10,
        Permissions={"PolicyTemplateArn": CONFIG.template_arns["read-only"]},
        RequestorWorkflowId="wf-exchange-1",
        NotificationChannel=CONFIG.topic_arn,
        SessionDuration=7200,
    )["DelegationRequestId"]
    owner_iam.associate_delegation_request(DelegationRequestId=request_id)
    admin_iam.accept_delegation_request(DelegationRequestId=request_id)
    owner_iam.send_delegation_token(DelegationRequestId=request_id)
    released = owner_iam.get_delegation_request(DelegationRequestId=request_id)[
        "DelegationRequest"
    ]["UpdatedTime"]

    result = _delegated(make_client, partner)
    assert_matches_output_shape("sts", "GetDelegatedAccessToken", result)
    assert result["AssumedPrincipal"] == f"arn:aws:iam::{CUSTOMER}:user/customer-admin"
    assert result["Credentials"]["Expiration"] - released == timedelta(seconds=7200)

    identity = make_client("sts", result["Credentials"]).get_caller_identity()
    assert identity["Account"] == CUSTOMER
    assert identity["Arn"] == result["AssumedPrincipal"]


def test_token_is_reusable_until_expires_at_then_expired(
    control: Any,
    partner_iam: Any,
    owner_iam: Any,
    make_client: ClientMaker,
    partner: dict[str, str],
) -> None:
    finalize(partner_iam, owner_iam)
    token = exchange_token(make_client, partner)
    sts = make_client("sts", partner)
    first = sts.get_delegated_access_token(TradeInToken=token)
    second = sts.get_delegated_access_token(TradeInToken=token)
    assert first["Credentials"]["Expiration"] == second["Credentials"]["Expiration"]
    control.advance(3601)
    with pytest.raises(sts.exceptions.ExpiredTradeInTokenException):
        sts.get_delegated_access_token(TradeInToken=token)
    delegated_iam = make_client("iam", first["Credentials"])
    with pytest.raises(ClientError) as error:
        delegated_iam.list_roles()
    assert _code(error) == "ExpiredToken"


@pytest.mark.parametrize("token", ["garbage", "eyJhbGciOiJkaXIifQ.abc.def"])
def test_malformed_or_unknown_tokens(
    make_client: ClientMaker, partner: dict[str, str], token: str
) -> None:
    sts = make_client("sts", partner)
    with pytest.raises(ClientError) as error:
        sts.get_delegated_access_token(TradeInToken=token)
    assert _code(error) == "ValidationError"
    assert error.value.response["Error"]["Message"] == "Invalid trade-in token"


def test_other_account_cannot_redeem(
    partner_iam: Any,
    owner_iam: Any,
    make_client: ClientMaker,
    partner: dict[str, str],
    personas: dict[str, dict[str, str]],
) -> None:
    finalize(partner_iam, owner_iam)
    token = exchange_token(make_client, partner)
    with pytest.raises(ClientError) as error:
        make_client("sts", personas["admin"]).get_delegated_access_token(TradeInToken=token)
    assert _code(error) == "ValidationError"


def test_read_only_credentials_cannot_create_roles(
    partner_iam: Any, owner_iam: Any, make_client: ClientMaker, partner: dict[str, str]
) -> None:
    finalize(partner_iam, owner_iam)
    delegated_iam = make_client("iam", _delegated(make_client, partner)["Credentials"])
    delegated_iam.list_roles()
    with pytest.raises(ClientError) as error:
        delegated_iam.create_role(RoleName="vell-x", AssumeRolePolicyDocument=TRUST)
    assert _code(error) == "AccessDenied"
    assert "no session policy allows the iam:CreateRole action" in str(error.value)


def test_onboarding_credentials_create_bounded_role_only(
    partner_iam: Any,
    owner_iam: Any,
    make_client: ClientMaker,
    partner: dict[str, str],
) -> None:
    finalize(
        partner_iam,
        owner_iam,
        Permissions={
            "PolicyTemplateArn": ONBOARDING_ARN,
            "Parameters": [{"Name": "AccountId", "Values": [CUSTOMER], "Type": "string"}],
        },
    )
    delegated_iam = make_client("iam", _delegated(make_client, partner)["Credentials"])
    with pytest.raises(ClientError) as error:
        delegated_iam.create_role(
            RoleName="VellConnector-a1b2", Path="/vell.ai/", AssumeRolePolicyDocument=TRUST
        )
    assert _code(error) == "AccessDenied"
    created = delegated_iam.create_role(
        RoleName="VellConnector-a1b2",
        Path="/vell.ai/",
        AssumeRolePolicyDocument=TRUST,
        PermissionsBoundary=CONFIG.boundary_arn,
    )
    assert_matches_output_shape("iam", "CreateRole", created)
    assert created["Role"]["Arn"] == f"arn:aws:iam::{CUSTOMER}:role/vell.ai/VellConnector-a1b2"
    role = delegated_iam.get_role(RoleName="VellConnector-a1b2")["Role"]
    assert role["PermissionsBoundary"]["PermissionsBoundaryArn"] == CONFIG.boundary_arn
    with pytest.raises(ClientError):  # outside the granted path
        delegated_iam.create_role(
            RoleName="Other",
            AssumeRolePolicyDocument=TRUST,
            PermissionsBoundary=CONFIG.boundary_arn,
        )
