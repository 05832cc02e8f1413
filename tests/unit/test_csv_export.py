"""CSV downloads never carry a formula (issue 15 item 3), and all of them use one helper."""

from __future__ import annotations

import ast
import csv
import io
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.hostile import FORMULAS, hostile_text
from vell_core.config.settings import PROJECT_ROOT
from vell_core.services.audit_query import AuditRow
from vell_core.services.audit_query import to_csv as audit_csv
from vell_core.views.csv_export import FORMULA_PREFIXES, frame_csv, is_formula, records_csv

SPREADSHEET_SKIPS = " \u00a0\u200b\ufeff\u200e\u200f\u202e"


def cells(data: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(data.decode("utf-8"), newline="")))


def runs_as_formula(cell: str) -> bool:
    """What a spreadsheet would do: skip blanks and invisible marks, then look at the start."""
    return cell.lstrip(SPREADSHEET_SKIPS).startswith(FORMULA_PREFIXES) or cell.startswith(
        FORMULA_PREFIXES
    )


@pytest.mark.parametrize("value", [*FORMULAS, " =1+1", "\u200b=1", "\uff1dSUM(A1)"])
def test_formula_cells_are_neutralised(value: str) -> None:
    [header, row] = cells(records_csv([{"Company": value, "n": -5}]))
    assert header == ["Company", "n"]
    assert row == ["'" + value, "-5"]  # numbers stay numbers


def test_a_frame_is_exported_with_its_columns_and_formulas_neutralised() -> None:
    frame = pd.DataFrame([{"Title": '=HYPERLINK("https://evil.example")', "Price": -1.5}])
    assert cells(frame_csv(frame)) == [
        ["Title", "Price"],
        ['\'=HYPERLINK("https://evil.example")', "-1.5"],
    ]


def test_the_audit_export_uses_the_same_rule() -> None:
    from datetime import UTC, datetime

    row = AuditRow(
        at=datetime(2026, 1, 1, tzinfo=UTC),
        kind="audit",
        staff="=cmd",
        staff_user_id=None,
        customer_account_id=None,
        company=" @SUM(A1)",
        action="x",
        outcome="ok",
        detail="\u200b=1",
        delegation_id=None,
        aws_request_id=None,
    )
    exported = cells(audit_csv([row]).encode())
    assert not any(runs_as_formula(cell) for cell in exported[1])


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(hostile_text(), hostile_text()), min_size=1, max_size=5))
def test_no_export_cell_can_run_as_a_formula(pairs: list[tuple[str, str]]) -> None:
    records = [{"Company": a, "Subject": b} for a, b in pairs]
    frame = pd.DataFrame(records)
    for data in (records_csv(records), frame_csv(frame)):
        parsed = cells(data)
        assert parsed[0] == ["Company", "Subject"]
        assert len(parsed) == len(records) + 1
        for original, row in zip(records, parsed[1:], strict=True):
            for value, cell in zip(original.values(), row, strict=True):
                assert not runs_as_formula(cell)
                # either unchanged or prefixed with one quote (after csv's own \r\n handling)
                expected = "'" + value if is_formula(value) else value
                assert cell == expected.replace("\r\n", "\n") or cell == expected


# --- one helper for every download -----------------------------------------------------------

CSV_BUILDERS = ("to_csv", "writer", "DictWriter")


def _sources() -> list[Path]:
    roots = [PROJECT_ROOT / "pages", PROJECT_ROOT / "vell_core"]
    files = [path for root in roots for path in root.rglob("*.py")]
    return [*files, PROJECT_ROOT / "Home.py"]


def test_csv_is_built_only_by_the_export_helper() -> None:
    offenders = []
    for path in _sources():
        if path.name == "csv_export.py":
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr in CSV_BUILDERS
                and not (isinstance(node.func.value, ast.Name) and node.func.value.id == "st")
            ):
                offenders.append(f"{path.relative_to(PROJECT_ROOT)}:{node.lineno}")
    assert offenders == []


ALLOWED_DOWNLOAD_DATA = {"records_csv", "frame_csv", "frame_csv_later", "to_csv", "TEMPLATE_CSV"}


def test_every_csv_download_button_goes_through_the_helper() -> None:
    """Each ``st.download_button(..., "text/csv")`` gets its data from the helper (the audit
    export's ``to_csv`` calls it too; the tickets template is a constant of ours)."""
    found = 0
    for path in (PROJECT_ROOT / "pages").glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr == "download_button"
            ):
                continue
            mimes = [a.value for a in node.args if isinstance(a, ast.Constant)]
            if "text/csv" not in mimes:
                continue
            found += 1
            data = node.args[1]
            name = data.func if isinstance(data, ast.Call) else data
            label = name.id if isinstance(name, ast.Name) else getattr(name, "attr", "")
            assert label in ALLOWED_DOWNLOAD_DATA, f"{path.name}:{node.lineno}"
    assert found >= 6
