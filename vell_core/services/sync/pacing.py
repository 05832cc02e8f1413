"""Client-side pacing of a sync's calls: one priority-aware bucket per quota and account."""

from __future__ import annotations

import heapq
import itertools
import logging
import threading
import time

from vell_core.domain.quotas import (
    Monotonic,
    TokenBucket,
    bucket_for,
    burst_capacity,
)

log = logging.getLogger(__name__)


RATE_MARGIN = 0.98  # stay a little under the quota so network jitter does not trip it


BURST_CUSHION = 0.5  # tokens of AWS's one-second burst left unused, for the same reason


# Priorities: lower runs first. On-demand fetches use ON_DEMAND on the buckets.
ON_DEMAND, CHAIN, PRODUCT_DETAIL, OFFER_DETAIL, ACTIVE_AGREEMENT, OTHER_AGREEMENT = range(6)


class Cancelled(Exception):
    """The job stopped while a call was waiting for a token."""


class PacedBucket:
    """The client side of a quota: waiters served by priority (lower first), then arrival.

    The refill rule is the domain's ``TokenBucket`` (the sandbox enforces the same one); this
    adds waiting, priorities and backing off when AWS throttles anyway. Waiting is a
    ``Condition.wait`` in the calling (background or on-demand) thread; pages never block here
    for longer than one token interval because on-demand calls jump the queue.
    """

    def __init__(self, rate: float, capacity: float, monotonic: Monotonic = time.monotonic) -> None:
        self.max_rate = rate
        self._monotonic = monotonic
        self._bucket = TokenBucket.full(rate, monotonic(), capacity)
        self._cond = threading.Condition()
        self._waiters: list[tuple[int, int]] = []
        self._seq = itertools.count()
        self._ok_since_penalty = 0

    @property
    def rate(self) -> float:
        """The current pace (below ``max_rate`` after a throttle)."""
        return self._bucket.rate

    @property
    def capacity(self) -> float:
        """The burst this bucket may spend."""
        return self._bucket.capacity

    def acquire(self, priority: int = CHAIN, stop: threading.Event | None = None) -> None:
        """Take one token, waiting behind higher-priority waiters; Cancelled if ``stop`` is set."""
        ticket = (priority, next(self._seq))
        with self._cond:
            heapq.heappush(self._waiters, ticket)
            try:
                while True:
                    if stop is not None and stop.is_set():
                        raise Cancelled()
                    head = self._waiters[0] == ticket
                    if head and self._bucket.try_take(self._monotonic()):
                        return
                    timeout = self._bucket.seconds_to_next() if head else 0.25
                    self._cond.wait(timeout=max(timeout, 0.0005))
            finally:
                self._waiters.remove(ticket)
                heapq.heapify(self._waiters)
                self._cond.notify_all()

    def penalize(self) -> None:
        """AWS throttled us anyway: halve the rate and drop any burst."""
        with self._cond:
            self._bucket.refill(self._monotonic())
            self._bucket.rate = max(self._bucket.rate / 2, self.max_rate / 32)
            self._bucket.tokens = min(self._bucket.tokens, 0.0)
            self._ok_since_penalty = 0

    def charge(self, extra: int) -> None:
        """Account for calls botocore retried on its own (AWS counted each attempt)."""
        with self._cond:
            self._bucket.refill(self._monotonic())
            self._bucket.tokens -= extra

    def reward(self) -> None:
        """A call went through: creep back towards the configured rate."""
        with self._cond:
            if self._bucket.rate >= self.max_rate:
                return
            self._ok_since_penalty += 1
            if self._ok_since_penalty >= 10:
                self._bucket.refill(self._monotonic())
                self._bucket.rate = min(self.max_rate, self._bucket.rate * 1.25)
                self._ok_since_penalty = 0


class AccountLimits:
    """One bucket per operation for one customer account (quotas are per account)."""

    def __init__(self, rates: dict[str, float], factor: float = 1.0) -> None:
        self.rates = {op: rate * factor for op, rate in rates.items()}
        self._buckets = {
            op: PacedBucket(rate * RATE_MARGIN, _capacity(rate)) for op, rate in self.rates.items()
        }

    def bucket(self, operation: str) -> PacedBucket:
        """The bucket an operation draws from."""
        return self._buckets[bucket_for(operation)]


def _capacity(rate: float) -> float:
    # AWS's bucket holds about one second of tokens and starts full: use that burst (a small
    # seller's ten agreements are mostly burst), less half a token, so a request that reaches
    # AWS a little early (network and thread-scheduling jitter) still finds a token there.
    return max(1.0, burst_capacity(rate) - BURST_CUSHION)
