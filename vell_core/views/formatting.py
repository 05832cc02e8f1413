"""Pure formatting helpers shared by pages and shaping: one helper per kind of value.

Durations (``duration_text``, ``countdown``, ``hours_text``, ``iso_duration_text``),
timestamps (``when``, ``when_minute``, ``day``), percentages (``percent``, ``signed_percent``),
money (``money``), and ``display_frame``, which turns a table of values into the text a
person reads with these same helpers (a missing value shows as an em dash, never as "None").
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from vell_core.domain.numbers import MISSING, is_missing

if TYPE_CHECKING:  # loaded where a frame is built: `vell run` starts without pandas
    import pandas as pd


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
        return MISSING
    left = until - now
    if left <= timedelta(0):
        return "expired"
    return duration_text(left.total_seconds())


def seconds_left(seconds: float | None) -> str:
    """A countdown from a number of seconds: ``'3 h 05 min'``, ``'ended'``, or a dash."""
    if seconds is None:
        return MISSING
    return "ended" if seconds <= 0 else duration_text(seconds)


def minutes_text(minutes: float | None) -> str:
    """Minutes as a duration people read: ``'45 s'``, ``'11 min'``, ``'1 h 05 min'``."""
    if minutes is None or _missing(minutes):
        return MISSING
    seconds = round(float(minutes) * 60)
    if seconds >= 60 and seconds < 3600 and seconds % 60 == 0:
        return f"{seconds // 60} min"
    return duration_text(seconds)


def when(value: datetime | None) -> str:
    """A UTC timestamp for tables and timelines."""
    return MISSING if value is None else value.strftime("%Y-%m-%d %H:%M:%S UTC")


def when_minute(value: datetime | None) -> str:
    """A UTC timestamp to the minute, for tables where seconds only take room."""
    if value is None or _missing(value):
        return MISSING
    return value.strftime("%Y-%m-%d %H:%M UTC")


def day(value: date | datetime | None) -> str:
    """A calendar day (``2026-12-02``)."""
    if value is None or _missing(value):
        return MISSING
    return value.strftime("%Y-%m-%d")


def hours_text(hours: int) -> str:
    """Whole hours in words people read at a glance: ``'4 h'``, ``'1 day'``, ``'7 days 1 h'``."""
    days, rest = divmod(max(int(hours), 0), 24)
    if not days:
        return f"{rest} h"
    text = f"{days} day" + ("s" if days != 1 else "")
    return f"{text} {rest} h" if rest else text


_ISO_DURATION = re.compile(
    r"^P(?:(?P<Y>\d+)Y)?(?:(?P<M>\d+)M)?(?:(?P<W>\d+)W)?(?:(?P<D>\d+)D)?"
    r"(?:T(?:(?P<H>\d+)H)?(?:(?P<MIN>\d+)M)?(?:(?P<S>\d+)S)?)?$"
)
_ISO_UNITS = (
    ("Y", "year"),
    ("M", "month"),
    ("W", "week"),
    ("D", "day"),
    ("H", "hour"),
    ("MIN", "minute"),
    ("S", "second"),
)


def iso_duration_text(value: str | None) -> str:
    """An ISO 8601 duration in words: ``P12M`` → ``12 months``, ``P1Y6M`` → ``1 year 6 months``.

    Anything that is not an ISO duration is returned unchanged (an em dash when empty).
    """
    if not value:
        return MISSING
    match = _ISO_DURATION.match(value.strip())
    if match is None or not any(match.groupdict().values()):
        return value
    parts = []
    for group, unit in _ISO_UNITS:
        amount = match.group(group)
        if amount is not None:
            count = int(amount)
            parts.append(f"{count} {unit}" + ("" if count == 1 else "s"))
    return " ".join(parts)


def money(value: Decimal | float | None, currency: str | None = "USD") -> str:
    """``$84,000.00`` / ``EUR 1,200.00``; an em dash when unknown."""
    if value is None or _missing(value):
        return MISSING
    amount = value if isinstance(value, Decimal) else Decimal(str(value))
    text = f"{amount.quantize(Decimal('0.01')):,}"
    return f"${text}" if (currency or "USD") == "USD" else f"{currency} {text}"


def yes_no(value: bool | None) -> str:
    """``Yes`` / ``No``, a dash when unknown."""
    if value is None or _missing(value):
        return MISSING
    return "Yes" if value else "No"


def count(value: int | float | None) -> str:
    """A whole number with thousands separators."""
    if value is None or _missing(value):
        return MISSING
    return f"{int(value):,}"


def text(value: Any) -> str:
    """Any value as table text: a dash for missing or empty."""
    if value is None or _missing(value) or value == "":
        return MISSING
    return str(value)


def principal_name(arn: str | None) -> str:
    """The readable name in an IAM principal ARN: ``…:user/customer-admin`` → ``customer-admin``.

    The account root (``…:root``) reads ``account root``.
    """
    if not arn:
        return MISSING
    tail = arn.rsplit(":", 1)[-1]
    if tail == "root":
        return "account root"
    return tail.rsplit("/", 1)[-1] or arn


def words(name: str) -> str:
    """``FixedUpfrontPricingTerm`` / ``enableAutoRenew`` / ``SaaSProduct`` as words."""
    spaced = re.sub(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])", " ", name)
    spaced = spaced.replace("_", " ").strip()
    parts = spaced.split(" ")
    out = [parts[0][:1].upper() + parts[0][1:]] + [
        p if p.isupper() and len(p) > 1 else p.lower() for p in parts[1:]
    ]
    return " ".join(out)


def unique_labels(labels: Mapping[Any, str], tiebreak: Mapping[Any, str]) -> dict[Any, str]:
    """``labels`` with ``· <tiebreak>`` added wherever two keys would read the same."""
    seen: dict[str, int] = {}
    for label in labels.values():
        seen[label] = seen.get(label, 0) + 1
    return {
        key: f"{label} · {tiebreak[key]}" if seen[label] > 1 else label
        for key, label in labels.items()
    }


Formatter = Callable[[Any], str]


def display_frame(
    frame: pd.DataFrame,
    formats: Mapping[str, Formatter] | None = None,
    *,
    columns: Iterable[str] | None = None,
    rename: Mapping[str, str] | None = None,
) -> pd.DataFrame:
    """The text a person reads for ``frame``: chosen ``columns`` in order, each formatted by
    its helper in ``formats`` (others by ``text``), then renamed. Never shows "None".
    """
    import pandas as pd

    chosen = list(columns) if columns is not None else list(frame.columns)
    formats = formats or {}
    names = {column: (rename or {}).get(column, column) for column in chosen}
    return pd.DataFrame(
        {
            names[column]: [formats.get(column, text)(value) for value in frame[column].tolist()]
            for column in chosen
        },
        columns=list(names.values()),
        index=range(len(frame)),
        dtype=object,  # plain text: skips pandas' string inference, a cost on every rerun
    )


def _missing(value: Any) -> bool:
    """NaN / NaT / pandas NA, without tripping over strings or Decimals."""
    return is_missing(value)


_NUMBER_TEXT = re.compile(r"^(?:[A-Z]{3} |\$)?-?[\d,]+(?:\.\d+)?%?$")


def numeric_columns(shown: pd.DataFrame) -> list[str]:
    """Columns of display text that hold only numbers, money or percentages (or dashes):
    the ones a table right-aligns, so figures line up."""
    return [
        str(column)
        for column in shown.columns
        if any(value != MISSING for value in shown[column].tolist())
        and all(
            value == MISSING or _NUMBER_TEXT.match(str(value)) for value in shown[column].tolist()
        )
    ]
