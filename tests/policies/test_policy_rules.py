"""I3, I4, I7 and AWS's template review rules (reference §3.4), on the files as IAM sees them."""

from __future__ import annotations

import json

import pytest
from policy_sentry.querying.actions import get_action_data

from tests.policies import policy_docs
from vell_core.config.settings import load_settings
from vell_core.domain import iam_actions as iam_permissions
from vell_core.domain.models import DelegationPath
from vell_core.domain.policies import (
    MAX_BOUNDARY_CHARS,
    MAX_RENDERED_POLICY_CHARS,
    TEMPLATE_NAMES,
    load_template,
    minified,
    render_template,
    template_parameter_names,
)
from vell_core.sandbox import authz
from vell_core.services.delegation import TEMPLATE_FOR_PATH, _parameters_for

MARGIN_LIMIT = int(MAX_RENDERED_POLICY_CHARS * 0.85)  # I7: fit with at least 15 % to spare
FIELD_ORDER = ("Effect", "Action", "NotAction", "Resource", "NotResource", "Condition")
SECURITY_SENSITIVE = ("iam:", "kms:", "ram:", "sso:", "organizations:", "secretsmanager:")
ROLE_ARN_PATTERN = "arn:aws:iam::@{AccountId}:role/vell.ai/VellMarketplaceConnector-*"
DOCUMENTS = policy_docs.all_documents()
TEMPLATE_FILES = {name: load_template(name) for name in TEMPLATE_NAMES}
ONBOARDING = policy_docs.rendered("onboarding", switch="True")


def _longest_variants(name: str) -> list[str]:
    switches = policy_docs.SWITCH_VALUES if name == "onboarding" else ("True",)
    return [
        policy_docs.rendered_text(name, policy_docs.LONGEST_ACCOUNT, switch) for switch in switches
    ]


def access_level(action: str) -> str:
    """policy_sentry's access level for an exact action."""
    service, _, name = action.partition(":")
    return get_action_data(service, name)[service][0]["access_level"]


def _iam_actions(statement: policy_docs.Document) -> list[str]:
    return [a for a in policy_docs.as_list(statement.get("Action")) if a.startswith("iam:")]


def _role_writing(statement: policy_docs.Document) -> bool:
    """Writes or permission changes on IAM (TagRole is Tagging and handled separately)."""
    return any(
        access_level(a) in ("Write", "Permissions management") for a in _iam_actions(statement)
    )


# -- Sizes ------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", TEMPLATE_NAMES)
def test_template_fits_with_longest_parameters(name: str) -> None:
    for text in _longest_variants(name):
        assert len(text) <= MARGIN_LIMIT, f"{name}: {len(text)} chars"


def test_boundary_and_trust_policy_sizes() -> None:
    boundary = minified(policy_docs.raw_file(policy_docs.BOUNDARY_FILE))
    assert len(boundary) <= int(MAX_BOUNDARY_CHARS * 0.85)
    trust = policy_docs.trust_text(external_id=policy_docs.LONGEST_EXTERNAL_ID)
    assert len(trust) <= MAX_RENDERED_POLICY_CHARS


# -- Parameters -------------------------------------------------------------------------------


@pytest.mark.parametrize("name", TEMPLATE_NAMES)
def test_template_parameters_are_exactly_the_documented_ones(name: str) -> None:
    expected = set(policy_docs.TEMPLATE_PARAMETERS[name])
    assert template_parameter_names(TEMPLATE_FILES[name]) == expected
    assert "@{AccountId}" in json.dumps(TEMPLATE_FILES[name])


@pytest.mark.parametrize("path", list(DelegationPath))
def test_the_app_sends_exactly_the_template_parameters(path: DelegationPath) -> None:
    """The renderer refuses unknown or missing parameters; the app's set must render."""
    name = TEMPLATE_FOR_PATH[path]
    rendered = render_template(load_template(name), list(_parameters_for(path, "123456789012")))
    assert "@{" not in rendered
    assert "@Enabled" not in rendered


def test_onboarding_switch_removes_only_the_marketplace_probe() -> None:
    with_probe = policy_docs.allowed_actions(policy_docs.rendered("onboarding", switch="True"))
    without = policy_docs.allowed_actions(policy_docs.rendered("onboarding", switch="False"))
    assert with_probe - without == iam_permissions.actions_for(*iam_permissions.PROBE_OPERATIONS)
    assert all(a.startswith("iam:") for a in without)


# -- Statement shape (AWS review rules) -------------------------------------------------------


@pytest.mark.parametrize("label", sorted(DOCUMENTS))
def test_statement_shape(label: str) -> None:
    document = DOCUMENTS[label]
    assert document["Version"] == "2012-10-17"
    for statement in policy_docs.statements(document):
        keys = [k for k in statement if k != "Sid"]
        fields = [k for k in keys if k in FIELD_ORDER]
        assert fields == sorted(fields, key=FIELD_ORDER.index), statement
        if "Sid" in statement:
            assert next(iter(statement)) == "Sid"
        actions = policy_docs.as_list(statement.get("Action") or statement.get("NotAction"))
        assert actions == sorted(actions), f"{label}: actions not alphabetical"
        assert "*" not in actions
        if statement["Effect"] == "Allow":
            assert "NotAction" not in statement
            assert "NotResource" not in statement


@pytest.mark.parametrize("name", TEMPLATE_NAMES)
def test_templates_have_no_wildcard_on_security_sensitive_services(name: str) -> None:
    for _statement, action in policy_docs.action_patterns(TEMPLATE_FILES[name]):
        if action.startswith(SECURITY_SENSITIVE):
            assert not any(ch in action for ch in "*?"), action


def test_read_only_grants_no_write() -> None:
    granted = policy_docs.allowed_actions(DOCUMENTS["read-only"])
    assert {access_level(a) for a in granted} <= {"Read", "List"}


def test_connector_and_boundary_grant_no_write() -> None:
    for label in (policy_docs.CONNECTOR_FILE, policy_docs.BOUNDARY_FILE):
        granted = policy_docs.allowed_actions(DOCUMENTS[label])
        assert {access_level(a) for a in granted} <= {"Read", "List"}, label


# -- Onboarding: role creation is always bounded (I3, I8) -------------------------------------


def test_every_role_writing_statement_requires_the_exact_boundary() -> None:
    boundary_arn = load_settings().aws_delegation_permission_boundary_arn
    writing = [s for s in policy_docs.statements(ONBOARDING) if _role_writing(s)]
    assert writing, "the onboarding template must be able to create the connector role"
    for statement in writing:
        assert statement["Condition"] == {"StringEquals": {"iam:PermissionsBoundary": boundary_arn}}


def test_tag_role_sits_alone_with_tag_conditions() -> None:
    tagging = [s for s in policy_docs.statements(ONBOARDING) if "iam:TagRole" in _iam_actions(s)]
    assert len(tagging) == 1
    statement = tagging[0]
    assert policy_docs.as_list(statement["Action"]) == ["iam:TagRole"]
    keys = policy_docs.condition_keys(statement)
    assert "aws:TagKeys" in keys
    assert "iam:PermissionsBoundary" not in keys
    tag_keys = statement["Condition"]["ForAllValues:StringEquals"]["aws:TagKeys"]
    assert tuple(tag_keys) == iam_permissions.CONNECTOR_ROLE_TAG_KEYS


def test_iam_statements_stay_on_the_vendor_role_path() -> None:
    settings = load_settings()
    assert settings.vell_role_path == iam_permissions.CONNECTOR_ROLE_PATH
    path, name_prefix = (
        iam_permissions.CONNECTOR_ROLE_PATH,
        iam_permissions.CONNECTOR_ROLE_NAME_PREFIX,
    )
    prefix = f"role{path}{name_prefix}"
    for statement in policy_docs.statements(TEMPLATE_FILES["onboarding"]):
        if _iam_actions(statement):
            assert statement["Resource"] == ROLE_ARN_PATTERN
            assert prefix in statement["Resource"]


def test_no_credential_or_pass_role_actions_anywhere() -> None:
    forbidden = {"iam:PassRole", "iam:CreateAccessKey", "iam:CreatePolicy", "sts:AssumeRole"}
    for label in set(DOCUMENTS) - {policy_docs.TRUST_POLICY_FILE}:
        assert not policy_docs.allowed_actions(DOCUMENTS[label]) & forbidden, label


# -- Boundary (I4, I5) ------------------------------------------------------------------------


BOUNDARY = DOCUMENTS[policy_docs.BOUNDARY_FILE]
CONTEXT = {"aws:PrincipalAccount": "123456789012"}


def _boundary(action: str, resource: str = "*") -> authz.Decision:
    return authz.evaluate([BOUNDARY], action, [resource], CONTEXT)


def test_boundary_is_not_templated() -> None:
    text = json.dumps(BOUNDARY)
    assert "@{" not in text
    assert "@Enabled" not in text


@pytest.mark.parametrize(
    "action", ["iam:DeleteRolePermissionsBoundary", "iam:PutRolePermissionsBoundary"]
)
def test_boundary_denies_its_own_removal_or_replacement(action: str) -> None:
    explicit = [
        s
        for s in policy_docs.statements(BOUNDARY)
        if s["Effect"] == "Deny" and action in policy_docs.as_list(s.get("Action"))
    ]
    assert explicit
    assert all("Condition" not in s for s in explicit)
    assert _boundary(action, "arn:aws:iam::123456789012:role/vell.ai/x").explicit_deny


def test_boundary_allows_reads_and_denies_everything_else() -> None:
    entity = "arn:aws:aws-marketplace:us-east-1:123456789012:AWSMarketplace/SaaSProduct/prod-1"
    assert _boundary("aws-marketplace:ListEntities").allowed
    assert _boundary("aws-marketplace:DescribeEntity", entity).allowed
    assert _boundary("aws-marketplace:StartChangeSet", entity).explicit_deny
    assert _boundary("s3:GetObject").explicit_deny
    assert _boundary("sts:AssumeRole").explicit_deny
    assert "sts:AssumeRole" not in policy_docs.allowed_actions(BOUNDARY)


def test_boundary_pins_cross_account_capable_reads_to_the_principal_account() -> None:
    """Entity-scoped actions can reach shared entities of other accounts (resource policies)."""
    for statement in policy_docs.statements(BOUNDARY):
        if statement["Effect"] == "Allow" and statement["Resource"] != "*":
            condition = statement["Condition"]["StringEqualsIfExists"]
            assert condition == {"aws:ResourceAccount": "${aws:PrincipalAccount}"}
