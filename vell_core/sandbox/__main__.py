"""``python -m vell_core.sandbox``: exactly ``vell sandbox`` (same options, same APIs)."""

from __future__ import annotations

import typer

from vell_core.cli import sandbox

if __name__ == "__main__":
    typer.run(sandbox)
