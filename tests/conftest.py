"""Shared fixtures: fake AWS credentials, migrated stores (SQLite always, PostgreSQL when set)."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.engine import Engine

from vell_core import migrate
from vell_core.db import make_engine

PG_ENV = "VELL_TEST_DATABASE_URL"


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


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    """A migrated, empty SQLite store in a temp file."""
    url = f"sqlite:///{tmp_path / 'vell.db'}"
    migrate.upgrade(url)
    return url


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


@pytest.fixture(scope="session")
def playwright_driver() -> Iterator[Any]:
    """One Playwright driver per test run, shared by every browser fixture: its sync API
    refuses to start a second driver while one is running in the same process."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as driver:
        yield driver
