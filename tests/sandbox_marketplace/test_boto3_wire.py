"""End to end through the sandbox HTTP endpoint with plain boto3 clients (real wire format)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from tests.sandbox_marketplace.conftest import PROPOSER, TYPICAL
from vell_core.sandbox.control import SandboxControl
from vell_core.sandbox.marketplace import build_marketplace_backends
from vell_core.sandbox.server import RunningSandbox, SandboxConfig, start_sandbox


@pytest.fixture(scope="module")
def running(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningSandbox]:
    """A sandbox with the Marketplace backends registered on its own clock."""
    config = SandboxConfig(port=0, throttling=False)
    sandbox = start_sandbox(
        config, templates={}, boundary_document={"Version": "2012-10-17", "Statement": []}
    )
    data_dir = tmp_path_factory.mktemp("wire-data")
    for backend in build_marketplace_backends(sandbox.state.clock, data_dir, throttling=False):
        sandbox.register(backend)
    yield sandbox
    sandbox.stop()


@pytest.fixture(scope="module")
def clients(running: RunningSandbox) -> dict[str, Any]:
    """Catalog and Agreement clients as the typical seller's owner."""
    creds = SandboxControl(running.endpoint).personas(TYPICAL)["owner"]
    common = {
        "endpoint_url": running.endpoint,
        "region_name": "us-east-1",
        "aws_access_key_id": creds["AccessKeyId"],
        "aws_secret_access_key": creds["SecretAccessKey"],
        "config": Config(retries={"max_attempts": 1, "mode": "standard"}),
    }
    return {
        name: boto3.client(name, **common)
        for name in ("marketplace-catalog", "marketplace-agreement")
    }


def test_catalog_through_boto3(clients: dict[str, Any]) -> None:
    catalog = clients["marketplace-catalog"]
    pages = catalog.get_paginator("list_entities").paginate(
        Catalog="AWSMarketplace", EntityType="Offer", PaginationConfig={"PageSize": 20}
    )
    offers = [row for page in pages for row in page["EntitySummaryList"]]
    assert len(offers) == len({o["EntityId"] for o in offers}) >= 40
    described = catalog.describe_entity(Catalog="AWSMarketplace", EntityId=offers[0]["EntityId"])
    assert described["EntityType"] == "Offer@1.0"
    assert isinstance(described["DetailsDocument"], dict)
    assert isinstance(described["LastModifiedDate"], str)
    batch = catalog.batch_describe_entities(
        EntityRequestList=[
            {"Catalog": "AWSMarketplace", "EntityId": offers[1]["EntityId"]},
            {"Catalog": "AWSMarketplace", "EntityId": "example-456-abcd"},
        ]
    )
    assert list(batch["Errors"]) == ["example-456-abcd"]
    sets = catalog.list_change_sets(Catalog="AWSMarketplace", MaxResults=5)
    assert len(sets["ChangeSetSummaryList"]) == 5
    assert sets["NextToken"]


def test_catalog_errors_through_boto3(clients: dict[str, Any]) -> None:
    catalog = clients["marketplace-catalog"]
    with pytest.raises(ClientError) as excinfo:
        catalog.list_entities(Catalog="AWSMarketplace", EntityType="Offer", MaxResults=51)
    assert excinfo.value.response["Error"]["Code"] == "ValidationException"
    assert excinfo.value.response["ResponseMetadata"]["HTTPStatusCode"] == 422
    with pytest.raises(catalog.exceptions.ResourceNotFoundException):
        catalog.describe_entity(Catalog="AWSMarketplace", EntityId="prod-doesnotexist1")


def test_change_set_through_boto3(clients: dict[str, Any]) -> None:
    catalog = clients["marketplace-catalog"]
    product = catalog.list_entities(
        Catalog="AWSMarketplace",
        EntityType="SaaSProduct",
        EntityTypeFilters={"SaaSProductFilters": {"Visibility": {"ValueList": ["Public"]}}},
    )["EntitySummaryList"][0]
    started = catalog.start_change_set(
        Catalog="AWSMarketplace",
        ChangeSet=[
            {
                "ChangeType": "UpdateInformation",
                "Entity": {"Type": "SaaSProduct@1.0", "Identifier": product["EntityId"]},
                "DetailsDocument": {"ShortDescription": "Changed over the wire."},
            }
        ],
    )
    described = catalog.describe_change_set(
        Catalog="AWSMarketplace", ChangeSetId=started["ChangeSetId"]
    )
    assert described["Status"] == "PREPARING"
    cancelled = catalog.cancel_change_set(
        Catalog="AWSMarketplace", ChangeSetId=started["ChangeSetId"]
    )
    assert cancelled["ChangeSetId"] == started["ChangeSetId"]
    with pytest.raises(catalog.exceptions.ResourceInUseException):
        catalog.cancel_change_set(Catalog="AWSMarketplace", ChangeSetId=started["ChangeSetId"])


def test_agreements_through_boto3(clients: dict[str, Any]) -> None:
    agreement = clients["marketplace-agreement"]
    pages = agreement.get_paginator("search_agreements").paginate(
        catalog="AWSMarketplace", filters=PROPOSER
    )
    rows = [row for page in pages for row in page["agreementViewSummaries"]]
    assert len(rows) == len({r["agreementId"] for r in rows}) >= 130
    assert isinstance(rows[0]["acceptanceTime"], datetime)
    described = agreement.describe_agreement(agreementId=rows[0]["agreementId"])
    assert described["estimatedCharges"]["currencyCode"] in ("USD", "EUR")
    terms = agreement.get_agreement_terms(agreementId=rows[0]["agreementId"])["acceptedTerms"]
    assert terms
    assert all(len(term) == 1 for term in terms)
    with pytest.raises(ClientError) as excinfo:
        agreement.search_agreements(catalog="AWSMarketplace", filters=PROPOSER[1:])
    assert excinfo.value.response["Error"]["Code"] == "ValidationException"
    assert excinfo.value.response.get(
        "reason"
    ) == "MISSING_PARTY_TYPE" or "MISSING_PARTY_TYPE" in str(excinfo.value.response)
    with pytest.raises(agreement.exceptions.ResourceNotFoundException):
        agreement.describe_agreement(agreementId="agmt-doesnotexist")


def test_data_dir_files_written(running: RunningSandbox) -> None:
    backend = running.state.backends["marketplace-catalog"]
    data_dir: Path = backend.sellers.data_dir  # type: ignore[attr-defined]
    assert (data_dir / "sellers" / f"{TYPICAL}.json").exists()
