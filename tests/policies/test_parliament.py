"""parliament (with community auditors) finds nothing above LOW, or the finding is justified."""

from __future__ import annotations

import json
from pathlib import Path

import parliament
import pytest
from parliament import analyze_policy_string, enhance_finding, override_config

from tests.policies import policy_docs
from tests.policies.justifications import PARLIAMENT_JUSTIFIED

DOCUMENTS = policy_docs.all_documents()
# LOW findings that still fail: an unknown action or prefix is a defect here (I6), not a nit.
ALWAYS_FAIL = {"UNKNOWN_ACTION", "UNKNOWN_PREFIX", "UNKNOWN_CONDITION_FOR_ACTION"}
COMMUNITY_OVERRIDES = (
    Path(parliament.__file__).parent / "community_auditors" / "config_override.yaml"
)


@pytest.fixture(scope="module", autouse=True)
def _community_severities() -> None:
    """Load the community auditors' severities, as ``parliament --include-community-auditors``."""
    override_config(str(COMMUNITY_OVERRIDES))


def findings(document: policy_docs.Document) -> list[tuple[str, str, str]]:
    """(issue, severity, detail) for every parliament finding on a document."""
    policy = analyze_policy_string(json.dumps(document), include_community_auditors=True)
    enhanced = [enhance_finding(f) for f in policy.findings]
    return [(f.issue, f.severity, str(f.detail)) for f in enhanced]


def blocking(label: str, document: policy_docs.Document) -> list[tuple[str, str, str]]:
    """Findings above LOW (or always-failing) that are not justified for this document."""
    return [
        finding
        for finding in findings(document)
        if (finding[1] not in ("LOW", "INFO") or finding[0] in ALWAYS_FAIL)
        and (label, finding[0]) not in PARLIAMENT_JUSTIFIED
    ]


@pytest.mark.parametrize("label", sorted(DOCUMENTS))
def test_no_unjustified_findings_above_low(label: str) -> None:
    assert blocking(label, DOCUMENTS[label]) == []


def test_every_justification_still_matches_a_finding() -> None:
    """A justification for a finding that no longer occurs must be removed."""
    seen = {(label, f[0]) for label, doc in DOCUMENTS.items() for f in findings(doc)}
    assert set(PARLIAMENT_JUSTIFIED) - seen == set()


def test_parliament_flags_an_unbounded_wildcard_role_policy() -> None:
    """The check can fail: an unconditioned iam:* grant is reported above LOW."""
    document = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": ["iam:*"], "Resource": "*"}],
    }
    assert blocking("example", document) != []
