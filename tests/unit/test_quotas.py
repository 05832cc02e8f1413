"""The one token bucket: the sandbox enforces and the app paces by the same refill rule."""

from __future__ import annotations

from vell_core.domain.quotas import (
    MARKETPLACE_RATES,
    TokenBucket,
    TokenBuckets,
    bucket_for,
    burst_capacity,
)
from vell_core.sandbox.marketplace.quotas import QuotaEnforcer
from vell_core.services.sync.pacing import AccountLimits


def test_a_full_bucket_spends_one_second_of_burst_then_refills_at_the_rate() -> None:
    bucket = TokenBucket.full(rate=5.0, now=0.0)
    assert [bucket.try_take(0.0) for _ in range(6)] == [True] * 5 + [False]
    assert bucket.seconds_to_next() == 0.2
    assert not bucket.try_take(0.1)
    assert bucket.try_take(0.2)


def test_keyed_buckets_are_independent_and_keep_their_tokens_when_the_rate_changes() -> None:
    now = [0.0]
    buckets = TokenBuckets(lambda: now[0])
    assert all(buckets.allow("a", 2.0) for _ in range(2))
    assert not buckets.allow("a", 2.0)
    assert buckets.allow("b", 2.0)  # another key has its own burst
    assert not buckets.allow("a", 20.0)  # a faster knob is no free refill
    now[0] = 0.05
    assert buckets.allow("a", 20.0)


def test_the_sandbox_and_the_app_read_one_quota_table() -> None:
    assert bucket_for("BatchDescribeEntities") == "DescribeEntity"
    limits = AccountLimits(MARKETPLACE_RATES)
    assert limits.bucket("BatchDescribeEntities") is limits.bucket("DescribeEntity")
    assert limits.bucket("DescribeEntity").max_rate < MARKETPLACE_RATES["DescribeEntity"]
    enforcer = QuotaEnforcer(MARKETPLACE_RATES, monotonic=lambda: 0.0)
    allowed = sum(enforcer.allow("acct", "DescribeEntity") for _ in range(100))
    assert allowed == burst_capacity(MARKETPLACE_RATES["DescribeEntity"])
