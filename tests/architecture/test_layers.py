"""The folder tree is the architecture: each layer imports only the layers beneath it.

Reads every module's imports (top-level and inside functions) with ``ast``, so a layering
break or an import cycle fails here before anyone has to find it by reading.
"""

from __future__ import annotations

import ast
import re
from functools import cache
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "vell_core"

# layer -> the layers it may import (besides itself)
ALLOWED: dict[str, set[str]] = {
    "domain": set(),
    "config": {"domain"},
    "views": {"domain", "config"},
    "store": {"domain", "config"},
    "aws": {"domain", "config", "store"},
    "services": {"domain", "config", "views", "store", "aws"},
    "sandbox": {"domain", "config"},
    "ui": {"domain", "config", "views", "services", "app"},
    "app": {"domain", "config", "views", "store", "aws", "services", "sandbox"},
    "cli": {"domain", "config", "store", "services", "app", "sandbox", "ui"},
    "__init__": {"app", "config", "domain"},
}
# module -> modules it may import across the rules above, each with its reason
EXCEPTIONS: dict[str, set[str]] = {
    # `python -m vell_core.sandbox` is exactly `vell sandbox`: one entry point, two spellings
    "vell_core.sandbox.__main__": {"vell_core.cli"},
}


def module_name(path: Path) -> str:
    """``vell_core/services/sync.py`` -> ``vell_core.services.sync``."""
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def layer_of(module: str) -> str:
    """The layer a ``vell_core`` module belongs to (its first package under vell_core)."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


@cache
def modules() -> dict[str, Path]:
    """Every module of the package, migrations excluded (Alembic owns their imports)."""
    found = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        if "migrations" not in path.parts:
            found[module_name(path)] = path
    return found


def imports_of(path: Path, *, top_level_only: bool = False) -> set[str]:
    """The ``vell_core`` modules that ``path`` imports (``from vell_core.x import y`` -> both)."""
    tree = ast.parse(path.read_text())
    nodes = tree.body if top_level_only else list(ast.walk(tree))
    known = modules()
    out: set[str] = set()
    for node in nodes:
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module.startswith("vell_core"):
                submodules = {f"{node.module}.{a.name}" for a in node.names} & known.keys()
                # `from pkg import submodule` depends on the submodule, not on pkg's __init__
                out |= submodules
                if len(submodules) < len(node.names):
                    out.add(node.module)
        elif isinstance(node, ast.Import):
            out |= {a.name for a in node.names if a.name.startswith("vell_core")}
    return {m for m in out if m in known and m != "vell_core"}


def test_every_layer_imports_only_the_layers_beneath_it() -> None:
    """domain < config < views/store < aws < services < ui/app; the sandbox stands apart."""
    breaks = []
    for name, path in modules().items():
        layer = layer_of(name)
        allowed = ALLOWED[layer] | {layer}
        for target in sorted(imports_of(path)):
            if layer_of(target) not in allowed and target not in EXCEPTIONS.get(name, ()):
                breaks.append(f"{name} -> {target}")
    assert breaks == []


# Who may speak SQL: the store, the models it maps (SQLModel tables) and the composition root
# that builds the engine.
SQL_LAYERS = {"store", "domain", "app"}
SQL_PACKAGES = ("sqlalchemy", "sqlmodel")


def third_party_imports_of(path: Path) -> set[str]:
    """The top-level packages ``path`` imports from (anywhere in the file)."""
    out: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            out.add(node.module.split(".")[0])
        elif isinstance(node, ast.Import):
            out |= {alias.name.split(".")[0] for alias in node.names}
    return out


def test_sql_lives_only_in_the_store() -> None:
    """Services, views, the AWS layer and the UI speak to store repositories, never SQL."""
    speaking_sql = [
        name
        for name, path in modules().items()
        if layer_of(name) not in SQL_LAYERS and third_party_imports_of(path) & set(SQL_PACKAGES)
    ]
    pages = Path(__file__).resolve().parents[2] / "pages"
    speaking_sql += [
        str(page.name)
        for page in sorted([*pages.glob("*.py"), pages.parent / "Home.py"])
        if third_party_imports_of(page) & set(SQL_PACKAGES)
    ]
    assert speaking_sql == []


def test_there_are_no_import_cycles() -> None:
    """Module-level imports form a DAG (a cycle means two modules are one concern)."""
    graph = {name: imports_of(path, top_level_only=True) for name, path in modules().items()}
    cycles = []
    state: dict[str, int] = {}

    def visit(node: str, trail: list[str]) -> None:
        state[node] = 1
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                cycles.append(" -> ".join([*trail[trail.index(nxt) :], nxt]))
            elif nxt not in state:
                visit(nxt, [*trail, nxt])
        state[node] = 2

    for start in sorted(graph):
        if start not in state:
            visit(start, [start])
    assert cycles == []


def test_no_flat_modules_beside_the_layers() -> None:
    """New code goes into a layer; only the package marker, the root and the CLI sit on top."""
    flat = sorted(p.name for p in PACKAGE.glob("*.py"))
    assert flat == ["__init__.py", "app.py", "cli.py"]


@pytest.mark.parametrize("layer", sorted(set(ALLOWED) - {"__init__", "app", "cli"}))
def test_each_layer_is_a_package_with_a_docstring(layer: str) -> None:
    """A newcomer reads what a layer is for in its ``__init__``."""
    init = PACKAGE / layer / "__init__.py"
    assert ast.get_docstring(ast.parse(init.read_text())), f"{layer}/__init__.py needs a docstring"


def test_every_type_ignore_names_its_code_and_reason() -> None:
    """mypy runs in ``make test``; an ignore says which error and why it is right here."""
    bare = []
    for path in PACKAGE.rglob("*.py"):
        for number, line in enumerate(path.read_text().splitlines(), 1):
            if "type: ignore" in line and not re.search(r"type: ignore\[[a-z-]+\]  # \S", line):
                bare.append(f"{path.relative_to(PACKAGE.parent)}:{number}")
    assert bare == []
