"""Shared loaders for the policy tests: every policy file, rendered as IAM would see it.

Templates are rendered with ``vell_core.domain.policies.render_template`` (the renderer the
sandbox and
the wizard use); the trust policy with ``string.Template`` (as the promotion code does). Action
wildcards are expanded against policy_sentry's bundled IAM database.
"""

from __future__ import annotations

import fnmatch
import json
import re
from collections.abc import Iterator
from functools import cache
from string import Template
from typing import Any

from policy_sentry.querying.all import get_all_actions

from vell_core.config.settings import SANDBOX_DEFAULTS, VELL_PARTNER_ACCOUNT_ID
from vell_core.domain.policies import (
    PolicyParameter,
    load_policy_file,
    load_template,
    policy_path,
    render_template,
)

BOUNDARY_ARN = SANDBOX_DEFAULTS["aws_delegation_permission_boundary_arn"]
SAMPLE_ACCOUNT = "123456789012"
LONGEST_ACCOUNT = "999999999999"  # every account ID is exactly 12 digits
LONGEST_EXTERNAL_ID = "x" * 1224  # IAM's ExternalId maximum
TEMPLATE_PARAMETERS: dict[str, tuple[str, ...]] = {
    "read-only": ("AccountId",),
    "full-access": ("AccountId",),
    "onboarding": ("AccountId", "IncludeMarketplaceRead"),
}
SWITCH_VALUES = ("True", "False")
TRUST_POLICY_FILE = "trust-policy.json"
BOUNDARY_FILE = "boundary.json"
CONNECTOR_FILE = "connector-policy.json"
CFN_TEMPLATE = "cloudformation/vell-marketplace-connector-role.yaml"

Document = dict[str, Any]


def template_parameters(
    name: str, account: str = SAMPLE_ACCOUNT, switch: str = "True"
) -> list[PolicyParameter]:
    """The parameters the app sends for template ``name``."""
    values = {"AccountId": account, "IncludeMarketplaceRead": switch}
    return [PolicyParameter(param, (values[param],)) for param in TEMPLATE_PARAMETERS[name]]


def rendered_text(name: str, account: str = SAMPLE_ACCOUNT, switch: str = "True") -> str:
    """Template ``name`` rendered to minified JSON."""
    return render_template(load_template(name), template_parameters(name, account, switch))


def rendered(name: str, account: str = SAMPLE_ACCOUNT, switch: str = "True") -> Document:
    """Template ``name`` rendered and parsed."""
    return json.loads(rendered_text(name, account, switch))


def trust_text(partner: str = VELL_PARTNER_ACCOUNT_ID, external_id: str = "vell-ext-0001") -> str:
    """The trust policy file rendered with ``string.Template`` (minified)."""
    raw = policy_path(TRUST_POLICY_FILE).read_text(encoding="utf-8")
    text = Template(raw).substitute(PartnerAccountId=partner, ExternalId=external_id)
    return json.dumps(json.loads(text), separators=(",", ":"))


def raw_file(relative: str) -> Document:
    """A policy file as stored (not rendered)."""
    return dict(load_policy_file(relative))


def all_documents() -> dict[str, Document]:
    """Every policy as IAM receives it, by a readable label."""
    documents: dict[str, Document] = {}
    for name, params in TEMPLATE_PARAMETERS.items():
        switches = SWITCH_VALUES if "IncludeMarketplaceRead" in params else ("True",)
        for switch in switches:
            label = name if len(switches) == 1 else f"{name}[IncludeMarketplaceRead={switch}]"
            documents[label] = rendered(name, switch=switch)
    documents[BOUNDARY_FILE] = raw_file(BOUNDARY_FILE)
    documents[CONNECTOR_FILE] = raw_file(CONNECTOR_FILE)
    documents[TRUST_POLICY_FILE] = json.loads(trust_text())
    return documents


def as_list(value: Any) -> list[Any]:
    """Policy fields may be a scalar or a list."""
    if value is None:
        return []
    return list(value) if isinstance(value, list) else [value]


def statements(document: Document) -> list[Document]:
    """The statements of a policy document."""
    return [dict(s) for s in as_list(document.get("Statement"))]


def action_patterns(document: Document) -> Iterator[tuple[Document, str]]:
    """(statement, pattern) for every Action and NotAction entry."""
    for statement in statements(document):
        for key in ("Action", "NotAction"):
            for pattern in as_list(statement.get(key)):
                yield statement, pattern


def condition_keys(statement: Document) -> list[str]:
    """Every condition key a statement uses."""
    return [key for block in (statement.get("Condition") or {}).values() for key in block]


@cache
def _all_actions() -> tuple[str, ...]:
    return tuple(sorted(get_all_actions()))


def expand(pattern: str) -> frozenset[str]:
    """Actions of the IAM database that an Action pattern matches (IAM: case-insensitive)."""
    if not any(ch in pattern for ch in "*?"):
        lowered = pattern.lower()
        return frozenset(a for a in _all_actions() if a.lower() == lowered) or frozenset({pattern})
    compiled = re.compile(fnmatch.translate(pattern.lower()))
    return frozenset(a for a in _all_actions() if compiled.match(a.lower()))


def allowed_actions(document: Document) -> frozenset[str]:
    """Actions named (wildcards expanded) by the Allow statements of a document."""
    granted: set[str] = set()
    for statement in statements(document):
        if statement.get("Effect") != "Allow":
            continue
        for pattern in as_list(statement.get("Action")):
            granted |= expand(pattern)
    return frozenset(granted)
