"""Fixtures for the Marketplace backends: generated sellers once per session, fresh backends
per test on a FrozenClock, and a helper that validates outputs against botocore's shapes."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any

import botocore.session
import pytest
from botocore.validate import ParamValidator

from vell_core.domain.clock import FrozenClock
from vell_core.sandbox.contract import Caller, SandboxCall, ServiceBackend
from vell_core.sandbox.marketplace import build_marketplace_backends, write_sample_sellers

SMALL = "602341187520"
TYPICAL = "418295730164"
LARGE = "739104552816"
STRANGER = "111122223333"
NOW = datetime(2026, 9, 5, 12, 0, tzinfo=UTC)
PROPOSER = [
    {"name": "PartyType", "values": ["Proposer"]},
    {"name": "AgreementType", "values": ["PurchaseAgreement"]},
]

Call = Callable[..., dict[str, Any]]


@cache
def _output_shape(service: str, operation: str) -> Any:
    model = botocore.session.get_session().get_service_model(service)
    return model.operation_model(operation).output_shape


def assert_output_shape(service: str, operation: str, result: dict[str, Any]) -> None:
    """Validate a handler's output against botocore's output shape for the operation.

    ParamValidator accepts datetimes for timestamp members and walks document types, so
    Agreement timestamps (aware datetimes) validate as they are.
    """
    shape = _output_shape(service, operation)
    report = ParamValidator().validate(result, shape)
    assert not report.has_errors(), report.generate_report()


@pytest.fixture(scope="session")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Sample sellers generated once for the session, anchored at NOW."""
    directory = tmp_path_factory.mktemp("marketplace-data")
    write_sample_sellers(directory, NOW)
    return directory


@pytest.fixture
def clock() -> FrozenClock:
    """The domain clock, frozen at NOW."""
    return FrozenClock(NOW)


@pytest.fixture
def backends(clock: FrozenClock, data_dir: Path) -> dict[str, ServiceBackend]:
    """Fresh Catalog and Agreement backends (throttling off) by service name."""
    built = build_marketplace_backends(clock, data_dir, throttling=False)
    return {backend.service: backend for backend in built}


def make_call(
    clock: FrozenClock,
    backend: ServiceBackend,
    operation: str,
    params: dict[str, Any],
    account: str,
) -> dict[str, Any]:
    """Run one handler as the wire layer would, and validate the output shape."""
    caller = Caller(account, f"arn:aws:iam::{account}:user/owner", "user")
    call = SandboxCall(backend.service, operation, params, caller, "us-east-1", clock.now())
    result = backend.handlers[operation](call)
    assert_output_shape(backend.service, operation, result)
    return result


@pytest.fixture
def catalog(clock: FrozenClock, backends: dict[str, ServiceBackend]) -> Call:
    """``catalog(op, account=TYPICAL, **params)`` with ``Catalog`` filled in."""

    def run(operation: str, account: str = TYPICAL, **params: Any) -> dict[str, Any]:
        if operation != "BatchDescribeEntities":
            params.setdefault("Catalog", "AWSMarketplace")
        return make_call(clock, backends["marketplace-catalog"], operation, params, account)

    return run


@pytest.fixture
def agreements(clock: FrozenClock, backends: dict[str, ServiceBackend]) -> Call:
    """``agreements(op, account=TYPICAL, **params)``."""

    def run(operation: str, account: str = TYPICAL, **params: Any) -> dict[str, Any]:
        return make_call(clock, backends["marketplace-agreement"], operation, params, account)

    return run


def search_all(
    agreements: Call, account: str, filters: list[dict[str, Any]], page: int = 50
) -> list[dict[str, Any]]:
    """Every SearchAgreements row through nextToken paging."""
    rows: list[dict[str, Any]] = []
    token = None
    while True:
        extra = {"nextToken": token} if token else {}
        result = agreements(
            "SearchAgreements",
            account,
            catalog="AWSMarketplace",
            filters=filters,
            maxResults=page,
            **extra,
        )
        rows += result["agreementViewSummaries"]
        token = result.get("nextToken")
        if not token:
            return rows


def list_all(
    catalog: Call, account: str, entity_type: str, page: int = 50, **params: Any
) -> list[dict[str, Any]]:
    """Every ListEntities row through NextToken paging."""
    rows: list[dict[str, Any]] = []
    token = None
    while True:
        extra = {"NextToken": token} if token else {}
        result = catalog(
            "ListEntities", account, EntityType=entity_type, MaxResults=page, **params, **extra
        )
        rows += result["EntitySummaryList"]
        token = result.get("NextToken")
        if not token:
            return rows
