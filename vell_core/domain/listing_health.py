"""Deterministic listing health rules for one product, each with a concrete suggestion.

Inputs are what the live APIs give (reference §5 "Listing health"): the product's
DescribeEntity ``DetailsDocument``, its visibility, its offer summaries (ListEntities) and the
change-set summaries that touch it (ListChangeSets). The same inputs always give the same
findings in the same order, so a rep can promise the prospect what fixing each item changes.

The score starts at 100 and loses a fixed weight per finding (high 20, medium 10, low 5),
floored at 0. No vendor scores listings this way; it is a conversation starter, not an AWS metric.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from vell_core.domain.clock import ensure_utc

MAX_HIGHLIGHTS = 3
MAX_CATEGORIES = 3
MAX_KEYWORDS = 15
MIN_KEYWORDS = 5
MIN_SHORT_DESCRIPTION = 100  # characters; AWS allows up to 1,000
MIN_LONG_DESCRIPTION = 300  # characters; AWS allows up to 5,000
FAILED_WINDOW = timedelta(days=30)
SEVERITY_WEIGHTS = {"high": 20, "medium": 10, "low": 5}
OPEN_CHANGE_STATUSES = frozenset({"PREPARING", "APPLYING"})


@dataclass(frozen=True)
class Finding:
    """One failed rule: what is wrong and exactly what to do about it."""

    rule: str
    severity: str  # "high" | "medium" | "low"
    problem: str
    suggestion: str


@dataclass(frozen=True)
class HealthReport:
    """All findings for a product, most severe first, and the resulting score."""

    findings: tuple[Finding, ...]

    @property
    def score(self) -> int:
        """100 minus the weight of each finding, never below 0."""
        lost = sum(SEVERITY_WEIGHTS[f.severity] for f in self.findings)
        return max(0, 100 - lost)

    @property
    def rules(self) -> tuple[str, ...]:
        """The ids of the failed rules, in order."""
        return tuple(f.rule for f in self.findings)


@dataclass(frozen=True)
class _Inputs:
    description: dict[str, Any]
    promo: dict[str, Any]
    support: dict[str, Any]
    details: dict[str, Any]
    visibility: str
    offers: Sequence[dict[str, Any]]
    change_sets: Sequence[dict[str, Any]]
    now: datetime


Rule = Callable[[_Inputs], Finding | None]


def _highlights(inputs: _Inputs) -> Finding | None:
    count = len([h for h in inputs.description.get("Highlights") or () if str(h).strip()])
    if count == 0:
        return Finding(
            "missing_highlights",
            "high",
            "No highlights: the listing page shows an empty 'Highlights' box.",
            "Add 3 highlights (≤500 characters each) that state outcomes, e.g. "
            "'Deploys in 10 minutes', 'SOC 2 Type II', a measurable benefit.",
        )
    if count < MAX_HIGHLIGHTS:
        return Finding(
            "few_highlights",
            "low",
            f"Only {count} of {MAX_HIGHLIGHTS} highlights are used.",
            f"Add {MAX_HIGHLIGHTS - count} more highlight(s); buyers scan these first.",
        )
    return None


def _short_description(inputs: _Inputs) -> Finding | None:
    text = str(inputs.description.get("ShortDescription") or "").strip()
    if not text:
        return Finding(
            "missing_short_description",
            "high",
            "No short description: search results show nothing under the title.",
            "Write a 150–300 character summary: who it is for, what it does, why on AWS.",
        )
    if len(text) < MIN_SHORT_DESCRIPTION:
        return Finding(
            "short_description",
            "medium",
            f"The short description is {len(text)} characters; search results show little.",
            f"Expand it to at least {MIN_SHORT_DESCRIPTION} characters (150–300 reads best): "
            "name the buyer, the problem and the AWS integration.",
        )
    return None


def _long_description(inputs: _Inputs) -> Finding | None:
    text = str(inputs.description.get("LongDescription") or "").strip()
    if len(text) < MIN_LONG_DESCRIPTION:
        return Finding(
            "short_long_description",
            "medium",
            f"The long description is {len(text)} characters.",
            f"Expand it past {MIN_LONG_DESCRIPTION} characters with use cases, integrations "
            "and how pricing works (up to 5,000 allowed).",
        )
    return None


def _keywords(inputs: _Inputs) -> Finding | None:
    count = len(inputs.description.get("SearchKeywords") or ())
    if count < MIN_KEYWORDS:
        return Finding(
            "few_keywords",
            "medium",
            f"Only {count} search keyword(s) of the {MAX_KEYWORDS} allowed.",
            f"Add {MAX_KEYWORDS - count} keywords buyers type: the category, competitor "
            "names you replace, the AWS services you integrate with.",
        )
    return None


def _categories(inputs: _Inputs) -> Finding | None:
    count = len(inputs.description.get("Categories") or ())
    if count == 0:
        return Finding(
            "missing_categories",
            "high",
            "No categories: the product cannot be found by browsing.",
            f"Pick up to {MAX_CATEGORIES} categories that match how buyers browse.",
        )
    if count < MAX_CATEGORIES:
        return Finding(
            "few_categories",
            "low",
            f"{count} of {MAX_CATEGORIES} categories used.",
            "Add a second or third category to appear in more browse paths.",
        )
    return None


def _support(inputs: _Inputs) -> Finding | None:
    if not str(inputs.support.get("Description") or "").strip():
        return Finding(
            "no_support_information",
            "high",
            "No support information: buyers cannot see how to get help.",
            "Describe support channels, hours and response times (e.g. '24x7 email, 1-hour "
            "P1 response on Enterprise').",
        )
    return None


def _video(inputs: _Inputs) -> Finding | None:
    if not inputs.promo.get("Videos"):
        return Finding(
            "no_video",
            "low",
            "No product video.",
            "Add a 2–3 minute product tour video link; listings with video convert better.",
        )
    return None


def _resources(inputs: _Inputs) -> Finding | None:
    if not inputs.promo.get("AdditionalResources"):
        return Finding(
            "no_additional_resources",
            "low",
            "No additional resources (docs, quick start, case study).",
            "Link up to 3 resources: a quick-start guide, documentation and a case study.",
        )
    return None


def _fulfillment(inputs: _Inputs) -> Finding | None:
    options = [
        o for v in inputs.details.get("Versions") or () for o in v.get("DeliveryOptions") or ()
    ]
    saas = [o for o in options if o.get("Type") == "SoftwareRegistration"]
    if saas and not any(o.get("FulfillmentUrl") for o in saas):
        return Finding(
            "no_fulfillment_url",
            "high",
            "The SaaS delivery option has no fulfillment URL: buyers cannot register.",
            "Set the fulfillment (registration) URL of the SaaS delivery option.",
        )
    return None


def _public_offer(inputs: _Inputs) -> Finding | None:
    if inputs.visibility in ("Draft", "Restricted", "Unavailable"):
        return None  # not sold to new buyers anyway
    for offer in inputs.offers:
        summary = offer.get("OfferSummary") or {}
        targeting = [t for t in summary.get("Targeting") or () if t and t != "None"]
        if (
            summary.get("State") == "Released"
            and not targeting
            and not summary.get("BuyerAccounts")
        ):
            return None
    return Finding(
        "no_released_public_offer",
        "high",
        "No released public offer: buyers can only purchase through private offers.",
        "Release the product's public offer (ReleaseOffer) with list pricing, or confirm the "
        "listing is private-offer-only on purpose.",
    )


def _visibility(inputs: _Inputs) -> Finding | None:
    if inputs.visibility == "Limited":
        return Finding(
            "limited_visibility",
            "medium",
            "Visibility is Limited: only allow-listed AWS accounts can see it.",
            "When the listing is ready, request Public visibility (UpdateVisibility); AWS "
            "reviews it before it goes live.",
        )
    if inputs.visibility == "Draft":
        return Finding(
            "draft",
            "medium",
            "The product is still a Draft.",
            "Finish the listing and release it (ReleaseProduct) to a Limited audience first.",
        )
    return None


def _failed_changes(inputs: _Inputs) -> Finding | None:
    since = inputs.now - FAILED_WINDOW
    failed = [
        cs
        for cs in inputs.change_sets
        if cs.get("Status") == "FAILED" and (_start(cs) or inputs.now) >= since
    ]
    if failed:
        codes = sorted({str(cs.get("FailureCode") or "unknown") for cs in failed})
        return Finding(
            "failed_change_sets",
            "medium",
            f"{len(failed)} change set(s) failed in the last 30 days ({', '.join(codes)}).",
            "Open the failed change sets, fix the errors listed under each change and resubmit; "
            "CLIENT_ERROR means the request needs changing, SERVER_FAULT can be retried.",
        )
    return None


def _locks(inputs: _Inputs) -> Finding | None:
    open_sets = [cs for cs in inputs.change_sets if cs.get("Status") in OPEN_CHANGE_STATUSES]
    if open_sets:
        ids = ", ".join(str(cs.get("ChangeSetId")) for cs in open_sets)
        return Finding(
            "pending_change_set",
            "low",
            f"Locked by {len(open_sets)} change set(s) in progress ({ids}).",
            "Wait for them to finish (or cancel one still PREPARING) before submitting "
            "another update; AWS refuses changes to a locked entity.",
        )
    return None


def _start(change_set: dict[str, Any]) -> datetime | None:
    value = change_set.get("StartTime")
    if isinstance(value, datetime):
        return ensure_utc(value)
    if not value:
        return None
    return ensure_utc(datetime.fromisoformat(str(value).replace("Z", "+00:00")))


RULES: tuple[Rule, ...] = (
    _short_description,
    _highlights,
    _support,
    _categories,
    _fulfillment,
    _public_offer,
    _keywords,
    _long_description,
    _visibility,
    _failed_changes,
    _video,
    _resources,
    _locks,
)
_SEVERITY_ORDER = {"high": 0, "medium": 1, "low": 2}


def check_product(
    *,
    details: dict[str, Any],
    visibility: str,
    offers: Sequence[dict[str, Any]] = (),
    change_sets: Sequence[dict[str, Any]] = (),
    now: datetime,
) -> HealthReport:
    """Run every rule on one product; findings sorted by severity, then rule order."""
    inputs = _Inputs(
        description=details.get("Description") or {},
        promo=details.get("PromotionalResources") or {},
        support=details.get("SupportInformation") or {},
        details=details,
        visibility=visibility or str((details.get("Description") or {}).get("Visibility") or ""),
        offers=offers,
        change_sets=change_sets,
        now=ensure_utc(now),
    )
    found = [f for f in (rule(inputs) for rule in RULES) if f is not None]
    found.sort(key=lambda f: _SEVERITY_ORDER[f.severity])  # stable: rule order within severity
    return HealthReport(findings=tuple(found))
