"""Pagination completeness on the large seller, and per-account token-bucket throttling."""

from __future__ import annotations

import time
from datetime import timedelta
from pathlib import Path

import pytest

from tests.sandbox_marketplace.conftest import (
    LARGE,
    PROPOSER,
    TYPICAL,
    Call,
    list_all,
    make_call,
    search_all,
)
from vell_core.domain.clock import FrozenClock
from vell_core.sandbox.contract import SandboxServiceError
from vell_core.sandbox.marketplace import build_marketplace_backends
from vell_core.sandbox.marketplace.quotas import QuotaEnforcer


def test_every_agreement_exactly_once_at_50(agreements: Call, backends: dict) -> None:
    rows = search_all(agreements, LARGE, PROPOSER, page=50)
    ids = [r["agreementId"] for r in rows]
    assert len(ids) == len(set(ids))
    assert set(ids) == set(backends["marketplace-agreement"].sellers.get(LARGE).agreements)
    assert len(ids) >= 2900


def test_every_offer_exactly_once_at_50(catalog: Call, backends: dict) -> None:
    rows = list_all(catalog, LARGE, "Offer", page=50)
    ids = [r["EntityId"] for r in rows]
    assert len(ids) == len(set(ids)) == 500
    seller = backends["marketplace-catalog"].sellers.get(LARGE)
    assert set(ids) == {e.entity_id for e in seller.entities.values() if e.entity_type == "Offer"}


def test_limiter_bucket_empties_and_refills() -> None:
    now = [100.0]
    limiter = QuotaEnforcer(
        {"ListEntities": 10.0, "DescribeEntity": 20.0}, monotonic=lambda: now[0]
    )
    assert all(limiter.allow("a", "ListEntities") for _ in range(10))
    assert not limiter.allow("a", "ListEntities")
    assert limiter.allow("b", "ListEntities")  # per account
    now[0] += 0.11
    assert limiter.allow("a", "ListEntities")
    assert all(limiter.allow("a", "BatchDescribeEntities") for _ in range(20))
    assert not limiter.allow("a", "DescribeEntity")  # batch charged to DescribeEntity
    limiter.enabled = False
    assert limiter.allow("a", "DescribeEntity")


def test_throttling_answers_and_recovers(clock: FrozenClock, data_dir: Path) -> None:
    catalog, agreements = build_marketplace_backends(clock, data_dir, rate_limit_factor=1.0)
    real_time = [1000.0]  # the buckets' monotonic clock, under test control
    for backend in (catalog, agreements):
        backend.limiter.monotonic = lambda: real_time[0]  # type: ignore[attr-defined]
    params = {"Catalog": "AWSMarketplace", "EntityType": "SaaSProduct", "MaxResults": 1}
    for _ in range(10):
        make_call(clock, catalog, "ListEntities", params, TYPICAL)
    with pytest.raises(SandboxServiceError) as excinfo:
        make_call(clock, catalog, "ListEntities", params, TYPICAL)
    assert (excinfo.value.code, excinfo.value.status) == ("ThrottlingException", 429)
    search = {"catalog": "AWSMarketplace", "filters": PROPOSER, "maxResults": 1}
    for _ in range(5):
        make_call(clock, agreements, "SearchAgreements", search, TYPICAL)
    with pytest.raises(SandboxServiceError) as excinfo:
        make_call(clock, agreements, "SearchAgreements", search, TYPICAL)
    assert excinfo.value.code == "ThrottlingException"
    clock.advance(timedelta(hours=1))  # the domain clock does not refill buckets
    with pytest.raises(SandboxServiceError):
        make_call(clock, catalog, "ListEntities", params, TYPICAL)
    real_time[0] += 0.25  # real time does
    make_call(clock, catalog, "ListEntities", params, TYPICAL)
    make_call(clock, agreements, "SearchAgreements", search, TYPICAL)


def test_rate_limit_factor_scales_the_bucket(clock: FrozenClock, data_dir: Path) -> None:
    catalog, _ = build_marketplace_backends(clock, data_dir, rate_limit_factor=0.2)
    params = {"Catalog": "AWSMarketplace", "EntityType": "SaaSProduct", "MaxResults": 1}
    make_call(clock, catalog, "ListEntities", params, TYPICAL)
    make_call(clock, catalog, "ListEntities", params, TYPICAL)
    with pytest.raises(SandboxServiceError):
        make_call(clock, catalog, "ListEntities", params, TYPICAL)


def test_latency_is_injected(clock: FrozenClock, data_dir: Path) -> None:
    catalog, _ = build_marketplace_backends(clock, data_dir, throttling=False, latency_ms=120)
    started = time.monotonic()
    make_call(
        clock,
        catalog,
        "ListEntities",
        {"Catalog": "AWSMarketplace", "EntityType": "Offer", "MaxResults": 1},
        TYPICAL,
    )
    assert time.monotonic() - started >= 0.12
