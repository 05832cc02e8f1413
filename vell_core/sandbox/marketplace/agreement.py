"""Marketplace Agreement API handlers (``marketplace-agreement``, camelCase, timestamps).

Timestamps are returned as timezone-aware ``datetime`` objects; the wire layer encodes them
as epoch seconds. SearchAgreements accepts exactly one value per filter and only the filter
combinations AWS documents (reference §2.2); anything else is a ``ValidationException`` with
the matching ``reason``.
"""

from __future__ import annotations

from itertools import combinations
from typing import Any

from vell_core.sandbox.contract import SandboxCall, SandboxServiceError
from vell_core.sandbox.marketplace.errors import agreement_error, agreement_validation
from vell_core.sandbox.marketplace.models import (
    CATALOG_NAME,
    Agreement,
    SellerState,
    parse_iso,
    to_agreement_times,
)
from vell_core.sandbox.marketplace.paging import fingerprint, paginate
from vell_core.sandbox.marketplace.terms import TermCache, materialize_terms

MAX_RESULTS = 50
FILTER_NAMES = frozenset(
    {
        "PartyType",
        "AgreementType",
        "ResourceIdentifier",
        "ResourceType",
        "AcceptorAccountId",
        "OfferId",
        "OfferSetId",
        "Status",
        "BeforeEndTime",
        "AfterEndTime",
    }
)
STATUSES = frozenset(
    {
        "ACTIVE",
        "ARCHIVED",
        "CANCELLED",
        "EXPIRED",
        "RENEWED",
        "REPLACED",
        "ROLLED_BACK",
        "SUPERSEDED",
        "TERMINATED",
    }
)
RESOURCE_TYPES = frozenset(
    {
        "SaaSProduct",
        "AmiProduct",
        "ContainerProduct",
        "ProfessionalServicesProduct",
        "MachineLearningProduct",
    }
)
AGREEMENT_TYPES = frozenset({"PurchaseAgreement", "VendorInsightsAgreement"})


def _with_optional(base: frozenset[str], *optional: str) -> set[frozenset[str]]:
    """``base`` plus every subset of ``optional``."""
    return {
        base | frozenset(extra)
        for size in range(len(optional) + 1)
        for extra in combinations(optional, size)
    }


def _proposer_combinations() -> set[frozenset[str]]:
    combos = _with_optional(frozenset(), "EndTime")
    for key in ("ResourceType", "ResourceIdentifier", "Status", "OfferId", "OfferSetId"):
        combos |= _with_optional(frozenset({key}), "Status", "EndTime")
    for extra in ((), ("OfferId",), ("ResourceIdentifier",), ("ResourceType",)):
        combos |= _with_optional(frozenset({"AcceptorAccountId", *extra}), "Status", "EndTime")
    return combos


def _acceptor_combinations() -> set[frozenset[str]]:
    combos = _with_optional(frozenset(), "Status", "EndTime")
    for key in ("ResourceIdentifier", "OfferId", "OfferSetId"):
        combos |= _with_optional(frozenset({key}), "Status", "EndTime")
    combos |= _with_optional(frozenset({"ResourceType"}), "EndTime")
    return combos


# Other filters allowed next to PartyType + AgreementType ("EndTime" = Before/AfterEndTime).
SUPPORTED = {"Proposer": _proposer_combinations(), "Acceptor": _acceptor_combinations()}


def _parse_filters(raw: list[dict[str, Any]] | None) -> dict[str, str]:
    filters: dict[str, str] = {}
    for item in raw or []:
        name = item.get("name")
        if not name:
            raise agreement_validation(
                "MISSING_FILTER_NAME", "Filter name is required.", [("filters", "missing name")]
            )
        if name not in FILTER_NAMES:
            raise agreement_validation(
                "INVALID_FILTER_NAME",
                f"Filter name {name} is not valid.",
                [("filters", f"unknown filter {name}")],
            )
        values = item.get("values") or []
        if not values:
            raise agreement_validation(
                "MISSING_FILTER_VALUES", f"Filter {name} needs a value.", [(name, "missing value")]
            )
        if len(values) != 1:
            raise agreement_validation(
                "INVALID_FILTER_VALUES",
                f"Filter {name} takes exactly one value.",
                [(name, "exactly one value is supported")],
            )
        if name in filters:
            raise agreement_validation(
                "INVALID_FILTERS",
                f"Filter {name} is given more than once.",
                [(name, "duplicate filter")],
            )
        filters[name] = str(values[0])
    return filters


def _check_values(filters: dict[str, str]) -> None:
    party = filters.get("PartyType")
    if party is None:
        raise agreement_validation(
            "MISSING_PARTY_TYPE", "The PartyType filter is required.", [("PartyType", "missing")]
        )
    if party not in SUPPORTED:
        raise agreement_validation(
            "INVALID_PARTY_TYPE",
            f"PartyType {party} is not valid.",
            [("PartyType", "must be Proposer or Acceptor")],
        )
    agreement_type = filters.get("AgreementType")
    if agreement_type is not None and agreement_type not in AGREEMENT_TYPES:
        raise agreement_validation(
            "INVALID_AGREEMENT_TYPE",
            f"AgreementType {agreement_type} is not valid.",
            [("AgreementType", "unsupported value")],
        )
    if "Status" in filters and filters["Status"] not in STATUSES:
        raise agreement_validation(
            "INVALID_FILTER_VALUES",
            f"Status {filters['Status']} is not valid.",
            [("Status", "unsupported value")],
        )
    if "ResourceType" in filters and filters["ResourceType"] not in RESOURCE_TYPES:
        raise agreement_validation(
            "INVALID_FILTER_VALUES",
            f"ResourceType {filters['ResourceType']} is not valid.",
            [("ResourceType", "unsupported value")],
        )
    for name in ("BeforeEndTime", "AfterEndTime"):
        if name in filters:
            try:
                parse_iso(filters[name])
            except ValueError as error:
                raise agreement_validation(
                    "INVALID_FILTER_VALUES",
                    f"{name} must be an ISO-8601 timestamp.",
                    [(name, "invalid timestamp")],
                ) from error


def _check_combination(filters: dict[str, str]) -> None:
    others = {("EndTime" if name.endswith("EndTime") else name) for name in filters} - {
        "PartyType",
        "AgreementType",
    }
    if "AgreementType" not in filters or frozenset(others) not in SUPPORTED[filters["PartyType"]]:
        names = ", ".join(sorted(filters))
        raise agreement_validation(
            "UNSUPPORTED_FILTERS",
            f"The combination of filters [{names}] is not supported.",
            [("filters", "unsupported combination")],
        )


def _bad_token() -> SandboxServiceError:
    return agreement_validation(
        "INVALID_NEXT_TOKEN",
        "The nextToken is not valid for this request.",
        [("nextToken", "invalid")],
    )


def _max_results(value: Any) -> int:
    if value is None:
        return MAX_RESULTS
    if not isinstance(value, int) or not 1 <= value <= MAX_RESULTS:
        raise agreement_validation(
            "INVALID_MAX_RESULTS",
            f"maxResults must be between 1 and {MAX_RESULTS}.",
            [("maxResults", "out of range")],
        )
    return value


def _matches(agreement: Agreement, filters: dict[str, str]) -> bool:
    summary = agreement.summary
    proposal = summary.get("proposalSummary", {})
    resources = proposal.get("resources", [])
    end = agreement.end_time
    checks = {
        "AgreementType": lambda v: summary.get("agreementType") == v,
        "ResourceIdentifier": lambda v: any(r.get("id") == v for r in resources),
        "ResourceType": lambda v: any(r.get("type") == v for r in resources),
        "AcceptorAccountId": lambda v: summary.get("acceptor", {}).get("accountId") == v,
        "OfferId": lambda v: proposal.get("offerId") == v,
        "OfferSetId": lambda v: proposal.get("offerSetId") == v,
        "Status": lambda v: summary.get("status") == v,
        "BeforeEndTime": lambda v: end is not None and end < parse_iso(v),
        "AfterEndTime": lambda v: end is not None and end > parse_iso(v),
    }
    return all(checks[name](value) for name, value in filters.items() if name in checks)


def _end_sort_key(agreement: Agreement) -> tuple[float, str]:
    # Pay-as-you-go agreements have no end: they sort as "never ends".
    end = agreement.end_time
    return (end.timestamp() if end else float("inf"), agreement.agreement_id)


class AgreementService:
    """Agreement handlers over per-account seller state."""

    def __init__(self, sellers: Any) -> None:
        self.sellers = sellers
        self.term_cache = TermCache()

    def search_agreements(self, call: SandboxCall) -> dict[str, Any]:
        """SearchAgreements."""
        params = call.params
        if params.get("catalog") != CATALOG_NAME:
            raise agreement_validation(
                "INVALID_CATALOG",
                f"Catalog {params.get('catalog')} is not valid.",
                [("catalog", "must be AWSMarketplace")],
            )
        filters = _parse_filters(params.get("filters"))
        _check_values(filters)
        _check_combination(filters)
        limit = _max_results(params.get("maxResults"))
        descending = self._sort(params.get("sort"))
        seller: SellerState = self.sellers(call.caller.account_id)
        with seller.lock:
            rows = self._visible(seller, filters)
            rows.sort(key=_end_sort_key, reverse=descending)
            query = [seller.account_id, filters, descending]
            page = paginate(
                rows,
                token=params.get("nextToken"),
                limit=limit,
                query_hash=fingerprint(query),
                on_invalid=_bad_token,
            )
            summaries = [dict(a.summary) for a in page.items]
        result: dict[str, Any] = {"agreementViewSummaries": summaries}
        if page.next_token:
            result["nextToken"] = page.next_token
        return result

    def _sort(self, sort: dict[str, Any] | None) -> bool:
        sort = sort or {}
        sort_by = sort.get("sortBy") or "EndTime"
        if sort_by != "EndTime":
            raise agreement_validation(
                "INVALID_SORT_BY",
                f"sortBy {sort_by} is not supported; only EndTime.",
                [("sort.sortBy", "unsupported")],
            )
        order = sort.get("sortOrder") or "DESCENDING"
        if order not in ("ASCENDING", "DESCENDING"):
            raise agreement_validation(
                "INVALID_SORT_ORDER",
                f"sortOrder {order} is not valid.",
                [("sort.sortOrder", "unsupported")],
            )
        return order == "DESCENDING"

    def _visible(self, seller: SellerState, filters: dict[str, str]) -> list[Agreement]:
        # A seller account buys nothing in the sandbox: as Acceptor it sees an empty list.
        party_key = "proposer" if filters["PartyType"] == "Proposer" else "acceptor"
        return [
            a
            for a in seller.agreements.values()
            if a.summary.get(party_key, {}).get("accountId") == seller.account_id
            and _matches(a, filters)
        ]

    def _agreement(self, call: SandboxCall) -> tuple[SellerState, Agreement]:
        agreement_id = call.params.get("agreementId")
        if not agreement_id:
            raise agreement_validation(
                "MISSING_AGREEMENT_ID", "agreementId is required.", [("agreementId", "missing")]
            )
        if (
            not all(ch.isalnum() or ch in "_/-" for ch in str(agreement_id))
            or len(str(agreement_id)) > 64
        ):
            raise agreement_validation(
                "INVALID_AGREEMENT_ID",
                f"Agreement id {agreement_id} is not valid.",
                [("agreementId", "invalid format")],
            )
        seller: SellerState = self.sellers(call.caller.account_id)
        agreement = seller.agreements.get(str(agreement_id))
        account = call.caller.account_id
        parties = (
            (
                agreement.summary.get("proposer", {}).get("accountId"),
                agreement.summary.get("acceptor", {}).get("accountId"),
            )
            if agreement
            else ()
        )
        if agreement is None or account not in parties:
            raise agreement_error(
                "ResourceNotFoundException",
                f"Agreement {agreement_id} not found.",
                resourceId=str(agreement_id),
                resourceType="Agreement",
            )
        return seller, agreement

    def describe_agreement(self, call: SandboxCall) -> dict[str, Any]:
        """DescribeAgreement: the summary plus ``estimatedCharges``."""
        seller, agreement = self._agreement(call)
        with seller.lock:
            result = dict(agreement.summary)
            result["estimatedCharges"] = dict(agreement.estimated_charges)
        return result

    def get_agreement_terms(self, call: SandboxCall) -> dict[str, Any]:
        """GetAgreementTerms: the accepted-term union items, paged."""
        seller, agreement = self._agreement(call)
        limit = _max_results(call.params.get("maxResults"))
        with seller.lock:
            terms = self.accepted_terms(agreement)
            query = [seller.account_id, agreement.agreement_id]
            page = paginate(
                terms,
                token=call.params.get("nextToken"),
                limit=limit,
                query_hash=fingerprint(query),
                on_invalid=_bad_token,
            )
        result: dict[str, Any] = {"acceptedTerms": page.items}
        if page.next_token:
            result["nextToken"] = page.next_token
        return result

    def accepted_terms(self, agreement: Agreement) -> list[dict[str, Any]]:
        """The agreement's accepted terms (materialised once, timestamps as datetimes)."""
        if agreement.cached_terms is None:
            items = materialize_terms(agreement.spec, agreement.offer_terms, self.term_cache)
            agreement.cached_terms = to_agreement_times(items)
        return agreement.cached_terms
