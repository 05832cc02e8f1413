"""Per-account, per-operation token buckets at the documented Marketplace quotas.

Buckets run on ``time.monotonic`` (real time), not the sandbox's domain clock: request rates
are a property of the caller's real traffic, and jumping the demo clock forward must not
refill them. Each bucket holds at most one second's worth of tokens (the quota is a steady
rate with no documented burst).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

# Catalog quotas (requests per second per account, reference §1.3).
CATALOG_RATES: dict[str, float] = {
    "ListEntities": 10.0,
    "DescribeEntity": 20.0,
    "StartChangeSet": 5.0,
    "ListChangeSets": 5.0,
    "DescribeChangeSet": 10.0,
    "CancelChangeSet": 5.0,
}
# Agreement quotas (reference §2.5; GetAgreementTerms uses the API reference's 5/s).
AGREEMENT_RATES: dict[str, float] = {
    "SearchAgreements": 5.0,
    "DescribeAgreement": 5.0,
    "GetAgreementTerms": 5.0,
}
# BatchDescribeEntities has no quota of its own; it shares DescribeEntity's (UNVERIFIED).
BUCKET_ALIASES: dict[str, str] = {"BatchDescribeEntities": "DescribeEntity"}


class RateLimiter:
    """Token buckets keyed by (account, operation bucket)."""

    def __init__(
        self,
        rates: dict[str, float],
        *,
        factor: float = 1.0,
        enabled: bool = True,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.rates = dict(rates)
        self.factor = factor
        self.enabled = enabled
        self.monotonic = monotonic  # injectable for tests
        self._lock = threading.Lock()
        self._buckets: dict[tuple[str, str], tuple[float, float]] = {}

    def bucket_for(self, operation: str) -> str:
        """The bucket an operation draws from."""
        return BUCKET_ALIASES.get(operation, operation)

    def allow(self, account_id: str, operation: str) -> bool:
        """Take a token for ``operation`` on behalf of ``account_id``; False when empty."""
        bucket = self.bucket_for(operation)
        base_rate = self.rates.get(bucket)
        if not self.enabled or base_rate is None:
            return True
        rate = max(base_rate * self.factor, 1e-9)
        capacity = max(1.0, rate)
        now = self.monotonic()
        key = (account_id, bucket)
        with self._lock:
            tokens, last = self._buckets.get(key, (capacity, now))
            tokens = min(capacity, tokens + (now - last) * rate)
            allowed = tokens >= 1.0
            self._buckets[key] = (tokens - 1.0 if allowed else tokens, now)
        return allowed

    def reset(self) -> None:
        """Refill every bucket."""
        with self._lock:
            self._buckets.clear()
