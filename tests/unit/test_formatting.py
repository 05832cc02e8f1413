"""Countdown and duration text."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from vell_core.views.formatting import countdown, duration_text

NOW = datetime(2026, 11, 29, tzinfo=UTC)


def test_duration_text() -> None:
    assert duration_text(45) == "45 s"
    assert duration_text(12 * 60 + 5) == "12 min 05 s"
    assert duration_text(3 * 3600 + 5 * 60) == "3 h 05 min"
    assert duration_text(2 * 86400 + 3600) == "2 d 1 h"


def test_countdown() -> None:
    assert countdown(NOW + timedelta(hours=4), NOW) == "4 h 00 min"
    assert countdown(NOW - timedelta(seconds=1), NOW) == "expired"
    assert countdown(None, NOW) == "—"


def test_hours_read_as_days_and_hours_never_as_fractions() -> None:
    from vell_core.views.formatting import hours_text

    assert [hours_text(h) for h in (1, 4, 12, 24, 48, 24 * 7 + 1)] == [
        "1 h",
        "4 h",
        "12 h",
        "1 day",
        "2 days",
        "7 days 1 h",
    ]
