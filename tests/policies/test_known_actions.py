"""I6: every action and condition key in every policy exists in policy_sentry's IAM database."""

from __future__ import annotations

import fnmatch
import json

import pytest
from parliament import iam_definition
from parliament.statement import GLOBAL_CONDITION_KEYS
from policy_sentry.querying.actions import get_action_data

from tests.policies import policy_docs
from tests.policies.justifications import IAM_DATABASE_ALLOWLIST

DOCUMENTS = policy_docs.all_documents()


def unknown_actions(document: policy_docs.Document) -> list[str]:
    """Action patterns that match nothing in policy_sentry's database."""
    unknown = []
    for _statement, pattern in policy_docs.action_patterns(document):
        if pattern in IAM_DATABASE_ALLOWLIST:
            continue
        if not _known_to_policy_sentry(pattern):
            unknown.append(pattern)
    return unknown


def _known_to_policy_sentry(pattern: str) -> bool:
    if any(ch in pattern for ch in "*?"):
        return bool(policy_docs.expand(pattern))
    service, _, name = pattern.partition(":")
    return bool(get_action_data(service, name))


def _action_condition_keys(action: str) -> list[str]:
    service, _, name = action.partition(":")
    entries = get_action_data(service, name).get(service, [])
    return [key for entry in entries for key in entry["condition_keys"]]


def _key_matches(key: str, documented: str) -> bool:
    pattern = documented.replace("${TagKey}", "*").replace("${ContextKey}", "*").lower()
    return fnmatch.fnmatchcase(key.lower(), pattern)


def _is_global(key: str) -> bool:
    return any(_key_matches(key, g.replace("/*", "/${TagKey}")) for g in GLOBAL_CONDITION_KEYS)


def unknown_condition_keys(document: policy_docs.Document) -> list[str]:
    """(action, key) pairs where a non-global key is not documented for the action."""
    problems = []
    for statement in policy_docs.statements(document):
        actions = policy_docs.as_list(statement.get("Action"))
        for key in policy_docs.condition_keys(statement):
            if _is_global(key):
                continue
            for action in actions:
                documented = _action_condition_keys(action)
                if not any(_key_matches(key, d) for d in documented):
                    problems.append(f"{action} / {key}")
    return problems


@pytest.mark.parametrize("label", sorted(DOCUMENTS))
def test_every_action_exists(label: str) -> None:
    assert unknown_actions(DOCUMENTS[label]) == []


@pytest.mark.parametrize("label", sorted(DOCUMENTS))
def test_every_condition_key_is_supported(label: str) -> None:
    assert unknown_condition_keys(DOCUMENTS[label]) == []


def test_checker_reports_the_guides_nonexistent_action() -> None:
    """The guide's aws-marketplace:DeleteEntity is unknown: the checker can fail."""
    guide_deny = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Deny", "Action": ["aws-marketplace:DeleteEntity"], "Resource": "*"}
        ],
    }
    assert unknown_actions(guide_deny) == ["aws-marketplace:DeleteEntity"]


def test_checker_reports_an_unsupported_condition_key() -> None:
    """iam:PermissionsBoundary is not a TagRole key (the reason TagRole has its own statement)."""
    statement = {
        "Effect": "Allow",
        "Action": ["iam:TagRole"],
        "Resource": "*",
        "Condition": {"StringEquals": {"iam:PermissionsBoundary": "x"}},
    }
    document = {"Version": "2012-10-17", "Statement": [statement]}
    assert unknown_condition_keys(document) == ["iam:TagRole / iam:PermissionsBoundary"]


def _known_to_parliament(action: str) -> bool:
    service, _, name = action.partition(":")
    return any(
        s["prefix"] == service and any(p["privilege"] == name for p in s["privileges"])
        for s in iam_definition
    )


def test_allowlist_entries_are_still_needed_and_real() -> None:
    """Remove an entry once policy_sentry knows it; keep only what a second source knows."""
    stale = [a for a in IAM_DATABASE_ALLOWLIST if _known_to_policy_sentry(a)]
    invented = [a for a in IAM_DATABASE_ALLOWLIST if not _known_to_parliament(a)]
    assert stale == [], "policy_sentry knows these now; remove them from the allow-list"
    assert invented == [], "unknown to parliament as well: not a database lag"


def test_second_source_agrees_on_the_guides_defect() -> None:
    assert _known_to_parliament("aws-marketplace:StartChangeSet")
    assert not _known_to_parliament("aws-marketplace:DeleteEntity")


def test_allowlist_is_used() -> None:
    used = {p for doc in DOCUMENTS.values() for _s, p in policy_docs.action_patterns(doc)}
    assert set(IAM_DATABASE_ALLOWLIST) <= used, json.dumps(sorted(set(IAM_DATABASE_ALLOWLIST)))
