"""The sandbox's AWS Marketplace Catalog and Agreement backends.

``build_marketplace_backends(clock, data_dir, …)`` returns two ``ServiceBackend`` objects
("marketplace-catalog" and "marketplace-agreement") for the wire layer. Seller data comes from
``data_dir/sellers/<account_id>.json`` (generated on first use when missing, see
``generator.write_sample_sellers``); accounts without a file are empty sellers. Extra
attributes the wire layer reads with ``getattr``: ``authz_context(call)``, ``on_reset()``,
``on_tick(now)``; ``limiter`` (the rate limiter) and ``sellers`` (the registry) are exposed
for tests and the control plane.
"""

from __future__ import annotations

import json
import logging
import random
import threading
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

from vell_core.domain.clock import Clock
from vell_core.domain.quotas import AGREEMENT_RATES, CATALOG_RATES
from vell_core.sandbox.contract import Handler, SandboxCall, ServiceBackend
from vell_core.sandbox.marketplace.agreement import AgreementService
from vell_core.sandbox.marketplace.catalog import CatalogService
from vell_core.sandbox.marketplace.changesets import ChangeSetEngine
from vell_core.sandbox.marketplace.errors import AGREEMENT, CATALOG, throttling
from vell_core.sandbox.marketplace.generator import (
    DEFAULT_SEED,
    generate_seller,
    seller_path,
    write_sample_sellers,
)
from vell_core.sandbox.marketplace.models import FILE_FORMAT, SellerState, seller_from_document
from vell_core.sandbox.marketplace.quotas import QuotaEnforcer

log = logging.getLogger(__name__)

CATALOG_OPERATIONS = {
    "ListEntities": "list_entities",
    "DescribeEntity": "describe_entity",
    "BatchDescribeEntities": "batch_describe_entities",
    "ListChangeSets": "list_change_sets",
    "DescribeChangeSet": "describe_change_set",
    "StartChangeSet": "start_change_set",
    "CancelChangeSet": "cancel_change_set",
}
AGREEMENT_OPERATIONS = {
    "SearchAgreements": "search_agreements",
    "DescribeAgreement": "describe_agreement",
    "GetAgreementTerms": "get_agreement_terms",
}


class SellerRegistry:
    """Seller state per account, loaded lazily from ``data_dir/sellers`` on the clock's now."""

    def __init__(self, clock: Clock, data_dir: Path | None, seed: int) -> None:
        self.clock = clock
        self.data_dir = Path(data_dir) if data_dir is not None else None
        self.seed = seed
        self._lock = threading.Lock()
        self._sellers: dict[str, SellerState] = {}

    def get(self, account_id: str) -> SellerState:
        """The seller for ``account_id`` (an empty one when the account has no data)."""
        seller = self._sellers.get(account_id)
        if seller is not None:
            return seller
        with self._lock:
            if account_id not in self._sellers:
                self._sellers[account_id] = self._load(account_id)
            return self._sellers[account_id]

    def _load(self, account_id: str) -> SellerState:
        document = self._document(account_id)
        if document is None:
            return SellerState(account_id=account_id)
        return seller_from_document(document, self.clock.now())

    def _document(self, account_id: str) -> dict[str, Any] | None:
        from vell_core.config.sandbox_accounts import customer_by_account

        customer = customer_by_account(account_id)
        path = seller_path(self.data_dir, account_id) if self.data_dir is not None else None
        if path is not None and path.exists():
            document = json.loads(path.read_text(encoding="utf-8"))
            if document.get("format") == FILE_FORMAT and document.get("seed") == self.seed:
                return dict(document)
        if customer is None:
            return None
        # Missing or stale file: regenerate (and save it when the data dir is writable).
        document = generate_seller(customer, self.clock.now(), self.seed)
        if path is not None:
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_text(json.dumps(document, separators=(",", ":")), encoding="utf-8")
            except OSError:
                log.warning("Could not write %s; serving generated data from memory", path)
        return document

    def loaded(self) -> list[SellerState]:
        """Sellers loaded so far."""
        return list(self._sellers.values())

    def reset(self) -> None:
        """Forget every change: sellers reload from their files on next use."""
        with self._lock:
            self._sellers.clear()


def _wrap(
    service: str,
    operation: str,
    handler: Callable[[SandboxCall], dict[str, Any]],
    limiter: QuotaEnforcer,
    latency: Callable[[], float],
) -> Handler:
    """Injected latency, then the per-account token bucket, then the handler."""

    def serve(call: SandboxCall) -> dict[str, Any]:
        delay = latency()
        if delay > 0:
            time.sleep(delay)  # simulated network latency (off by default)
        if not limiter.allow(call.caller.account_id, operation):
            raise throttling(service)
        return handler(call)

    serve.__name__ = f"{service}.{operation}"
    return serve


def build_marketplace_backends(
    clock: Clock,
    data_dir: Path | str | None,
    *,
    rate_limit_factor: float = 1.0,
    throttling: bool = True,
    latency_ms: int = 0,
    seed: int = DEFAULT_SEED,
    released_offers_only: bool = False,
    prepare_seconds: float | None = None,
    apply_seconds: float | None = None,
) -> list[ServiceBackend]:
    """The Catalog and Agreement backends over one shared seller registry."""
    registry = SellerRegistry(clock, Path(data_dir) if data_dir is not None else None, seed)
    engine_kwargs = {
        key: value
        for key, value in (("prepare_seconds", prepare_seconds), ("apply_seconds", apply_seconds))
        if value is not None
    }
    engine = ChangeSetEngine(random.Random(f"changesets:{seed}"), **engine_kwargs)
    catalog = CatalogService(registry.get, engine, released_offers_only=released_offers_only)
    agreements = AgreementService(registry.get)
    settings = {"latency_ms": latency_ms}

    def latency() -> float:
        return max(0, settings["latency_ms"]) / 1000

    catalog_limiter = QuotaEnforcer(CATALOG_RATES, factor=rate_limit_factor, enabled=throttling)
    agreement_limiter = QuotaEnforcer(AGREEMENT_RATES, factor=rate_limit_factor, enabled=throttling)
    backends = [
        _backend(CATALOG, catalog, CATALOG_OPERATIONS, catalog_limiter, latency),
        _backend(AGREEMENT, agreements, AGREEMENT_OPERATIONS, agreement_limiter, latency),
    ]
    backends[0].action_overrides["BatchDescribeEntities"] = "aws-marketplace:DescribeEntity"
    backends[0].authz_context = catalog.authz_context  # type: ignore[attr-defined]  # hooks set on the wired backend object, not declared by ServiceBackend
    backends[1].authz_context = _agreement_authz  # type: ignore[attr-defined]  # hooks set on the wired backend object, not declared by ServiceBackend

    def on_reset() -> None:
        registry.reset()
        catalog_limiter.reset()
        agreement_limiter.reset()

    def on_tick(now: datetime) -> None:
        for seller in registry.loaded():
            with seller.lock:
                engine.refresh(seller, now)

    for backend in backends:
        backend.on_reset = on_reset  # type: ignore[attr-defined]  # hooks set on the wired backend object, not declared by ServiceBackend
        backend.sellers = registry  # type: ignore[attr-defined]  # hooks set on the wired backend object, not declared by ServiceBackend
        backend.latency_settings = settings  # type: ignore[attr-defined]  # hooks set on the wired backend object, not declared by ServiceBackend
    backends[0].on_tick = on_tick  # type: ignore[attr-defined]  # hooks set on the wired backend object, not declared by ServiceBackend
    return backends


def _backend(
    service: str,
    target: Any,
    operations: dict[str, str],
    limiter: QuotaEnforcer,
    latency: Callable[[], float],
) -> ServiceBackend:
    handlers = {
        operation: _wrap(service, operation, getattr(target, method), limiter, latency)
        for operation, method in operations.items()
    }
    backend = ServiceBackend(service=service, handlers=handlers)
    backend.limiter = limiter  # type: ignore[attr-defined]  # hooks set on the wired backend object, not declared by ServiceBackend
    return backend


def _agreement_authz(call: SandboxCall) -> tuple[list[str], dict[str, Any]]:
    # Every Agreement action is resource-less ("*") in the Service Authorization Reference.
    return ["*"], {}


__all__ = [
    "DEFAULT_SEED",
    "SellerRegistry",
    "build_marketplace_backends",
    "write_sample_sellers",
]
