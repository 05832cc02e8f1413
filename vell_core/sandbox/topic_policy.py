"""SNS topic policies, enforced for ``Publish`` as real SNS does (moto enforces none).

A topic policy is a resource-based policy: its statements name a ``Principal`` (``"*"``,
``{"AWS": account | arn}``, ``{"Service": "iam.amazonaws.com"}``) or a ``NotPrincipal``. SNS
decides a ``Publish`` like this:

- an explicit ``Deny`` that applies to the publisher refuses it, whoever the publisher is;
- a service principal (IAM publishing delegation notifications) needs an ``Allow`` naming it;
- an IAM principal of another account needs an ``Allow`` naming it (cross-account access);
- an IAM principal of the topic's own account may publish on its identity-based permissions
  alone. The sandbox models those as "everything" for users and checks session policies and
  role policies separately (``authz.py``), so here the owner account is allowed.

The refusal is ``AuthorizationError`` (HTTP 403) worded like SNS: ``User: <arn> is not
authorized to perform: SNS:Publish on resource: <topic> because no resource-based policy
allows the SNS:Publish action``.

Sandbox assumption (the IAM guide documents no condition keys for delegation notifications):
IAM publishes with ``aws:SourceAccount`` = the topic's (partner's) account, so the
confused-deputy condition the security checklist recommends (S13) holds.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from moto.sns.models import sns_backends

from vell_core.sandbox.authz import as_list, conditions_hold, wildcard_match
from vell_core.sandbox.contract import SandboxServiceError

PUBLISH = "SNS:Publish"
IAM_SERVICE_PRINCIPAL = "iam.amazonaws.com"


@dataclass(frozen=True)
class Publisher:
    """Who publishes: an IAM principal of an account, or an AWS service principal."""

    arn: str  # the caller's ARN, or the service principal's name
    account_id: str | None = None  # None for a service principal
    service: str | None = None
    other_arns: tuple[str, ...] = ()  # e.g. the role behind an assumed-role session
    context: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def of_service(cls, service: str, **context: Any) -> Publisher:
        """A service principal (``iam.amazonaws.com``) with its request context."""
        return cls(arn=service, service=service, context=context)

    def names(self) -> set[str]:
        """Every principal string a ``{"AWS": …}`` entry may use for this publisher."""
        if self.account_id is None:
            return set()
        return {
            self.account_id,
            f"arn:aws:iam::{self.account_id}:root",
            self.arn,
            *self.other_arns,
        }


@dataclass(frozen=True)
class PublishDecision:
    """Allowed, or refused with SNS's reason clause."""

    allowed: bool
    reason: str = ""


def _principal_matches(principal: Any, publisher: Publisher) -> bool:
    if principal == "*":
        return True
    if not isinstance(principal, Mapping):
        return False
    aws = [str(entry) for entry in as_list(principal.get("AWS"))]
    if "*" in aws:
        return True  # {"AWS": "*"} means everyone, as "*" does
    if publisher.service is not None:
        return publisher.service in as_list(principal.get("Service"))
    return any(wildcard_match(entry, name) for entry in aws for name in publisher.names())


def _statement_applies(statement: Mapping[str, Any], publisher: Publisher, topic: str) -> bool:
    if "NotPrincipal" in statement:
        if _principal_matches(statement["NotPrincipal"], publisher):
            return False
    elif not _principal_matches(statement.get("Principal"), publisher):
        return False
    actions = as_list(statement.get("Action"))
    if not any(wildcard_match(a, PUBLISH, case_sensitive=False) for a in actions):
        return False
    resources = as_list(statement.get("Resource")) or ["*"]
    if not any(wildcard_match(r, topic) for r in resources):
        return False
    return conditions_hold(statement.get("Condition"), publisher.context)


def decide_publish(policy: Mapping[str, Any], publisher: Publisher, topic: str) -> PublishDecision:
    """Whether ``publisher`` may ``SNS:Publish`` to ``topic`` under ``policy``."""
    allowed = False
    for statement in as_list(policy.get("Statement")):
        if not _statement_applies(statement, publisher, topic):
            continue
        if statement.get("Effect") == "Deny":
            return PublishDecision(False, "with an explicit deny in a resource-based policy")
        allowed = True
    owner_account = topic.split(":")[4] if topic.count(":") == 5 else None
    if allowed or (publisher.account_id is not None and publisher.account_id == owner_account):
        return PublishDecision(True)
    return PublishDecision(False, f"because no resource-based policy allows the {PUBLISH} action")


def topic_policy(topic_arn: str) -> dict[str, Any] | None:
    """The topic's ``Policy`` attribute (moto's store), or None when the topic does not exist."""
    parts = topic_arn.split(":")
    if len(parts) != 6 or parts[2] != "sns":
        return None
    topic = sns_backends[parts[4]][parts[3]].topics.get(topic_arn)
    if topic is None:
        return None
    return dict(json.loads(topic.policy))


def authorization_error(publisher: Publisher, topic: str, reason: str) -> SandboxServiceError:
    """SNS's ``AuthorizationError`` (403) for a refused publish."""
    message = f"User: {publisher.arn} is not authorized to perform: {PUBLISH} on resource: {topic}"
    return SandboxServiceError("AuthorizationError", f"{message} {reason}".strip(), 403)


def check_publish(publisher: Publisher, topic_arn: str) -> None:
    """Raise ``AuthorizationError`` unless the topic's policy lets ``publisher`` publish.

    Topics that do not exist are left to moto, which answers ``NotFound`` as SNS does.
    """
    policy = topic_policy(topic_arn)
    if policy is None:
        return
    decision = decide_publish(policy, publisher, topic_arn)
    if not decision.allowed:
        raise authorization_error(publisher, topic_arn, decision.reason)
