"""Small deterministic helpers for the generator: real-format ids and calendar arithmetic."""

from __future__ import annotations

import calendar
import hashlib
import random
from datetime import datetime, timedelta

ALNUM = "abcdefghijklmnopqrstuvwxyz0123456789"


class IdMaker:
    """Unique ids in the real formats (``prod-`` + 13, ``agmt-`` + 25, …) from one RNG."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self._seen: set[str] = set()

    def make(self, prefix: str, length: int) -> str:
        """A new ``prefix`` + ``length`` lowercase alphanumerics."""
        while True:
            value = prefix + "".join(self.rng.choices(ALNUM, k=length))
            if value not in self._seen:
                self._seen.add(value)
                return value

    def account(self) -> str:
        """A new 12-digit AWS account id."""
        while True:
            value = str(self.rng.randint(100_000_000_000, 999_999_999_999))
            if value not in self._seen:
                self._seen.add(value)
                return value


def term_id(offer_id: str, term_type: str) -> str:
    """``term-`` + 64 hex: stable per offer term, shared by every agreement from that offer."""
    return "term-" + hashlib.sha256(f"{offer_id}:{term_type}".encode()).hexdigest()


def add_months(moment: datetime, months: int) -> datetime:
    """Calendar month arithmetic, clamping the day to the target month's length."""
    index = moment.month - 1 + months
    year, month = moment.year + index // 12, index % 12 + 1
    day = min(moment.day, calendar.monthrange(year, month)[1])
    return moment.replace(year=year, month=month, day=day)


def day_start(moment: datetime) -> datetime:
    """Midnight UTC of ``moment``'s day."""
    return moment.replace(hour=0, minute=0, second=0, microsecond=0)


def day_end(moment: datetime) -> datetime:
    """23:59:59 UTC of ``moment``'s day."""
    return day_start(moment) + timedelta(days=1, seconds=-1)
