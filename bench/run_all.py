"""Run every ``bench/*_bench.py`` to the end (a failure does not stop the others); one table.

Scripts built on ``benchlib`` get the options given here (``--quick``, ``--check``) and write
their figures to a shared summary file; other scripts run as they are and appear by exit code.
Exits non-zero when any script failed (with ``--check``: when any goal was missed).

    .venv/bin/python bench/run_all.py [--quick] [--check]
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchlib import Figure, load_average, parser, print_table

HERE = Path(__file__).resolve().parent


def main() -> int:
    args = parser(__doc__.splitlines()[0]).parse_args()
    passed_on = [flag for flag, on in (("--quick", args.quick), ("--check", args.check)) if on]
    figures: list[Figure] = []
    failures = 0
    with tempfile.TemporaryDirectory() as folder:
        for script in sorted(HERE.glob("*_bench.py")):
            summary = Path(folder) / f"{script.stem}.jsonl"
            uses_lib = "benchlib" in script.read_text(encoding="utf-8")
            command = [sys.executable, str(script)]
            if uses_lib:
                command += [*passed_on, "--summary", str(summary)]
            print(f"\n######## {script.name} {' '.join(command[2:])}", flush=True)
            started = time.perf_counter()
            code = subprocess.call(command)
            took = time.perf_counter() - started
            if summary.exists():
                lines = summary.read_text(encoding="utf-8").splitlines()
                figures += [Figure(**json.loads(line)) for line in lines]
            status = "exit 0" if code == 0 else f"exit {code}"
            figures.append(Figure(script.stem, "(script)", "runs to the end",
                                  f"{status} in {took:.0f} s", "-", code == 0))  # fmt: skip
            failures += code != 0
    print_table(figures, title=f"make bench summary (load average {load_average()})")
    missed = [f for f in figures if f.passed is False]
    print(f"{len(missed)} of {sum(f.passed is not None for f in figures)} checks failed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
