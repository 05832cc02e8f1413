"""Shared fixtures: fake AWS credentials, stores and service graphs (one home for each).

Stores come from templates built once per run: the schema is migrated once, and a seeded copy
is seeded once; each test gets its own copy of the file (a copy is ~1 ms, a migration ~0.2 s
and a seed ~1.5 s). PostgreSQL tests get a fresh schema (PostgreSQL cannot copy a schema).
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.engine import Engine

from vell_core.app import Services, build_services
from vell_core.config.settings import load_settings
from vell_core.services import seed
from vell_core.store import migrate
from vell_core.store.engine import make_engine
from vell_core.store.seed import SeedStore

PG_ENV = "VELL_TEST_DATABASE_URL"
# Suites in the order their files are handed to the xdist workers: the slowest files first, so
# that no worker is left running one long file alone at the end (xdist's default order, most
# tests per file first, put the browser files, 1-6 tests of 15-60 s each, last).
SUITE_ORDER = ("e2e", "integration", "sandbox", "app", "sandbox_marketplace", "unit")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Run the suites in ``SUITE_ORDER`` (any other folder after them), each file's own order
    kept (a stable sort). ``make test`` passes ``--no-loadscope-reorder`` so xdist keeps it."""

    tests_root = Path(__file__).parent

    def suite_rank(item: pytest.Item) -> int:
        suite = item.path.relative_to(tests_root).parts[0]  # a file name for tests/test_*.py
        return SUITE_ORDER.index(suite) if suite in SUITE_ORDER else len(SUITE_ORDER)

    items.sort(key=suite_rank)


def private_channel() -> dict[str, str]:
    """A topic and queue of its own: moto's backends are process-global, so two sandboxes in
    one test process would otherwise share (and steal each other's) notifications."""
    name = f"vell-test-{uuid.uuid4().hex[:10]}"
    return {
        "aws_delegation_sns_topic_arn": f"arn:aws:sns:us-east-1:253265132499:{name}",
        "vell_delegation_queue_url": f"https://sqs.us-east-1.amazonaws.com/253265132499/{name}",
    }


@pytest.fixture(autouse=True)
def _fake_aws_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """No test may reach real AWS: dummy credentials, and nothing read from ~/.aws."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_CONFIG_FILE", "/dev/null")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
    for name in list(os.environ):
        if name.startswith(("VELL_", "AWS_DELEGATION_")) and name != PG_ENV:
            monkeypatch.delenv(name, raising=False)


class StoreTemplates:
    """The migrated (and the migrated + seeded) SQLite files every test store is copied from."""

    def __init__(self, folder: Path) -> None:
        self._folder = folder
        self.seed_anchor = datetime.now(UTC)
        self._empty: Path | None = None
        self._seeded: Path | None = None

    def empty(self) -> Path:
        """The migrated, empty store (built on first use)."""
        if self._empty is None:
            self._empty = self._build("empty.db", seeded=False)
        return self._empty

    def seeded(self) -> Path:
        """The migrated store seeded at ``seed_anchor`` (built on first use)."""
        if self._seeded is None:
            self._seeded = self._build("seeded.db", seeded=True)
        return self._seeded

    def copy(self, dest: Path, *, seeded: bool) -> str:
        """A fresh store at ``dest`` (a file copy of a template); its URL."""
        shutil.copyfile(self.seeded() if seeded else self.empty(), dest)
        return f"sqlite:///{dest}"

    def _build(self, name: str, *, seeded: bool) -> Path:
        path = self._folder / name
        url = f"sqlite:///{path}"
        migrate.upgrade(url)
        if seeded:
            engine = make_engine(url)
            seed.seed(SeedStore(engine), self.seed_anchor)
            engine.dispose()
        # One self-contained file: fold the write-ahead log back in before anyone copies it.
        with sqlite3.connect(path) as connection:
            connection.execute("PRAGMA journal_mode=DELETE")
        return path


@pytest.fixture(scope="session")
def store_templates(tmp_path_factory: pytest.TempPathFactory) -> StoreTemplates:
    """The run's store templates."""
    return StoreTemplates(tmp_path_factory.mktemp("store-templates"))


@pytest.fixture
def sqlite_url(tmp_path: Path, store_templates: StoreTemplates) -> str:
    """A migrated, empty SQLite store in a temp file."""
    return store_templates.copy(tmp_path / "vell.db", seeded=False)


@pytest.fixture
def seeded_sqlite_url(tmp_path: Path, store_templates: StoreTemplates) -> str:
    """A migrated SQLite store holding the seed data, in a temp file."""
    return store_templates.copy(tmp_path / "seeded.db", seeded=True)


GraphFactory = Callable[..., Services]


@pytest.fixture
def make_services(tmp_path: Path, store_templates: StoreTemplates) -> Iterator[GraphFactory]:
    """Factory for the app's whole service graph on a store of the test's own, closed after.

    ``make_services(seeded=True, start_background=False, **settings)``: the sandbox AWS runs
    in process on a free port with a topic and queue of its own; settings override the rest.
    """
    built: list[Services] = []

    def make(
        *,
        seeded: bool = True,
        start_background: bool = False,
        url: str | None = None,
        **overrides: Any,
    ) -> Services:
        if url is None:
            url = store_templates.copy(tmp_path / f"graph-{len(built)}.db", seeded=seeded)
        options: dict[str, Any] = {"vell_sandbox_port": 0, **private_channel(), **overrides}
        graph = build_services(
            load_settings(vell_database_url=url, **options), start_background=start_background
        )
        built.append(graph)
        return graph

    yield make
    for graph in reversed(built):
        graph.close()


@pytest.fixture
def engine(sqlite_url: str) -> Iterator[Engine]:
    """Engine on the migrated SQLite store."""
    engine = make_engine(sqlite_url)
    yield engine
    engine.dispose()


def postgres_base_url() -> str | None:
    """The PostgreSQL URL from the environment, or None."""
    return os.environ.get(PG_ENV) or None


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A fresh schema on the test PostgreSQL (skipped, with the reason, when not configured)."""
    base = postgres_base_url()
    if base is None:
        pytest.skip(f"PostgreSQL tests need {PG_ENV} (the CI script sets it)")
    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = make_engine(base)
    with admin.begin() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    separator = "&" if "?" in base else "?"
    yield f"{base}{separator}options=-csearch_path%3D{schema}"
    with admin.begin() as connection:
        connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
    admin.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """An empty (unmigrated) store URL on each backend."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'store.db'}"
    return request.getfixturevalue("postgres_url")


@contextmanager
def isolated_mock_aws() -> Iterator[None]:
    """``moto.mock_aws``, then the in-process sandboxes made whole again: moto's backends are
    process-global, and ``mock_aws`` wipes them on the way in and out (so a test file using it
    would break another file's sandbox that shares the test process)."""
    from moto import mock_aws

    from vell_core.sandbox.state import rebootstrap_after_moto_wipe

    try:
        with mock_aws():
            yield
    finally:
        rebootstrap_after_moto_wipe()


@pytest.fixture(scope="session")
def playwright_driver() -> Iterator[Any]:
    """One Playwright driver per test run, shared by every browser fixture: its sync API
    refuses to start a second driver while one is running in the same process."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as driver:
        yield driver
