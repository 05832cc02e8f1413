"""Database engine factory and session helpers (SQLite with WAL, or PostgreSQL via psycopg 3)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, cast

from sqlalchemy import Table, event, inspect
from sqlalchemy.engine import Connection, CursorResult, Engine, make_url
from sqlalchemy.pool import StaticPool
from sqlmodel import Session, SQLModel, create_engine

SQLITE_BUSY_TIMEOUT_MS = 10_000
# Execution option marking a read-only connection: on SQLite it begins with a plain (deferred)
# BEGIN, a snapshot that takes no write lock, instead of the writers' BEGIN IMMEDIATE.
READ_ONLY = "vell_read_only"


def normalise_url(url: str) -> str:
    """Use the psycopg 3 driver for plain ``postgresql://`` URLs."""
    if url.startswith("postgresql://") or url.startswith("postgres://"):
        return "postgresql+psycopg://" + url.split("://", 1)[1]
    return url


def make_engine(url: str, **kwargs: Any) -> Engine:
    """Create an engine; SQLite gets WAL, a busy timeout, foreign keys and BEGIN IMMEDIATE."""
    url = normalise_url(url)
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        return create_engine(url, pool_pre_ping=True, **kwargs)
    database = parsed.database or ""
    in_memory = database in ("", ":memory:")
    if not in_memory:
        Path(database).parent.mkdir(parents=True, exist_ok=True)
    engine_kwargs: dict[str, Any] = {"connect_args": {"check_same_thread": False}}
    if in_memory:
        engine_kwargs["poolclass"] = StaticPool
    engine_kwargs.update(kwargs)
    engine = create_engine(url, **engine_kwargs)
    _configure_sqlite(engine, wal=not in_memory)
    return engine


def _configure_sqlite(engine: Engine, *, wal: bool) -> None:
    """PRAGMAs per connection, and explicit BEGIN IMMEDIATE so writers queue instead of failing."""

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Disable pysqlite's own transaction handling; we emit BEGIN ourselves (SQLAlchemy recipe).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        if wal:
            cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        read_only = connection.get_execution_options().get(READ_ONLY, False)
        connection.exec_driver_sql("BEGIN" if read_only else "BEGIN IMMEDIATE")


@contextmanager
def session_scope(engine: Engine) -> Iterator[Session]:
    """One session per unit of work: commit on success, roll back on error."""
    with Session(engine, expire_on_commit=False) as session:
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise


@contextmanager
def savepoint(session: Session) -> Iterator[None]:
    """A nested transaction (SAVEPOINT) inside the caller's: an error undoes only its writes.

    The outer transaction carries on, so one unit of work can still record why a step failed
    (and commit that) instead of needing a second transaction for the bookkeeping.
    """
    with session.begin_nested():
        yield


@contextmanager
def read_connection(engine: Engine) -> Iterator[Connection]:
    """A connection for reads only: one consistent snapshot, never the SQLite write lock.

    Writers keep ``BEGIN IMMEDIATE`` (``session_scope``); readers here do not queue behind them
    and do not make them wait. The transaction is rolled back on exit (nothing to commit).
    """
    with engine.connect() as connection:
        yield connection.execution_options(**{READ_ONLY: True})


@contextmanager
def read_session(engine: Engine) -> Iterator[Session]:
    """An ORM session on a ``read_connection`` (for reads only; nothing is committed)."""
    with read_connection(engine) as connection, Session(bind=connection) as session:
        yield session


def rows_affected(result: Any) -> int:
    """Rows an UPDATE or DELETE touched.

    SQLModel types ``Session.exec(update(...))`` as a plain ``Result``; it is a ``CursorResult``,
    the one that carries ``rowcount``.
    """
    return cast("CursorResult[Any]", result).rowcount


def table_of(model: type[SQLModel]) -> Table:
    """The Core ``Table`` behind a SQLModel class, for SQLAlchemy Core statements."""
    return cast(Table, inspect(model).local_table)
