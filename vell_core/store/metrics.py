"""The aggregation in SQL (SQLAlchemy Core): the same statements on SQLite and PostgreSQL.

Every statement returns a small frame — one row per (period, cohort, rep, outcome), never one
row per event. Wizard sessions, first syncs and customer stages are read from
``funnel_sessions`` (one row per wizard session, kept in step by ``FunnelRecorder``) rather
than by grouping ``funnel_events`` on every page view.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pandas as pd
from sqlalchemy import Date, and_, case, exists, func, literal, or_, select
from sqlalchemy.engine import Engine
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql import ColumnElement, Select
from sqlalchemy.sql.functions import FunctionElement

from vell_core.domain.metrics import (
    BASELINE_DAYS,
    SYNC_BIN_EDGES,
    TRIAL_DECISION_WINDOW,
    WIZARD_STEPS,
    WIZARD_WINDOW,
    Baseline,
    MetricsFilter,
    RawMetrics,
    Window,
    day_start,
)
from vell_core.domain.models import (
    Customer,
    DelegationPath,
    DelegationRequest,
    FunnelEvent,
    FunnelSession,
    FunnelStep,
    StaffRole,
    StaffUser,
    SupportTicket,
    UtcDateTime,
)
from vell_core.store.engine import read_connection, table_of
from vell_core.store.funnel import STEP_COLUMNS

# --- dialect-specific "start of week/month" (the only non-portable SQL) ----------------------


class _WeekStart(FunctionElement[date]):
    """Monday (UTC) of the week containing a timestamp."""

    type = Date()
    name = "week_start"
    inherit_cache = True


class _MonthStart(FunctionElement[date]):
    """First day (UTC) of the month containing a timestamp."""

    type = Date()
    name = "month_start"
    inherit_cache = True


def _arg(element: FunctionElement[Any], compiler: Any, **kw: Any) -> str:
    return str(compiler.process(next(iter(element.clauses)), **kw))


@compiles(_WeekStart, "sqlite")
def _week_sqlite(element: _WeekStart, compiler: Any, **kw: Any) -> str:
    # SQLite stores naive UTC text; 'weekday 0' jumps to Sunday, -6 days back to Monday.
    return f"date({_arg(element, compiler, **kw)}, 'weekday 0', '-6 days')"


@compiles(_MonthStart, "sqlite")
def _month_sqlite(element: _MonthStart, compiler: Any, **kw: Any) -> str:
    return f"date({_arg(element, compiler, **kw)}, 'start of month')"


@compiles(_WeekStart)
def _week_pg(element: _WeekStart, compiler: Any, **kw: Any) -> str:
    # timestamptz → UTC wall time first, so the server's TimeZone setting cannot shift days.
    return f"CAST(date_trunc('week', ({_arg(element, compiler, **kw)}) AT TIME ZONE 'UTC') AS DATE)"


@compiles(_MonthStart)
def _month_pg(element: _MonthStart, compiler: Any, **kw: Any) -> str:
    return (
        f"CAST(date_trunc('month', ({_arg(element, compiler, **kw)}) AT TIME ZONE 'UTC') AS DATE)"
    )


def cohort_start(expr: ColumnElement[Any], grain: str) -> ColumnElement[date]:
    """SQL for the first day of ``expr``'s week (Monday) or month, in UTC."""
    return _WeekStart(expr) if grain == "week" else _MonthStart(expr)


# --- SQL (Core) -----------------------------------------------------------------------------

FE = table_of(FunnelEvent)
FS = table_of(FunnelSession)
DR = table_of(DelegationRequest)
CU = table_of(Customer)
TK = table_of(SupportTicket)
SU = table_of(StaffUser)

# The summary column holding each wizard step's time, in WIZARD_STEPS order.
STEP_AT_COLUMNS = tuple(STEP_COLUMNS[step.value] for step in WIZARD_STEPS)

Runner = Callable[[Select[Any]], pd.DataFrame]


def _ts(value: datetime) -> ColumnElement[datetime]:
    """A bound timestamp with the column's type, so SQLite gets its naive-UTC text form."""
    return literal(value, UtcDateTime())


def _flag(condition: ColumnElement[bool]) -> ColumnElement[int]:
    return case((condition, 1), else_=0)


def _in_filters(
    rep: ColumnElement[Any] | None,
    path: ColumnElement[Any] | None,
    segment: ColumnElement[Any] | None,
    filters: MetricsFilter,
) -> list[ColumnElement[bool]]:
    """WHERE clauses for the rep/path/segment filters (skipped where a metric has no such axis)."""
    clauses: list[ColumnElement[bool]] = []
    if filters.rep_ids and rep is not None:
        clauses.append(rep.in_(filters.rep_ids))
    if filters.paths and path is not None:
        clauses.append(path.in_(filters.paths))
    if filters.segments and segment is not None:
        clauses.append(segment.in_(filters.segments))
    return clauses


def _grouped(sub: Any, *columns: str) -> Select[Any]:
    """``SELECT cols, count(*) AS n FROM sub GROUP BY cols``.

    Derived columns are computed in a subquery first: PostgreSQL refuses GROUP BY expressions
    whose bound parameters differ from the SELECT list's.
    """
    cols = [sub.c[name] for name in columns]
    return select(*cols, func.count().label("n")).group_by(*cols)


def _in_range(column: ColumnElement[Any], lo: datetime, hi: datetime) -> ColumnElement[bool]:
    return and_(column >= _ts(lo), column < _ts(hi))


def sessions_query(filters: MetricsFilter, window: Window) -> Select[Any]:
    """Wizard sessions started in [prev_lo, hi), grouped by (period, cohort, rep, furthest).

    One summary row per session. The furthest step counts only steps reached inside the
    events' window [prev_lo, hi + 7 days), as when the events themselves are grouped: the
    step ladder picks the latest wizard step whose time falls in it (Provider always does).
    """
    event_hi = window.hi + WIZARD_WINDOW
    ladder = [
        (_in_range(FS.c[column], window.prev_lo, event_hi), rank)
        for rank, column in reversed(list(enumerate(STEP_AT_COLUMNS, start=1)))
        if rank > 1
    ]
    derived = (
        select(
            _flag(FS.c.started_at >= _ts(window.lo)).label("current"),
            cohort_start(FS.c.started_at, filters.grain).label("cohort"),
            FS.c.rep,
            case(*ladder, else_=1).label("furthest"),
            _flag(FS.c.started_at >= _ts(window.as_of - WIZARD_WINDOW)).label("recent"),
        )
        .where(
            _in_range(FS.c.started_at, window.prev_lo, window.hi),
            *_in_filters(FS.c.rep, FS.c.path, FS.c.segment, filters),
        )
        .offset(0)  # materialise: SQLite would evaluate it twice when flattened
        .subquery("sessions")
    )
    return _grouped(derived, "current", "cohort", "rep", "furthest", "recent")


def _sync_base(filters: MetricsFilter, window: Window, *, cte: bool = False) -> Any:
    """First syncs in [prev_lo, hi) with their value, period flag, cohort and rep."""
    query = select(
        _flag(FS.c.first_sync_at >= _ts(window.lo)).label("current"),
        cohort_start(FS.c.first_sync_at, filters.grain).label("cohort"),
        FS.c.rep.label("rep"),
        FS.c.first_sync_seconds.label("v"),
    ).where(
        _in_range(FS.c.first_sync_at, window.prev_lo, window.hi),
        FS.c.first_sync_seconds.is_not(None),
        *_in_filters(FS.c.rep, FS.c.path, FS.c.segment, filters),
    )
    return query.cte("sync") if cte else query.subquery("sync")


def sync_bins_query(filters: MetricsFilter, window: Window) -> Select[Any]:
    """First syncs grouped by (period, rep, histogram bin)."""
    base = _sync_base(filters, window)
    edges = SYNC_BIN_EDGES[1:]
    binned = (
        select(
            base.c.current,
            base.c.rep,
            case(
                *[(base.c.v < edge * 60, index) for index, edge in enumerate(edges)],
                else_=len(edges),
            ).label("bin"),
        )
        .offset(0)  # materialise: SQLite would evaluate it twice when flattened
        .subquery("bins")
    )
    return _grouped(binned, "current", "rep", "bin")


def sync_ranks_query(filters: MetricsFilter, window: Window) -> Select[Any]:
    """Only the ranked values needed for exact medians and p90s per period and cohort.

    Window functions number the values in each partition; the WHERE keeps the rows within one
    rank of each quantile's position, so a handful of rows come back instead of every event.
    The partition sizes come from two GROUP BYs joined back: ``count(*) OVER (PARTITION BY
    …)`` costs SQLite a full extra pass per partitioning, more than the two sorts together.
    """
    base = _sync_base(filters, window, cte=True)
    b = base.c
    per_period = (
        select(b.current, func.count().label("n_p")).group_by(b.current).subquery("per_period")
    )
    per_cohort = (
        select(b.current, b.cohort, func.count().label("n_c"))
        .group_by(b.current, b.cohort)
        .subquery("per_cohort")
    )
    ranked = select(
        b.current,
        b.cohort,
        b.rep,
        b.v,
        (func.row_number().over(partition_by=b.current, order_by=b.v) - 1).label("rn_p"),
        (func.row_number().over(partition_by=[b.current, b.cohort], order_by=b.v) - 1).label(
            "rn_c"
        ),
    ).subquery("ranked")
    r, p, c = ranked.c, per_period.c, per_cohort.c
    near = [
        and_(rn >= (n - 1) * q - 1, rn <= (n - 1) * q + 1)
        for rn, n in ((r.rn_p, p.n_p), (r.rn_c, c.n_c))
        for q in (0.5, 0.9)
    ]
    return (
        select(r.current, r.cohort, r.rep, r.v, r.rn_p, p.n_p, r.rn_c, c.n_c)
        .select_from(
            ranked.join(per_period, p.current == r.current).join(
                per_cohort, and_(c.current == r.current, c.cohort == r.cohort)
            )
        )
        .where(or_(*near))
    )


def customers_query(filters: MetricsFilter, window: Window) -> Select[Any]:
    """Customers whose first connected demo is in [prev_lo, hi), by stage reached.

    Driven by the demo sessions connected in the window; the first-demo check and each stage
    are EXISTS probes on the summary's (customer, …) indexes, once per customer.
    """
    other = FS.alias("other")

    def connected(path: str, before: datetime, customer: ColumnElement[Any]) -> Any:
        return exists().where(
            other.c.customer == customer,
            other.c.path == path,
            other.c.connected_at < _ts(before),
        )

    demo = DelegationPath.DEMO.value
    per_customer = (
        select(
            FS.c.customer,
            func.min(FS.c.connected_at).label("demo_at"),
            func.max(FS.c.rep).label("rep"),
            func.max(FS.c.segment).label("segment"),
        )
        .where(
            FS.c.path == demo,
            _in_range(FS.c.connected_at, window.prev_lo, window.hi),
            # the customer's *first* demo: none connected before the window
            ~connected(demo, window.prev_lo, FS.c.customer),
        )
        .group_by(FS.c.customer)
        .subquery("per_customer")
    )
    c = per_customer.c
    production = exists().where(
        other.c.customer == c.customer, other.c.production_at < _ts(window.as_of)
    )
    derived = (
        select(
            _flag(c.demo_at >= _ts(window.lo)).label("current"),
            cohort_start(c.demo_at, filters.grain).label("cohort"),
            c.rep,
            _flag(connected(DelegationPath.TRIAL.value, window.as_of, c.customer)).label("trial"),
            _flag(production).label("production"),
        )
        .where(*_in_filters(c.rep, None, c.segment, filters))
        .offset(0)  # materialise: SQLite would evaluate it twice when flattened
        .subquery("customers")
    )
    return _grouped(derived, "current", "cohort", "rep", "trial", "production")


def trials_query(filters: MetricsFilter, window: Window) -> Select[Any]:
    """Customers whose trial access ended in [prev_lo, min(hi, now)), converted or open."""
    per_customer = (
        select(
            DR.c.aws_account_id.label("customer"),
            func.min(DR.c.approved_at).label("trial_started"),
            func.max(DR.c.expires_at).label("ended_at"),
            func.max(DR.c.user_id).label("rep"),
            func.max(CU.c.segment).label("segment"),
        )
        .select_from(DR.outerjoin(CU, CU.c.aws_account_id == DR.c.aws_account_id))
        .where(
            DR.c.type == DelegationPath.TRIAL.value,
            DR.c.expires_at >= _ts(window.prev_lo),
            DR.c.approved_at.is_not(None),
        )
        .group_by(DR.c.aws_account_id)
        .subquery("per_trial")
    )
    t = per_customer.c
    converted = (
        exists()
        .where(
            FS.c.customer == t.customer,
            FS.c.production_at >= t.trial_started,
            FS.c.production_at < _ts(window.as_of),
        )
        .correlate(per_customer)
    )
    derived = (
        select(
            _flag(t.ended_at >= _ts(window.lo)).label("current"),
            cohort_start(t.ended_at, filters.grain).label("cohort"),
            t.rep,
            _flag(converted).label("converted"),
            _flag(t.ended_at > _ts(window.as_of - TRIAL_DECISION_WINDOW)).label("open"),
        )
        .where(
            t.ended_at >= _ts(window.prev_lo),
            t.ended_at < _ts(window.effective_hi),
            *_in_filters(t.rep, None, t.segment, filters),
        )
        .offset(0)  # materialise: SQLite would evaluate it twice when flattened
        .subquery("trials")
    )
    return _grouped(derived, "current", "cohort", "rep", "converted", "open")


def tickets_query(filters: MetricsFilter, window: Window) -> Select[Any]:
    """Setup tickets opened in [prev_lo, hi), by (period, cohort)."""
    derived = (
        select(
            _flag(TK.c.opened_at >= _ts(window.lo)).label("current"),
            cohort_start(TK.c.opened_at, filters.grain).label("cohort"),
        )
        .where(
            TK.c.category == "setup",
            TK.c.opened_at >= _ts(window.prev_lo),
            TK.c.opened_at < _ts(window.hi),
        )
        .offset(0)  # materialise: SQLite would evaluate it twice when flattened
        .subquery("tickets")
    )
    return _grouped(derived, "current", "cohort")


def launch_query() -> Select[Any]:
    """When the delegation flow launched (the first request sent) and the first setup ticket."""
    first_request = (
        select(func.min(FE.c.occurred_at))
        .where(FE.c.step == FunnelStep.REQUEST_SENT.value)
        .scalar_subquery()
    )
    first_ticket = (
        select(func.min(TK.c.opened_at)).where(TK.c.category == "setup").scalar_subquery()
    )
    return select(first_request.label("launch"), first_ticket.label("first_ticket"))


def ticket_count_query(lo: datetime, hi: datetime) -> Select[Any]:
    """Setup tickets opened in [lo, hi)."""
    return select(func.count().label("n")).where(
        TK.c.category == "setup", TK.c.opened_at >= _ts(lo), TK.c.opened_at < _ts(hi)
    )


def data_version_query() -> Select[Any]:
    """Cheap fingerprint of the data (primary-key maxima and the ticket count)."""
    return select(
        select(func.max(FE.c.id)).scalar_subquery().label("events"),
        select(func.max(DR.c.id)).scalar_subquery().label("delegations"),
        select(func.max(TK.c.id)).scalar_subquery().label("tickets"),
        select(func.count()).select_from(TK).scalar_subquery().label("ticket_rows"),
    )


def engine_runner(connection: Any) -> Runner:
    """Run statements on a SQLAlchemy connection, returning DataFrames."""

    def run(statement: Select[Any]) -> pd.DataFrame:
        result = connection.execute(statement)
        return pd.DataFrame(result.fetchall(), columns=list(result.keys()))

    return run


def fetch_raw(run: Runner, filters: MetricsFilter, window: Window) -> RawMetrics:
    """Run every query the page needs (seven small result sets)."""
    return RawMetrics(
        sessions=run(sessions_query(filters, window)),
        sync_bins=run(sync_bins_query(filters, window)),
        sync_ranks=run(sync_ranks_query(filters, window)),
        customers=run(customers_query(filters, window)),
        trials=run(trials_query(filters, window)),
        tickets=run(tickets_query(filters, window)),
        baseline=fetch_baseline(run, filters),
    )


def fetch_baseline(run: Runner, filters: MetricsFilter) -> Baseline:
    """The ticket baseline: the filter's override, else the default rule in ``DEFINITIONS``."""
    if filters.baseline_start is not None and filters.baseline_end is not None:
        start, end, how = filters.baseline_start, filters.baseline_end, "chosen on the page"
    else:
        row = run(launch_query()).iloc[0]
        chosen = default_baseline(_as_datetime(row["launch"]), _as_datetime(row["first_ticket"]))
        if chosen is None:
            return Baseline(None, None, 0, "no setup tickets recorded yet")
        start, end, how = chosen
    count = run(ticket_count_query(day_start(start), day_start(end) + timedelta(days=1)))
    return Baseline(start, end, int(count.iloc[0]["n"]), how)


def _as_datetime(value: Any) -> datetime | None:
    if value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NaT:
        return None
    if isinstance(value, str):  # scalar subqueries lose the column type on SQLite
        value = datetime.fromisoformat(value)
    stamp = pd.Timestamp(value)
    return (
        stamp.tz_localize(UTC) if stamp.tzinfo is None else stamp.tz_convert(UTC)
    ).to_pydatetime()


def default_baseline(
    launch: datetime | None, first_ticket: datetime | None
) -> tuple[date, date, str] | None:
    """The 90 days before launch if the tickets go back that far, else the first 90 days."""
    if first_ticket is None:
        return None
    first_day = first_ticket.date()
    if launch is not None and first_day <= launch.date() - timedelta(days=BASELINE_DAYS):
        end = launch.date() - timedelta(days=1)
        return end - timedelta(days=BASELINE_DAYS - 1), end, "90 days before the delegation launch"
    end = first_day + timedelta(days=BASELINE_DAYS - 1)
    return first_day, end, "first 90 days of ticket history"


# --- the repository the service speaks to ----------------------------------------------------


class MetricsStore:
    """Every read behind the Leadership page, each on one read-only snapshot."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def fetch(self, filters: MetricsFilter, window: Window) -> tuple[RawMetrics, dict[int, str]]:
        """The page's result sets and every staff member's name, from one snapshot."""
        with read_connection(self._engine) as connection:
            raw = fetch_raw(engine_runner(connection), filters, window)
            rows = connection.execute(select(SU.c.id, SU.c.name)).all()
        return raw, {int(row.id): str(row.name) for row in rows}

    def rep_options(self) -> list[tuple[int, str]]:
        """(id, name) of every sales and CS staff member, by name."""
        with read_connection(self._engine) as connection:
            rows = connection.execute(
                select(SU.c.id, SU.c.name)
                .where(SU.c.role.in_([StaffRole.SALES.value, StaffRole.CS.value]))
                .order_by(SU.c.name)
            ).all()
        return [(int(row.id), str(row.name)) for row in rows]

    def data_version(self) -> tuple[int, ...]:
        """The fingerprint of ``data_version_query`` as a tuple of ints."""
        with read_connection(self._engine) as connection:
            row = connection.execute(data_version_query()).one()
        return tuple(int(value or 0) for value in row)
