"""AWS's documented request quotas, and the one token bucket both sides of the wire use.

The app paces its own Marketplace calls with these buckets (``services.sync``) and the sandbox
enforces the same quotas with them (``sandbox.marketplace``, ``sandbox.server``), so a change
to a quota or to the refill rule lands in both at once.

Buckets run on a monotonic clock in seconds (real time, not the domain clock): request rates are
a property of real traffic, and jumping the demo clock forward must not refill them.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Hashable
from dataclasses import dataclass

# Marketplace Catalog quotas, requests per second per account (reference §1.3).
CATALOG_RATES: dict[str, float] = {
    "ListEntities": 10.0,
    "DescribeEntity": 20.0,
    "StartChangeSet": 5.0,
    "ListChangeSets": 5.0,
    "DescribeChangeSet": 10.0,
    "CancelChangeSet": 5.0,
}
# Marketplace Agreement quotas (reference §2.5; GetAgreementTerms uses the API reference's 5/s).
AGREEMENT_RATES: dict[str, float] = {
    "SearchAgreements": 5.0,
    "DescribeAgreement": 5.0,
    "GetAgreementTerms": 5.0,
}
MARKETPLACE_RATES: dict[str, float] = {**CATALOG_RATES, **AGREEMENT_RATES}
# BatchDescribeEntities has no documented quota of its own; it is charged to DescribeEntity
# (UNVERIFIED against AWS, and the conservative reading).
SHARED_BUCKETS: dict[str, str] = {"BatchDescribeEntities": "DescribeEntity"}

Monotonic = Callable[[], float]


def bucket_for(operation: str) -> str:
    """The quota an operation draws from."""
    return SHARED_BUCKETS.get(operation, operation)


def burst_capacity(rate: float) -> float:
    """One second's worth of requests, and at least one (AWS documents no larger burst)."""
    return max(1.0, rate)


@dataclass
class TokenBucket:
    """One bucket: ``rate`` tokens a second, at most ``capacity``; not thread-safe on its own."""

    rate: float
    capacity: float
    tokens: float
    last: float

    @classmethod
    def full(cls, rate: float, now: float, capacity: float | None = None) -> TokenBucket:
        """A bucket that starts with its whole burst."""
        size = burst_capacity(rate) if capacity is None else capacity
        return cls(rate=rate, capacity=size, tokens=size, last=now)

    def refill(self, now: float) -> None:
        """Add what ``rate`` earned since the last look, up to ``capacity``."""
        self.tokens = min(self.capacity, self.tokens + (now - self.last) * self.rate)
        self.last = now

    def try_take(self, now: float) -> bool:
        """Take one token if there is one."""
        self.refill(now)
        if self.tokens < 1.0:
            return False
        self.tokens -= 1.0
        return True

    def seconds_to_next(self) -> float:
        """How long until one whole token is there (0 when one is)."""
        return max(0.0, (1.0 - self.tokens) / self.rate)


class TokenBuckets:
    """Thread-safe buckets by key, each created full on first use (the sandbox's quotas)."""

    def __init__(self, monotonic: Monotonic = time.monotonic) -> None:
        self.monotonic = monotonic  # injectable for tests
        self._lock = threading.Lock()
        self._buckets: dict[Hashable, TokenBucket] = {}

    def allow(self, key: Hashable, rate: float) -> bool:
        """Take one token from ``key``'s bucket refilling at ``rate``; False when it is empty."""
        now = self.monotonic()
        with self._lock:
            bucket = self._buckets.get(key)
            if bucket is None or bucket.rate != rate:
                bucket = self._buckets[key] = self._resized(bucket, rate, now)
            return bucket.try_take(now)

    def reset(self) -> None:
        """Refill every bucket."""
        with self._lock:
            self._buckets.clear()

    @staticmethod
    def _resized(old: TokenBucket | None, rate: float, now: float) -> TokenBucket:
        fresh = TokenBucket.full(rate, now)
        if old is not None:  # a knob changed the rate: keep what was left, not a free refill
            old.refill(now)
            fresh.tokens = min(fresh.capacity, old.tokens)
        return fresh
