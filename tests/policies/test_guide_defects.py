"""The defects of Vell's original guide are fixed (checked with the sandbox's IAM evaluator)."""

from __future__ import annotations

import json

from tests.policies import policy_docs
from vell_core.domain import iam_actions as perms
from vell_core.sandbox import authz

ACCOUNT = policy_docs.SAMPLE_ACCOUNT
ROLE_ARN = f"arn:aws:iam::{ACCOUNT}:role/vell.ai/VellMarketplaceConnector-a1b2c3d4"
ENTITY = f"arn:aws:aws-marketplace:us-east-1:{ACCOUNT}:AWSMarketplace/SaaSProduct/prod-abc"
WITH_BOUNDARY = {"iam:PermissionsBoundary": policy_docs.BOUNDARY_ARN}


def session(name: str, switch: str = "True") -> list[authz.Layer]:
    """The rendered template acting as the delegated session policy."""
    return [authz.Layer("session", [policy_docs.rendered(name, ACCOUNT, switch)])]


def allowed(name: str, action: str, resource: str, context: dict[str, object]) -> bool:
    return authz.decide(session(name), action, [resource], context).allowed


def test_delete_entity_is_gone_everywhere() -> None:
    for label, document in policy_docs.all_documents().items():
        assert "DeleteEntity" not in json.dumps(document), label
    for label in ("read-only", "full-access", "onboarding"):
        assert "DeleteEntity" not in json.dumps(policy_docs.rendered(label)), label


def test_full_access_cannot_create_roles() -> None:
    for action in ("iam:CreateRole", "iam:PutRolePolicy", "iam:AttachRolePolicy"):
        verdict = authz.evaluate(
            [policy_docs.rendered("full-access")], action, [ROLE_ARN], WITH_BOUNDARY
        )
        assert verdict.explicit_deny, action


def test_onboarding_creates_roles_only_with_the_boundary() -> None:
    assert allowed("onboarding", "iam:CreateRole", ROLE_ARN, WITH_BOUNDARY)
    assert allowed("onboarding", "iam:PutRolePolicy", ROLE_ARN, WITH_BOUNDARY)
    other = {"iam:PermissionsBoundary": "arn:aws:iam::aws:policy/AdministratorAccess"}
    assert not allowed("onboarding", "iam:CreateRole", ROLE_ARN, {})
    assert not allowed("onboarding", "iam:CreateRole", ROLE_ARN, other)
    outside = f"arn:aws:iam::{ACCOUNT}:role/Admin"
    assert not allowed("onboarding", "iam:CreateRole", outside, WITH_BOUNDARY)
    other_account = ROLE_ARN.replace(ACCOUNT, "210987654321")
    assert not allowed("onboarding", "iam:CreateRole", other_account, WITH_BOUNDARY)


def test_onboarding_cannot_escalate_past_the_boundary() -> None:
    for action in (
        "iam:AttachRolePolicy",
        "iam:DeleteRolePermissionsBoundary",
        "iam:PutRolePermissionsBoundary",
        "iam:UpdateAssumeRolePolicy",
        "iam:PassRole",
    ):
        assert not allowed("onboarding", action, ROLE_ARN, WITH_BOUNDARY), action


def test_onboarding_tags_only_with_vell_tag_keys() -> None:
    good = {
        "aws:TagKeys": list(perms.CONNECTOR_ROLE_TAG_KEYS),
        f"aws:RequestTag/{perms.TAG_MANAGED_BY}": perms.TAG_MANAGED_BY_VALUE,
    }
    assert allowed("onboarding", "iam:TagRole", ROLE_ARN, good)
    foreign = {**good, "aws:TagKeys": [*perms.CONNECTOR_ROLE_TAG_KEYS, "Owner"]}
    assert not allowed("onboarding", "iam:TagRole", ROLE_ARN, foreign)


def test_onboarding_probe_reads_follow_the_switch() -> None:
    assert allowed("onboarding", "aws-marketplace:DescribeEntity", ENTITY, {})
    off = authz.decide(session("onboarding", "False"), "aws-marketplace:ListEntities", ["*"], {})
    assert not off.allowed


def test_full_access_limits_change_types() -> None:
    def start(change_type: str) -> bool:
        context = {"catalog:ChangeType": change_type}
        return allowed("full-access", "aws-marketplace:StartChangeSet", ENTITY, context)

    assert all(start(t) for t in perms.LISTING_UPDATE_CHANGE_TYPES)
    assert not any(start(t) for t in perms.DESTRUCTIVE_CHANGE_TYPES)
    assert not start("CreateProduct")
    assert not set(perms.LISTING_UPDATE_CHANGE_TYPES) & set(perms.DESTRUCTIVE_CHANGE_TYPES)


def test_full_access_change_type_lists_match_the_declaration() -> None:
    conditions = {
        s["Effect"]: tuple(s["Condition"]["StringEquals"]["catalog:ChangeType"])
        for s in policy_docs.statements(policy_docs.rendered("full-access"))
        if "Condition" in s
    }
    assert conditions == {
        "Allow": perms.LISTING_UPDATE_CHANGE_TYPES,
        "Deny": perms.DESTRUCTIVE_CHANGE_TYPES,
    }


def test_read_only_cannot_write_or_leave_the_account() -> None:
    other = ENTITY.replace(ACCOUNT, "210987654321")
    assert allowed("read-only", "aws-marketplace:DescribeEntity", ENTITY, {})
    assert not allowed("read-only", "aws-marketplace:DescribeEntity", other, {})
    context = {"catalog:ChangeType": "UpdateInformation"}
    assert not allowed("read-only", "aws-marketplace:StartChangeSet", ENTITY, context)
