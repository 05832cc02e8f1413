"""The live demo's small bar charts as plain Vega-Lite specs (frames in, dicts out).

Written as dicts rather than Altair objects, their rows already Arrow bytes: the live demo
redraws on every click and sync step, and building and validating Altair charts (then
converting their data through pandas) was a visible share of that rerun. Counts get
whole-number axes (never "0.2 of an offer"); categories keep the order they are given in
(renewal buckets read ≤30, 31–60, 61–90 days), unless asked to sort by size.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import Any

import pandas as pd

from vell_core.views.chart_data import arrow_ipc

SCHEMA = "https://vega.github.io/schema/vega-lite/v6.json"
BAR_COLOR = "#4c78a8"
DATASET = "bars"


def _plain(value: Any) -> Any:
    """A JSON-safe value (Decimals as floats, missing as None)."""
    if isinstance(value, Decimal):
        return float(value)
    if value is None or (isinstance(value, float) and pd.isna(value)):
        return None
    if hasattr(value, "item"):  # numpy scalars
        return value.item()
    return value


def _values(frame: pd.DataFrame, columns: Sequence[str]) -> list[dict[str, Any]]:
    lists = {column: frame[column].tolist() for column in columns}
    return [
        {column: _plain(lists[column][index]) for column in columns} for index in range(len(frame))
    ]


def bar_spec(
    frame: pd.DataFrame,
    *,
    value: str,
    category: str,
    title: str,
    color: str | None = None,
    money: bool = False,
    order: Sequence[str] | None = None,
) -> dict[str, Any] | None:
    """Horizontal bars of ``value`` per ``category`` (stacked by ``color`` when given).

    A count axis shows whole numbers only; a ``money`` axis shows dollars. Categories follow
    ``order`` when given, otherwise the largest bar comes first. None for an empty frame.
    """
    if frame.empty:
        return None
    columns = [category, value] + ([color] if color else [])
    axis: dict[str, Any] = {"format": "$,.0f"} if money else {"format": "d", "tickMinStep": 1}
    encoding: dict[str, Any] = {
        "x": {"field": value, "type": "quantitative", "title": value, "axis": axis},
        "y": {
            "field": category,
            "type": "nominal",
            "title": None,
            "sort": list(order) if order is not None else "-x",
            "axis": {"labelLimit": 260},
        },
        "tooltip": [
            {"field": category, "type": "nominal"},
            {
                "field": value,
                "type": "quantitative",
                "format": "$,.2f" if money else "d",
            },
        ],
    }
    if color:
        encoding["color"] = {"field": color, "type": "nominal", "title": color}
        encoding["tooltip"].append({"field": color, "type": "nominal"})
    return {
        "$schema": SCHEMA,
        "title": title,
        # A named dataset already in Arrow bytes: st.vega_lite_chart sends it as it is.
        "data": {"name": DATASET},
        "datasets": {DATASET: arrow_ipc(_values(frame, columns))},
        "mark": {"type": "bar", **({} if color else {"color": BAR_COLOR})},
        "encoding": encoding,
    }
