"""Small pure formatting helpers shared by pages (durations, countdowns, timestamps)."""

from __future__ import annotations

from datetime import datetime, timedelta


def duration_text(seconds: float) -> str:
    """``'3 h 05 min'``, ``'12 min'``, ``'45 s'`` — compact and unambiguous."""
    seconds = int(max(seconds, 0))
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days} d {hours} h"
    if hours:
        return f"{hours} h {minutes:02d} min"
    if minutes:
        return f"{minutes} min {secs:02d} s"
    return f"{secs} s"


def countdown(until: datetime | None, now: datetime) -> str:
    """Time left until ``until``, or 'expired'."""
    if until is None:
        return "—"
    left = until - now
    if left <= timedelta(0):
        return "expired"
    return duration_text(left.total_seconds())


def when(value: datetime | None) -> str:
    """A UTC timestamp for tables and timelines."""
    return "—" if value is None else value.strftime("%Y-%m-%d %H:%M:%S UTC")


def hours_text(hours: int) -> str:
    """Whole hours in words people read at a glance: ``'4 h'``, ``'1 day'``, ``'7 days 1 h'``."""
    days, rest = divmod(max(int(hours), 0), 24)
    if not days:
        return f"{rest} h"
    text = f"{days} day" + ("s" if days != 1 else "")
    return f"{text} {rest} h" if rest else text
