"""The one way pages draw a table: figures right-aligned, nothing pushed off the page.

Every table of display text goes through :func:`show_table`: columns that hold only figures
are right-aligned so they line up, and when the columns on screen would be wider than the page
the widest free-text ones are narrowed (``views.table_layout``) instead of the grid scrolling
sideways. ``on_screen`` picks the columns a person reads; the rest stay in the frame, so the
CSV and a selected row keep them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd
import streamlit as st

from vell_core.views.chart_data import text_table
from vell_core.views.formatting import MISSING, numeric_columns
from vell_core.views.table_layout import PAGE_BUDGET_PX, fitted_widths

RIGHT = st.column_config.TextColumn(alignment="right")  # figures line up
SELECTOR_PX = 40  # the checkbox column of a grid whose rows can be selected


def table_config(
    shown: pd.DataFrame,
    on_screen: Sequence[str] | None = None,
    columns: Mapping[str, Any] | None = None,
    budget: int = PAGE_BUDGET_PX,
) -> dict[str, Any]:
    """The grid's column settings: right-aligned figures, fitted widths, then ``columns``."""
    config: dict[str, Any] = dict.fromkeys(numeric_columns(shown), RIGHT)
    fixed = {
        name: extra["width"]
        for name, extra in (columns or {}).items()
        if isinstance(extra.get("width"), int)
    }
    for name, width in fitted_widths(shown, on_screen, budget, fixed).items():
        config[name] = {**config.get(name, {}), "width": width}
    for name, extra in (columns or {}).items():
        config[name] = {**config.get(name, {}), **extra}
    return config


def show_table(
    shown: pd.DataFrame | Sequence[Mapping[str, Any]],
    *,
    key: str | None = None,
    on_screen: Sequence[str] | None = None,
    columns: Mapping[str, Any] | None = None,
    as_text: bool = False,
    **grid: Any,
) -> Any:
    """Draw ``shown`` (rows of plain values, or a frame of display text with ``as_text``) as a
    grid.

    ``grid`` passes through to ``st.dataframe`` (row selection, say); its return value is
    ``st.dataframe``'s.
    """
    shown = shown if isinstance(shown, pd.DataFrame) else pd.DataFrame(list(shown))
    budget = PAGE_BUDGET_PX - (SELECTOR_PX if grid.get("selection_mode") else 0)
    return st.dataframe(
        text_table(shown) if as_text else shown,
        hide_index=True,
        width="stretch",
        key=key,
        placeholder=MISSING,
        column_order=list(on_screen) if on_screen is not None else None,
        column_config=table_config(shown, on_screen, columns, budget),
        **grid,
    )
