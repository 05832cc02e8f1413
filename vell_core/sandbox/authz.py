"""A small IAM policy evaluator for the sandbox (moto evaluates no policies at all).

It covers what the delegation product relies on: ``Allow``/``Deny`` statements with
``Action``/``NotAction`` and ``Resource``/``NotResource`` (``*`` and ``?`` wildcards; actions
match case-insensitively, resources case-sensitively) and the condition operators
``StringEquals``, ``StringNotEquals``, ``StringLike``, ``StringNotLike``, ``ArnEquals``,
``ArnLike``, ``ForAllValues:StringEquals``, ``ForAnyValue:StringEquals``, ``Bool`` and ``Null``
(each also with an ``IfExists`` suffix), evaluated against a context dict such as
``{"iam:PermissionsBoundary": arn, "aws:TagKeys": [...]}``.

Evaluation follows AWS's order: an explicit deny in any applicable policy wins; otherwise every
policy layer (identity ∩ session policy ∩ boundary) must allow. Differences from AWS: no
policy variables, no numeric/date/IP operators, no resource-based policies except role trust.
"""

from __future__ import annotations

import fnmatch
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any

Policy = Mapping[str, Any]
Context = Mapping[str, Any]


@dataclass(frozen=True)
class Decision:
    """The outcome for one policy layer: allowed, explicitly denied, or implicitly denied."""

    allowed: bool
    explicit_deny: bool = False


def as_list(value: Any) -> list[Any]:
    """Policy fields may be a scalar or a list."""
    if value is None:
        return []
    return list(value) if isinstance(value, list | tuple) else [value]


def load_policy(document: str | Policy) -> dict[str, Any]:
    """Parse a policy document given as JSON text (possibly URL-decoded already) or a dict."""
    if isinstance(document, str):
        return dict(json.loads(document))
    return dict(document)


@cache
def _wildcard(pattern: str, case_sensitive: bool) -> re.Pattern[str]:
    flags = 0 if case_sensitive else re.IGNORECASE
    return re.compile(fnmatch.translate(pattern), flags | re.DOTALL)


def wildcard_match(pattern: str, value: str, *, case_sensitive: bool = True) -> bool:
    """IAM-style ``*``/``?`` wildcard match."""
    return bool(_wildcard(pattern, case_sensitive).match(value))


def _action_matches(statement: Mapping[str, Any], action: str) -> bool:
    if "NotAction" in statement:
        return not any(
            wildcard_match(p, action, case_sensitive=False) for p in as_list(statement["NotAction"])
        )
    return any(
        wildcard_match(p, action, case_sensitive=False) for p in as_list(statement.get("Action"))
    )


def _resource_matches(statement: Mapping[str, Any], resource: str) -> bool:
    if "NotResource" in statement:
        return not any(wildcard_match(p, resource) for p in as_list(statement["NotResource"]))
    if "Resource" not in statement:
        return True  # trust policies have no Resource
    return any(wildcard_match(p, resource) for p in as_list(statement["Resource"]))


def _context_values(context: Context, key: str) -> list[str] | None:
    """Context keys are case-insensitive in IAM; values are compared as strings."""
    for name, value in context.items():
        if name.lower() == key.lower():
            if value is None:
                return None
            return [_text(v) for v in as_list(value)]
    return None


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _single(op: str, actual: list[str], expected: list[str]) -> bool:
    """Single-valued operators: true when any actual value satisfies any expected value."""
    if op in ("StringEquals", "ArnEquals", "Bool"):
        return any(a == e for a in actual for e in expected)
    if op == "StringEqualsIgnoreCase":
        return any(a.lower() == e.lower() for a in actual for e in expected)
    if op in ("StringLike", "ArnLike"):
        return any(wildcard_match(e, a) for a in actual for e in expected)
    raise ValueError(f"unsupported condition operator {op}")


_NEGATED = {
    "StringNotEquals": "StringEquals",
    "StringNotLike": "StringLike",
    "ArnNotEquals": "ArnEquals",
    "ArnNotLike": "ArnLike",
    "StringNotEqualsIgnoreCase": "StringEqualsIgnoreCase",
}


def _condition_holds(operator: str, key: str, expected_raw: Any, context: Context) -> bool:
    expected = [_text(v) for v in as_list(expected_raw)]
    actual = _context_values(context, key)
    if_exists = operator.endswith("IfExists")
    op = operator.removesuffix("IfExists")
    if op == "Null":
        is_null = actual is None or actual == []
        return any((e == "true") == is_null for e in expected)
    if actual is None:
        # Missing keys: negated operators match, others fail (unless ...IfExists).
        return if_exists or op in _NEGATED or op.startswith("ForAllValues:")
    if op.startswith("ForAllValues:"):
        inner = op.split(":", 1)[1]
        return all(_single(inner, [a], expected) for a in actual)
    if op.startswith("ForAnyValue:"):
        inner = op.split(":", 1)[1]
        return _single(inner, actual, expected)
    if op in _NEGATED:
        return not _single(_NEGATED[op], actual, expected)
    return _single(op, actual, expected)


def conditions_hold(condition: Mapping[str, Any] | None, context: Context) -> bool:
    """True when every operator/key pair of a ``Condition`` block holds."""
    for operator, pairs in (condition or {}).items():
        for key, expected in pairs.items():
            if not _condition_holds(operator, key, expected, context):
                return False
    return True


def _statement_applies(
    statement: Mapping[str, Any], action: str, resource: str, context: Context
) -> bool:
    return (
        _action_matches(statement, action)
        and _resource_matches(statement, resource)
        and conditions_hold(statement.get("Condition"), context)
    )


def evaluate(
    policies: Iterable[Policy], action: str, resources: list[str], context: Context
) -> Decision:
    """Evaluate one layer (a set of policies) for ``action`` on every resource."""
    statements = [s for p in policies for s in as_list(p.get("Statement"))]
    targets = resources or ["*"]
    allowed_all = True
    for resource in targets:
        allowed = False
        for statement in statements:
            if not _statement_applies(statement, action, resource, context):
                continue
            if statement.get("Effect") == "Deny":
                return Decision(allowed=False, explicit_deny=True)
            allowed = True
        allowed_all = allowed_all and allowed
    return Decision(allowed=allowed_all)


@dataclass(frozen=True)
class Layer:
    """A named layer of the effective-permission intersection."""

    name: str  # "identity" | "session" | "boundary"
    policies: Sequence[Policy]


@dataclass(frozen=True)
class Verdict:
    """Overall result; when denied, ``reason`` is AWS's wording for why."""

    allowed: bool
    reason: str = ""


def decide(layers: list[Layer], action: str, resources: list[str], context: Context) -> Verdict:
    """Intersect layers: an explicit deny anywhere wins, and every layer must allow."""
    decisions = [(layer, evaluate(layer.policies, action, resources, context)) for layer in layers]
    for layer, decision in decisions:
        if decision.explicit_deny:
            return Verdict(False, f"with an explicit deny in a {_layer_noun(layer.name)}")
    for layer, decision in decisions:
        if not decision.allowed:
            return Verdict(False, _implicit_reason(layer.name, action))
    return Verdict(True)


def _layer_noun(name: str) -> str:
    return {
        "identity": "identity-based policy",
        "session": "session policy",
        "boundary": "permissions boundary",
    }.get(name, "policy")


def _implicit_reason(name: str, action: str) -> str:
    if name == "session":
        return f"because no session policy allows the {action} action"
    if name == "boundary":
        return f"because no permissions boundary allows the {action} action"
    return f"because no identity-based policy allows the {action} action"


def access_denied_message(caller_arn: str, action: str, resource: str, reason: str) -> str:
    """AWS's AccessDenied message shape."""
    message = f"User: {caller_arn} is not authorized to perform: {action} on resource: {resource}"
    return f"{message} {reason}" if reason else message


def trust_allows(
    trust_policy: Policy, caller_account: str, caller_arn: str, context: Context
) -> bool:
    """Role trust evaluation for ``sts:AssumeRole``: principal match plus conditions."""
    allowed = False
    for statement in as_list(trust_policy.get("Statement")):
        if not _action_matches(statement, "sts:AssumeRole"):
            continue
        if not _principal_matches(statement.get("Principal"), caller_account, caller_arn):
            continue
        if not conditions_hold(statement.get("Condition"), context):
            continue
        if statement.get("Effect") == "Deny":
            return False
        allowed = True
    return allowed


def _principal_matches(principal: Any, caller_account: str, caller_arn: str) -> bool:
    if principal == "*":
        return True
    if not isinstance(principal, Mapping):
        return False
    for entry in as_list(principal.get("AWS")):
        value = str(entry)
        if value in ("*", caller_account, f"arn:aws:iam::{caller_account}:root", caller_arn):
            return True
    return False
