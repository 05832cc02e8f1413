"""The metrics rollup: counts per day, week and month, kept with every recorded event.

The Leadership statements read ``metrics_rollup`` (one row per bucket × rep × path × segment ×
outcome) instead of one row per session or customer, so their cost follows the number of days
and dimensions, not of events. What the rollup cannot place by day is read from the per-session
table instead (see ``vell_core.store.metrics``): sessions and customers listed in
``metrics_exceptions`` (steps far from the session's start day; demos connected on several
days), the one day that straddles "7 days ago", and milestones at or after "now".

Every contribution is computed by the pure functions below from a ``funnel_sessions`` row (or
a customer's rows). ``FunnelRecorder`` applies the difference between a session's row before
and after each event; ``rebuild_rollup`` applies the same functions to every row, so the two
agree by construction (and the tests compare them).
"""

from __future__ import annotations

import bisect
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from functools import cache
from typing import Any

from sqlalchemy import Table, bindparam, delete, event, func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql import ColumnElement
from sqlalchemy.sql.functions import FunctionElement
from sqlalchemy.types import Integer
from sqlmodel import Session

from vell_core.domain.metrics import SYNC_BIN_EDGES
from vell_core.domain.models import (
    DelegationPath,
    FunnelSession,
    MetricsException,
    MetricsRollup,
    MetricsSyncValue,
    SupportTicket,
)
from vell_core.store.engine import table_of

R: Table = table_of(MetricsRollup)
V: Table = table_of(MetricsSyncValue)
X: Table = table_of(MetricsException)
FS: Table = table_of(FunnelSession)
TK: Table = table_of(SupportTicket)

EPOCH = date(1970, 1, 1)
DAY, WEEK, MONTH = 0, 1, 2
NO_REP = -1
SETUP = "setup"
STEP_AT = (
    "started_at",
    "account_info_at",
    "choose_path_at",
    "request_sent_at",
    "approved_at",
    "connected_at",
)
# A session whose wizard steps all fall within this many days of its start day has the same
# furthest step in every period that contains its start (periods are whole days and the step
# window runs 7 days past the period's end).
REGULAR_SPAN = timedelta(days=8)
# The histogram's edges in seconds, the same floats the SQL CASE of the per-session query uses.
SYNC_EDGES_S = tuple(edge * 60 for edge in SYNC_BIN_EDGES[1:])
# Fine bins for exact quantiles: 64 per doubling from 1 s (about 1.1 % wide); below 1 s is -1.
FINE_EDGES = tuple(2.0 ** (index / 64) for index in range(64 * 22))
PK = ("family", "grain", "bucket", "rep", "path", "segment", "k1", "k2")

Key = tuple[str, int, int, str, str, int, int]  # family, day, rep, path, segment, k1, k2
Bind = Session | Connection


# --- days as integers -----------------------------------------------------------------------


def day_number(moment: datetime) -> int:
    """Days since 1970-01-01 of the UTC date of ``moment``."""
    return (moment.astimezone(UTC).date() - EPOCH).days


def as_date(day: int) -> date:
    """The date of a day number."""
    return EPOCH + timedelta(days=day)


def week_of(day: int) -> int:
    """The Monday on or before ``day`` (1970-01-01 was a Thursday)."""
    return day - (day + 3) % 7


@cache
def month_of(day: int) -> int:
    """The first day of ``day``'s month."""
    return (as_date(day).replace(day=1) - EPOCH).days


def next_month(day: int) -> int:
    """The first day of the month after ``day``'s."""
    first = as_date(month_of(day))
    following = date(first.year + first.month // 12, first.month % 12 + 1, 1)
    return (following - EPOCH).days


class DayNumber(FunctionElement[int]):
    """SQL: the day number of a stored UTC timestamp (exact: no float rounding near midnight)."""

    type = Integer()
    name = "day_number"
    inherit_cache = True


class WeekNumber(FunctionElement[int]):
    """SQL: the day number of the Monday of a timestamp's week (UTC)."""

    type = Integer()
    name = "week_number"
    inherit_cache = True


class MonthNumber(FunctionElement[int]):
    """SQL: the day number of the first day of a timestamp's month (UTC)."""

    type = Integer()
    name = "month_number"
    inherit_cache = True


def _arg(element: FunctionElement[Any], compiler: Any, **kw: Any) -> str:
    return str(compiler.process(next(iter(element.clauses)), **kw))


# SQLite keeps naive UTC text ("YYYY-MM-DD HH:MM:SS.ffffff"): the date part is exact.
_JULIAN_EPOCH = "2440587.5"


@compiles(DayNumber, "sqlite")
def _day_sqlite(element: DayNumber, compiler: Any, **kw: Any) -> str:
    day = f"substr({_arg(element, compiler, **kw)}, 1, 10)"
    return f"CAST(julianday({day}) - {_JULIAN_EPOCH} AS INTEGER)"


@compiles(WeekNumber, "sqlite")
def _week_sqlite(element: WeekNumber, compiler: Any, **kw: Any) -> str:
    day = f"date(substr({_arg(element, compiler, **kw)}, 1, 10), 'weekday 0', '-6 days')"
    return f"CAST(julianday({day}) - {_JULIAN_EPOCH} AS INTEGER)"


@compiles(MonthNumber, "sqlite")
def _month_sqlite(element: MonthNumber, compiler: Any, **kw: Any) -> str:
    day = f"substr({_arg(element, compiler, **kw)}, 1, 7) || '-01'"
    return f"CAST(julianday({day}) - {_JULIAN_EPOCH} AS INTEGER)"


def _pg_days(date_sql: str) -> str:
    return f"(CAST({date_sql} AS DATE) - DATE '1970-01-01')"


@compiles(DayNumber)
def _day_pg(element: DayNumber, compiler: Any, **kw: Any) -> str:
    # timestamptz → UTC wall time first, so the server's TimeZone setting cannot shift days.
    return _pg_days(f"(({_arg(element, compiler, **kw)}) AT TIME ZONE 'UTC')")


@compiles(WeekNumber)
def _week_pg(element: WeekNumber, compiler: Any, **kw: Any) -> str:
    return _pg_days(f"date_trunc('week', ({_arg(element, compiler, **kw)}) AT TIME ZONE 'UTC')")


@compiles(MonthNumber)
def _month_pg(element: MonthNumber, compiler: Any, **kw: Any) -> str:
    return _pg_days(f"date_trunc('month', ({_arg(element, compiler, **kw)}) AT TIME ZONE 'UTC')")


def cohort_number(expr: ColumnElement[Any], grain: str) -> ColumnElement[int]:
    """SQL for the day number of the first day of ``expr``'s week (Monday) or month."""
    return WeekNumber(expr) if grain == "week" else MonthNumber(expr)


# --- what one session or customer contributes (pure) -----------------------------------------


def sync_bin(seconds: float) -> int:
    """The histogram bin of a first sync (the per-session query's CASE, in Python)."""
    return bisect.bisect_right(SYNC_EDGES_S, seconds)


def fine_bin(seconds: float) -> int:
    """The fine bin of a first sync (-1 below one second)."""
    return bisect.bisect_right(FINE_EDGES, seconds) - 1


@dataclass(frozen=True)
class Parts:
    """A session's or customer's contribution: rollup keys, exception flag, sync value."""

    keys: tuple[Key, ...] = ()
    exception: bool = False
    sync_value: tuple[int, int, float] | None = None  # fine bin, day, seconds


def _text(value: Any) -> str:
    return str(value) if value is not None else ""


def _day_start(moment: datetime) -> datetime:
    utc = moment.astimezone(UTC)
    return datetime(utc.year, utc.month, utc.day, tzinfo=UTC)


def session_parts(row: Mapping[str, Any]) -> Parts:
    """What one ``funnel_sessions`` row adds to the rollup."""
    rep = row["rep"] if row["rep"] is not None else NO_REP
    path, segment = _text(row["path"]), _text(row["segment"])
    keys: list[Key] = []
    exception = False
    started = row["started_at"]
    if started is not None:
        first_day = _day_start(started)
        times = [row[column] for column in STEP_AT]
        if all(t is None or first_day <= t < first_day + REGULAR_SPAN for t in times):
            furthest = max(rank for rank, t in enumerate(times, start=1) if t is not None)
            keys.append(("sessions", day_number(started), rep, path, segment, furthest, 0))
        else:
            exception = True
    synced, seconds = row["first_sync_at"], row["first_sync_seconds"]
    sync_value = None
    if synced is not None and seconds is not None:
        day = day_number(synced)
        keys.append(("sync_bins", day, rep, path, segment, sync_bin(seconds), 0))
        keys.append(("sync_fine", day, NO_REP, "", "", fine_bin(seconds), 0))
        sync_value = (fine_bin(seconds), day, float(seconds))
    return Parts(tuple(keys), exception, sync_value)


CUSTOMER_FIELDS = ("wizard_session_id", "path", "connected_at", "rep", "segment", "production_at")


def customer_parts(sessions: Sequence[Mapping[str, Any]]) -> Parts:
    """What one customer (all their ``funnel_sessions`` rows) adds to the rollup.

    Keyed by the day of their first connected demo, with the rep and segment of their demo
    sessions and whether they ever connected a trial / reached production. A customer whose
    demos connected on more than one day is an exception (a period ending between those days
    sees a different rep or segment).
    """
    demo = DelegationPath.DEMO.value
    demos = [s for s in sessions if s["path"] == demo and s["connected_at"] is not None]
    if not demos:
        return Parts()
    first = min(s["connected_at"] for s in demos)
    if any(s["connected_at"] >= _day_start(first) + timedelta(days=1) for s in demos):
        return Parts(exception=True)
    rep = max((s["rep"] for s in demos if s["rep"] is not None), default=NO_REP)
    segment = max((_text(s["segment"]) for s in demos if s["segment"] is not None), default="")
    trial = any(
        s["path"] == DelegationPath.TRIAL.value and s["connected_at"] is not None for s in sessions
    )
    production = any(s["production_at"] is not None for s in sessions)
    key: Key = ("customers", day_number(first), rep, "", segment, int(trial), int(production))
    return Parts((key,))


# Families also counted without their path and segment (``<family>_all``): a view without
# those filters reads these rows, a handful per bucket and rep, not one per combination.
ALL_PATHS_AND_SEGMENTS = {
    "sessions": "sessions_all",
    "sync_bins": "sync_bins_all",
    "customers": "customers_all",
}


def rows_for(counts: Mapping[Key, int]) -> list[dict[str, Any]]:
    """Rollup rows for non-zero counts: each key's day, week and month rows (and its
    ``_all`` family's), merged, in primary-key order (a fixed
    lock order for concurrent upkeep)."""
    merged: Counter[tuple[Any, ...]] = Counter()
    for (family, day, rep, path, segment, k1, k2), n in counts.items():
        if not n:
            continue
        week, month = week_of(day), month_of(day)
        families = [(family, path, segment)]
        if family in ALL_PATHS_AND_SEGMENTS:
            families.append((ALL_PATHS_AND_SEGMENTS[family], "", ""))
        for name, p, s in families:
            merged[name, DAY, day, rep, p, s, k1, k2] += n
            merged[name, WEEK, week, rep, p, s, k1, k2] += n
            merged[name, MONTH, month, rep, p, s, k1, k2] += n
    rows = []
    for pk, n in sorted(merged.items()):
        if not n:
            continue
        row = dict(zip(PK, pk, strict=True))
        grain, bucket = pk[1], pk[2]
        row["week"] = week_of(bucket) if grain == DAY else (bucket if grain == WEEK else -1)
        row["month"] = month_of(bucket) if grain == DAY else (bucket if grain == MONTH else -1)
        row["n"] = n
        rows.append(row)
    return rows


# --- statements, built once per dialect ------------------------------------------------------


@dataclass(frozen=True)
class Statements:
    """The upkeep's statements (executed with parameters; never rebuilt per event)."""

    add_counts: Any
    put_sync_value: Any
    drop_sync_value: Any
    put_exception: Any
    drop_exception: Any
    customer_sessions: Any


_STATEMENTS: dict[str, Statements] = {}


def dialect_insert(bind: Bind | Engine, table: Table) -> Any:
    """``INSERT`` with ``ON CONFLICT`` support for the bind's dialect."""
    name = bind.get_bind().dialect.name if isinstance(bind, Session) else bind.dialect.name
    return (postgresql.insert if name == "postgresql" else sqlite.insert)(table)


def statements(bind: Bind) -> Statements:
    """The upkeep statements for ``bind``'s dialect."""
    name = bind.get_bind().dialect.name if isinstance(bind, Session) else bind.dialect.name
    if name not in _STATEMENTS:
        counts = dialect_insert(bind, R)
        value = dialect_insert(bind, V)
        exception = dialect_insert(bind, X)
        _STATEMENTS[name] = Statements(
            add_counts=counts.on_conflict_do_update(
                index_elements=list(PK), set_={"n": R.c.n + counts.excluded.n}
            ),
            put_sync_value=value.on_conflict_do_update(
                index_elements=["wizard_session_id"],
                set_={
                    "fine_bin": value.excluded.fine_bin,
                    "day": value.excluded.day,
                    "value": value.excluded.value,
                },
            ),
            drop_sync_value=delete(V).where(V.c.wizard_session_id == bindparam("sid")),
            put_exception=exception.on_conflict_do_nothing(index_elements=["kind", "key"]),
            drop_exception=delete(X).where(
                X.c.kind == bindparam("kind"), X.c.key == bindparam("key")
            ),
            customer_sessions=select(*[FS.c[name] for name in CUSTOMER_FIELDS]).where(
                FS.c.customer == bindparam("customer")
            ),
        )
    return _STATEMENTS[name]


# --- upkeep ------------------------------------------------------------------------------------


def customer_rows(bind: Bind, customer: str) -> list[dict[str, Any]]:
    """The customer's ``funnel_sessions`` rows (the fields ``customer_parts`` reads)."""
    result = bind.execute(statements(bind).customer_sessions, {"customer": customer})
    return [dict(row) for row in result.mappings()]


def _customer_fields(row: Mapping[str, Any]) -> tuple[Any, ...]:
    return (row["customer"], *(row[name] for name in CUSTOMER_FIELDS[1:]))


def session_changed(
    bind: Bind,
    old: Mapping[str, Any],
    new: Mapping[str, Any],
    customers_before: Mapping[str, list[dict[str, Any]]],
) -> None:
    """Apply the difference between a session's summary row before and after an event.

    ``customers_before`` holds, for the session's old and new customer, their rows before the
    change (only needed when a field ``customer_parts`` reads changed).
    """
    st = statements(bind)
    session_id = str(new["wizard_session_id"])
    before, after = session_parts(old), session_parts(new)
    counts: Counter[Key] = Counter()
    for key in before.keys:
        counts[key] -= 1
    for key in after.keys:
        counts[key] += 1
    exceptions: list[tuple[str, str, bool, bool]] = [
        ("session", session_id, before.exception, after.exception)
    ]
    for customer, rows in customers_before.items():
        was = customer_parts(rows)
        now_rows = [r for r in rows if r["wizard_session_id"] != session_id]
        if new["customer"] == customer:
            now_rows.append({name: new[name] for name in CUSTOMER_FIELDS})
        now = customer_parts(now_rows)
        for key in was.keys:
            counts[key] -= 1
        for key in now.keys:
            counts[key] += 1
        exceptions.append(("customer", customer, was.exception, now.exception))
    rows = rows_for(counts)
    if rows:
        bind.execute(st.add_counts, rows)
    for kind, name, was_exception, is_exception in exceptions:
        if is_exception and not was_exception:
            bind.execute(st.put_exception, {"kind": kind, "key": name})
        elif was_exception and not is_exception:
            bind.execute(st.drop_exception, {"kind": kind, "key": name})
    if after.sync_value is not None:
        if after.sync_value != before.sync_value:
            fine, day, value = after.sync_value
            bind.execute(
                st.put_sync_value,
                {"wizard_session_id": session_id, "fine_bin": fine, "day": day, "value": value},
            )
    elif before.sync_value is not None:
        bind.execute(st.drop_sync_value, {"sid": session_id})


def customers_touched(old: Mapping[str, Any], new: Mapping[str, Any]) -> list[str]:
    """The customers whose contribution may change (none when their fields did not)."""
    if _customer_fields(old) == _customer_fields(new):
        return []
    return sorted({c for c in (old["customer"], new["customer"]) if c is not None})


def tickets_added(bind: Bind, tickets: Iterable[tuple[datetime, str]], n: int = 1) -> None:
    """Count newly stored tickets (opened at, category), or removed ones with ``n=-1``; only
    setup tickets are counted."""
    counts: Counter[Key] = Counter()
    for opened_at, category in tickets:
        if str(category) == SETUP:
            counts[("tickets", day_number(opened_at), NO_REP, "", "", 0, 0)] += n
    rows = rows_for(counts)
    if rows:
        bind.execute(statements(bind).add_counts, rows)


@event.listens_for(SupportTicket, "after_insert")
def _ticket_inserted(_mapper: Any, connection: Connection, ticket: SupportTicket) -> None:
    # Every ORM insert of a ticket (one by hand, tests, the seed before its rebuild) is counted
    # in its own transaction; Core bulk inserts call ``tickets_added`` themselves.
    tickets_added(connection, [(ticket.opened_at, str(ticket.category))])


@event.listens_for(SupportTicket, "after_delete")
def _ticket_deleted(_mapper: Any, connection: Connection, ticket: SupportTicket) -> None:
    tickets_added(connection, [(ticket.opened_at, str(ticket.category))], -1)


# --- the backfill ----------------------------------------------------------------------------


def rebuild_rollup(bind: Engine | Bind) -> int:
    """Recompute the rollup, sync values and exceptions from ``funnel_sessions`` and tickets.

    Run after ``rebuild_summary`` (migration backfill, seed, bulk loads); returns the number of
    rollup rows. Pass an engine (own transaction) or a connection/session (the caller's).
    """
    if isinstance(bind, Engine):
        with bind.begin() as connection:
            return rebuild_rollup(connection)
    for table in (R, V, X):
        bind.execute(delete(table))
    counts: Counter[Key] = Counter()
    values: list[dict[str, Any]] = []
    exceptions: list[dict[str, Any]] = []
    by_customer: defaultdict[str, list[dict[str, Any]]] = defaultdict(list)
    columns = [FS.c[name] for name in ("customer", *STEP_AT[1:], *_OTHER_FIELDS)]
    for row in bind.execute(select(*columns, FS.c.started_at)).mappings():
        parts = session_parts(dict(row))
        counts.update(parts.keys)
        if parts.exception:
            exceptions.append({"kind": "session", "key": row["wizard_session_id"]})
        if parts.sync_value is not None:
            fine, day, value = parts.sync_value
            values.append(
                {"wizard_session_id": row["wizard_session_id"], "fine_bin": fine, "day": day,
                 "value": value}
            )  # fmt: skip
        if row["customer"] is not None and (row["connected_at"] or row["production_at"]):
            by_customer[row["customer"]].append({name: row[name] for name in CUSTOMER_FIELDS})
    for customer, rows in by_customer.items():
        parts = customer_parts(rows)
        counts.update(parts.keys)
        if parts.exception:
            exceptions.append({"kind": "customer", "key": customer})
    opened = DayNumber(TK.c.opened_at)
    for ticket_day, n in bind.execute(
        select(opened, func.count()).where(TK.c.category == SETUP).group_by(opened)
    ).all():
        counts[("tickets", int(ticket_day), NO_REP, "", "", 0, 0)] += int(n)
    rows = rows_for(counts)
    for table, batch in ((R, rows), (V, values), (X, exceptions)):
        for start in range(0, len(batch), 20_000):
            bind.execute(table.insert(), batch[start : start + 20_000])
    return len(rows)


_OTHER_FIELDS = (
    "wizard_session_id",
    "rep",
    "path",
    "segment",
    "first_sync_at",
    "first_sync_seconds",
    "production_at",
)


__all__ = [
    "DAY",
    "MONTH",
    "WEEK",
    "DayNumber",
    "MonthNumber",
    "WeekNumber",
    "as_date",
    "cohort_number",
    "customer_parts",
    "day_number",
    "rebuild_rollup",
    "session_changed",
    "session_parts",
    "tickets_added",
]
