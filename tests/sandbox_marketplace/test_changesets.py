"""StartChangeSet / CancelChangeSet and the lazy lifecycle on a FrozenClock."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from tests.sandbox_marketplace.conftest import TYPICAL, Call, list_all
from vell_core.domain.clock import FrozenClock
from vell_core.sandbox.contract import SandboxServiceError


def _product(catalog: Call, visibility: str = "Public") -> dict[str, Any]:
    rows = list_all(
        catalog,
        TYPICAL,
        "SaaSProduct",
        EntityTypeFilters={"SaaSProductFilters": {"Visibility": {"ValueList": [visibility]}}},
    )
    for row in rows:
        if not _locked(catalog, row["EntityId"]):
            return row
    raise AssertionError("no unlocked product")


def _locked(catalog: Call, entity_id: str) -> bool:
    result = catalog(
        "ListChangeSets",
        FilterList=[
            {"Name": "EntityId", "ValueList": [entity_id]},
            {"Name": "Status", "ValueList": ["PREPARING"]},
        ],
    )
    applying = catalog(
        "ListChangeSets",
        FilterList=[
            {"Name": "EntityId", "ValueList": [entity_id]},
            {"Name": "Status", "ValueList": ["APPLYING"]},
        ],
    )
    return bool(result["ChangeSetSummaryList"] or applying["ChangeSetSummaryList"])


def _update_info(entity_id: str, **details: Any) -> list[dict[str, Any]]:
    return [
        {
            "ChangeType": "UpdateInformation",
            "Entity": {"Type": "SaaSProduct@1.0", "Identifier": entity_id},
            "DetailsDocument": details or {"ShortDescription": "Sharper tracing for EKS."},
        }
    ]


def _status(catalog: Call, change_set_id: str) -> str:
    return str(catalog("DescribeChangeSet", ChangeSetId=change_set_id)["Status"])


def test_lifecycle_applies_and_bumps_revision(catalog: Call, clock: FrozenClock) -> None:
    product = _product(catalog)
    before = catalog("DescribeEntity", EntityId=product["EntityId"])
    started = catalog(
        "StartChangeSet",
        ChangeSet=_update_info(
            product["EntityId"], ShortDescription="New short text", Highlights=["One", "Two"]
        ),
    )
    assert started["ChangeSetArn"].endswith(f"ChangeSet/{started['ChangeSetId']}")
    assert _status(catalog, started["ChangeSetId"]) == "PREPARING"
    clock.advance(timedelta(seconds=21))
    assert _status(catalog, started["ChangeSetId"]) == "APPLYING"
    clock.advance(timedelta(seconds=10))
    described = catalog("DescribeChangeSet", ChangeSetId=started["ChangeSetId"])
    assert described["Status"] == "SUCCEEDED"
    assert described["EndTime"]
    assert described["ChangeSetName"] == f"Submitted by {TYPICAL}"
    after = catalog("DescribeEntity", EntityId=product["EntityId"])
    assert (
        int(after["EntityIdentifier"].split("@")[1])
        == int(before["EntityIdentifier"].split("@")[1]) + 1
    )
    assert after["LastModifiedDate"] > before["LastModifiedDate"]
    assert after["DetailsDocument"]["Description"]["ShortDescription"] == "New short text"
    assert after["DetailsDocument"]["Description"]["Highlights"] == ["One", "Two"]
    assert described["ChangeSet"][0]["Entity"]["Identifier"] == after["EntityIdentifier"]


def test_cancel_only_while_preparing(catalog: Call, clock: FrozenClock) -> None:
    product = _product(catalog)
    first = catalog("StartChangeSet", ChangeSet=_update_info(product["EntityId"]))
    cancelled = catalog("CancelChangeSet", ChangeSetId=first["ChangeSetId"])
    assert cancelled["ChangeSetId"] == first["ChangeSetId"]
    assert _status(catalog, first["ChangeSetId"]) == "CANCELLED"
    second = catalog("StartChangeSet", ChangeSet=_update_info(product["EntityId"]))  # lock released
    clock.advance(timedelta(seconds=25))
    with pytest.raises(SandboxServiceError) as excinfo:
        catalog("CancelChangeSet", ChangeSetId=second["ChangeSetId"])
    assert (excinfo.value.code, excinfo.value.status) == ("ResourceInUseException", 423)
    clock.advance(timedelta(minutes=1))
    with pytest.raises(SandboxServiceError) as excinfo:
        catalog("CancelChangeSet", ChangeSetId=second["ChangeSetId"])
    assert excinfo.value.code == "ResourceInUseException"
    with pytest.raises(SandboxServiceError) as excinfo:
        catalog("CancelChangeSet", ChangeSetId="doesnotexist")
    assert (excinfo.value.code, excinfo.value.status) == ("ResourceNotFoundException", 404)


def test_entities_in_open_sets_are_locked(catalog: Call, clock: FrozenClock) -> None:
    product = _product(catalog)
    catalog("StartChangeSet", ChangeSet=_update_info(product["EntityId"]))
    with pytest.raises(SandboxServiceError) as excinfo:
        catalog("StartChangeSet", ChangeSet=_update_info(product["EntityId"], ProductTitle="Other"))
    assert (excinfo.value.code, excinfo.value.status) == ("ResourceInUseException", 423)
    clock.advance(timedelta(seconds=31))
    catalog("StartChangeSet", ChangeSet=_update_info(product["EntityId"], ProductTitle="Other"))


def test_generated_in_flight_set_locks_its_entity(catalog: Call) -> None:
    preparing = catalog(
        "ListChangeSets", FilterList=[{"Name": "Status", "ValueList": ["PREPARING"]}]
    )["ChangeSetSummaryList"]
    described = catalog("DescribeChangeSet", ChangeSetId=preparing[0]["ChangeSetId"])
    change = described["ChangeSet"][0]
    entity_id = change["Entity"]["Identifier"].split("@")[0]
    request = [
        {
            "ChangeType": change["ChangeType"],
            "Entity": {"Type": change["Entity"]["Type"], "Identifier": entity_id},
            "DetailsDocument": change["DetailsDocument"],
        }
    ]
    with pytest.raises(SandboxServiceError) as excinfo:
        catalog("StartChangeSet", ChangeSet=request)
    assert excinfo.value.code == "ResourceInUseException"


def test_visibility_review_completes_when_the_clock_moves(
    catalog: Call, clock: FrozenClock
) -> None:
    limited = list_all(
        catalog,
        TYPICAL,
        "SaaSProduct",
        EntityTypeFilters={"SaaSProductFilters": {"Visibility": {"ValueList": ["Limited"]}}},
    )
    assert len(limited) == 1
    clock.advance(timedelta(days=5))
    assert (
        catalog("DescribeEntity", EntityId=limited[0]["EntityId"])["DetailsDocument"][
            "Description"
        ]["Visibility"]
        == "Public"
    )


def test_client_request_token_is_idempotent(catalog: Call) -> None:
    product = _product(catalog)
    first = catalog(
        "StartChangeSet", ChangeSet=_update_info(product["EntityId"]), ClientRequestToken="tok-1"
    )
    again = catalog(
        "StartChangeSet", ChangeSet=_update_info(product["EntityId"]), ClientRequestToken="tok-1"
    )
    assert again == first


def test_private_offer_creation_with_references(catalog: Call, clock: FrozenClock) -> None:
    product = _product(catalog)
    ref = "$CreateOfferChange.Entity.Identifier"
    changes = [
        {
            "ChangeType": "CreateOffer",
            "ChangeName": "CreateOfferChange",
            "Entity": {"Type": "Offer@1.0"},
            "DetailsDocument": {"ProductId": product["EntityId"]},
        },
        {
            "ChangeType": "UpdateInformation",
            "Entity": {"Type": "Offer@1.0", "Identifier": ref},
            "DetailsDocument": {"Name": "Trial offer", "Description": "Demo"},
        },
        {
            "ChangeType": "UpdateTargeting",
            "Entity": {"Type": "Offer@1.0", "Identifier": ref},
            "DetailsDocument": {"PositiveTargeting": {"BuyerAccounts": ["123456789012"]}},
        },
        {
            "ChangeType": "UpdateAvailability",
            "Entity": {"Type": "Offer@1.0", "Identifier": ref},
            "Details": '{"AvailabilityEndDate": "2026-12-31"}',
        },
        {
            "ChangeType": "ReleaseOffer",
            "Entity": {"Type": "Offer@1.0", "Identifier": ref},
            "DetailsDocument": {},
        },
    ]
    started = catalog("StartChangeSet", ChangeSet=changes, ChangeSetName="po-demo-2026")
    clock.advance(timedelta(seconds=60))
    described = catalog("DescribeChangeSet", ChangeSetId=started["ChangeSetId"])
    offer_id, revision = described["ChangeSet"][-1]["Entity"]["Identifier"].split("@")
    assert described["Status"] == "SUCCEEDED"
    assert revision == "5"
    offer = catalog("DescribeEntity", EntityId=offer_id)
    assert offer["EntityIdentifier"] == f"{offer_id}@5"
    summary = catalog(
        "ListEntities",
        EntityType="Offer",
        FilterList=[{"Name": "EntityId", "ValueList": [offer_id]}],
    )["EntitySummaryList"][0]
    assert summary["OfferSummary"]["State"] == "Released"
    assert summary["OfferSummary"]["BuyerAccounts"] == ["123456789012"]
    assert summary["OfferSummary"]["AvailabilityEndDate"] == "2026-12-31T23:59:59Z"
    assert summary["Visibility"] == "Private"


@pytest.mark.parametrize(
    ("changes", "code"),
    [
        ([], "ValidationException"),
        (
            [
                {
                    "ChangeType": "UpdateInformation",
                    "Entity": {"Type": "SaaSProduct@1.0", "Identifier": "prod-x"},
                }
            ],
            "ValidationException",
        ),
        (
            [
                {
                    "ChangeType": "UpdateInformation",
                    "Entity": {"Type": "SaaSProduct@1.0", "Identifier": "prod-nope0000000"},
                    "DetailsDocument": {"ProductTitle": "x"},
                }
            ],
            "ResourceNotFoundException",
        ),
        (
            [
                {
                    "ChangeType": "ReleaseOffer",
                    "Entity": {"Type": "Offer@1.0", "Identifier": "$Missing.Entity.Identifier"},
                    "DetailsDocument": {},
                }
            ],
            "ValidationException",
        ),
        (
            [
                {
                    "ChangeType": "DeleteEntity",
                    "Entity": {"Type": "SaaSProduct@1.0", "Identifier": "prod-x"},
                    "DetailsDocument": {},
                }
            ],
            "ValidationException",
        ),
    ],
)
def test_start_change_set_rejections(
    catalog: Call, changes: list[dict[str, Any]], code: str
) -> None:
    with pytest.raises(SandboxServiceError) as excinfo:
        catalog("StartChangeSet", ChangeSet=changes)
    assert excinfo.value.code == code


@pytest.mark.parametrize(
    "details",
    [
        {"ProductTitle": "x" * 73},
        {"ShortDescription": "x" * 1001},
        {"LongDescription": "x" * 5001},
        {"Highlights": ["a", "b", "c", "d"]},
        {"Highlights": ["x" * 501]},
        {"SearchKeywords": [f"k{i}" for i in range(16)]},
        {"SearchKeywords": ["x" * 51]},
        {"Categories": ["a", "b", "c", "d"]},
    ],
)
def test_update_information_limits(catalog: Call, details: dict[str, Any]) -> None:
    product = _product(catalog)
    with pytest.raises(SandboxServiceError) as excinfo:
        catalog("StartChangeSet", ChangeSet=_update_info(product["EntityId"], **details))
    assert (excinfo.value.code, excinfo.value.status) == ("ValidationException", 422)
    assert excinfo.value.extra["ValidationExceptionFieldList"][0]["EntityId"] == product["EntityId"]


def test_details_and_document_are_exclusive_and_rules_hold(catalog: Call) -> None:
    product = _product(catalog)
    both = _update_info(product["EntityId"])
    both[0]["Details"] = "{}"
    with pytest.raises(SandboxServiceError):
        catalog("StartChangeSet", ChangeSet=both)
    twice = _update_info(product["EntityId"]) + _update_info(
        product["EntityId"], ProductTitle="Again"
    )
    with pytest.raises(SandboxServiceError):
        catalog("StartChangeSet", ChangeSet=twice)
    too_many = [c for i in range(21) for c in _update_info(f"prod-{i:013d}")]
    with pytest.raises(SandboxServiceError):
        catalog("StartChangeSet", ChangeSet=too_many)
