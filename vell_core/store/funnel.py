"""Funnel events: each wizard step and lifecycle milestone, recorded once per session and step.

Every new event, in the same transaction, takes its session's row lock, recomputes the
session's ``funnel_sessions`` row from its events (the rebuild's own ``SELECT``) and applies
the row's change to the metrics rollup (``vell_core.store.rollup``). The event insert is a
race-free upsert (``INSERT … ON CONFLICT DO NOTHING``, SQLite and PostgreSQL alike); every
statement is built once per dialect. ``rebuild_summary`` recomputes the whole table from the
events (migration backfill, seed, bulk loads); it gives exactly what recording the same events
one by one gives.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Table,
    bindparam,
    case,
    delete,
    func,
    literal_column,
    null,
    select,
)
from sqlalchemy.engine import Connection, Engine
from sqlmodel import Session
from sqlmodel import select as sm_select

from vell_core.domain.clock import Clock
from vell_core.domain.models import Customer, FunnelEvent, FunnelSession, FunnelStep
from vell_core.store import rollup
from vell_core.store.engine import session_scope, table_of
from vell_core.store.rollup import dialect_insert

FE: Table = table_of(FunnelEvent)
FS: Table = table_of(FunnelSession)

WIZARD_STEP_VALUES = (
    FunnelStep.PROVIDER.value,
    FunnelStep.ACCOUNT_INFO.value,
    FunnelStep.CHOOSE_PATH.value,
    FunnelStep.REQUEST_SENT.value,
    FunnelStep.APPROVED.value,
    FunnelStep.CONNECTED.value,
)
# The step whose time each summary column holds.
STEP_COLUMNS: dict[str, str] = {
    FunnelStep.PROVIDER.value: "started_at",
    FunnelStep.ACCOUNT_INFO.value: "account_info_at",
    FunnelStep.CHOOSE_PATH.value: "choose_path_at",
    FunnelStep.REQUEST_SENT.value: "request_sent_at",
    FunnelStep.APPROVED.value: "approved_at",
    FunnelStep.CONNECTED.value: "connected_at",
    FunnelStep.FIRST_SYNC.value: "first_sync_at",
    FunnelStep.PRODUCTION.value: "production_at",
}
ATTRIBUTES: dict[str, str] = {"rep": "actor_user_id", "path": "path", "segment": "segment"}


class FunnelRecorder:
    """Writes funnel events; repeated steps in one wizard session count once."""

    def __init__(self, engine: Engine, clock: Clock) -> None:
        self._engine = engine
        self._clock = clock

    def record(
        self,
        *,
        session_id: str,
        step: FunnelStep,
        customer: str,
        company: str | None = None,
        path: str | None = None,
        actor_user_id: int | None = None,
        delegation_id: int | None = None,
        value_seconds: float | None = None,
    ) -> bool:
        """Record ``step`` for this wizard session unless already recorded; True if new."""
        with session_scope(self._engine) as session:
            return self.record_in(
                session,
                session_id=session_id,
                step=step,
                customer=customer,
                company=company,
                path=path,
                actor_user_id=actor_user_id,
                delegation_id=delegation_id,
                value_seconds=value_seconds,
            )

    def record_in(
        self,
        session: Session,
        *,
        session_id: str,
        step: FunnelStep,
        customer: str,
        company: str | None = None,
        path: str | None = None,
        actor_user_id: int | None = None,
        delegation_id: int | None = None,
        value_seconds: float | None = None,
    ) -> bool:
        """``record`` inside the caller's transaction: the step commits with the state change
        that reached it (a worker dying in between can no longer lose the step)."""
        segment = session.exec(
            sm_select(Customer.segment).where(Customer.aws_account_id == customer)
        ).first()
        return insert_event(
            session,
            {
                "wizard_session_id": session_id,
                "step": str(FunnelStep(step)),
                "customer": customer,
                "company": company,
                "segment": str(segment) if segment is not None else None,
                "path": path,
                "actor_user_id": actor_user_id,
                "delegation_id": delegation_id,
                "value_seconds": value_seconds,
                "occurred_at": self._clock.now(),
            },
        )


@dataclass(frozen=True)
class _Statements:
    """The recorder's statements, built once per dialect and run with parameters."""

    insert_event: Any
    lock_session: Any
    session_from_events: Any
    update_session: Any


_STATEMENTS: dict[str, _Statements] = {}
SUMMARY_COLUMNS = tuple(column.name for column in FS.columns if column.name != "wizard_session_id")


def _statements(bind: Session | Connection) -> _Statements:
    name = bind.get_bind().dialect.name if isinstance(bind, Session) else bind.dialect.name
    if name not in _STATEMENTS:
        placeholder = dialect_insert(bind, FS).values(wizard_session_id=bindparam("sid"))
        _STATEMENTS[name] = _Statements(
            insert_event=dialect_insert(bind, FE)
            .on_conflict_do_nothing(index_elements=["wizard_session_id", "step"])
            .returning(FE.c.id),
            # Takes the session's row lock (PostgreSQL; SQLite writers are serialised by
            # BEGIN IMMEDIATE) before its state is read, creating an empty row for a new
            # session: two recorders on one session apply their changes one after the other.
            lock_session=placeholder.on_conflict_do_update(
                index_elements=["wizard_session_id"],
                set_={"wizard_session_id": placeholder.excluded.wizard_session_id},
            ).returning(*FS.columns),
            session_from_events=summary_select().where(FE.c.wizard_session_id == bindparam("sid")),
            update_session=FS.update()
            .where(FS.c.wizard_session_id == bindparam("sid"))
            .values({name: bindparam(f"v_{name}") for name in SUMMARY_COLUMNS}),
        )
    return _STATEMENTS[name]


def _connection(bind: Session | Connection) -> Connection:
    # Core execution on the session's connection: the ORM's per-statement work would cost
    # more than the statements themselves (same transaction either way).
    return bind.connection() if isinstance(bind, Session) else bind


def insert_event_row(bind: Session | Connection, values: Mapping[str, Any]) -> bool:
    """Only the event insert (no summary upkeep); True if the (session, step) pair was new."""
    connection = _connection(bind)
    return (
        connection.execute(_statements(connection).insert_event, dict(values)).first() is not None
    )


def insert_event(bind: Session | Connection, values: Mapping[str, Any]) -> bool:
    """Insert one funnel event, refresh its session's summary row and the rollup; True if new.

    A (session, step) pair already recorded is left alone (the unique index decides, so two
    processes recording the same step at once cannot both succeed). Runs in the caller's
    transaction: the event, its summary row and the rollup commit or roll back together.
    """
    values = dict(values)
    values["step"] = FunnelStep(values["step"]).value
    connection = _connection(bind)
    if not insert_event_row(connection, values):
        return False
    refresh_session(connection, str(values["wizard_session_id"]))
    return True


def refresh_session(bind: Session | Connection, session_id: str) -> None:
    """Recompute one session's summary row from its events (the rebuild's own SELECT) and
    apply the change to the rollup."""
    bind = _connection(bind)
    st = _statements(bind)
    old = dict(bind.execute(st.lock_session, {"sid": session_id}).mappings().one())
    new = dict(bind.execute(st.session_from_events, {"sid": session_id}).mappings().one())
    customers = {c: rollup.customer_rows(bind, c) for c in rollup.customers_touched(old, new)}
    bind.execute(
        st.update_session, {"sid": session_id, **{f"v_{k}": new[k] for k in SUMMARY_COLUMNS}}
    )
    rollup.session_changed(bind, old, new, customers)


def summary_select() -> Any:
    """One summary row per session computed from ``funnel_events`` (the rebuild's SELECT)."""

    # Constants inlined (fixed step names, no user input): the recorder runs this statement
    # per event, and every bound parameter costs on each execution.
    def const(value: str | int) -> ColumnElement[Any]:
        return literal_column(f"'{value}'" if isinstance(value, str) else str(value))

    is_wizard = FE.c.step.in_([const(value) for value in WIZARD_STEP_VALUES])
    has_wizard = func.max(case((is_wizard, const(1)), else_=const(0))) == const(1)

    def attribute(source: str) -> ColumnElement[Any]:
        column = FE.c[source]
        return case(
            (has_wizard, func.max(case((is_wizard, column), else_=null()))),
            else_=func.max(column),
        )

    def at(step: str) -> ColumnElement[Any]:
        return func.min(case((FE.c.step == const(step), FE.c.occurred_at), else_=null()))

    columns: list[ColumnElement[Any]] = [
        FE.c.wizard_session_id.label("wizard_session_id"),
        func.max(FE.c.customer).label("customer"),
        *[attribute(source).label(name) for name, source in ATTRIBUTES.items()],
        *[at(step).label(column) for step, column in STEP_COLUMNS.items()],
        func.max(
            case(
                (FE.c.step == const(FunnelStep.FIRST_SYNC.value), FE.c.value_seconds),
                else_=null(),
            )
        ).label("first_sync_seconds"),
    ]
    return (
        select(*columns)
        .group_by(FE.c.wizard_session_id)
        # Rows in the order sessions started keep time-range scans sequential on SQLite.
        .order_by(func.min(FE.c.occurred_at), FE.c.wizard_session_id)
    )


def rebuild_summary(bind: Engine | Connection | Session) -> int:
    """Recompute ``funnel_sessions`` from ``funnel_events``; returns the number of sessions.

    Pass an engine (own transaction) or a connection/session (the caller's transaction, e.g.
    a migration or the seed).
    """
    if isinstance(bind, Engine):
        with bind.begin() as connection:
            return rebuild_summary(connection)
    query = summary_select()
    names = [column.name for column in query.selected_columns]
    bind.execute(delete(FS))
    bind.execute(FS.insert().from_select(names, query))
    return int(bind.execute(select(func.count()).select_from(FS)).scalar_one())


__all__ = [
    "FunnelRecorder",
    "insert_event",
    "insert_event_row",
    "rebuild_summary",
    "refresh_session",
    "summary_select",
]
