"""Agreement handlers: SearchAgreements filters and combinations, DescribeAgreement values
derived from terms, GetAgreementTerms term types and paging, documented errors."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest

from tests.sandbox_marketplace.conftest import (
    LARGE,
    NOW,
    PROPOSER,
    SMALL,
    TYPICAL,
    Call,
    search_all,
)
from vell_core.sandbox.contract import SandboxServiceError

ALL_STATUSES = {
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


def _filters(**extra: str) -> list[dict[str, Any]]:
    return PROPOSER + [{"name": name, "values": [value]} for name, value in extra.items()]


def _reason(excinfo: pytest.ExceptionInfo[SandboxServiceError]) -> str:
    return str(excinfo.value.extra.get("reason"))


def test_search_default_sort_and_every_status(agreements: Call) -> None:
    rows = search_all(agreements, TYPICAL, PROPOSER)
    assert 130 <= len(rows) <= 150
    assert {r["status"] for r in rows} == ALL_STATUSES
    ends = [r["endTime"].timestamp() for r in rows if "endTime" in r]
    assert ends == sorted(ends, reverse=True)
    assert all(r["proposer"]["accountId"] == TYPICAL for r in rows)
    assert all(r["acceptanceTime"].tzinfo is not None for r in rows)
    assert len({r["acceptor"]["accountId"] for r in rows}) >= 80


def test_renewal_buckets_and_payg(agreements: Call) -> None:
    rows = search_all(agreements, TYPICAL, _filters(Status="ACTIVE"))
    assert len(rows) == 77
    days = [(r["endTime"] - NOW).days for r in rows if "endTime" in r]
    assert sum(d < 30 for d in days) >= 6
    assert sum(30 <= d < 60 for d in days) >= 2
    assert sum(60 <= d < 90 for d in days) >= 2
    assert sum(90 <= d < 180 for d in days) >= 4
    payg = [r for r in rows if "endTime" not in r]
    assert 20 <= len(payg) <= 30


def test_filters_narrow_results(agreements: Call) -> None:
    everything = search_all(agreements, TYPICAL, PROPOSER)
    sample = everything[5]
    product = sample["proposalSummary"]["resources"][0]["id"]
    by_product = search_all(agreements, TYPICAL, _filters(ResourceIdentifier=product))
    assert by_product
    assert all(r["proposalSummary"]["resources"][0]["id"] == product for r in by_product)
    buyer = sample["acceptor"]["accountId"]
    by_buyer = search_all(
        agreements, TYPICAL, _filters(AcceptorAccountId=buyer, Status=sample["status"])
    )
    assert sample["agreementId"] in {r["agreementId"] for r in by_buyer}
    offer = sample["proposalSummary"]["offerId"]
    assert all(
        r["proposalSummary"]["offerId"] == offer
        for r in search_all(agreements, TYPICAL, _filters(OfferId=offer))
    )
    cutoff = (NOW + timedelta(days=90)).strftime("%Y-%m-%dT%H:%M:%SZ")
    soon = search_all(
        agreements,
        TYPICAL,
        _filters(
            Status="ACTIVE", BeforeEndTime=cutoff, AfterEndTime=NOW.strftime("%Y-%m-%dT%H:%M:%SZ")
        ),
    )
    assert soon
    assert all(NOW < r["endTime"] < NOW + timedelta(days=90) for r in soon)
    assert search_all(agreements, TYPICAL, _filters(ResourceType="AmiProduct"))
    ascending = search_all(agreements, TYPICAL, PROPOSER)
    ascending = agreements(
        "SearchAgreements",
        catalog="AWSMarketplace",
        filters=PROPOSER,
        sort={"sortBy": "EndTime", "sortOrder": "ASCENDING"},
        maxResults=10,
    )
    ends = [r["endTime"] for r in ascending["agreementViewSummaries"] if "endTime" in r]
    assert ends == sorted(ends)


def test_acceptor_on_a_seller_is_empty(agreements: Call) -> None:
    filters = [
        {"name": "PartyType", "values": ["Acceptor"]},
        {"name": "AgreementType", "values": ["PurchaseAgreement"]},
    ]
    assert (
        agreements("SearchAgreements", catalog="AWSMarketplace", filters=filters)[
            "agreementViewSummaries"
        ]
        == []
    )


@pytest.mark.parametrize(
    ("filters", "reason"),
    [
        ([{"name": "AgreementType", "values": ["PurchaseAgreement"]}], "MISSING_PARTY_TYPE"),
        ([{"name": "PartyType", "values": ["Proposer"]}], "UNSUPPORTED_FILTERS"),
        (_filters(OfferId="offer-a", ResourceIdentifier="prod-b"), "UNSUPPORTED_FILTERS"),
        (
            [
                {"name": "PartyType", "values": ["Acceptor"]},
                {"name": "AgreementType", "values": ["PurchaseAgreement"]},
                {"name": "ResourceType", "values": ["SaaSProduct"]},
                {"name": "Status", "values": ["ACTIVE"]},
            ],
            "UNSUPPORTED_FILTERS",
        ),
        ([*PROPOSER, {"name": "Status", "values": ["ACTIVE", "EXPIRED"]}], "INVALID_FILTER_VALUES"),
        (_filters(Status="LIVE"), "INVALID_FILTER_VALUES"),
        (_filters(Colour="blue"), "INVALID_FILTER_NAME"),
        (
            [
                {"name": "PartyType", "values": ["Seller"]},
                {"name": "AgreementType", "values": ["PurchaseAgreement"]},
            ],
            "INVALID_PARTY_TYPE",
        ),
        (_filters(BeforeEndTime="tomorrow"), "INVALID_FILTER_VALUES"),
    ],
)
def test_search_validation(agreements: Call, filters: list[dict[str, Any]], reason: str) -> None:
    with pytest.raises(SandboxServiceError) as excinfo:
        agreements("SearchAgreements", catalog="AWSMarketplace", filters=filters)
    assert excinfo.value.code == "ValidationException"
    assert excinfo.value.status == 400
    assert _reason(excinfo) == reason
    assert isinstance(excinfo.value.extra["fields"], list)


@pytest.mark.parametrize(
    ("params", "reason"),
    [
        ({"catalog": "Other"}, "INVALID_CATALOG"),
        ({"maxResults": 51}, "INVALID_MAX_RESULTS"),
        ({"sort": {"sortBy": "StartTime"}}, "INVALID_SORT_BY"),
        ({"nextToken": "garbage"}, "INVALID_NEXT_TOKEN"),
    ],
)
def test_search_parameter_validation(agreements: Call, params: dict[str, Any], reason: str) -> None:
    request = {"catalog": "AWSMarketplace", "filters": PROPOSER, **params}
    with pytest.raises(SandboxServiceError) as excinfo:
        agreements("SearchAgreements", **request)
    assert _reason(excinfo) == reason


def test_token_reused_with_other_filters(agreements: Call) -> None:
    first = agreements("SearchAgreements", catalog="AWSMarketplace", filters=PROPOSER, maxResults=5)
    with pytest.raises(SandboxServiceError) as excinfo:
        agreements(
            "SearchAgreements",
            catalog="AWSMarketplace",
            filters=_filters(Status="ACTIVE"),
            maxResults=5,
            nextToken=first["nextToken"],
        )
    assert _reason(excinfo) == "INVALID_NEXT_TOKEN"


def _value_from_terms(terms: list[dict[str, Any]]) -> Decimal:
    total = Decimal(0)
    for item in terms:
        ((kind, body),) = item.items()
        if kind == "fixedUpfrontPricingTerm":
            total += Decimal(body["price"])
        elif kind == "paymentScheduleTerm":
            total += sum(Decimal(e["chargeAmount"]) for e in body["schedule"])
        elif kind == "configurableUpfrontPricingTerm":
            card = next(
                c
                for c in body["rateCards"]
                if c["selector"]["value"] == body["configuration"]["selectorValue"]
            )
            prices = {r["dimensionKey"]: Decimal(r["price"]) for r in card["rateCard"]}
            total += sum(
                prices[d["dimensionKey"]] * d["dimensionValue"]
                for d in body["configuration"]["dimensions"]
            )
    return total


def test_describe_and_terms_agree_on_value(agreements: Call) -> None:
    rows = search_all(agreements, TYPICAL, PROPOSER)
    kinds: set[str] = set()
    for row in rows:
        described = agreements("DescribeAgreement", agreementId=row["agreementId"])
        assert {k: v for k, v in described.items() if k != "estimatedCharges"} == row
        terms = agreements("GetAgreementTerms", agreementId=row["agreementId"])["acceptedTerms"]
        kinds |= {next(iter(t)) for t in terms}
        value = Decimal(described["estimatedCharges"]["agreementValue"])
        assert value == _value_from_terms(terms)
        if "endTime" not in row:
            assert value == 0
        assert all(
            t[next(iter(t))]["id"].startswith("term-") and len(t[next(iter(t))]["id"]) == 69
            for t in terms
        )
    assert {
        "legalTerm",
        "supportTerm",
        "renewalTerm",
        "usageBasedPricingTerm",
        "configurableUpfrontPricingTerm",
        "validityTerm",
        "paymentScheduleTerm",
        "freeTrialPricingTerm",
        "fixedUpfrontPricingTerm",
    } <= kinds
    currencies = {
        agreements("DescribeAgreement", agreementId=r["agreementId"])["estimatedCharges"][
            "currencyCode"
        ]
        for r in rows
    }
    assert currencies == {"USD", "EUR"}


def test_every_term_type_on_the_large_seller(agreements: Call, backends: dict[str, Any]) -> None:
    seller = backends["marketplace-agreement"].sellers.get(LARGE)
    kinds = set()
    for agreement in seller.agreements.values():
        kinds |= set(agreement.spec["types"]) | {
            next(iter(e)) for e in agreement.spec.get("extra", [])
        }
    assert {
        "ByolPricingTerm",
        "RecurringPaymentTerm",
        "variablePaymentTerm",
        "FreeTrialPricingTerm",
    } <= kinds
    byol = next(a for a in seller.agreements.values() if "ByolPricingTerm" in a.spec["types"])
    terms = agreements("GetAgreementTerms", LARGE, agreementId=byol.agreement_id)["acceptedTerms"]
    assert any("byolPricingTerm" in t for t in terms)


def test_get_agreement_terms_paging(agreements: Call) -> None:
    row = next(r for r in search_all(agreements, TYPICAL, PROPOSER) if "endTime" in r)
    full = agreements("GetAgreementTerms", agreementId=row["agreementId"])["acceptedTerms"]
    paged, token = [], None
    while True:
        extra = {"nextToken": token} if token else {}
        result = agreements(
            "GetAgreementTerms", agreementId=row["agreementId"], maxResults=2, **extra
        )
        paged += result["acceptedTerms"]
        token = result.get("nextToken")
        if not token:
            break
    assert paged == full
    other = search_all(agreements, TYPICAL, PROPOSER)[0]["agreementId"]
    first = agreements("GetAgreementTerms", agreementId=row["agreementId"], maxResults=1)
    with pytest.raises(SandboxServiceError) as excinfo:
        agreements(
            "GetAgreementTerms", agreementId=other, maxResults=1, nextToken=first["nextToken"]
        )
    assert _reason(excinfo) == "INVALID_NEXT_TOKEN"
    with pytest.raises(SandboxServiceError) as excinfo:
        agreements("GetAgreementTerms", agreementId=row["agreementId"], maxResults=51)
    assert _reason(excinfo) == "INVALID_MAX_RESULTS"


def test_agreement_not_found_and_other_sellers(agreements: Call) -> None:
    with pytest.raises(SandboxServiceError) as excinfo:
        agreements("DescribeAgreement", agreementId="agmt-doesnotexist")
    assert (excinfo.value.code, excinfo.value.status) == ("ResourceNotFoundException", 404)
    assert excinfo.value.extra == {"resourceId": "agmt-doesnotexist", "resourceType": "Agreement"}
    theirs = search_all(agreements, SMALL, PROPOSER)[0]["agreementId"]
    with pytest.raises(SandboxServiceError):
        agreements("GetAgreementTerms", TYPICAL, agreementId=theirs)
    with pytest.raises(SandboxServiceError) as excinfo:
        agreements("DescribeAgreement", agreementId="bad id!")
    assert _reason(excinfo) == "INVALID_AGREEMENT_ID"


def test_private_offer_agreements_share_term_ids(agreements: Call, catalog: Call) -> None:
    rows = search_all(agreements, TYPICAL, PROPOSER)
    by_offer: dict[str, list[str]] = {}
    for row in rows:
        by_offer.setdefault(row["proposalSummary"]["offerId"], []).append(row["agreementId"])
    offer, ids = next((o, i) for o, i in by_offer.items() if len(i) > 1)
    first = {
        next(iter(t)): t[next(iter(t))]["id"]
        for t in agreements("GetAgreementTerms", agreementId=ids[0])["acceptedTerms"]
    }
    second = {
        next(iter(t)): t[next(iter(t))]["id"]
        for t in agreements("GetAgreementTerms", agreementId=ids[1])["acceptedTerms"]
    }
    shared = set(first) & set(second)
    assert shared
    assert all(first[k] == second[k] for k in shared)
    assert catalog("DescribeEntity", EntityId=offer)["EntityType"] == "Offer@1.0"
