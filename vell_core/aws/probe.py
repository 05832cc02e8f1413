"""Permission probe: one harmless read per Marketplace action the connector needs.

Each check is green (the call was allowed), red (AWS denied it; with the likely cause and a fix
hint) or grey (the service could not be reached, e.g. the sandbox has no Marketplace backend
yet). The probe runs with whatever client factory it is given: the delegated credentials of an
onboarding request, or the permanent role's credentials after ``AssumeRole``.

Why ``ResourceNotFoundException`` counts as green: AWS authorises a call before it looks the
resource up, so "not found" proves the permission while a new seller simply has nothing to read.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from vell_core.aws.clients import ACCESS_DENIED_CODES, THROTTLED_CODES, ClientFactory, error_code
from vell_core.domain.iam_actions import CONNECTOR_POLICY_NAME, requires

log = logging.getLogger(__name__)

CATALOG = "AWSMarketplace"
# Placeholder ids used only when the account has nothing to read (valid per the API patterns).
PROBE_ENTITY_ID = "prod-vellprobe0000000000"
PROBE_CHANGE_SET_ID = "vellprobe000000000000000"
PROBE_AGREEMENT_ID = "agmt-vellprobe00000000000000"
NOT_FOUND_CODES = frozenset({"ResourceNotFoundException", "ResourceNotFound"})
UNAVAILABLE_CODES = frozenset(
    {"UnknownOperationException", "InternalFailure", "ServiceUnavailable", "NotImplemented"}
)
EXPIRED_CODES = frozenset({"ExpiredToken", "ExpiredTokenException"})


class CheckStatus(StrEnum):
    """Outcome of one probe check."""

    OK = "ok"
    DENIED = "denied"
    UNAVAILABLE = "unavailable"
    ERROR = "error"


class DenialCause(StrEnum):
    """Which policy layer AWS says denied the call (parsed from its message)."""

    IDENTITY_POLICY = "identity_policy"
    BOUNDARY = "boundary"
    SCP = "scp"
    SESSION_POLICY = "session_policy"
    EXPIRED = "expired"
    UNKNOWN = "unknown"


@dataclass(frozen=True)
class ProbeCheck:
    """One action's result."""

    action: str
    status: CheckStatus
    detail: str
    fix_hint: str = ""
    cause: DenialCause | None = None

    @property
    def green(self) -> bool:
        """Allowed by AWS."""
        return self.status is CheckStatus.OK


@dataclass(frozen=True)
class ProbeReport:
    """Every check, in the order the connector uses the actions."""

    checks: tuple[ProbeCheck, ...] = field(default=())

    @property
    def denied(self) -> tuple[ProbeCheck, ...]:
        """Red checks."""
        return tuple(c for c in self.checks if c.status is CheckStatus.DENIED)

    @property
    def unavailable(self) -> tuple[ProbeCheck, ...]:
        """Checks that could not reach the service."""
        return tuple(c for c in self.checks if c.status is CheckStatus.UNAVAILABLE)

    @property
    def ok(self) -> bool:
        """No check was denied or failed (unavailable services are reported, not failed)."""
        return all(c.status in (CheckStatus.OK, CheckStatus.UNAVAILABLE) for c in self.checks)

    @property
    def all_green(self) -> bool:
        """Every check reached AWS and was allowed."""
        return all(c.green for c in self.checks)

    def rows(self) -> list[dict[str, str]]:
        """Plain rows for a table or CSV."""
        return [
            {
                "action": c.action,
                "result": c.status.value,
                "detail": c.detail,
                "fix": c.fix_hint,
            }
            for c in self.checks
        ]

    def summary(self) -> str:
        """One line for audit rows and status labels."""
        counts = dict.fromkeys(CheckStatus, 0)
        for check in self.checks:
            counts[check.status] += 1
        return ", ".join(f"{counts[s]} {s.value}" for s in CheckStatus if counts[s])


def denial_cause(message: str, code: str = "") -> DenialCause:
    """The policy layer named in an AccessDenied message (AWS's own wording)."""
    if code in EXPIRED_CODES:
        return DenialCause.EXPIRED
    lowered = message.lower()
    if "service control policy" in lowered:
        return DenialCause.SCP
    if "permissions boundary" in lowered:
        return DenialCause.BOUNDARY
    if "session policy" in lowered:
        return DenialCause.SESSION_POLICY
    if "identity-based policy" in lowered:
        return DenialCause.IDENTITY_POLICY
    return DenialCause.UNKNOWN


def fix_hint(action: str, cause: DenialCause, principal: str = "the Vell role") -> str:
    """Plain-language fix for a denied action."""
    if cause is DenialCause.SCP:
        return (
            f"An AWS Organizations service control policy blocks {action}. Ask the customer's "
            f"organization admin to allow it for {principal}."
        )
    if cause is DenialCause.BOUNDARY:
        return (
            f"The permissions boundary on {principal} does not allow {action}. The role must use "
            "Vell's registered boundary unchanged; re-create it with the Vell template."
        )
    if cause is DenialCause.SESSION_POLICY:
        return (
            f"The approved delegation does not include {action}. Launch a new onboarding "
            "request; the customer's approver also needs this permission themselves."
        )
    if cause is DenialCause.EXPIRED:
        return "The temporary credentials expired. Validate again to get fresh ones."
    return (
        f"Add {action} to the inline policy {CONNECTOR_POLICY_NAME} of {principal} (re-deploy the "
        "Vell CloudFormation template), or check for an SCP or boundary that denies it."
    )


@dataclass
class _Context:
    """Ids found by earlier checks, so later ones read something real when it exists."""

    entity_id: str = PROBE_ENTITY_ID
    change_set_id: str = PROBE_CHANGE_SET_ID
    agreement_id: str = PROBE_AGREEMENT_ID


Call = Callable[[ClientFactory, _Context], None]


class PermissionProbe:
    """Runs the connector's reads once each and reports green/red per action."""

    def __init__(self, principal_label: str = "the Vell role") -> None:
        self._principal = principal_label

    @requires(
        "probe.list_listings",
        "probe.describe_entities",
        "probe.list_change_sets",
        "probe.describe_change_set",
        "probe.search_agreements",
        "probe.describe_agreement",
        "probe.get_agreement_terms",
    )
    def run(self, factory: ClientFactory, principal_label: str | None = None) -> ProbeReport:
        """Probe every connector action with ``factory``'s credentials."""
        principal = principal_label or self._principal
        context = _Context()
        checks = [self._check(action, call, factory, context, principal) for action, call in CHECKS]
        return ProbeReport(tuple(checks))

    def _check(
        self, action: str, call: Call, factory: ClientFactory, context: _Context, principal: str
    ) -> ProbeCheck:
        try:
            call(factory, context)
        except ClientError as exc:
            return _from_client_error(action, exc, principal)
        except BotoCoreError as exc:
            log.info("probe %s could not reach AWS: %s", action, type(exc).__name__)
            return ProbeCheck(action, CheckStatus.UNAVAILABLE, "Service unavailable (no answer).")
        return ProbeCheck(action, CheckStatus.OK, "Allowed.")


def _from_client_error(action: str, exc: ClientError, principal: str) -> ProbeCheck:
    code = error_code(exc)
    message = str(exc.response.get("Error", {}).get("Message", ""))
    if code in NOT_FOUND_CODES:
        return ProbeCheck(action, CheckStatus.OK, "Allowed (nothing to read yet).")
    if code in ACCESS_DENIED_CODES or code in EXPIRED_CODES:
        cause = denial_cause(message, code)
        return ProbeCheck(
            action,
            CheckStatus.DENIED,
            f"Denied ({code}).",
            fix_hint(action, cause, principal),
            cause,
        )
    status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
    if code in UNAVAILABLE_CODES or status in (501, 503):
        return ProbeCheck(action, CheckStatus.UNAVAILABLE, "Service unavailable.")
    if code in THROTTLED_CODES:
        return ProbeCheck(action, CheckStatus.ERROR, "Throttled by AWS; probe again shortly.")
    return ProbeCheck(action, CheckStatus.ERROR, f"AWS answered {code or 'an error'}.")


# -- The calls, in the order the connector needs them -------------------------------------------


def _catalog(factory: ClientFactory) -> Any:
    return factory.client("marketplace-catalog")


def _agreement(factory: ClientFactory) -> Any:
    return factory.client("marketplace-agreement")


def _list_entities(factory: ClientFactory, context: _Context) -> None:
    answer = _catalog(factory).list_entities(
        Catalog=CATALOG, EntityType="SaaSProduct", MaxResults=1
    )
    summaries = answer.get("EntitySummaryList") or []
    if summaries and summaries[0].get("EntityId"):
        context.entity_id = str(summaries[0]["EntityId"])


def _describe_entity(factory: ClientFactory, context: _Context) -> None:
    _catalog(factory).describe_entity(Catalog=CATALOG, EntityId=context.entity_id)


def _list_change_sets(factory: ClientFactory, context: _Context) -> None:
    answer = _catalog(factory).list_change_sets(Catalog=CATALOG, MaxResults=1)
    summaries = answer.get("ChangeSetSummaryList") or []
    if summaries and summaries[0].get("ChangeSetId"):
        context.change_set_id = str(summaries[0]["ChangeSetId"])


def _describe_change_set(factory: ClientFactory, context: _Context) -> None:
    _catalog(factory).describe_change_set(Catalog=CATALOG, ChangeSetId=context.change_set_id)


def _search_agreements(factory: ClientFactory, context: _Context) -> None:
    answer = _agreement(factory).search_agreements(
        catalog=CATALOG,
        filters=[
            {"name": "PartyType", "values": ["Proposer"]},
            {"name": "AgreementType", "values": ["PurchaseAgreement"]},
        ],
        maxResults=1,
    )
    summaries = answer.get("agreementViewSummaries") or []
    if summaries and summaries[0].get("agreementId"):
        context.agreement_id = str(summaries[0]["agreementId"])


def _describe_agreement(factory: ClientFactory, context: _Context) -> None:
    _agreement(factory).describe_agreement(agreementId=context.agreement_id)


def _get_agreement_terms(factory: ClientFactory, context: _Context) -> None:
    _agreement(factory).get_agreement_terms(agreementId=context.agreement_id, maxResults=1)


CHECKS: tuple[tuple[str, Call], ...] = (
    ("aws-marketplace:ListEntities", _list_entities),
    ("aws-marketplace:DescribeEntity", _describe_entity),
    ("aws-marketplace:ListChangeSets", _list_change_sets),
    ("aws-marketplace:DescribeChangeSet", _describe_change_set),
    ("aws-marketplace:SearchAgreements", _search_agreements),
    ("aws-marketplace:DescribeAgreement", _describe_agreement),
    ("aws-marketplace:GetAgreementTerms", _get_agreement_terms),
)
