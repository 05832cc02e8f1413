"""Injected time: every timestamp in the app comes from a ``Clock``.

``SystemClock`` is real UTC time. ``OffsetClock`` is real time plus an adjustable offset: the
sandbox uses it so a rep can jump forward and show expiry without waiting. ``FrozenClock`` is
for tests.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from typing import Protocol


class Clock(Protocol):
    """Source of the current time (timezone-aware UTC)."""

    def now(self) -> datetime:
        """Return the current time."""
        ...


class SystemClock:
    """Real wall-clock time in UTC."""

    def now(self) -> datetime:
        """Return the current UTC time."""
        return datetime.now(UTC)


class OffsetClock:
    """Wall-clock time plus an offset that only ever grows (time never runs backwards)."""

    def __init__(self) -> None:
        self._offset = timedelta(0)
        self._lock = threading.Lock()

    def now(self) -> datetime:
        """Return wall time plus the accumulated offset."""
        return datetime.now(UTC) + self._offset

    def advance(self, delta: timedelta) -> None:
        """Move time forward by ``delta`` (negative values are refused)."""
        if delta < timedelta(0):
            raise ValueError("time only moves forward")
        with self._lock:
            self._offset += delta

    @property
    def offset(self) -> timedelta:
        """How far this clock is ahead of the wall clock."""
        return self._offset


class FrozenClock:
    """A clock that stands still until told to move (tests)."""

    def __init__(self, start: datetime | None = None) -> None:
        self._now = start or datetime(2026, 11, 29, 12, 0, tzinfo=UTC)
        self._lock = threading.Lock()

    def now(self) -> datetime:
        """Return the frozen time."""
        return self._now

    def advance(self, delta: timedelta) -> None:
        """Move the frozen time forward."""
        with self._lock:
            self._now += delta

    def set(self, when: datetime) -> None:
        """Jump to ``when`` (must be aware)."""
        if when.tzinfo is None:
            raise ValueError("aware datetimes only")
        self._now = when


def ensure_utc(value: datetime) -> datetime:
    """Treat naive datetimes as UTC and convert aware ones to UTC."""
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)
