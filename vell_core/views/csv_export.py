"""The one way to build a CSV download: no cell reaches a spreadsheet as a formula.

Company names, ticket subjects and product titles are customer-controlled, so a cell such as
``=HYPERLINK("https://evil.example","Click")`` would run when the file is opened in Excel,
LibreOffice or Google Sheets (CSV injection). Following OWASP's advice, every text cell that
starts with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return — also after leading spaces or
invisible characters, which spreadsheets skip — gets a leading ``'`` so it is shown as text,
and the csv module quotes the cell. Numbers stay numbers (``-5`` written from an ``int`` is not
touched). Every ``st.download_button`` of CSV data goes through :func:`records_csv` or
:func:`frame_csv`; a test checks that pages and services build CSV nowhere else.
"""

from __future__ import annotations

import csv
import functools
import io
import unicodedata
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # loaded where a frame is built: `vell run` starts without pandas
    import pandas as pd

FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
# Full-width forms some spreadsheets normalise to their ASCII counterparts.
_FULL_WIDTH_PREFIXES = ("\uff1d", "\uff0b", "\uff0d", "\uff20")


def _first_visible(value: str) -> str:
    """The value from its first character a spreadsheet would not skip."""
    for index, char in enumerate(value):
        if char in "\t\r":
            return value[index:]
        if char.isspace() or unicodedata.category(char) in ("Cf", "Cc"):
            continue
        return value[index:]
    return ""


def is_formula(value: str) -> bool:
    """True when a spreadsheet could read ``value`` as a formula."""
    if value.startswith(FORMULA_PREFIXES):
        return True
    visible = _first_visible(value)
    return visible.startswith(FORMULA_PREFIXES + _FULL_WIDTH_PREFIXES)


def safe_cell(value: Any) -> Any:
    """``value`` with a leading ``'`` when it is text a spreadsheet would run as a formula."""
    if isinstance(value, str) and is_formula(value):
        return "'" + value
    return value


def records_csv(
    records: Iterable[Mapping[str, Any]], fieldnames: Sequence[str] | None = None
) -> bytes:
    """UTF-8 CSV of flat records (header from ``fieldnames`` or the first record)."""
    rows = list(records)
    names = list(fieldnames) if fieldnames is not None else (list(rows[0]) if rows else [])
    if not names:
        return b""
    buffer = io.StringIO()
    writer = csv.writer(buffer, quoting=csv.QUOTE_MINIMAL)
    writer.writerow([safe_cell(str(name)) for name in names])
    for row in rows:
        writer.writerow([safe_cell(row.get(name, "")) for name in names])
    return buffer.getvalue().encode("utf-8")


def frame_csv(frame: pd.DataFrame) -> bytes:
    """UTF-8 CSV of a DataFrame exactly as shown (no index), formulas neutralised."""
    safe = frame.map(safe_cell).rename(columns=lambda name: safe_cell(str(name)))
    buffer = io.StringIO()
    # CRLF, as RFC 4180 says: pandas' default "\n" would leave a cell's bare "\r" unquoted,
    # and a spreadsheet would split the row there.
    safe.to_csv(buffer, index=False, lineterminator="\r\n")
    return buffer.getvalue().encode("utf-8")


def frame_csv_later(frame: pd.DataFrame) -> Callable[[], bytes]:
    """:func:`frame_csv` of ``frame``, built only when the download is clicked.

    ``st.download_button`` accepts a callable and runs it on click, so a page with many CSV
    downloads does not build every file on every rerun (issue 13: on the Leadership page that
    was the largest part of a rerun). ``frame`` is captured now, as the page shows it. Pages
    pass ``on_click="ignore"`` too: a download changes nothing on the page, and the rerun it
    caused by default raced the browser's fetch of the deferred file under load.
    """
    return functools.partial(frame_csv, frame)
