"""The docs move with the tree: every path, module and name they cite exists, and the index lists
every doc.

A doc under ``docs/`` may cite ``vell_core`` by path (``vell_core/services/sync/``), by module
(``vell_core.services.sync``) or by a name in a module
(``vell_core.services.sync.service.SyncService``, ``…SyncService.header``). Each is resolved
against the files, and names against the module's ``ast``, without importing anything.
Repository paths under ``pages/``, ``tests/``, ``bench/``, ``policies/`` and ``docs/``, pytest
node ids (``tests/x.py::test_y``) and relative Markdown links (with their heading anchors) are
checked too. ``docs/README.md`` must link every other doc.
"""

from __future__ import annotations

import ast
import re
from functools import cache
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"
INDEX = DOCS / "README.md"

# A path cited in prose or code: stop at whitespace, quotes, brackets and the like.
PATH_RE = re.compile(r"(?<![\w/.-])((?:vell_core|pages|tests|bench|policies|docs)/[\w./-]*)")
DOTTED_RE = re.compile(r"(?<![\w.])vell_core(?:\.[A-Za-z_]\w*)+")
NODE_ID_RE = re.compile(r"(?<![\w/.-])(tests/[\w/.-]+\.py)::(\w+)")
LINK_RE = re.compile(r"\]\(([^)\s]+)\)")


def doc_files() -> list[Path]:
    """Every Markdown doc under docs/."""
    return sorted(DOCS.rglob("*.md"))


def cited_paths(text: str) -> set[str]:
    """Repository paths a text cites (placeholders such as ``<id>`` and globs left out)."""
    found = set()
    for match in PATH_RE.finditer(text):
        path = match.group(1).rstrip(".,;:")
        end = match.end(1)
        if not any(c in path for c in "*") and text[end : end + 1] != "<":
            found.add(path)
    return found


def cited_names(text: str) -> set[str]:
    """Dotted ``vell_core`` names a text cites."""
    return {match.group(0) for match in DOTTED_RE.finditer(text)}


@cache
def _tree(path: Path) -> ast.Module:
    return ast.parse(path.read_text(encoding="utf-8"))


def _names_in(body: list[ast.stmt]) -> set[str]:
    """Names a module or class body defines (defs, classes, assignments, imports, __all__)."""
    names: set[str] = set()
    for node in body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            names.add(node.name)
        elif isinstance(node, ast.Assign):
            for target in node.targets:
                names |= {n.id for n in ast.walk(target) if isinstance(n, ast.Name)}
            if any(isinstance(t, ast.Name) and t.id == "__all__" for t in node.targets):
                names |= {e.value for e in getattr(node.value, "elts", []) if _is_str(e)}
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            names.add(node.target.id)
        elif isinstance(node, ast.Import | ast.ImportFrom):
            names |= {(a.asname or a.name).split(".")[0] for a in node.names}
        elif isinstance(node, ast.If | ast.Try):
            names |= _names_in(node.body + getattr(node, "orelse", []))
    return names


def _is_str(node: ast.expr) -> bool:
    return isinstance(node, ast.Constant) and isinstance(node.value, str)


def _module_file(parts: list[str]) -> Path | None:
    """The file of module ``a.b.c`` (a module file, or a package's ``__init__.py``)."""
    base = ROOT.joinpath(*parts)
    if base.with_suffix(".py").is_file():
        return base.with_suffix(".py")
    if (base / "__init__.py").is_file():
        return base / "__init__.py"
    return None


def _class_body(tree: ast.Module, name: str) -> list[ast.stmt] | None:
    for node in tree.body:
        if isinstance(node, ast.ClassDef) and node.name == name:
            return node.body
    return None


def resolve(dotted: str) -> str | None:
    """None when ``dotted`` names a module or a name in one; else what is missing."""
    parts = dotted.split(".")
    for cut in range(len(parts), 0, -1):
        module = _module_file(parts[:cut])
        if module is None:
            continue
        rest = parts[cut:]
        if not rest:
            return None
        tree = _tree(module)
        if rest[0] not in _names_in(tree.body):
            return f"{'.'.join(parts[:cut])} has no {rest[0]!r}"
        body = _class_body(tree, rest[0])
        if len(rest) > 1 and body is not None and rest[1] not in _names_in(body):
            return f"{'.'.join(parts[: cut + 1])} has no {rest[1]!r}"
        return None  # deeper than a class member: not checked
    return "no such module"


def problems_in(text: str, where: Path) -> list[str]:
    """Everything ``text`` (the doc at ``where``) cites that does not exist."""
    out = []
    for path in sorted(cited_paths(text)):
        if not (ROOT / path).exists():
            out.append(f"path {path}: does not exist")
    for name in sorted(cited_names(text)):
        missing = resolve(name)
        if missing is not None:
            out.append(f"name {name}: {missing}")
    for file, test in sorted(set(NODE_ID_RE.findall(text))):
        if (ROOT / file).is_file() and test not in _names_in(_tree(ROOT / file).body):
            out.append(f"test {file}::{test}: no such test")
    for target in sorted(set(LINK_RE.findall(text))):
        if re.match(r"^[a-z]+:", target):
            continue  # a URL
        file, _, anchor = target.partition("#")
        linked = where.parent / file if file else where
        if not linked.exists():
            out.append(f"link {target}: no such file")
        elif anchor and linked.suffix == ".md" and anchor not in anchors(linked.read_text()):
            out.append(f"link {target}: no such heading")
    return out


def anchors(markdown: str) -> set[str]:
    """The heading anchors GitHub gives a Markdown page (lower case, punctuation dropped)."""
    headings = re.findall(r"^#+\s+(.+?)\s*$", re.sub(r"```.*?```", "", markdown, flags=re.S), re.M)
    return {re.sub(r"[^\w\- ]", "", h.lower()).replace(" ", "-") for h in headings}


def test_there_are_docs() -> None:
    """The checks below would pass vacuously on an empty folder."""
    assert INDEX.is_file()
    assert len(doc_files()) > 5


@pytest.mark.parametrize("doc", doc_files(), ids=lambda p: str(p.relative_to(DOCS)))
def test_every_cited_path_module_and_name_exists(doc: Path) -> None:
    """A moved or renamed module fails here until the doc that cites it is updated."""
    assert problems_in(doc.read_text(encoding="utf-8"), doc) == []


def test_the_index_lists_every_doc() -> None:
    """docs/README.md links every doc under docs/, decision records included."""
    linked = {
        (INDEX.parent / target.split("#")[0]).resolve()
        for target in LINK_RE.findall(INDEX.read_text(encoding="utf-8"))
    }
    unlisted = [str(p.relative_to(DOCS)) for p in doc_files() if p != INDEX and p not in linked]
    assert unlisted == []


def test_the_checker_catches_what_does_not_exist() -> None:
    """Each kind of citation is really checked: a wrong one is reported, a right one is not."""
    text = (
        "See `vell_core/services/sync/`, `vell_core.services.sync.service.SyncService.header`,\n"
        "`vell_core.app.build_services`, `vell_core.sandbox` and [ops](operations.md).\n"
        "Wrong: `vell_core/services/nope.py`, `vell_core.app.nope`,\n"
        "`vell_core.app.build_servicez`, `vell_core.services.sync.service.SyncService.headr`,\n"
        "`tests/architecture/test_layers.py::test_nope`, `pages/nope.py`, [x](nope.md),\n"
        "[y](operations.md#benchmarks), [z](operations.md#no-such-heading).\n"
    )
    assert problems_in(text, DOCS / "architecture.md") == [
        "path pages/nope.py: does not exist",
        "path vell_core/services/nope.py: does not exist",
        "name vell_core.app.build_servicez: vell_core.app has no 'build_servicez'",
        "name vell_core.app.nope: vell_core.app has no 'nope'",
        "name vell_core.services.sync.service.SyncService.headr: "
        "vell_core.services.sync.service.SyncService has no 'headr'",
        "test tests/architecture/test_layers.py::test_nope: no such test",
        "link nope.md: no such file",
        "link operations.md#no-such-heading: no such heading",
    ]
