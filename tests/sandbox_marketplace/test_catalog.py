"""Catalog handlers: ListEntities, DescribeEntity, BatchDescribeEntities, ListChangeSets,
DescribeChangeSet — happy paths, filters, sorting, paging and the documented errors."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.sandbox_marketplace.conftest import LARGE, SMALL, STRANGER, TYPICAL, Call, list_all
from vell_core.sandbox.contract import SandboxServiceError

PRODUCT_TYPES = (
    "SaaSProduct",
    "AmiProduct",
    "ContainerProduct",
    "DataProduct",
    "MachineLearningProduct",
)


def _error(excinfo: pytest.ExceptionInfo[SandboxServiceError]) -> tuple[str, int]:
    return excinfo.value.code, excinfo.value.status


def test_list_entities_every_type_in_the_data(catalog: Call) -> None:
    seen = {}
    for entity_type in (*PRODUCT_TYPES, "Offer", "ResaleAuthorization", "OfferSet"):
        rows = list_all(catalog, LARGE, entity_type)
        seen[entity_type] = len(rows)
        assert all(row["EntityType"] == entity_type for row in rows)
        assert all(len(row["LastModifiedDate"]) == 20 for row in rows)
    assert seen["SaaSProduct"] == 24
    assert seen["Offer"] == 500
    assert all(seen[t] > 0 for t in seen)


def test_typical_seller_profile_matches_reference(catalog: Call) -> None:
    saas = list_all(catalog, TYPICAL, "SaaSProduct")
    visibilities = sorted(row["SaaSProductSummary"]["Visibility"] for row in saas)
    assert visibilities == ["Draft", "Limited", "Public", "Public", "Public", "Restricted"]
    assert len(list_all(catalog, TYPICAL, "AmiProduct")) == 1
    assert list_all(catalog, TYPICAL, "ContainerProduct")[0]["Visibility"] == "Limited"
    offers = list_all(catalog, TYPICAL, "Offer")
    assert 43 <= len(offers) <= 48
    public = [o for o in offers if o["Visibility"] == "Public"]
    assert len([o for o in public if o["OfferSummary"]["State"] == "Released"]) == 7
    private = [o for o in offers if o["Visibility"] == "Private"]
    assert all(o["OfferSummary"]["Targeting"] == ["BuyerAccounts"] for o in private)
    assert all(1 <= len(o["OfferSummary"]["BuyerAccounts"]) <= 3 for o in private)
    assert any("ResaleAuthorizationId" in o["OfferSummary"] for o in private)


def test_list_entities_default_page_and_token(catalog: Call) -> None:
    first = catalog("ListEntities", EntityType="Offer")
    assert len(first["EntitySummaryList"]) == 20
    assert first["NextToken"]
    second = catalog("ListEntities", EntityType="Offer", NextToken=first["NextToken"])
    ids = {r["EntityId"] for r in first["EntitySummaryList"]} & {
        r["EntityId"] for r in second["EntitySummaryList"]
    }
    assert not ids


def test_default_sort_is_last_modified_descending(catalog: Call) -> None:
    rows = list_all(catalog, TYPICAL, "Offer")
    dates = [row["LastModifiedDate"] for row in rows]
    assert dates == sorted(dates, reverse=True)


@pytest.mark.parametrize(
    ("sort", "key"),
    [
        ({"Sort": {"SortBy": "EntityId", "SortOrder": "ASCENDING"}}, lambda r: r["EntityId"]),
        (
            {
                "EntityTypeSort": {
                    "SaaSProductSort": {"SortBy": "ProductTitle", "SortOrder": "ASCENDING"}
                }
            },
            lambda r: r["SaaSProductSummary"]["ProductTitle"],
        ),
    ],
)
def test_sorting(catalog: Call, sort: dict[str, Any], key: Any) -> None:
    rows = list_all(catalog, LARGE, "SaaSProduct", **sort)
    assert [key(r) for r in rows] == sorted(key(r) for r in rows)


def test_entity_type_filters(catalog: Call) -> None:
    public = list_all(
        catalog,
        TYPICAL,
        "SaaSProduct",
        EntityTypeFilters={"SaaSProductFilters": {"Visibility": {"ValueList": ["Public"]}}},
    )
    assert len(public) == 3
    wildcard = list_all(
        catalog,
        TYPICAL,
        "SaaSProduct",
        EntityTypeFilters={"SaaSProductFilters": {"ProductTitle": {"WildCardValue": "trace"}}},
    )
    assert [r["Name"] for r in wildcard] == ["Northwind Trace Cloud"]
    product_id = public[0]["EntityId"]
    offer_filters = {"ProductId": {"ValueList": [product_id]}, "Targeting": {"ValueList": ["None"]}}
    public_offer = list_all(
        catalog, TYPICAL, "Offer", EntityTypeFilters={"OfferFilters": offer_filters}
    )
    assert len(public_offer) == 1
    assert public_offer[0]["OfferSummary"]["ProductId"] == product_id
    drafts = list_all(
        catalog,
        TYPICAL,
        "Offer",
        EntityTypeFilters={"OfferFilters": {"State": {"ValueList": ["Draft"]}}},
    )
    assert drafts
    assert all(r["OfferSummary"]["State"] == "Draft" for r in drafts)
    recent = list_all(
        catalog,
        TYPICAL,
        "Offer",
        EntityTypeFilters={
            "OfferFilters": {
                "LastModifiedDate": {"DateRange": {"AfterValue": "2026-08-01T00:00:00Z"}}
            }
        },
    )
    assert recent
    assert all(r["LastModifiedDate"] >= "2026-08-01T00:00:00Z" for r in recent)
    buyer = private_buyer(catalog)
    by_buyer = list_all(
        catalog,
        TYPICAL,
        "Offer",
        EntityTypeFilters={"OfferFilters": {"BuyerAccounts": {"WildCardValue": buyer}}},
    )
    assert by_buyer
    assert all(buyer in r["OfferSummary"]["BuyerAccounts"] for r in by_buyer)


def private_buyer(catalog: Call) -> str:
    rows = list_all(
        catalog,
        TYPICAL,
        "Offer",
        EntityTypeFilters={"OfferFilters": {"Targeting": {"ValueList": ["BuyerAccounts"]}}},
    )
    return str(rows[0]["OfferSummary"]["BuyerAccounts"][0])


def test_legacy_entity_id_filter_and_ownership(catalog: Call) -> None:
    rows = list_all(catalog, TYPICAL, "Offer")
    wanted = [rows[0]["EntityId"], rows[3]["EntityId"]]
    found = catalog(
        "ListEntities", EntityType="Offer", FilterList=[{"Name": "EntityId", "ValueList": wanted}]
    )
    assert sorted(r["EntityId"] for r in found["EntitySummaryList"]) == sorted(wanted)
    shared = list_all(catalog, LARGE, "ResaleAuthorization", OwnershipType="SHARED")
    assert len(shared) == 2
    assert list_all(catalog, TYPICAL, "ResaleAuthorization", OwnershipType="SHARED") == []


@pytest.mark.parametrize(
    "params",
    [
        {"Catalog": "NotAWS", "EntityType": "Offer"},
        {"EntityType": "Offer", "MaxResults": 51},
        {"EntityType": "Nonsense"},
        {"EntityType": "Offer", "EntityTypeFilters": {"SaaSProductFilters": {}}},
        {
            "EntityType": "Offer",
            "EntityTypeFilters": {"OfferFilters": {}, "SaaSProductFilters": {}},
        },
        {"EntityType": "Offer", "FilterList": [{"Name": "Visibility", "ValueList": ["Public"]}]},
        {"EntityType": "Offer", "Sort": {"SortBy": "Name"}},
        {"EntityType": "Offer", "EntityTypeSort": {"SaaSProductSort": {"SortBy": "EntityId"}}},
        {"EntityType": "Offer", "NextToken": "not-a-token"},
    ],
)
def test_list_entities_validation(catalog: Call, params: dict[str, Any]) -> None:
    with pytest.raises(SandboxServiceError) as excinfo:
        catalog("ListEntities", **params)
    assert _error(excinfo) == ("ValidationException", 422)


def test_token_reused_with_other_filters_is_rejected(catalog: Call) -> None:
    first = catalog("ListEntities", EntityType="Offer", MaxResults=5)
    with pytest.raises(SandboxServiceError) as excinfo:
        catalog(
            "ListEntities",
            EntityType="Offer",
            MaxResults=5,
            NextToken=first["NextToken"],
            EntityTypeFilters={"OfferFilters": {"State": {"ValueList": ["Draft"]}}},
        )
    assert _error(excinfo) == ("ValidationException", 422)
    # A different page size with the same filters is fine, as with AWS.
    assert catalog("ListEntities", EntityType="Offer", MaxResults=7, NextToken=first["NextToken"])[
        "EntitySummaryList"
    ]


def test_describe_entity_product(catalog: Call) -> None:
    row = list_all(catalog, TYPICAL, "SaaSProduct")[0]
    result = catalog("DescribeEntity", EntityId=row["EntityId"])
    assert result["EntityType"] == "SaaSProduct@1.0"
    entity_id, revision = result["EntityIdentifier"].split("@")
    assert entity_id == row["EntityId"]
    assert int(revision) >= 1
    assert json.loads(result["Details"]) == result["DetailsDocument"]
    assert result["DetailsDocument"]["Description"]["ProductTitle"] == row["Name"]
    assert result["EntityArn"].endswith(f":{TYPICAL}:AWSMarketplace/SaaSProduct/{entity_id}")


def test_listings_vary_in_completeness(catalog: Call) -> None:
    docs = [
        catalog("DescribeEntity", EntityId=r["EntityId"])["DetailsDocument"]
        for r in list_all(catalog, TYPICAL, "SaaSProduct")
    ]
    highlights = {len(d["Description"].get("Highlights", [])) for d in docs}
    assert {0, 1, 3} <= highlights
    assert any("ShortDescription" not in d["Description"] for d in docs)
    assert any("SupportInformation" not in d for d in docs)
    assert any(
        len(d["Description"]["SearchKeywords"]) == 15 and d["PromotionalResources"].get("Videos")
        for d in docs
    )


def test_describe_entity_errors(catalog: Call) -> None:
    with pytest.raises(SandboxServiceError) as excinfo:
        catalog("DescribeEntity", EntityId="prod-doesnotexist1")
    assert _error(excinfo) == ("ResourceNotFoundException", 404)
    with pytest.raises(SandboxServiceError) as excinfo:
        catalog("DescribeEntity", EntityId="prod-abc@3")
    assert _error(excinfo) == ("ValidationException", 422)
    with pytest.raises(SandboxServiceError) as excinfo:
        catalog("DescribeEntity", Catalog="Other", EntityId="prod-abc")
    assert _error(excinfo) == ("ValidationException", 422)
    # Another seller's entity is invisible.
    row = list_all(catalog, SMALL, "SaaSProduct")[0]
    with pytest.raises(SandboxServiceError):
        catalog("DescribeEntity", TYPICAL, EntityId=row["EntityId"])


def test_describe_unsupported_type(catalog: Call, backends: dict[str, Any]) -> None:
    from vell_core.sandbox.marketplace.models import Entity

    seller = backends["marketplace-catalog"].sellers.get(TYPICAL)
    seller.entities["prod-proserv000001"] = Entity(
        "prod-proserv000001",
        "ProfessionalServicesProduct",
        {},
        1,
        seller.entities[next(iter(seller.entities))].last_modified,
    )
    with pytest.raises(SandboxServiceError) as excinfo:
        catalog("DescribeEntity", EntityId="prod-proserv000001")
    assert _error(excinfo) == ("ResourceNotSupportedException", 415)


def test_batch_describe_reports_missing_ids(catalog: Call) -> None:
    rows = list_all(catalog, TYPICAL, "Offer")[:3]
    requests = [{"Catalog": "AWSMarketplace", "EntityId": r["EntityId"]} for r in rows]
    requests.append({"Catalog": "AWSMarketplace", "EntityId": "example-456-abcd"})
    result = catalog("BatchDescribeEntities", EntityRequestList=requests)
    assert set(result["EntityDetails"]) == {r["EntityId"] for r in rows}
    assert all("Details" not in detail for detail in result["EntityDetails"].values())
    assert result["Errors"] == {
        "example-456-abcd": {
            "ErrorCode": "ResourceNotFound",
            "ErrorMessage": "Requested entity 'example-456-abcd' does not exist.",
        }
    }


def test_batch_describe_limits(catalog: Call) -> None:
    requests = [{"Catalog": "AWSMarketplace", "EntityId": f"offer-{i:013d}"} for i in range(21)]
    with pytest.raises(SandboxServiceError) as excinfo:
        catalog("BatchDescribeEntities", EntityRequestList=requests)
    assert _error(excinfo) == ("ValidationException", 422)
    with pytest.raises(SandboxServiceError):
        catalog(
            "BatchDescribeEntities", EntityRequestList=[{"Catalog": "Nope", "EntityId": "offer-x"}]
        )


def test_unknown_account_is_an_empty_seller(catalog: Call) -> None:
    assert catalog("ListEntities", STRANGER, EntityType="SaaSProduct")["EntitySummaryList"] == []
    assert catalog("ListChangeSets", STRANGER)["ChangeSetSummaryList"] == []


def _all_change_sets(catalog: Call, account: str = TYPICAL, **params: Any) -> list[dict[str, Any]]:
    rows, token = [], None
    while True:
        extra = {"NextToken": token} if token else {}
        result = catalog("ListChangeSets", account, **params, **extra)
        rows += result["ChangeSetSummaryList"]
        token = result.get("NextToken")
        if not token:
            return rows


def test_list_change_sets_history(catalog: Call) -> None:
    rows = _all_change_sets(catalog)
    assert 55 <= len(rows) <= 65
    statuses = {
        s: sum(1 for r in rows if r["Status"] == s)
        for s in ("SUCCEEDED", "FAILED", "CANCELLED", "APPLYING", "PREPARING")
    }
    assert statuses == {"SUCCEEDED": 48, "FAILED": 5, "CANCELLED": 3, "APPLYING": 1, "PREPARING": 2}
    assert [r["StartTime"] for r in rows] == sorted((r["StartTime"] for r in rows), reverse=True)
    assert all("EndTime" not in r for r in rows if r["Status"] in ("PREPARING", "APPLYING"))
    assert all(r["FailureCode"] == "CLIENT_ERROR" for r in rows if r["Status"] == "FAILED")
    names = [r["ChangeSetName"] for r in rows]
    assert 0.3 < sum(n == f"Submitted by {TYPICAL}" for n in names) / len(names) < 0.7


def test_list_change_sets_filters_and_limits(catalog: Call) -> None:
    failed = _all_change_sets(catalog, FilterList=[{"Name": "Status", "ValueList": ["FAILED"]}])
    assert len(failed) == 5
    entity = failed[0]["EntityIdList"][0]
    by_entity = _all_change_sets(catalog, FilterList=[{"Name": "EntityId", "ValueList": [entity]}])
    assert by_entity
    assert all(entity in r["EntityIdList"] for r in by_entity)
    after = _all_change_sets(
        catalog, FilterList=[{"Name": "AfterStartTime", "ValueList": ["2026-08-20T00:00:00Z"]}]
    )
    assert after
    assert all(r["StartTime"] > "2026-08-20T00:00:00Z" for r in after)
    by_end = _all_change_sets(
        catalog,
        Sort={"SortBy": "EndTime", "SortOrder": "ASCENDING"},
        FilterList=[{"Name": "Status", "ValueList": ["SUCCEEDED"]}],
    )
    assert [r["EndTime"] for r in by_end] == sorted(r["EndTime"] for r in by_end)
    for bad in (
        {"MaxResults": 21},
        {"FilterList": [{"Name": "Bogus", "ValueList": ["x"]}]},
        {"Sort": {"SortBy": "Name"}},
        {"Catalog": "x"},
    ):
        with pytest.raises(SandboxServiceError) as excinfo:
            catalog("ListChangeSets", **bad)
        assert _error(excinfo) == ("ValidationException", 422)


def test_describe_change_set_failed_and_creation(catalog: Call) -> None:
    failed = _all_change_sets(catalog, FilterList=[{"Name": "Status", "ValueList": ["FAILED"]}])[0]
    result = catalog("DescribeChangeSet", ChangeSetId=failed["ChangeSetId"])
    assert result["Status"] == "FAILED"
    assert result["Intent"] == "APPLY"
    assert result["FailureDescription"].startswith("Change set preparation has failed")
    assert result["ChangeSet"][0]["ErrorDetailList"][0]["ErrorCode"]
    creations = []
    for row in _all_change_sets(
        catalog, FilterList=[{"Name": "Status", "ValueList": ["SUCCEEDED"]}]
    ):
        described = catalog("DescribeChangeSet", ChangeSetId=row["ChangeSetId"])
        if described["ChangeSet"][0]["ChangeType"] == "CreateOffer":
            creations.append(described)
    assert creations
    assert all(8 <= len(c["ChangeSet"]) <= 10 for c in creations)
    last = creations[0]["ChangeSet"][-1]["Entity"]["Identifier"]
    offer_id, revision = last.split("@")
    assert int(revision) == len(creations[0]["ChangeSet"]) or catalog(
        "DescribeEntity", EntityId=offer_id
    )
    with pytest.raises(SandboxServiceError) as excinfo:
        catalog("DescribeChangeSet", ChangeSetId="nope")
    assert _error(excinfo) == ("ResourceNotFoundException", 404)
