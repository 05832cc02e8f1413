"""The aggregation in SQL (SQLAlchemy Core): the same statements on SQLite and PostgreSQL.

Every statement returns a small frame — one row per (period, cohort, rep, outcome), never one
row per event — and reads the metrics rollup (``vell_core.store.rollup``: counts per day, week
and month) for whole buckets, plus, from ``funnel_sessions`` (one row per wizard session), only
what the rollup cannot place by day. Trials come from ``delegation_requests``. Cohorts come back
as day numbers and ``fetch_raw`` turns them into dates.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import and_, case, exists, false, func, literal, or_, select, union_all
from sqlalchemy.engine import Engine
from sqlalchemy.sql import ColumnElement, Select

from vell_core.domain.metrics import (
    BASELINE_DAYS,
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
from vell_core.store.rollup import (
    ALL_PATHS_AND_SEGMENTS,
    DAY,
    MONTH,
    NO_REP,
    WEEK,
    R,
    V,
    X,
    as_date,
    cohort_number,
    day_number,
    month_of,
    next_month,
    week_of,
)

if TYPE_CHECKING:  # loaded where a frame is built: `vell run` starts without pandas
    import numpy as np
    import pandas as pd

# --- SQL (Core) -----------------------------------------------------------------------------

FE = table_of(FunnelEvent)
FS = table_of(FunnelSession)
DR = table_of(DelegationRequest)
CU = table_of(Customer)
TK = table_of(SupportTicket)
SU = table_of(StaffUser)

# The summary column holding each wizard step's time, in WIZARD_STEPS order.
STEP_AT_COLUMNS = tuple(STEP_COLUMNS[step.value] for step in WIZARD_STEPS)

Runner = Callable[[Select[Any]], "pd.DataFrame"]


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


def _summed(parts: list[Select[Any]], *columns: str) -> Select[Any]:
    """``SELECT cols, sum(n) FROM (part UNION ALL …) GROUP BY cols`` without zero groups.

    Rollup rows and per-session rows carry a count ``n`` (per-session rows 1, corrections -1);
    a group whose counts cancel out (or a rollup row emptied by upkeep) is no group at all.
    """
    sub = (union_all(*parts) if len(parts) > 1 else parts[0]).subquery("parts")
    cols = [sub.c[name] for name in columns]
    total = func.sum(sub.c.n)
    return select(*cols, total.label("n")).group_by(*cols).having(total != 0)


# --- which rollup rows cover a period ---------------------------------------------------------

Ranges = list[tuple[int, int, int]]  # (grain, first bucket, end bucket) of day numbers


def cover(first: int, end: int, grain: str) -> Ranges:
    """Rollup buckets covering the days [first, end): whole weeks or months, days at the edges."""
    if first >= end:
        return []
    if grain == "week":
        big, start, stop = (
            WEEK,
            first if week_of(first) == first else week_of(first) + 7,
            week_of(end),
        )
    else:
        big = MONTH
        start, stop = first if month_of(first) == first else next_month(first), month_of(end)
    if start >= stop:
        return [(DAY, first, end)]
    spans = [(DAY, first, start), (big, start, stop), (DAY, stop, end)]
    return [(g, a, b) for g, a, b in spans if a < b]


def period_ranges(window: Window, grain: str, skip_day: int | None = None) -> Ranges:
    """The buckets of both periods (each bucket inside one), leaving out ``skip_day``."""
    prev_lo, lo, hi = day_number(window.prev_lo), day_number(window.lo), day_number(window.hi)
    spans = [(prev_lo, lo), (lo, hi)]
    if skip_day is not None:
        spans = [
            part
            for a, b in spans
            for part in (((a, skip_day), (skip_day + 1, b)) if a <= skip_day < b else ((a, b),))
        ]
    return [r for a, b in spans for r in cover(a, b, grain)]


def _buckets(family: str, ranges: Ranges) -> ColumnElement[bool]:
    if not ranges:
        return false()
    return or_(
        *[
            and_(R.c.family == family, R.c.grain == g, R.c.bucket >= a, R.c.bucket < b)
            for g, a, b in ranges
        ]
    )


def _rolled(
    family: str, filters: MetricsFilter, window: Window, ranges: Ranges, **columns: Any
) -> Select[Any]:
    """Rollup rows of ``family`` in ``ranges`` as (current, cohort, columns…, n).

    Without a path or segment filter it reads the family's ``_all`` rows (no such axis).
    """
    _rep, path, segment = FILTER_AXES[family]
    if family in ALL_PATHS_AND_SEGMENTS and not (
        (filters.paths and path is not None) or (filters.segments and segment is not None)
    ):
        family = ALL_PATHS_AND_SEGMENTS[family]
    cohort = R.c.week if filters.grain == "week" else R.c.month
    return select(
        _flag(R.c.bucket >= day_number(window.lo)).label("current"),
        cohort.label("cohort"),
        *[expr.label(name) for name, expr in columns.items()],
        R.c.n.label("n"),
    ).where(_buckets(family, ranges), *_in_filters(*FILTER_AXES[family], filters))


# The filters each family answers (tickets none; customers no path: the path is the funnel).
FILTER_AXES: dict[str, tuple[Any, Any, Any]] = {
    "sessions": (R.c.rep, R.c.path, R.c.segment),
    "sync_bins": (R.c.rep, R.c.path, R.c.segment),
    "sync_fine": (None, None, None),  # read only without filters
    "customers": (R.c.rep, None, R.c.segment),
    "tickets": (None, None, None),
    **dict.fromkeys(ALL_PATHS_AND_SEGMENTS.values(), (R.c.rep, None, None)),
}


# --- wizard sessions ----------------------------------------------------------------------


def _session_rows(
    filters: MetricsFilter,
    window: Window,
    started: tuple[datetime, datetime],
    *conditions: ColumnElement[bool],
) -> Select[Any]:
    """Per-session rows (n = 1) from the summary, for sessions the rollup leaves out.

    The furthest step counts only steps reached inside the events' window [prev_lo, hi + 7
    days), as when the events themselves are grouped: the step ladder picks the latest wizard
    step whose time falls in it (Provider always does).
    """
    event_hi = window.hi + WIZARD_WINDOW
    ladder = [
        (_in_range(FS.c[column], window.prev_lo, event_hi), rank)
        for rank, column in reversed(list(enumerate(STEP_AT_COLUMNS, start=1)))
        if rank > 1
    ]
    return select(
        _flag(FS.c.started_at >= _ts(window.lo)).label("current"),
        cohort_number(FS.c.started_at, filters.grain).label("cohort"),
        func.coalesce(FS.c.rep, NO_REP).label("rep"),
        case(*ladder, else_=1).label("furthest"),
        _flag(FS.c.started_at >= _ts(window.as_of - WIZARD_WINDOW)).label("recent"),
        literal(1).label("n"),
    ).where(
        # one range only: SQLite seeks the index with one lower and one upper bound
        _in_range(FS.c.started_at, *started),
        *_in_filters(FS.c.rep, FS.c.path, FS.c.segment, filters),
        *conditions,
    )


def sessions_query(filters: MetricsFilter, window: Window) -> Select[Any]:
    """Wizard sessions started in [prev_lo, hi), grouped by (period, cohort, rep, furthest).

    From the rollup's ``sessions`` rows (start day × furthest step), except the day that holds
    "7 days ago" (``recent`` changes inside it) and the sessions listed as exceptions, which
    come from the per-session summary.
    """
    boundary = window.as_of - WIZARD_WINDOW
    skip = day_number(boundary)
    skip_lo = datetime(boundary.year, boundary.month, boundary.day, tzinfo=UTC)
    skip_hi = skip_lo + timedelta(days=1)
    in_skip_day = _in_range(FS.c.started_at, skip_lo, skip_hi)
    skip_part = (max(window.prev_lo, skip_lo), min(window.hi, skip_hi))
    rolled = _rolled(
        "sessions",
        filters,
        window,
        period_ranges(window, filters.grain, skip),
        rep=R.c.rep,
        furthest=R.c.k1,
        recent=_flag(R.c.bucket > skip),
    )
    listed = select(X.c.key).where(X.c.kind == "session")
    return _summed(
        [
            rolled,
            _session_rows(filters, window, skip_part),
            _session_rows(
                filters,
                window,
                (window.prev_lo, window.hi),
                ~in_skip_day,
                FS.c.wizard_session_id.in_(listed),
            ),
        ],
        "current",
        "cohort",
        "rep",
        "furthest",
        "recent",
    )


# --- first syncs ----------------------------------------------------------------------------


def sync_bins_query(filters: MetricsFilter, window: Window) -> Select[Any]:
    """First syncs grouped by (period, rep, histogram bin), from the rollup."""
    rolled = _rolled(
        "sync_bins", filters, window, period_ranges(window, filters.grain), rep=R.c.rep, bin=R.c.k1
    )
    return _summed([rolled], "current", "rep", "bin")


def sync_fine_query(filters: MetricsFilter, window: Window) -> Select[Any]:
    """First syncs by (period, cohort, fine bin), from the rollup (no rep/path/segment axis)."""
    rolled = _rolled(
        "sync_fine", filters, window, period_ranges(window, filters.grain), fine_bin=R.c.k1
    )
    return _summed([rolled], "current", "cohort", "fine_bin")


def _sync_base(filters: MetricsFilter, window: Window) -> Any:
    """First syncs in [prev_lo, hi) with their value, period flag, cohort and rep."""
    query = select(
        _flag(FS.c.first_sync_at >= _ts(window.lo)).label("current"),
        cohort_number(FS.c.first_sync_at, filters.grain).label("cohort"),
        FS.c.rep.label("rep"),
        FS.c.first_sync_seconds.label("v"),
    ).where(
        _in_range(FS.c.first_sync_at, window.prev_lo, window.hi),
        FS.c.first_sync_seconds.is_not(None),
        *_in_filters(FS.c.rep, FS.c.path, FS.c.segment, filters),
    )
    return query.cte("sync")


def sync_ranks_query(filters: MetricsFilter, window: Window) -> Select[Any]:
    """Only the ranked values needed for exact medians and p90s per period and cohort.

    The per-session way, used under a rep, path or segment filter (the fine-bin rollup has no
    such axis). Window functions number the values in each partition; the WHERE keeps the rows
    within one rank of each quantile's position.
    """
    base = _sync_base(filters, window)
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


QUANTILES = (0.5, 0.9)
SYNC_RANK_COLUMNS = ["current", "cohort", "rep", "v", "rn_p", "n_p", "rn_c", "n_c"]


def _needed_ranks(count: int) -> set[int]:
    """The ranks a linear-interpolated median and p90 of ``count`` values read."""
    ranks = set()
    for q in QUANTILES:
        low = math.floor(q * (count - 1))
        ranks |= {low, min(low + 1, count - 1)}
    return ranks


def _locate(bins: np.ndarray, counts: np.ndarray, ranks: set[int]) -> dict[int, tuple[int, int]]:
    """{rank: (fine bin, offset inside the bin)} from the bins (ascending) and their counts."""
    import numpy as np

    ends = np.cumsum(counts)
    out = {}
    for rank in ranks:
        index = int(np.searchsorted(ends, rank, side="right"))
        out[rank] = (int(bins[index]), rank - (int(ends[index - 1]) if index else 0))
    return out


def fetch_sync_ranks(run: Runner, filters: MetricsFilter, window: Window) -> pd.DataFrame:
    """The ranked first-sync values around each median and p90 (``sync_ranks_query``'s rows).

    Without a rep/path/segment filter: the fine-bin counts per period and cohort say which bin
    and which offset inside it each needed rank falls in, then one statement reads only those
    bins' values (``metrics_sync_values``) for the days concerned. Exact: the values at the
    ranks are the stored values themselves.
    """
    import pandas as pd

    if filters.rep_ids or filters.paths or filters.segments:
        return run(sync_ranks_query(filters, window))
    counts = run(sync_fine_query(filters, window))
    lo, hi, prev_lo = day_number(window.lo), day_number(window.hi), day_number(window.prev_lo)
    cohort_of = week_of if filters.grain == "week" else month_of
    # (days [a, b), fine bin, offset, row template)
    lookups: list[tuple[int, int, int, int, dict[str, Any]]] = []
    period_n: dict[int, int] = {}
    cohort_n: dict[tuple[int, int], int] = {}
    frame = counts.astype("int64").sort_values(["current", "fine_bin"], kind="stable")
    for current, part in frame.groupby("current", sort=True):
        per_bin = part.groupby("fine_bin", sort=True)["n"].sum()
        period_n[int(current)] = total = int(per_bin.sum())
        a, b = (lo, hi) if current else (prev_lo, lo)
        located = _locate(per_bin.index.to_numpy(), per_bin.to_numpy(), _needed_ranks(total))
        for rank, (fine, offset) in located.items():
            row = {"current": int(current), "rn_p": rank, "n_p": total, "rn_c": -1}
            lookups.append((a, b, fine, offset, row))
        for cohort, group in part.groupby("cohort", sort=True):
            key = (int(current), int(cohort))
            cohort_n[key] = size = int(group["n"].sum())
            if not current:
                continue  # the trend shows the current period's cohorts only
            end = next_month(key[1]) if filters.grain == "month" else key[1] + 7
            span = (max(key[1], lo), min(end, hi))
            bins, sizes = group["fine_bin"].to_numpy(), group["n"].to_numpy()
            for rank, (fine, offset) in _locate(bins, sizes, _needed_ranks(size)).items():
                row = {"current": 1, "cohort": key[1], "rn_c": rank, "rn_p": -1, "n_c": size}
                lookups.append((*span, fine, offset, {**row, "n_p": total}))
    if not lookups:
        return pd.DataFrame(columns=SYNC_RANK_COLUMNS)
    terms = sorted({(fine, a, b) for a, b, fine, _offset, _row in lookups})
    found = run(
        select(V.c.fine_bin, V.c.day, V.c.value)
        .where(or_(*[and_(V.c.fine_bin == f, V.c.day >= a, V.c.day < b) for f, a, b in terms]))
        .order_by(V.c.fine_bin, V.c.value)
    )
    by_bin: dict[int, tuple[np.ndarray, np.ndarray]] = {}
    for fine, group in found.groupby("fine_bin", sort=False):
        by_bin[int(fine)] = (group["day"].to_numpy(), group["value"].to_numpy(dtype=float))
    rows = []
    for a, b, fine, offset, template in lookups:
        days, values = by_bin[fine]
        inside = (days >= a) & (days < b)
        ranked: dict[str, Any] = {"rep": None, "v": float(values[inside][offset]), **template}
        if "cohort" not in ranked:  # a period's rank: its value's own cohort, with that size
            ranked["cohort"] = cohort_of(int(days[inside][offset]))
            ranked["n_c"] = cohort_n.get((ranked["current"], ranked["cohort"]), 0)
        rows.append(ranked)
    return pd.DataFrame(rows, columns=SYNC_RANK_COLUMNS)


# --- customers: demo → trial → production ---------------------------------------------------


def _customer_rows(
    filters: MetricsFilter,
    window: Window,
    only: Any,
    as_of: datetime | None,
    n: int,
) -> Select[Any]:
    """Per-customer rows (count ``n``) for the customers in ``only``, from the summary.

    Customers whose first connected demo is in [prev_lo, hi), by stage reached before
    ``as_of`` (ever, when None).
    """
    other = FS.alias("other")

    def connected(path: str, before: datetime | None, customer: ColumnElement[Any]) -> Any:
        when = (
            other.c.connected_at.is_not(None)
            if before is None
            else other.c.connected_at < _ts(before)
        )
        return exists().where(other.c.customer == customer, other.c.path == path, when)

    demo = DelegationPath.DEMO.value
    per_customer = (
        select(
            FS.c.customer,
            func.min(FS.c.connected_at).label("demo_at"),
            func.max(FS.c.rep).label("rep"),
            func.max(FS.c.segment).label("segment"),
        )
        .where(
            FS.c.customer.in_(only),
            FS.c.path == demo,
            _in_range(FS.c.connected_at, window.prev_lo, window.hi),
            # the customer's *first* demo: none connected before the window
            ~connected(demo, window.prev_lo, FS.c.customer),
        )
        .group_by(FS.c.customer)
        .subquery("per_customer")
    )
    c = per_customer.c
    produced = (
        other.c.production_at.is_not(None) if as_of is None else other.c.production_at < _ts(as_of)
    )
    production = exists().where(other.c.customer == c.customer, produced)
    columns: list[ColumnElement[Any]] = [
        _flag(c.demo_at >= _ts(window.lo)).label("current"),
        cohort_number(c.demo_at, filters.grain).label("cohort"),
        func.coalesce(c.rep, NO_REP).label("rep"),
        _flag(connected(DelegationPath.TRIAL.value, as_of, c.customer)).label("trial"),
        _flag(production).label("production"),
        literal(n).label("n"),
    ]
    return select(*columns).where(*_in_filters(c.rep, None, c.segment, filters))


def customers_query(filters: MetricsFilter, window: Window) -> Select[Any]:
    """Customers whose first connected demo is in [prev_lo, hi), by stage reached.

    From the rollup's ``customers`` rows (first demo day × trial ever × production ever),
    plus, from the summary: customers listed as exceptions, and customers with a trial
    connected or production reached at or after ``as_of`` (their rollup row is taken back,
    n = -1, and their stages as of ``as_of`` counted instead).
    """
    rolled = _rolled(
        "customers",
        filters,
        window,
        period_ranges(window, filters.grain),
        rep=R.c.rep,
        trial=R.c.k1,
        production=R.c.k2,
    )
    listed = select(X.c.key).where(X.c.kind == "customer")
    late = (
        select(FS.c.customer.label("customer"))
        .where(FS.c.path == DelegationPath.TRIAL.value, FS.c.connected_at >= _ts(window.as_of))
        .union(select(FS.c.customer).where(FS.c.production_at >= _ts(window.as_of)))
        .subquery("late")
    )
    late_listed = select(late.c.customer).where(late.c.customer.not_in(listed))
    return _summed(
        [
            rolled,
            _customer_rows(filters, window, listed, window.as_of, 1),
            _customer_rows(filters, window, late_listed, window.as_of, 1),
            _customer_rows(filters, window, late_listed, None, -1),
        ],
        "current",
        "cohort",
        "rep",
        "trial",
        "production",
    )


# --- trials and tickets -----------------------------------------------------------------------


def trials_query(filters: MetricsFilter, window: Window) -> Select[Any]:
    """Customers whose trial access ended in [prev_lo, min(hi, now)), converted or open.

    The customers table is joined only for a segment filter (its one use).
    """
    segment = func.max(CU.c.segment) if filters.segments else literal(None)
    source = (
        DR.outerjoin(CU, CU.c.aws_account_id == DR.c.aws_account_id) if filters.segments else DR
    )
    per_customer = (
        select(
            DR.c.aws_account_id.label("customer"),
            func.min(DR.c.approved_at).label("trial_started"),
            func.max(DR.c.expires_at).label("ended_at"),
            func.max(DR.c.user_id).label("rep"),
            segment.label("segment"),
        )
        .select_from(source)
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
            cohort_number(t.ended_at, filters.grain).label("cohort"),
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
    """Setup tickets opened in [prev_lo, hi), by (period, cohort), from the rollup."""
    rolled = _rolled("tickets", filters, window, period_ranges(window, filters.grain))
    return _summed([rolled], "current", "cohort")


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
    """Setup tickets opened on the days [lo, hi) (midnights), from the rollup."""
    ranges = cover(day_number(lo), day_number(hi), "month")
    return select(func.coalesce(func.sum(R.c.n), 0).label("n")).where(_buckets("tickets", ranges))


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

    import pandas as pd

    def run(statement: Select[Any]) -> pd.DataFrame:
        result = connection.execute(statement)
        # The driver's plain tuples: every column the metrics read back is a number (or, for
        # the baseline's two timestamps, text that ``_as_datetime`` parses), so SQLAlchemy's
        # per-row processing (~10 µs a row) buys nothing here.
        try:
            rows = result.cursor.fetchall() if result.cursor is not None else []
        finally:
            result.close()
        return pd.DataFrame(rows, columns=list(result.keys()))

    return run


def fetch_raw(run: Runner, filters: MetricsFilter, window: Window) -> RawMetrics:
    """Run every query the page needs (small result sets; cohorts come back as dates)."""
    return RawMetrics(
        sessions=_dated(run(sessions_query(filters, window))),
        sync_bins=run(sync_bins_query(filters, window)),
        sync_ranks=_dated(fetch_sync_ranks(run, filters, window)),
        customers=_dated(run(customers_query(filters, window))),
        trials=_dated(run(trials_query(filters, window))),
        tickets=_dated(run(tickets_query(filters, window))),
        baseline=fetch_baseline(run, filters),
    )


def _dated(frame: pd.DataFrame) -> pd.DataFrame:
    """Day numbers in ``cohort`` → dates."""
    if "cohort" in frame.columns:
        frame = frame.assign(cohort=[as_date(int(day)) for day in frame["cohort"]])
    return frame


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
    import pandas as pd

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
