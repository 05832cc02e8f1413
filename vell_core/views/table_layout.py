"""Column widths that keep a table inside the page (issue 13: grids scrolled sideways).

Streamlit's grid sizes each column to its longest text (up to 500 px) and scrolls sideways when
they add up to more than the frame: the reader then misses whatever comes last. These pure
functions estimate each column's natural width from its text and, when the sum is over the
budget, squeeze the widest columns first (a "water level" shared by every column above it), so
short columns — dates, amounts, statuses — keep their whole text and long free text (a
75-character offer name, a role ARN) is cut with "…" in the grid while the CSV and the detail
below keep it whole.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import pandas as pd

# The main column of a wide page at 1280 px is 818 px wide (measured in Chromium); a little is
# left for the grid's border and row markers.
PAGE_BUDGET_PX = 800
# Average advance of the grid's 14 px sans-serif font (measured: about 6.2 px for names and
# dates; a little more for safety), and a cell's padding on both sides.
CHAR_PX = 6.6
PADDING_PX = 20
# Streamlit's own ceiling for an auto-sized column; nothing is estimated wider.
MAX_AUTO_PX = 500
# A squeezed column still shows a word or two.
MIN_PX = 72


def natural_width(header: str, values: Sequence[object] | pd.Series) -> int:
    """The pixels a column's header and longest value need."""
    texts = pd.Series(values, dtype=object).astype(str)  # vectorised: tables of 3,000 rows
    longest = max(len(str(header)), int(texts.str.len().max()) if len(texts) else 0)
    return min(MAX_AUTO_PX, round(longest * CHAR_PX + PADDING_PX))


def water_level(naturals: Sequence[int], budget: int) -> int:
    """The widest any column may be so that all of them add up to at most ``budget``."""
    level = max(naturals, default=0)
    ordered = sorted(naturals)
    for index, width in enumerate(ordered):
        remaining = len(ordered) - index
        fair = (budget - sum(ordered[:index])) // remaining
        if width > fair:
            level = fair
            break
    return max(MIN_PX, level)


def fitted_widths(
    shown: pd.DataFrame,
    columns: Sequence[str] | None = None,
    budget: int = PAGE_BUDGET_PX,
    fixed: Mapping[str, int] | None = None,
) -> dict[str, int]:
    """Pixel widths for the columns on screen; empty when they already fit (the grid decides).

    ``fixed`` columns keep the width the caller gave them; the others share what is left.
    """
    fixed = fixed or {}
    budget -= sum(fixed.get(str(c), 0) for c in (columns or shown.columns))
    names = [str(c) for c in (columns if columns is not None else shown.columns) if c not in fixed]
    naturals = {name: natural_width(name, shown[name]) for name in names}
    if sum(naturals.values()) <= budget:
        return {}
    level = water_level(list(naturals.values()), budget)
    return {name: min(width, level) for name, width in naturals.items()}
