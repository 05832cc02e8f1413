"""The sandbox's policy evaluator (pure functions, no HTTP)."""

from __future__ import annotations

from typing import Any

import pytest

from vell_core.sandbox.authz import Layer, conditions_hold, decide, evaluate, trust_allows

BOUNDARY = "arn:aws:iam::partner:policy/permission_boundary/vell.ai/B_20251206"


def _policy(*statements: dict[str, Any]) -> dict[str, Any]:
    return {"Version": "2012-10-17", "Statement": list(statements)}


def test_wildcards_and_case_insensitive_actions() -> None:
    policy = _policy({"Effect": "Allow", "Action": "IAM:Get*", "Resource": "arn:aws:iam::1:role/*"})
    assert evaluate([policy], "iam:GetRole", ["arn:aws:iam::1:role/x"], {}).allowed
    assert not evaluate([policy], "iam:GetRole", ["arn:aws:iam::2:role/x"], {}).allowed
    assert not evaluate([policy], "iam:ListRoles", ["*"], {}).allowed


def test_explicit_deny_wins_and_not_action() -> None:
    policy = _policy(
        {"Effect": "Allow", "Action": "*", "Resource": "*"},
        {"Effect": "Deny", "NotAction": "iam:Get*", "Resource": "*"},
    )
    assert evaluate([policy], "iam:GetRole", ["*"], {}).allowed
    decision = evaluate([policy], "iam:CreateRole", ["*"], {})
    assert decision.explicit_deny
    assert not decision.allowed


def test_not_resource() -> None:
    policy = _policy({"Effect": "Allow", "Action": "s3:*", "NotResource": "arn:aws:s3:::secret*"})
    assert evaluate([policy], "s3:GetObject", ["arn:aws:s3:::public/x"], {}).allowed
    assert not evaluate([policy], "s3:GetObject", ["arn:aws:s3:::secret/x"], {}).allowed


@pytest.mark.parametrize(
    ("condition", "context", "expected"),
    [
        (
            {"StringEquals": {"iam:PermissionsBoundary": BOUNDARY}},
            {"iam:PermissionsBoundary": BOUNDARY},
            True,
        ),
        ({"StringEquals": {"iam:PermissionsBoundary": BOUNDARY}}, {}, False),
        ({"StringNotEquals": {"aws:RequestTag/env": "prod"}}, {"aws:RequestTag/env": "dev"}, True),
        (
            {"StringLike": {"aws:PrincipalArn": "arn:aws:iam::*:user/c*"}},
            {"aws:PrincipalArn": "arn:aws:iam::1:user/customer"},
            True,
        ),
        (
            {"ArnLike": {"aws:SourceArn": "arn:aws:sns:*:1:t"}},
            {"aws:SourceArn": "arn:aws:sns:us-east-1:1:t"},
            True,
        ),
        (
            {"ArnEquals": {"aws:SourceArn": "arn:aws:sns:us-east-1:1:t"}},
            {"aws:SourceArn": "arn:aws:sns:us-east-1:1:u"},
            False,
        ),
        ({"ForAllValues:StringEquals": {"aws:TagKeys": ["a", "b"]}}, {"aws:TagKeys": ["a"]}, True),
        ({"ForAllValues:StringEquals": {"aws:TagKeys": ["a"]}}, {"aws:TagKeys": ["a", "z"]}, False),
        ({"ForAnyValue:StringEquals": {"aws:TagKeys": ["z"]}}, {"aws:TagKeys": ["a", "z"]}, True),
        ({"Bool": {"aws:SecureTransport": "true"}}, {"aws:SecureTransport": True}, True),
        ({"Null": {"iam:PermissionsBoundary": "true"}}, {}, True),
        ({"Null": {"iam:PermissionsBoundary": "false"}}, {}, False),
        ({"StringEqualsIfExists": {"catalog:ChangeType": "UpdateInformation"}}, {}, True),
        ({"StringEquals": {"catalog:ChangeType": ["A", "B"]}}, {"catalog:changetype": "B"}, True),
    ],
)
def test_condition_operators(
    condition: dict[str, Any], context: dict[str, Any], expected: bool
) -> None:
    assert conditions_hold(condition, context) is expected


def test_layers_intersect_with_aws_reasons() -> None:
    identity = Layer("identity", [_policy({"Effect": "Allow", "Action": "iam:*", "Resource": "*"})])
    boundary = Layer(
        "boundary",
        [
            _policy(
                {"Effect": "Allow", "Action": "iam:Get*", "Resource": "*"},
                {"Effect": "Deny", "Action": "iam:DeleteRole", "Resource": "*"},
            )
        ],
    )
    assert decide([identity, boundary], "iam:GetRole", ["*"], {}).allowed
    implicit = decide([identity, boundary], "iam:CreateRole", ["*"], {})
    assert implicit.reason == "because no permissions boundary allows the iam:CreateRole action"
    explicit = decide([identity, boundary], "iam:DeleteRole", ["*"], {})
    assert explicit.reason == "with an explicit deny in a permissions boundary"


def test_trust_policy_external_id() -> None:
    trust = _policy(
        {
            "Effect": "Allow",
            "Principal": {"AWS": "arn:aws:iam::253265132499:root"},
            "Action": "sts:AssumeRole",
            "Condition": {"StringEquals": {"sts:ExternalId": "ext"}},
        }
    )
    arn = "arn:aws:iam::253265132499:user/vell-desk"
    assert trust_allows(trust, "253265132499", arn, {"sts:ExternalId": "ext"})
    assert not trust_allows(trust, "253265132499", arn, {"sts:ExternalId": "nope"})
    assert not trust_allows(trust, "253265132499", arn, {})
    assert not trust_allows(
        trust, "111122223333", "arn:aws:iam::111122223333:user/x", {"sts:ExternalId": "ext"}
    )
