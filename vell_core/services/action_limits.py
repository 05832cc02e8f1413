"""Per-staff-member rate limits on actions that reach into customers' AWS accounts.

Streamlit has no rate limiter (security checklist T6) and IAM's ``CreateDelegationRequest`` has
quotas of its own, so a rep hammering "Send request" must be stopped here with a clear message
rather than by AWS with ``LimitExceeded``.

Two counts, and the larger one wins:

* an in-memory sliding window per process (catches button spam, including attempts that failed
  before anything reached the store);
* for actions that leave rows behind, a count from the store (catches the same rep working from
  several browser tabs served by different processes or replicas).
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from vell_core.domain.clock import Clock
from vell_core.domain.errors import RateLimited
from vell_core.store.action_limits import ActionCountStore

# (member id, window start) -> how many such actions the store already holds.
StoreCounter = Callable[[int, datetime], int]


@dataclass(frozen=True)
class Limit:
    """At most ``count`` actions per ``window``; ``label`` names them in the refusal."""

    count: int
    window: timedelta
    label: str


DEFAULT_LIMITS: dict[str, Limit] = {
    "delegation.create": Limit(10, timedelta(minutes=10), "delegation requests"),
    "promotion.run": Limit(5, timedelta(minutes=10), "promotions"),
    "demo_link.create": Limit(30, timedelta(hours=1), "demo links"),
    "access_record.link": Limit(30, timedelta(hours=1), "customer record links"),
}


class ActionLimiter:
    """Sliding-window limits per (staff member, action); thread-safe, one per process."""

    def __init__(
        self,
        *,
        clock: Clock,
        store: ActionCountStore | None = None,
        limits: Mapping[str, Limit] | None = None,
        store_counters: Mapping[str, StoreCounter] | None = None,
    ) -> None:
        self._clock = clock
        self._limits = dict(DEFAULT_LIMITS if limits is None else limits)
        if store_counters is None and store is not None:
            store_counters = default_store_counters(store)
        self._store_counters = dict(store_counters or {})
        self._lock = threading.Lock()
        self._hits: dict[tuple[int, str], deque[datetime]] = {}

    def check(self, member_id: int, action: str) -> None:
        """Count one ``action`` by ``member_id`` now, or raise RateLimited if over the limit.

        Actions without a configured limit pass. A refused attempt is not counted, so a rep
        who waits is let through as soon as the oldest action leaves the window.
        """
        limit = self._limits.get(action)
        if limit is None:
            return
        now = self._clock.now()
        since = now - limit.window
        stored = self._stored(member_id, action, since)
        with self._lock:
            hits = self._hits.setdefault((member_id, action), deque())
            while hits and hits[0] <= since:
                hits.popleft()
            if max(len(hits), stored) >= limit.count:
                raise RateLimited(_message(limit, hits, now))
            hits.append(now)

    def remaining(self, member_id: int, action: str) -> int | None:
        """How many more ``action``s fit in the window now (None: unlimited)."""
        limit = self._limits.get(action)
        if limit is None:
            return None
        now = self._clock.now()
        since = now - limit.window
        stored = self._stored(member_id, action, since)
        with self._lock:
            hits = self._hits.get((member_id, action), deque())
            recent = sum(1 for hit in hits if hit > since)
        return max(limit.count - max(recent, stored), 0)

    def reset(self) -> None:
        """Forget every in-memory hit (tests and the CLI)."""
        with self._lock:
            self._hits.clear()

    def _stored(self, member_id: int, action: str, since: datetime) -> int:
        counter = self._store_counters.get(action)
        return counter(member_id, since) if counter is not None else 0


def _message(limit: Limit, hits: deque[datetime], now: datetime) -> str:
    """Say what the limit is and when the next attempt can succeed."""
    minutes = int(limit.window.total_seconds() // 60)
    text = f"You can create at most {limit.count} {limit.label} per {minutes} minutes."
    if hits:
        wait = max(int((hits[0] + limit.window - now).total_seconds()), 1)
        text += f" Try again in {_duration(wait)}."
    else:
        text += " Try again in a few minutes."
    return text


def _duration(seconds: int) -> str:
    if seconds < 90:
        return f"{seconds} seconds"
    return f"{round(seconds / 60)} minutes"


def default_store_counters(store: ActionCountStore) -> dict[str, StoreCounter]:
    """Store-backed counts: delegation requests per rep, promotion runs per starter."""
    return {
        "delegation.create": store.delegations_created,
        "promotion.run": store.promotions_started,
    }
