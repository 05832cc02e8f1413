"""The identity both production paths share: external ID, trust policy and role ARN.

Hybrid promotion and the CloudFormation path create the same kind of role; these rules (and the
plain-language explanations of what went wrong) are theirs in common.
"""

from __future__ import annotations

import json
import re
import secrets
from dataclasses import dataclass
from functools import cache
from string import Template
from typing import TYPE_CHECKING

from vell_core.aws.probe import CheckStatus, ProbeReport
from vell_core.domain.errors import ValidationFailed
from vell_core.domain.iam_actions import CONNECTOR_ROLE_NAME_PREFIX, CONNECTOR_ROLE_PATH
from vell_core.domain.policies import MAX_RENDERED_POLICY_CHARS, minified, policy_path
from vell_core.domain.validation import ACCOUNT_ID_PATTERN

if TYPE_CHECKING:  # runtime import would be circular: connections uses the helpers below
    pass

STACK_NAME = "VellMarketplaceConnector"
ROLE_ARN_MISSING = "role_arn_missing"
EXTERNAL_ID_PREFIX = "vell-"


# ASCII, as AWS means it: Python's ``\w`` and ``\d`` would accept other scripts too.
EXTERNAL_ID_RE = re.compile(r"\A[\w+=,.@:/-]{2,1224}\Z", re.ASCII)


ROLE_ARN_RE = re.compile(
    rf"\Aarn:aws:iam::(?P<account>{ACCOUNT_ID_PATTERN}):role(?P<path>/(?:[\w+=,.@-]+/)*)(?P<name>[\w+=,.@-]{{1,64}})\Z",
    re.ASCII,
)


def new_external_id() -> str:
    """A fresh, unguessable external ID (``vell-`` + 32 hex characters)."""
    return EXTERNAL_ID_PREFIX + secrets.token_hex(16)


def check_external_id(value: str) -> str:
    """Refuse anything IAM would refuse as an ``sts:ExternalId`` (2–1224 of ``\\w+=,.@:/-``)."""
    if not EXTERNAL_ID_RE.match(value):
        raise ValidationFailed("The external ID has characters or a length IAM does not accept.")
    return value


@cache
def _trust_template() -> str:
    return policy_path("trust-policy.json").read_text(encoding="utf-8")


def render_trust_policy(external_id: str, partner_account_id: str) -> str:
    """The role's trust policy: only Vell's account, only with this customer's external ID."""
    text = Template(_trust_template()).substitute(
        PartnerAccountId=partner_account_id, ExternalId=check_external_id(external_id)
    )
    rendered = minified(json.loads(text))
    if len(rendered) > MAX_RENDERED_POLICY_CHARS:  # IAM's default trust-policy quota
        raise ValidationFailed("The rendered trust policy exceeds 2048 characters.")
    return rendered


@cache
def trust_allows_source_identity() -> bool:
    """Whether our trust policy grants ``sts:SetSourceIdentity``.

    AWS refuses an ``AssumeRole`` that passes ``SourceIdentity`` unless the role's trust policy
    allows ``sts:SetSourceIdentity``, so we send it only when the policy file grants it.
    """
    document = json.loads(Template(_trust_template()).safe_substitute())
    for statement in document.get("Statement", []):
        actions = statement.get("Action", [])
        actions = [actions] if isinstance(actions, str) else actions
        if statement.get("Effect") == "Allow" and "sts:SetSourceIdentity" in actions:
            return True
    return False


def new_role_name() -> str:
    """``VellMarketplaceConnector-`` plus an unpredictable suffix (41 characters)."""
    return CONNECTOR_ROLE_NAME_PREFIX + secrets.token_hex(8)


def parse_role_arn(role_arn: str) -> tuple[str, str, str] | None:
    """(account, path, name) of a role ARN, or None when it is not one."""
    match = ROLE_ARN_RE.match(role_arn)
    if match is None:
        return None
    return match.group("account"), match.group("path"), match.group("name")


@dataclass(frozen=True)
class Explanation:
    """One likely cause of a failed validation and what to do about it."""

    code: str
    title: str
    fix: str


def explain_role_arn(role_arn: str, expected_account: str) -> tuple[Explanation, ...]:
    """Problems visible in the ARN itself (before calling AWS)."""
    if not role_arn.strip():
        return (
            Explanation(
                ROLE_ARN_MISSING,
                "No RoleArn was pasted yet.",
                f"When the customer's {STACK_NAME} stack shows CREATE_COMPLETE, copy the RoleArn "
                "value from its Outputs tab and paste it here.",
            ),
        )
    parsed = parse_role_arn(role_arn.strip())
    if parsed is None:
        return (
            Explanation(
                "role_arn_invalid",
                "That is not an IAM role ARN.",
                "Copy RoleArn from the stack's Outputs tab; it looks like "
                f"arn:aws:iam::{expected_account}:role{CONNECTOR_ROLE_PATH}"
                f"{CONNECTOR_ROLE_NAME_PREFIX}….",
            ),
        )
    account, path, name = parsed
    if account != expected_account:
        return (
            Explanation(
                "wrong_account",
                f"The role is in account {account}, not the customer's {expected_account}.",
                "Create the stack while signed in to the customer's seller account.",
            ),
        )
    if path != CONNECTOR_ROLE_PATH or not name.startswith(CONNECTOR_ROLE_NAME_PREFIX):
        return (
            Explanation(
                "wrong_role_name",
                f"{path}{name} is not the role the Vell template creates.",
                f"Use the RoleArn output of the {STACK_NAME} stack (path {CONNECTOR_ROLE_PATH}).",
            ),
        )
    return ()


def explain_assume_failure(
    role_arn: str, external_id: str, partner_account_id: str
) -> tuple[Explanation, ...]:
    """Why ``AssumeRole`` was refused: AWS gives one answer for three different mistakes."""
    return (
        Explanation(
            "role_not_found",
            "The role name is wrong or the stack is not finished.",
            f"Check that the stack shows CREATE_COMPLETE and that {role_arn} is exactly its "
            "RoleArn output (no extra spaces).",
        ),
        Explanation(
            "wrong_external_id",
            "The role expects a different external ID.",
            f"The stack's ExternalId parameter must be {external_id}. A stack launched from an "
            "older link has an old ID: update the stack with this one (or re-launch the link).",
        ),
        Explanation(
            "wrong_trust_principal",
            f"The role does not trust Vell's AWS account {partner_account_id}.",
            f"The stack's PartnerAccountId parameter must be {partner_account_id}, and the "
            "trust policy must not have been edited after creation.",
        ),
    )


def explain_probe(report: ProbeReport) -> tuple[Explanation, ...]:
    """One explanation per denied or unreachable action."""
    found = [
        Explanation(f"denied:{check.action}", f"{check.action} is denied.", check.fix_hint)
        for check in report.checks
        if check.status is CheckStatus.DENIED
    ]
    if report.unavailable:
        found.append(
            Explanation(
                "service_unavailable",
                "AWS Marketplace could not be reached for some checks.",
                "Nothing to fix in the customer's account; validate again later.",
            )
        )
    return tuple(found)
