"""Per-staff-member rate limits: sliding window in memory, plus counts from the store."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy.engine import Engine

from vell_core.domain.clock import FrozenClock
from vell_core.domain.errors import RateLimited
from vell_core.services.action_limits import (
    DEFAULT_LIMITS,
    ActionLimiter,
    Limit,
    default_store_counters,
)
from vell_core.store.action_limits import ActionCountStore

LIMITS = {"delegation.create": Limit(3, timedelta(minutes=10), "delegation requests")}


def test_allows_up_to_the_limit_then_refuses_with_a_clear_message() -> None:
    clock = FrozenClock()
    limiter = ActionLimiter(clock=clock, limits=LIMITS)
    for _ in range(3):
        limiter.check(1, "delegation.create")
    with pytest.raises(RateLimited) as refused:
        limiter.check(1, "delegation.create")
    assert "at most 3 delegation requests per 10 minutes" in refused.value.message
    assert "Try again in 10 minutes" in refused.value.message


def test_window_slides_so_the_oldest_action_frees_a_slot() -> None:
    clock = FrozenClock()
    limiter = ActionLimiter(clock=clock, limits=LIMITS)
    limiter.check(1, "delegation.create")
    clock.advance(timedelta(minutes=4))
    limiter.check(1, "delegation.create")
    limiter.check(1, "delegation.create")
    with pytest.raises(RateLimited):
        limiter.check(1, "delegation.create")
    clock.advance(timedelta(minutes=6, seconds=1))  # the first action leaves the window
    limiter.check(1, "delegation.create")
    with pytest.raises(RateLimited):
        limiter.check(1, "delegation.create")


def test_limits_are_per_member_and_per_action() -> None:
    limits = {**LIMITS, "promotion.run": Limit(1, timedelta(minutes=10), "promotions")}
    limiter = ActionLimiter(clock=FrozenClock(), limits=limits)
    for _ in range(3):
        limiter.check(1, "delegation.create")
    limiter.check(2, "delegation.create")  # another rep is unaffected
    limiter.check(1, "promotion.run")  # another action has its own budget
    with pytest.raises(RateLimited, match="promotions"):
        limiter.check(1, "promotion.run")


def test_refused_attempts_are_not_counted() -> None:
    clock = FrozenClock()
    limiter = ActionLimiter(clock=clock, limits=LIMITS)
    for _ in range(3):
        limiter.check(1, "delegation.create")
    for _ in range(5):
        with pytest.raises(RateLimited):
            limiter.check(1, "delegation.create")
    clock.advance(timedelta(minutes=10, seconds=1))
    limiter.check(1, "delegation.create")


def test_store_count_applies_across_processes() -> None:
    """Rows another process created count against this process's limiter."""
    stored = {"count": 3}
    limiter = ActionLimiter(
        clock=FrozenClock(),
        limits=LIMITS,
        store_counters={"delegation.create": lambda member_id, since: stored["count"]},
    )
    with pytest.raises(RateLimited, match="Try again in a few minutes"):
        limiter.check(1, "delegation.create")
    stored["count"] = 2
    limiter.check(1, "delegation.create")
    assert limiter.remaining(1, "delegation.create") == 1


def test_unlimited_actions_pass_and_defaults_cover_creations_and_promotions() -> None:
    limiter = ActionLimiter(clock=FrozenClock(), limits=LIMITS)
    for _ in range(100):
        limiter.check(1, "home")
    assert limiter.remaining(1, "home") is None
    assert DEFAULT_LIMITS["delegation.create"].count == 10
    assert DEFAULT_LIMITS["delegation.create"].window == timedelta(minutes=10)
    assert "promotion.run" in DEFAULT_LIMITS


def test_reset_forgets_memory() -> None:
    limiter = ActionLimiter(clock=FrozenClock(), limits=LIMITS)
    for _ in range(3):
        limiter.check(1, "delegation.create")
    limiter.reset()
    limiter.check(1, "delegation.create")


def test_default_store_counters_query_the_store(engine: Engine) -> None:
    since = FrozenClock().now() - timedelta(minutes=10)
    counters = default_store_counters(ActionCountStore(engine))
    assert counters["delegation.create"](1, since) == 0
    assert counters["promotion.run"](1, since) == 0
