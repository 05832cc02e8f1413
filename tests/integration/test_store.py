"""The store: migrations up and down on SQLite and PostgreSQL, constraints, SQLite PRAGMAs."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import inspect, text
from sqlalchemy.exc import DataError, IntegrityError
from sqlmodel import Session

from vell_core.domain.models import (
    CloudConnection,
    ConnectionVia,
    DelegationPath,
    DelegationRequest,
    StaffRole,
    StaffUser,
)
from vell_core.store import migrate
from vell_core.store.engine import make_engine

NOW = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)
EXPECTED_TABLES = {
    "staff_users",
    "customers",
    "cloud_connections",
    "delegation_requests",
    "delegation_events",
    "funnel_events",
    "funnel_sessions",
    "metrics_rollup",
    "metrics_sync_values",
    "metrics_exceptions",
    "support_tickets",
    "notification_inbox",
    "sealed_credentials",
    "audit_log",
    "worker_heartbeats",
}


def test_migrations_up_down_up(store_url: str) -> None:
    migrate.upgrade(store_url)
    engine = make_engine(store_url)
    assert EXPECTED_TABLES <= set(inspect(engine).get_table_names())
    assert migrate.current_revision(store_url) == migrate.head_revision()
    migrate.check(store_url)
    migrate.downgrade(store_url, "base")
    assert not EXPECTED_TABLES & set(inspect(engine).get_table_names())
    migrate.upgrade(store_url)
    assert EXPECTED_TABLES <= set(inspect(engine).get_table_names())
    engine.dispose()


def _staff(session: Session) -> StaffUser:
    user = StaffUser(name="Maya", email="maya@vell.ai", role=StaffRole.SALES, created_at=NOW)
    session.add(user)
    session.flush()
    return user


def _request(user_id: int, **overrides: object) -> DelegationRequest:
    values: dict[str, object] = {
        "user_id": user_id,
        "company": "Acme",
        "aws_account_id": "123456789012",
        "requestor_workflow_id": "vell-wf-00001",
        "type": DelegationPath.DEMO,
        "expires_at": NOW,
        "session_duration": 14400,
        "template_name": "read-only",
        "template_arn": "arn:aws:iam:::delegation-template/x",
        "created_at": NOW,
        "updated_at": NOW,
    }
    values.update(overrides)
    return DelegationRequest(**values)  # type: ignore[arg-type]


def _migrated_engine(store_url: str):
    migrate.upgrade(store_url)
    return make_engine(store_url)


@pytest.mark.parametrize(
    ("first", "second"),
    [
        (
            {"delegation_request_id": "a" * 20},
            {"delegation_request_id": "a" * 20, "requestor_workflow_id": "vell-wf-00002"},
        ),
        ({}, {}),  # same requestor_workflow_id
    ],
    ids=["delegation_request_id", "requestor_workflow_id"],
)
def test_request_ids_are_unique(store_url: str, first: dict, second: dict) -> None:
    engine = _migrated_engine(store_url)
    with Session(engine) as session:
        user = _staff(session)
        session.add(_request(user.id or 0, **first))
        session.commit()
        session.add(_request(user.id or 0, **second))
        with pytest.raises(IntegrityError):
            session.commit()
    engine.dispose()


@pytest.mark.parametrize(
    "account", ["12345678901", "1234567890123", "12345678901a", "abcdefghijkl"]
)
def test_account_id_must_be_12_digits(store_url: str, account: str) -> None:
    engine = _migrated_engine(store_url)
    with Session(engine) as session:
        user = _staff(session)
        session.add(_request(user.id or 0, aws_account_id=account))
        # PostgreSQL refuses the over-long value by type (DataError), the rest by the CHECK.
        with pytest.raises((IntegrityError, DataError)):
            session.commit()
    engine.dispose()


def test_external_id_is_unique(store_url: str) -> None:
    engine = _migrated_engine(store_url)

    def connection(role: str) -> CloudConnection:
        return CloudConnection(
            aws_account_id="123456789012",
            company="Acme",
            role_arn=role,
            external_id="vell-fixed-external-id",
            created_via=ConnectionVia.DELEGATION,
            created_at=NOW,
            updated_at=NOW,
        )

    with Session(engine) as session:
        session.add(connection("arn:aws:iam::123456789012:role/a"))
        session.commit()
        session.add(connection("arn:aws:iam::123456789012:role/b"))
        with pytest.raises(IntegrityError):
            session.commit()
    engine.dispose()


def test_timestamps_round_trip_as_aware_utc(store_url: str) -> None:
    engine = _migrated_engine(store_url)
    with Session(engine) as session:
        user = _staff(session)
        session.commit()
        loaded = session.get(StaffUser, user.id)
        session.refresh(loaded)
        assert loaded is not None
        assert loaded.created_at == NOW
        assert loaded.created_at.tzinfo is not None
    engine.dispose()


def test_sqlite_runs_with_wal_busy_timeout_and_foreign_keys(sqlite_url: str) -> None:
    engine = make_engine(sqlite_url)
    with engine.connect() as connection:
        assert connection.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert connection.execute(text("PRAGMA busy_timeout")).scalar() >= 5000
        assert connection.execute(text("PRAGMA foreign_keys")).scalar() == 1
    with Session(engine) as session:
        session.add(_request(999))  # no such staff user
        with pytest.raises(IntegrityError):
            session.commit()
    engine.dispose()
