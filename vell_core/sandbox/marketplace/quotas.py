"""The documented Marketplace quotas, enforced per account and operation as AWS does.

The quotas and the bucket are the domain's (``vell_core.domain.quotas``), shared with the
app's own pacing; this adds what only the sandbox needs: the knobs (a factor for load tests,
throttling on or off) and the key (account, quota).
"""

from __future__ import annotations

import time

from vell_core.domain.quotas import Monotonic, TokenBuckets, bucket_for


class QuotaEnforcer:
    """Answers "may this account call this operation now?" at ``rates`` × ``factor``."""

    def __init__(
        self,
        rates: dict[str, float],
        *,
        factor: float = 1.0,
        enabled: bool = True,
        monotonic: Monotonic = time.monotonic,
    ) -> None:
        self.rates = dict(rates)
        self.factor = factor
        self.enabled = enabled
        self._buckets = TokenBuckets(monotonic)

    @property
    def monotonic(self) -> Monotonic:
        """The clock the buckets refill on (tests inject one)."""
        return self._buckets.monotonic

    @monotonic.setter
    def monotonic(self, value: Monotonic) -> None:
        self._buckets.monotonic = value

    def allow(self, account_id: str, operation: str) -> bool:
        """Take a token for ``operation`` on behalf of ``account_id``; False when empty."""
        bucket = bucket_for(operation)
        base_rate = self.rates.get(bucket)
        if not self.enabled or base_rate is None:
            return True
        return self._buckets.allow((account_id, bucket), max(base_rate * self.factor, 1e-9))

    def reset(self) -> None:
        """Refill every bucket."""
        self._buckets.reset()
