"""How numbers read on every screen: percentages and the mark for an unknown value.

In the domain because the metrics' own types (``Kpi``) render their values with them; the
display helpers in ``vell_core.views.formatting`` build on these.
"""

from __future__ import annotations

import math
import sys
from decimal import Decimal
from typing import Any

MISSING = "—"


def is_missing(value: Any) -> bool:
    """NaN / NaT / pandas NA, without tripping over strings or Decimals."""
    if isinstance(value, float):
        return math.isnan(value)
    if isinstance(value, Decimal):
        return value.is_nan()
    if value is None:
        return True
    # pandas' NA and NaT exist only once pandas is loaded; importing it here would load it
    # for every number on every screen, including those that never show a frame.
    pandas = sys.modules.get("pandas")
    if pandas is None:
        return False
    try:
        return bool(pandas.isna(value))
    except (TypeError, ValueError):
        return False


def percent(value: float | None, digits: int = 0) -> str:
    """A share as a percentage: ``0.9467`` → ``'95%'`` (``digits`` decimals); dash if unknown."""
    if value is None or is_missing(value):
        return MISSING
    return f"{float(value) * 100:.{digits}f}%"


def signed_percent(value: float | None) -> str:
    """A change as a signed percentage: ``-0.6`` → ``'-60%'``; dash if unknown."""
    if value is None or is_missing(value):
        return MISSING
    return f"{float(value) * 100:+.0f}%"
