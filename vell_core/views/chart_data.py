"""Chart and table data in Arrow form, built once, instead of converted on every rerun.

``st.vega_lite_chart`` turns every dataset of a spec into Arrow IPC bytes each time it draws,
through pandas: on the Leadership page that was most of a cached rerun (issue 13). A dataset
that already *is* bytes is passed through untouched, so charts whose specs are built once
(and cached) carry their datasets as bytes. The serialisation is the one Streamlit itself
uses (an Arrow table, written as an IPC stream).
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd
import pyarrow as pa


def _table(values: Sequence[Mapping[str, Any]] | pd.DataFrame) -> pa.Table:
    if isinstance(values, pd.DataFrame):
        return pa.Table.from_pandas(values, preserve_index=False)
    rows = list(values)
    try:
        return pa.Table.from_pylist(rows)  # plain rows: no pandas round trip
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        # Mixed types in one column: let pandas settle them, as Streamlit would.
        return pa.Table.from_pandas(pd.DataFrame(rows), preserve_index=False)


def arrow_ipc(values: Sequence[Mapping[str, Any]] | pd.DataFrame) -> bytes:
    """Rows (or a frame) as the Arrow IPC stream a Vega-Lite chart's dataset is sent as."""
    table = _table(values)
    sink = pa.BufferOutputStream()
    with pa.RecordBatchStreamWriter(sink, table.schema) as writer:
        writer.write_table(table)
    return sink.getvalue().to_pybytes()


def with_arrow_datasets(spec: Mapping[str, Any]) -> dict[str, Any]:
    """A copy of a Vega-Lite spec whose named datasets are Arrow IPC bytes."""
    out = copy.copy(dict(spec))
    datasets = out.get("datasets")
    if datasets:
        out["datasets"] = {
            name: rows if isinstance(rows, bytes) else arrow_ipc(rows)
            for name, rows in datasets.items()
        }
    return out


def text_table(shown: pd.DataFrame) -> pa.Table:
    """A table of display text (``formatting.display_frame``) as an Arrow table.

    ``st.dataframe`` converts a pandas frame to Arrow on every rerun (a few milliseconds per
    table, a dozen tables on the live demo); an Arrow table of strings goes out as it is.
    """
    return pa.Table.from_pydict(
        {str(column): [str(value) for value in shown[column].tolist()] for column in shown.columns}
    )
