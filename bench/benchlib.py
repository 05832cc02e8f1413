"""The benchmarks' shared goal table: goal, measured, ratio, PASS/FAIL for every figure.

Each benchmark builds a :class:`Report`, adds figures (a bound, an absolute limit, a speed-up,
a ratio to another engine, an equality check, or plain information) and ends with
``sys.exit(report.finish())``. Common options (:func:`parser`):

* ``--check``: exit non-zero when any goal is missed (equality checks always count);
* ``--quick``: the benchmark's small sizes, so a run stays under three minutes here;
* ``--summary FILE``: append the figures as JSON lines (``bench/run_all.py`` collects them
  into one table for ``make bench``).
"""

from __future__ import annotations

import argparse
import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path


@dataclass(frozen=True)
class Figure:
    """One row of the table. ``passed`` is None for information-only rows."""

    bench: str
    name: str
    goal: str
    measured: str
    ratio: str
    passed: bool | None

    @property
    def result(self) -> str:
        """PASS, FAIL or info."""
        return "info" if self.passed is None else ("PASS" if self.passed else "FAIL")


def parser(description: str) -> argparse.ArgumentParser:
    """An argument parser with the options every benchmark takes."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--check", action="store_true", help="exit 1 when a goal is missed")
    parser.add_argument("--quick", action="store_true", help="small sizes (< 3 min)")
    parser.add_argument("--summary", type=Path, help="append figures as JSON lines here")
    return parser


def load_average() -> str:
    """``uptime``'s three load averages (the machine is shared; figures depend on it)."""
    one, five, fifteen = os.getloadavg()
    return f"{one:.2f} {five:.2f} {fifteen:.2f} on {os.cpu_count()} CPUs"


class Report:
    """Collects figures for one benchmark and prints them as one table."""

    def __init__(self, bench: str, args: argparse.Namespace) -> None:
        self.bench = bench
        self.check = bool(getattr(args, "check", False))
        self.summary: Path | None = getattr(args, "summary", None)
        self.figures: list[Figure] = []

    def _add(self, name: str, goal: str, measured: str, ratio: str, passed: bool | None) -> bool:
        figure = Figure(self.bench, name, goal, measured, ratio, passed)
        self.figures.append(figure)
        print(f"  {figure.result:4}  {name}: {measured} (goal {goal}; ratio {ratio})", flush=True)
        return bool(passed) if passed is not None else True

    def bound(self, name: str, measured: float, bound: float, max_ratio: float) -> bool:
        """Seconds against a lower bound: PASS when measured ≤ max_ratio × bound."""
        ratio = measured / bound if bound > 0 else float("inf")
        goal = f"≤ {max_ratio:g}× bound {_s(bound)}"
        return self._add(name, goal, _s(measured), f"{ratio:.2f}× bound", ratio <= max_ratio)

    def under(self, name: str, measured: float, limit: float) -> bool:
        """Seconds against an absolute limit."""
        ratio = measured / limit
        return self._add(name, f"≤ {_s(limit)}", _s(measured), f"{ratio:.2f}× limit", ratio <= 1)

    def faster(
        self, name: str, ours: float, baseline: float, min_speedup: float, baseline_name: str
    ) -> bool:
        """A speed-up over a baseline: PASS when baseline ÷ ours ≥ min_speedup."""
        speedup = baseline / ours if ours > 0 else float("inf")
        return self._add(
            name,
            f"≥ {min_speedup:g}× faster than {baseline_name}",
            f"{_s(ours)} vs {_s(baseline)}",
            f"{speedup:.1f}× faster",
            speedup >= min_speedup,
        )

    def within(
        self, name: str, ours: float, other: float, max_ratio: float, other_name: str
    ) -> bool:
        """Ours against another engine: PASS when ours ÷ other ≤ max_ratio."""
        ratio = ours / other if other > 0 else float("inf")
        return self._add(
            name,
            f"≤ {max_ratio:g}× {other_name}",
            f"{_s(ours)} vs {_s(other)}",
            f"{ratio:.2f}× {other_name}",
            ratio <= max_ratio,
        )

    def same(self, name: str, differences: list[str]) -> bool:
        """An output comparison: PASS when there are no differences."""
        measured = "identical" if not differences else "DIFFERS: " + "; ".join(differences[:5])
        return self._add(name, "same result", measured, "-", not differences)

    def holds(self, name: str, ok: bool, failure: str) -> bool:
        """A property that must hold (PASS/FAIL); ``failure`` says what went wrong."""
        return self._add(name, "holds", "yes" if ok else failure, "-", ok)

    def info(self, name: str, measured: str, ratio: str = "-") -> None:
        """A figure without a goal (a baseline, a cost, a comparison)."""
        self._add(name, "-", measured, ratio, None)

    def failed(self) -> list[Figure]:
        """Figures that missed their goal."""
        return [f for f in self.figures if f.passed is False]

    def finish(self) -> int:
        """Print the table, write the summary; the exit code (1 if --check and a goal missed)."""
        print_table(self.figures, title=f"{self.bench} (load average {load_average()})")
        if self.summary is not None:
            with self.summary.open("a", encoding="utf-8") as out:
                for figure in self.figures:
                    out.write(json.dumps(asdict(figure)) + "\n")
        missed = self.failed()
        if missed:
            print(f"{len(missed)} goal(s) missed: " + ", ".join(f.name for f in missed))
        return 1 if missed and self.check else 0


def print_table(figures: list[Figure], *, title: str) -> None:
    """Aligned table: figure | goal | measured | ratio | result."""
    header = ("figure", "goal", "measured", "ratio", "result")
    rows = [header] + [(f.name, f.goal, f.measured, f.ratio, f.result) for f in figures]
    widths = [min(60, max(len(row[i]) for row in rows)) for i in range(len(header))]
    print(f"\n{title}")
    for index, row in enumerate(rows):
        print(
            "  "
            + "  ".join(cell[:60].ljust(width) for cell, width in zip(row, widths, strict=True))
        )
        if index == 0:
            print("  " + "  ".join("-" * width for width in widths))


def _s(seconds: float) -> str:
    if seconds < 1:
        return f"{seconds * 1000:.0f} ms"
    return f"{seconds:.2f} s"
