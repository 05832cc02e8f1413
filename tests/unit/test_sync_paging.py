"""The sync pages through botocore's paginator: each page paced, a repeated token refused."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from vell_core.aws.clients import ClientFactory
from vell_core.domain.quotas import MARKETPLACE_RATES
from vell_core.services.sync.job import SyncFailed, SyncJob
from vell_core.services.sync.pacing import CHAIN, AccountLimits

LISTING = {"Catalog": "AWSMarketplace", "EntityType": "SaaSProduct"}


class _Clients:
    """Just what ``SyncJob`` asks of ``CustomerClients``: one client per service, and
    botocore's pagination models (from a real factory)."""

    def __init__(self, client: Any) -> None:
        self._client = client
        self._factory = ClientFactory(region="us-east-1")
        self.expires_at = datetime.now(UTC) + timedelta(hours=1)

    def client(self, service: str) -> Any:
        return self._client

    def page_config(self, service: str, operation: str) -> dict[str, Any]:
        return self._factory.page_config(service, operation)


def _job(client: Any) -> SyncJob:
    return SyncJob(clients=_Clients(client), limits=AccountLimits(MARKETPLACE_RATES), max_workers=1)  # type: ignore[arg-type]


def _catalog() -> tuple[Any, Stubber]:
    client = boto3.client("marketplace-catalog", region_name="us-east-1")
    return client, Stubber(client)


def _page(ids: list[str], token: str | None) -> dict[str, Any]:
    page: dict[str, Any] = {"EntitySummaryList": [{"EntityId": i} for i in ids]}
    if token:
        page["NextToken"] = token
    return page


def test_every_page_is_fetched_and_counted_once() -> None:
    client, stubber = _catalog()
    stubber.add_response("list_entities", _page(["a", "b"], "t1"), LISTING)
    stubber.add_response("list_entities", _page(["c"], None), {**LISTING, "NextToken": "t1"})
    job = _job(client)
    with stubber:
        pages = list(
            job._pages(
                "products",
                "marketplace-catalog",
                "ListEntities",
                CHAIN,
                LISTING,
            )
        )
    ids = [s["EntityId"] for p in pages for s in p["EntitySummaryList"]]
    assert ids == ["a", "b", "c"]
    stubber.assert_no_pending_responses()


def test_a_repeated_page_token_stops_the_sync_with_a_clear_error() -> None:
    client, stubber = _catalog()
    stubber.add_response("list_entities", _page(["a"], "same"))
    stubber.add_response("list_entities", _page(["b"], "same"))
    job = _job(client)
    with stubber, pytest.raises(SyncFailed, match="paged products inconsistently"):
        list(
            job._pages(
                "products",
                "marketplace-catalog",
                "ListEntities",
                CHAIN,
                LISTING,
            )
        )
