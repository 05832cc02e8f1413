"""Leadership metrics: the five success metrics, their funnels and trends.

Layering (house style §3.13): the aggregation runs in SQL on the store (SQLAlchemy Core; the
same statements on SQLite and PostgreSQL, with one dialect-specific construct for "start of
the week/month") and returns small frames — one row per (period, cohort, rep, outcome), never
one row per event. Pure functions shape those frames into KPI tiles, tables and Altair charts;
they never touch the database or Streamlit. ``MetricsService`` ties both together.

The definitions (also on the page and in the README) live in ``DEFINITIONS``.

Periods are half-open UTC intervals ``[lo, hi)``; the filter's dates are inclusive days. The
previous period is the same length immediately before ``lo``.
"""

from __future__ import annotations

import io
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import altair as alt
import numpy as np
import pandas as pd
from sqlalchemy import Date, and_, case, exists, func, literal, or_, select
from sqlalchemy.engine import Engine
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql import ColumnElement, Select
from sqlalchemy.sql.functions import FunctionElement

from vell_core.clock import Clock
from vell_core.errors import ValidationFailed
from vell_core.models import (
    Customer,
    CustomerSegment,
    DelegationPath,
    DelegationRequest,
    FunnelEvent,
    FunnelStep,
    StaffRole,
    StaffUser,
    SupportTicket,
    UtcDateTime,
)
from vell_core.staff import StaffDirectory, StaffMember

# --- targets and definitions ---------------------------------------------------------------

TARGET_COMPLETION = 0.75
TARGET_SYNC_SECONDS = 300.0
TARGET_TRIAL_CONVERSION = 0.60
TARGET_TICKET_CHANGE = -0.50
BASELINE_SYNC_MINUTES = (30.0, 60.0)  # the CloudFormation-era time to first sync

# A delegation request that is not approved expires after 7 days, so a wizard session cannot
# reach Connected later than that: sessions younger than this may still complete.
WIZARD_WINDOW = timedelta(days=7)
# After a trial's access ends, CS has two weeks to bring the customer to production; until
# then the outcome is open and the trial is flagged, not counted as a failure.
TRIAL_DECISION_WINDOW = timedelta(days=14)
BASELINE_DAYS = 90

WIZARD_STEPS: tuple[FunnelStep, ...] = (
    FunnelStep.PROVIDER,
    FunnelStep.ACCOUNT_INFO,
    FunnelStep.CHOOSE_PATH,
    FunnelStep.REQUEST_SENT,
    FunnelStep.APPROVED,
    FunnelStep.CONNECTED,
)
STEP_LABELS = {
    FunnelStep.PROVIDER.value: "1 Provider",
    FunnelStep.ACCOUNT_INFO.value: "2 Account info",
    FunnelStep.CHOOSE_PATH.value: "3 Choose path",
    FunnelStep.REQUEST_SENT.value: "4 Request sent",
    FunnelStep.APPROVED.value: "5 Approved",
    FunnelStep.CONNECTED.value: "6 Connected",
}
CUSTOMER_STAGES = ("Demo connected", "Trial connected", "Production")
PATH_OPTIONS = (*(path.value for path in DelegationPath), "production")
SEGMENT_OPTIONS = tuple(segment.value for segment in CustomerSegment)
GRAINS = ("week", "month")
# Histogram bin edges in minutes; fine below the 5-minute target, coarse in the old 30-60 band.
SYNC_BIN_EDGES = (0, 0.5, 1, 1.5, 2, 3, 4, 5, 7.5, 10, 15, 20, 30, 45, 60, 90, 120)
SYNC_OVERFLOW_WIDTH = 30.0  # the open-ended last bin is drawn this wide

DEFINITIONS: dict[str, str] = {
    "completion": (
        "**Wizard completion rate** = wizard sessions that reached *Connected* ÷ wizard sessions "
        "started (a *Provider* event) in the period. Sessions are counted in the period they "
        "started; a session counts as completed if it connects within 7 days (an unapproved "
        "request expires then). Per step: *reached* = sessions whose furthest step is this one or "
        "later (a CloudFormation session has no request/approval events, so reaching *Connected* "
        "implies them); *step conversion* = reached ÷ reached at the previous step; *dropped "
        "here* = sessions whose furthest step is this one. Target ≥ 75%."
    ),
    "sync": (
        "**Time to first sync** = approval → first data on screen (`first_sync.value_seconds`), "
        "for first syncs in the period: median and p90 (linear interpolation between ranks, as "
        "pandas/numpy do), plus the distribution. Target: median ≤ 5 min (lower is better); "
        "the CloudFormation baseline was 30–60 min."
    ),
    "customers": (
        "**Demo → trial → production** (customers, not sessions): customers whose *first* "
        "connected demo falls in the period; of those, how many ever connected a trial and how "
        "many reached production (up to now). Step conversion = stage ÷ previous stage. "
        "Tracked, no target; the path filter does not apply (the path is the funnel)."
    ),
    "trial": (
        "**Trial → production rate** = customers whose trial access ended in the period and who "
        "reached production ÷ those whose outcome is decided. A customer's trial ends when the "
        "last of their approved trial requests expires; the outcome is decided 14 days later. "
        "Trials still inside those 14 days are *open*: shown and flagged, not counted as "
        "failures (or successes). Target ≥ 60%."
    ),
    "tickets": (
        "**Setup support tickets** = tickets with category *setup* opened in the period, per 30 "
        "days, compared with the baseline rate: change = period rate ÷ baseline rate − 1. "
        "Default baseline: the 90 days before the delegation flow launched (the first "
        "*request_sent* event); without that history, the first 90 days of ticket data. Target "
        "≤ −50% (lower is better). Rep, path and segment filters do not apply to tickets."
    ),
}


# --- filters and results --------------------------------------------------------------------


@dataclass(frozen=True)
class MetricsFilter:
    """What the page asks for; plain values only, so it is a safe cache key."""

    start: date
    end: date  # inclusive
    rep_ids: tuple[int, ...] = ()
    paths: tuple[str, ...] = ()
    segments: tuple[str, ...] = ()
    grain: str = "week"
    baseline_start: date | None = None
    baseline_end: date | None = None  # inclusive

    def validate(self) -> MetricsFilter:
        """Raise ValidationFailed on an impossible filter; return self."""
        problems: dict[str, str] = {}
        if self.end < self.start:
            problems["period"] = "the end date is before the start date"
        if self.grain not in GRAINS:
            problems["grain"] = f"choose one of {', '.join(GRAINS)}"
        if (self.baseline_start is None) != (self.baseline_end is None):
            problems["baseline"] = "give both baseline dates or neither"
        elif self.baseline_start and self.baseline_end and self.baseline_end < self.baseline_start:
            problems["baseline"] = "the baseline ends before it starts"
        if unknown := set(self.paths) - set(PATH_OPTIONS):
            problems["path"] = f"unknown path(s): {', '.join(sorted(unknown))}"
        if unknown := set(self.segments) - set(SEGMENT_OPTIONS):
            problems["segment"] = f"unknown segment(s): {', '.join(sorted(unknown))}"
        if problems:
            raise ValidationFailed(fields=problems)
        return self


@dataclass(frozen=True)
class Window:
    """The UTC instants a filter resolves to at a given moment."""

    lo: datetime
    hi: datetime
    prev_lo: datetime
    as_of: datetime

    @property
    def effective_hi(self) -> datetime:
        """The end of the period, but never in the future."""
        return min(self.hi, self.as_of)

    @classmethod
    def of(cls, filters: MetricsFilter, as_of: datetime) -> Window:
        """Resolve inclusive dates to ``[lo, hi)`` and the previous period of equal length."""
        lo = day_start(filters.start)
        hi = day_start(filters.end) + timedelta(days=1)
        return cls(lo=lo, hi=hi, prev_lo=lo - (hi - lo), as_of=as_of)


@dataclass(frozen=True)
class Kpi:
    """One header tile: value, target and change since the previous period."""

    key: str
    label: str
    value: float | None
    previous: float | None
    target: float | None
    unit: str  # "ratio" | "minutes" | "change"
    higher_is_better: bool
    note: str = ""

    @property
    def value_text(self) -> str:
        """The value as shown on the tile."""
        return format_value(self.value, self.unit)

    @property
    def target_text(self) -> str:
        """E.g. "≥ 75%", "≤ 5.0 min", or "tracked"."""
        if self.target is None:
            return "tracked (no target)"
        sign = "≥" if self.higher_is_better else "≤"
        return f"{sign} {format_value(self.target, self.unit)}"

    @property
    def delta_text(self) -> str | None:
        """Change since the previous period (percentage points for rates), or None."""
        if self.value is None or self.previous is None:
            return None
        delta = self.value - self.previous
        if self.unit == "minutes":
            return f"{delta:+.1f} min"
        return f"{delta * 100:+.1f} pp"

    @property
    def delta_color(self) -> str:
        """``st.metric`` colour: inverse where lower is better."""
        return "normal" if self.higher_is_better else "inverse"

    @property
    def on_target(self) -> bool | None:
        """Whether the current value meets the target (None when unknown or untargeted)."""
        if self.value is None or self.target is None:
            return None
        return self.value >= self.target if self.higher_is_better else self.value <= self.target


@dataclass(frozen=True)
class RawMetrics:
    """The small frames the SQL returns (one row per group, not per event)."""

    sessions: pd.DataFrame  # current, cohort, rep, furthest, recent, n
    sync_bins: pd.DataFrame  # current, rep, bin, n
    sync_ranks: pd.DataFrame  # current, cohort, rep, v, rn_p, n_p, rn_c, n_c
    customers: pd.DataFrame  # current, cohort, rep, trial, production, n
    trials: pd.DataFrame  # current, cohort, rep, converted, open, n
    tickets: pd.DataFrame  # current, cohort, n
    baseline: Baseline


@dataclass(frozen=True)
class Baseline:
    """The ticket baseline period and its rate."""

    start: date | None
    end: date | None  # inclusive
    tickets: int
    how: str

    @property
    def days(self) -> int:
        """Length in days (0 when there is no baseline)."""
        if self.start is None or self.end is None:
            return 0
        return (self.end - self.start).days + 1

    @property
    def per_30_days(self) -> float | None:
        """Setup tickets per 30 days during the baseline."""
        return self.tickets / self.days * 30 if self.days else None


@dataclass(frozen=True)
class Dashboard:
    """Everything the Leadership page shows, already shaped."""

    filters: MetricsFilter
    window: Window
    kpis: tuple[Kpi, ...]
    wizard_funnel: pd.DataFrame
    completion_trend: pd.DataFrame
    sync_histogram: pd.DataFrame
    sync_trend: pd.DataFrame
    sync_stats: dict[str, float | int | None]
    customer_funnel: pd.DataFrame
    trial_trend: pd.DataFrame
    trial_stats: dict[str, float | int | None]
    tickets: pd.DataFrame
    baseline: Baseline
    reps: pd.DataFrame
    notes: tuple[str, ...] = field(default_factory=tuple)

    @property
    def is_empty(self) -> bool:
        """True when nothing at all matched the filter in the period."""
        return (
            int(self.wizard_funnel["reached"].max() if len(self.wizard_funnel) else 0) == 0
            and not self.sync_stats.get("n")
            and int(self.customer_funnel["customers"].max() if len(self.customer_funnel) else 0)
            == 0
            and not self.trial_stats.get("ended")
            and int(self.tickets["tickets"].sum() if len(self.tickets) else 0) == 0
        )


# --- small helpers --------------------------------------------------------------------------


def day_start(day: date) -> datetime:
    """Midnight UTC of ``day``."""
    return datetime.combine(day, time.min, tzinfo=UTC)


def format_value(value: float | None, unit: str) -> str:
    """Human text for a metric value."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "—"
    if unit == "minutes":
        return f"{value:.1f} min"
    if unit == "change":
        return f"{value * 100:+.0f}%"
    return f"{value * 100:.0f}%"


def ratio(numerator: float, denominator: float) -> float | None:
    """``numerator / denominator``, or None when there is nothing to divide by."""
    return numerator / denominator if denominator else None


def to_csv(frame: pd.DataFrame) -> bytes:
    """CSV bytes for a download button (UTF-8, no index)."""
    buffer = io.StringIO()
    frame.to_csv(buffer, index=False)
    return buffer.getvalue().encode("utf-8")


def period_presets(today: date) -> dict[str, tuple[date, date]]:
    """Named periods for the page: last 30/90 days and the last five calendar quarters."""
    presets = {
        "Last 30 days": (today - timedelta(days=29), today),
        "Last 90 days": (today - timedelta(days=89), today),
    }
    quarter_start = date(today.year, 3 * ((today.month - 1) // 3) + 1, 1)
    for _ in range(5):
        next_start = _add_months(quarter_start, 3)
        end = min(next_start - timedelta(days=1), today)
        label = f"Q{(quarter_start.month - 1) // 3 + 1} {quarter_start.year}"
        presets[label + (" (to date)" if end == today else "")] = (quarter_start, end)
        quarter_start = _add_months(quarter_start, -3)
    return presets


def _add_months(day: date, months: int) -> date:
    index = day.year * 12 + day.month - 1 + months
    return date(index // 12, index % 12 + 1, 1)


def cohort_end(start: date, grain: str) -> date:
    """The first day after the cohort that begins on ``start`` (exclusive end)."""
    return start + timedelta(days=7) if grain == "week" else _add_months(start, 1)


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
    return _WeekStart(expr) if grain == "week" else _MonthStart(expr)  # type: ignore[return-value]


# --- SQL (Core) -----------------------------------------------------------------------------

FE = FunnelEvent.__table__  # type: ignore[attr-defined]
DR = DelegationRequest.__table__  # type: ignore[attr-defined]
CU = Customer.__table__  # type: ignore[attr-defined]
TK = SupportTicket.__table__  # type: ignore[attr-defined]
SU = StaffUser.__table__  # type: ignore[attr-defined]

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


def sessions_query(filters: MetricsFilter, window: Window) -> Select[Any]:
    """Wizard sessions started in [prev_lo, hi), grouped by (period, cohort, rep, furthest)."""
    rank = case(
        *[(FE.c.step == step.value, index + 1) for index, step in enumerate(WIZARD_STEPS)],
        else_=0,
    )
    # Early steps carry no path/segment (chosen later), so attributes are per session.
    per_session = (
        select(
            func.min(case((FE.c.step == FunnelStep.PROVIDER.value, FE.c.occurred_at))).label(
                "started_at"
            ),
            func.max(rank).label("furthest"),
            func.max(FE.c.path).label("path"),
            func.max(FE.c.segment).label("segment"),
            func.max(FE.c.actor_user_id).label("rep"),
        )
        .where(
            FE.c.occurred_at >= _ts(window.prev_lo),
            # No step filter: other steps rank 0 and carry the same session attributes, and
            # one range scan on occurred_at is about twice as fast on SQLite as six on step.
            FE.c.occurred_at < _ts(window.hi + WIZARD_WINDOW),
        )
        .group_by(FE.c.wizard_session_id)
        .subquery("per_session")
    )
    s = per_session.c
    derived = (
        select(
            _flag(s.started_at >= _ts(window.lo)).label("current"),
            cohort_start(s.started_at, filters.grain).label("cohort"),
            s.rep,
            s.furthest,
            _flag(s.started_at >= _ts(window.as_of - WIZARD_WINDOW)).label("recent"),
        )
        .where(
            s.started_at >= _ts(window.prev_lo),
            s.started_at < _ts(window.hi),
            *_in_filters(s.rep, s.path, s.segment, filters),
        )
        .subquery("sessions")
    )
    return _grouped(derived, "current", "cohort", "rep", "furthest", "recent")


def _sync_base(filters: MetricsFilter, window: Window) -> Any:
    """First-sync events in [prev_lo, hi) with their value, period flag, cohort and rep."""
    return (
        select(
            _flag(FE.c.occurred_at >= _ts(window.lo)).label("current"),
            cohort_start(FE.c.occurred_at, filters.grain).label("cohort"),
            FE.c.actor_user_id.label("rep"),
            FE.c.value_seconds.label("v"),
        )
        .where(
            FE.c.step == FunnelStep.FIRST_SYNC.value,
            FE.c.occurred_at >= _ts(window.prev_lo),
            FE.c.occurred_at < _ts(window.hi),
            FE.c.value_seconds.is_not(None),
            *_in_filters(FE.c.actor_user_id, FE.c.path, FE.c.segment, filters),
        )
        .subquery("sync")
    )


def sync_bins_query(filters: MetricsFilter, window: Window) -> Select[Any]:
    """First syncs grouped by (period, rep, histogram bin)."""
    base = _sync_base(filters, window)
    edges = SYNC_BIN_EDGES[1:]
    binned = select(
        base.c.current,
        base.c.rep,
        case(
            *[(base.c.v < edge * 60, index) for index, edge in enumerate(edges)],
            else_=len(edges),
        ).label("bin"),
    ).subquery("bins")
    return _grouped(binned, "current", "rep", "bin")


def sync_ranks_query(filters: MetricsFilter, window: Window) -> Select[Any]:
    """Only the ranked values needed for exact medians and p90s per period and cohort.

    Window functions number the values in each partition; the WHERE keeps the rows within one
    rank of each quantile's position, so a handful of rows come back instead of every event.
    """
    base = _sync_base(filters, window)
    b = base.c
    ranked = select(
        b.current,
        b.cohort,
        b.rep,
        b.v,
        (func.row_number().over(partition_by=b.current, order_by=b.v) - 1).label("rn_p"),
        func.count().over(partition_by=b.current).label("n_p"),
        (func.row_number().over(partition_by=[b.current, b.cohort], order_by=b.v) - 1).label(
            "rn_c"
        ),
        func.count().over(partition_by=[b.current, b.cohort]).label("n_c"),
    ).subquery("ranked")
    r = ranked.c
    near = [
        and_(rn >= (n - 1) * q - 1, rn <= (n - 1) * q + 1)
        for rn, n in ((r.rn_p, r.n_p), (r.rn_c, r.n_c))
        for q in (0.5, 0.9)
    ]
    return select(ranked).where(or_(*near))


def customers_query(filters: MetricsFilter, window: Window) -> Select[Any]:
    """Customers whose first connected demo is in [prev_lo, hi), by stage reached.

    Driven by the demo events in the window; each stage is an EXISTS probe on the
    (customer, step) index rather than a GROUP BY over every event of every customer.
    """
    demo_step = FunnelStep.CONNECTED.value

    def has(step: str, path: str | None, **bound: Any) -> Any:
        other = FE.alias()
        clauses = [other.c.customer == FE.c.customer, other.c.step == step]
        if path is not None:
            clauses.append(other.c.path == path)
        if "before" in bound:
            clauses.append(other.c.occurred_at < _ts(bound["before"]))
        return exists().where(*clauses)

    per_customer = (
        select(
            func.min(FE.c.occurred_at).label("demo_at"),
            func.max(FE.c.actor_user_id).label("rep"),
            func.max(FE.c.segment).label("segment"),
            func.max(_flag(has(demo_step, "trial", before=window.as_of))).label("trial"),
            func.max(_flag(has(FunnelStep.PRODUCTION.value, None, before=window.as_of))).label(
                "production"
            ),
        )
        .where(
            FE.c.step == demo_step,
            FE.c.path == DelegationPath.DEMO.value,
            FE.c.occurred_at >= _ts(window.prev_lo),
            FE.c.occurred_at < _ts(window.hi),
            # the customer's *first* demo: none connected before the window
            ~has(demo_step, DelegationPath.DEMO.value, before=window.prev_lo),
        )
        .group_by(FE.c.customer)
        .subquery("per_customer")
    )
    c = per_customer.c
    derived = (
        select(
            _flag(c.demo_at >= _ts(window.lo)).label("current"),
            cohort_start(c.demo_at, filters.grain).label("cohort"),
            c.rep,
            c.trial,
            c.production,
        )
        .where(*_in_filters(c.rep, None, c.segment, filters))
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
            DR.c.approved_at.is_not(None),
            DR.c.expires_at >= _ts(window.prev_lo),
        )
        .group_by(DR.c.aws_account_id)
        .subquery("per_trial")
    )
    t = per_customer.c
    converted = (
        exists()
        .where(
            FE.c.customer == t.customer,
            FE.c.step == FunnelStep.PRODUCTION.value,
            FE.c.occurred_at >= t.trial_started,
            FE.c.occurred_at < _ts(window.as_of),
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


# --- pure shaping ---------------------------------------------------------------------------
#
# The raw frames are tiny (tens to a few thousand rows), so per-call pandas overhead dominates:
# dtypes are normalised once, each frame is split into current/previous once, and the hot
# paths use numpy or plain Python.

INT_COLUMNS = (
    "current",
    "rep",
    "furthest",
    "recent",
    "bin",
    "trial",
    "production",
    "converted",
    "open",
    "n",
    "rn_p",
    "n_p",
    "rn_c",
    "n_c",
    "rn_r",
    "n_r",
)
NO_REP = -1  # events without an actor (e.g. recorded by the notification worker)


def normalise(frame: pd.DataFrame) -> pd.DataFrame:
    """Integer flags and counts as int64 (missing rep → -1) and cohorts as dates."""
    frame = frame.copy()
    for column in INT_COLUMNS:
        if column in frame.columns:
            frame[column] = frame[column].fillna(NO_REP).astype("int64")
    if "cohort" in frame.columns:
        frame["cohort"] = pd.to_datetime(frame["cohort"]).dt.date
    if "v" in frame.columns:
        frame["v"] = frame["v"].astype(float)
    return frame


def split(frame: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(current period rows, previous period rows) of a normalised frame."""
    if frame.empty:
        return frame, frame
    is_current = frame["current"].to_numpy() == 1
    return frame[is_current], frame[~is_current]


def total(frame: pd.DataFrame, **equals: int) -> int:
    """Sum of ``n`` over the rows whose columns equal the given values."""
    if frame.empty:
        return 0
    mask = np.ones(len(frame), dtype=bool)
    for column, value in equals.items():
        mask &= frame[column].to_numpy() == value
    return int(frame["n"].to_numpy()[mask].sum())


def _furthest_counts(sessions: pd.DataFrame) -> np.ndarray:
    """Sessions per furthest step index (0 = no wizard step, 6 = Connected)."""
    size = len(WIZARD_STEPS) + 1
    if sessions.empty:
        return np.zeros(size, dtype=np.int64)
    counts = np.bincount(
        sessions["furthest"].to_numpy(), weights=sessions["n"].to_numpy(), minlength=size
    )
    return counts.astype(np.int64)


def wizard_funnel(sessions: pd.DataFrame) -> pd.DataFrame:
    """Per step: sessions reached, share of started, step conversion and drop-off."""
    counts = _furthest_counts(sessions)
    reached_at = counts[::-1].cumsum()[::-1]  # sessions whose furthest step is >= index
    started = int(reached_at[1])
    rows = []
    for index, step in enumerate(WIZARD_STEPS, start=1):
        reached = int(reached_at[index])
        previous = int(reached_at[index - 1]) if index > 1 else None
        rows.append(
            {
                "step": step.value,
                "label": STEP_LABELS[step.value],
                "reached": reached,
                "share_of_started": ratio(reached, started),
                "step_conversion": ratio(reached, previous) if previous is not None else None,
                "dropped_here": int(counts[index]) if step is not FunnelStep.CONNECTED else 0,
            }
        )
    return pd.DataFrame(rows)


def completion_rate(sessions: pd.DataFrame) -> float | None:
    """Sessions reaching Connected ÷ sessions started."""
    counts = _furthest_counts(sessions)
    return ratio(int(counts[len(WIZARD_STEPS)]), int(counts[1:].sum()))


def completion_trend(sessions: pd.DataFrame) -> pd.DataFrame:
    """Completion per cohort (current period), flagging cohorts with sessions still open."""
    columns = ["cohort", "started", "connected", "rate", "still_open"]
    if sessions.empty:
        return pd.DataFrame(columns=columns)
    furthest = sessions["furthest"].to_numpy()
    n = sessions["n"].to_numpy()
    connected = furthest >= len(WIZARD_STEPS)
    frame = pd.DataFrame(
        {
            "cohort": sessions["cohort"].to_numpy(),
            "started": np.where(furthest >= 1, n, 0),
            "connected": np.where(connected, n, 0),
            "open_n": np.where((sessions["recent"].to_numpy() == 1) & ~connected, n, 0),
        }
    )
    out = frame.groupby("cohort", as_index=False, sort=True).sum()
    out["rate"] = out["connected"] / out["started"].where(out["started"] > 0)
    out["still_open"] = out["open_n"] > 0
    return out[columns]


def _rank_table(ranks: pd.DataFrame, key: str | None, rn: str, n: str) -> dict[Any, Any]:
    """{group: (count, {rank: value})} from the ranked rows (plain Python: they are few)."""
    table: dict[Any, tuple[int, dict[int, float]]] = {}
    keys = ranks[key].tolist() if key else [None] * len(ranks)
    for group, rank, count, value in zip(
        keys, ranks[rn].tolist(), ranks[n].tolist(), ranks["v"].tolist(), strict=True
    ):
        table.setdefault(group, (count, {}))[1][rank] = value
    return table


def quantile(count: int, values_by_rank: dict[int, float], q: float) -> float | None:
    """Linear-interpolated quantile (numpy's default) from the values around its position."""
    if count <= 0:
        return None
    position = q * (count - 1)
    low = math.floor(position)
    high = min(low + 1, count - 1)
    v_low, v_high = values_by_rank[low], values_by_rank[high]
    return v_low + (position - low) * (v_high - v_low)


def quantiles(ranks: pd.DataFrame, key: str | None, rn: str, n: str) -> dict[Any, dict[str, Any]]:
    """{group: {"count", "median_s", "p90_s"}} for the partition named by ``rn``/``n``."""
    out = {}
    for group, (count, by_rank) in _rank_table(ranks, key, rn, n).items():
        out[group] = {
            "count": count,
            "median_s": quantile(count, by_rank, 0.5),
            "p90_s": quantile(count, by_rank, 0.9),
        }
    return out


def _target_bin() -> int:
    """Index of the first bin starting at the 5-minute target (bins before it are on target)."""
    return SYNC_BIN_EDGES.index(TARGET_SYNC_SECONDS / 60)


def sync_stats(bins: pd.DataFrame, ranks: pd.DataFrame) -> dict[str, Any]:
    """n, median and p90 (seconds) and the share at or under 5 minutes, for one period."""
    count = total(bins)
    under = int(bins["n"].to_numpy()[bins["bin"].to_numpy() < _target_bin()].sum()) if count else 0
    stats = quantiles(ranks, None, "rn_p", "n_p").get(None, {})
    return {
        "n": count,
        "median_s": stats.get("median_s"),
        "p90_s": stats.get("p90_s"),
        "share_within_target": ratio(under, count),
    }


def sync_histogram(bins: pd.DataFrame) -> pd.DataFrame:
    """First syncs per minute bin (every bin present, zero when empty)."""
    size = len(SYNC_BIN_EDGES)
    counts = (
        np.bincount(bins["bin"].to_numpy(), weights=bins["n"].to_numpy(), minlength=size)
        if not bins.empty
        else np.zeros(size)
    ).astype(np.int64)
    count_total = int(counts.sum())
    ends = [*SYNC_BIN_EDGES[1:], SYNC_BIN_EDGES[-1] + SYNC_OVERFLOW_WIDTH]
    labels = [f"{a:g}–{b:g} min" for a, b in zip(SYNC_BIN_EDGES[:-1], ends, strict=False)]
    labels.append(f"≥ {SYNC_BIN_EDGES[-1]:g} min")
    return pd.DataFrame(
        {
            "bin": labels,
            "from_min": [float(edge) for edge in SYNC_BIN_EDGES],
            "to_min": [float(edge) for edge in ends],
            "first_syncs": counts,
            "share": counts / count_total if count_total else np.nan,
            "cumulative_share": counts.cumsum() / count_total if count_total else np.nan,
        }
    )


def sync_trend(ranks: pd.DataFrame) -> pd.DataFrame:
    """Median and p90 minutes per cohort (pass the current period's ranked rows)."""
    rows = [
        {
            "cohort": cohort,
            "count": stats["count"],
            "median_min": stats["median_s"] / 60,
            "p90_min": stats["p90_s"] / 60,
        }
        for cohort, stats in quantiles(ranks, "cohort", "rn_c", "n_c").items()
    ]
    frame = pd.DataFrame(rows, columns=["cohort", "count", "median_min", "p90_min"])
    return frame.sort_values("cohort", ignore_index=True)


def customer_funnel(customers: pd.DataFrame) -> pd.DataFrame:
    """Demo → trial → production at customer level (one period's demo cohort)."""
    counts = [total(customers), total(customers, trial=1), total(customers, production=1)]
    rows = []
    for index, (stage, count) in enumerate(zip(CUSTOMER_STAGES, counts, strict=True)):
        rows.append(
            {
                "stage": stage,
                "customers": count,
                "share_of_demoed": ratio(count, counts[0]),
                "step_conversion": ratio(count, counts[index - 1]) if index else None,
                "dropped_after": count - counts[index + 1] if index + 1 < len(counts) else None,
            }
        )
    return pd.DataFrame(rows)


def demo_to_production(customers: pd.DataFrame) -> float | None:
    """Share of a demo cohort that reached production."""
    return ratio(total(customers, production=1), total(customers))


def trial_stats(trials: pd.DataFrame) -> dict[str, Any]:
    """Ended, open, decided and converted trials, and the rate among decided ones."""
    ended = total(trials)
    still_open = total(trials, open=1)
    converted = total(trials, open=0, converted=1)
    decided = ended - still_open
    return {
        "ended": ended,
        "open": still_open,
        "open_converted": total(trials, open=1, converted=1),
        "decided": decided,
        "converted": converted,
        "rate": ratio(converted, decided),
    }


def trial_trend(trials: pd.DataFrame) -> pd.DataFrame:
    """Trial → production per cohort of trial end; cohorts with open trials are flagged."""
    columns = ["cohort", "ended", "decided", "converted", "open", "rate", "cohort_open"]
    if trials.empty:
        return pd.DataFrame(columns=columns)
    n = trials["n"].to_numpy()
    is_open = trials["open"].to_numpy() == 1
    frame = pd.DataFrame(
        {
            "cohort": trials["cohort"].to_numpy(),
            "ended": n,
            "decided": np.where(is_open, 0, n),
            "converted": np.where(~is_open & (trials["converted"].to_numpy() == 1), n, 0),
            "open": np.where(is_open, n, 0),
        }
    )
    out = frame.groupby("cohort", as_index=False, sort=True).sum()
    out["rate"] = out["converted"] / out["decided"].where(out["decided"] > 0)
    out["cohort_open"] = out["open"] > 0
    return out[columns]


def ticket_rate(tickets: pd.DataFrame, days: float) -> float | None:
    """Setup tickets per 30 days over a period of ``days`` days."""
    return total(tickets) / days * 30 if days > 0 else None


def ticket_change(rate: float | None, baseline: Baseline) -> float | None:
    """Period rate ÷ baseline rate − 1 (−0.5 means half the baseline)."""
    base = baseline.per_30_days
    if rate is None or not base:
        return None
    return rate / base - 1


def tickets_trend(
    tickets: pd.DataFrame, baseline: Baseline, window: Window, grain: str
) -> pd.DataFrame:
    """Setup tickets per cohort against the baseline expected for that cohort's days."""
    counts: dict[date, int] = {}
    for cohort, n in zip(tickets.get("cohort", []), tickets.get("n", []), strict=True):
        counts[cohort] = counts.get(cohort, 0) + int(n)
    per_day = baseline.per_30_days / 30 if baseline.per_30_days is not None else None
    rows = []
    for start in cohort_starts(window, grain):
        lo = max(day_start(start), window.lo)
        hi = min(day_start(cohort_end(start, grain)), window.effective_hi)
        days = max((hi - lo).total_seconds() / 86400, 0.0)
        expected = per_day * days if per_day is not None else None
        rows.append(
            {
                "cohort": start,
                "days": round(days, 2),
                "tickets": counts.get(start, 0),
                "baseline_expected": expected,
                "target": expected * (1 + TARGET_TICKET_CHANGE) if expected is not None else None,
            }
        )
    return pd.DataFrame(rows, columns=["cohort", "days", "tickets", "baseline_expected", "target"])


def cohort_starts(window: Window, grain: str) -> list[date]:
    """Cohort start dates covering the (non-future part of the) period."""
    first = window.lo.date()
    start = first - timedelta(days=first.weekday()) if grain == "week" else first.replace(day=1)
    starts = []
    while day_start(start) < window.effective_hi:
        starts.append(start)
        start = cohort_end(start, grain)
    return starts


REP_COLUMNS = [
    "rep",
    "sessions_started",
    "sessions_connected",
    "completion_rate",
    "first_syncs",
    "syncs_within_5_min",
    "customers_demoed",
    "customers_production",
    "trials_decided",
    "trials_converted",
    "trial_conversion",
]


def _sum_by_rep(frame: pd.DataFrame, **equals: int) -> dict[int, int]:
    if frame.empty:
        return {}
    mask = np.ones(len(frame), dtype=bool)
    for column, value in equals.items():
        mask &= frame[column].to_numpy() == value
    sums: dict[int, int] = {}
    for rep, n in zip(frame["rep"].to_numpy()[mask], frame["n"].to_numpy()[mask], strict=True):
        sums[int(rep)] = sums.get(int(rep), 0) + int(n)
    return sums


def rep_breakdown(current: dict[str, pd.DataFrame], rep_names: dict[int, str]) -> pd.DataFrame:
    """One row per rep for the current period (``current`` holds the split raw frames)."""
    sessions = current["sessions"]
    started = _sum_by_rep(sessions[sessions["furthest"] >= 1] if len(sessions) else sessions)
    connected = _sum_by_rep(sessions, furthest=len(WIZARD_STEPS))
    syncs = _sum_by_rep(current["sync_bins"])
    bins = current["sync_bins"]
    on_target = _sum_by_rep(bins[bins["bin"] < _target_bin()] if len(bins) else bins)
    demoed = _sum_by_rep(current["customers"])
    production = _sum_by_rep(current["customers"], production=1)
    decided = _sum_by_rep(current["trials"], open=0)
    converted = _sum_by_rep(current["trials"], open=0, converted=1)
    reps = set(started) | set(syncs) | set(demoed) | set(_sum_by_rep(current["trials"]))
    rows = []
    for rep in reps:
        rows.append(
            {
                "rep": rep_names.get(rep, "Unassigned" if rep == NO_REP else f"Staff #{rep}"),
                "sessions_started": started.get(rep, 0),
                "sessions_connected": connected.get(rep, 0),
                "completion_rate": ratio(connected.get(rep, 0), started.get(rep, 0)),
                "first_syncs": syncs.get(rep, 0),
                "syncs_within_5_min": ratio(on_target.get(rep, 0), syncs.get(rep, 0)),
                "customers_demoed": demoed.get(rep, 0),
                "customers_production": production.get(rep, 0),
                "trials_decided": decided.get(rep, 0),
                "trials_converted": converted.get(rep, 0),
                "trial_conversion": ratio(converted.get(rep, 0), decided.get(rep, 0)),
            }
        )
    return pd.DataFrame(rows, columns=REP_COLUMNS).sort_values("rep", ignore_index=True)


def _minutes(seconds: float | None) -> float | None:
    return seconds / 60 if seconds is not None else None


def kpis(
    now: dict[str, pd.DataFrame],
    before: dict[str, pd.DataFrame],
    baseline: Baseline,
    window: Window,
) -> tuple[Kpi, ...]:
    """The five header tiles, each with the previous period's value for the delta."""
    days_now = (window.effective_hi - window.lo).total_seconds() / 86400
    days_before = (window.lo - window.prev_lo).total_seconds() / 86400
    sync_now = sync_stats(now["sync_bins"], now["sync_ranks"])
    sync_before = sync_stats(before["sync_bins"], before["sync_ranks"])
    trials_now, trials_before = trial_stats(now["trials"]), trial_stats(before["trials"])
    return (
        Kpi(
            "completion",
            "Wizard completion",
            completion_rate(now["sessions"]),
            completion_rate(before["sessions"]),
            TARGET_COMPLETION,
            "ratio",
            higher_is_better=True,
        ),
        Kpi(
            "sync",
            "Time to first sync (median)",
            _minutes(sync_now["median_s"]),
            _minutes(sync_before["median_s"]),
            TARGET_SYNC_SECONDS / 60,
            "minutes",
            higher_is_better=False,
            note=f"p90 {format_value(_minutes(sync_now['p90_s']), 'minutes')} · "
            f"{sync_now['n']} first syncs",
        ),
        Kpi(
            "customers",
            "Demo → production (customers)",
            demo_to_production(now["customers"]),
            demo_to_production(before["customers"]),
            None,
            "ratio",
            higher_is_better=True,
            note=f"{total(now['customers'])} customers demoed",
        ),
        Kpi(
            "trial",
            "Trial → production",
            trials_now["rate"],
            trials_before["rate"],
            TARGET_TRIAL_CONVERSION,
            "ratio",
            higher_is_better=True,
            note=f"{trials_now['decided']} decided · {trials_now['open']} open (not counted)",
        ),
        Kpi(
            "tickets",
            "Setup tickets vs baseline",
            ticket_change(ticket_rate(now["tickets"], days_now), baseline),
            ticket_change(ticket_rate(before["tickets"], days_before), baseline),
            TARGET_TICKET_CHANGE,
            "change",
            higher_is_better=False,
            note=f"baseline: {baseline.how}",
        ),
    )


RAW_FRAMES = ("sessions", "sync_bins", "sync_ranks", "customers", "trials", "tickets")


def shape(
    raw: RawMetrics, filters: MetricsFilter, window: Window, rep_names: dict[int, str]
) -> Dashboard:
    """Turn the raw frames into everything the page shows."""
    now: dict[str, pd.DataFrame] = {}
    before: dict[str, pd.DataFrame] = {}
    for name in RAW_FRAMES:
        now[name], before[name] = split(normalise(getattr(raw, name)))
    notes = []
    if window.hi > window.as_of:
        notes.append("The period runs into the future; rates cover the days so far.")
    return Dashboard(
        filters=filters,
        window=window,
        kpis=kpis(now, before, raw.baseline, window),
        wizard_funnel=wizard_funnel(now["sessions"]),
        completion_trend=completion_trend(now["sessions"]),
        sync_histogram=sync_histogram(now["sync_bins"]),
        sync_trend=sync_trend(now["sync_ranks"]),
        sync_stats=sync_stats(now["sync_bins"], now["sync_ranks"]),
        customer_funnel=customer_funnel(now["customers"]),
        trial_trend=trial_trend(now["trials"]),
        trial_stats=trial_stats(now["trials"]),
        tickets=tickets_trend(now["tickets"], raw.baseline, window, filters.grain),
        baseline=raw.baseline,
        reps=rep_breakdown(now, rep_names),
        notes=tuple(notes),
    )


def compute_dashboard(
    run: Runner, filters: MetricsFilter, as_of: datetime, rep_names: dict[int, str]
) -> Dashboard:
    """Run the queries through ``run`` and shape the result (also used by the benchmark)."""
    window = Window.of(filters.validate(), as_of)
    return shape(fetch_raw(run, filters, window), filters, window, rep_names)


# --- charts (pure: frames in, Altair out) ---------------------------------------------------


def _rule(value: float, text: str, axis: str = "y", color: str = "#d62728") -> alt.LayerChart:
    frame = pd.DataFrame({"value": [value], "text": [text]})
    encoding = alt.Y if axis == "y" else alt.X
    base = alt.Chart(frame).encode(encoding("value:Q"))
    rule = base.mark_rule(color=color, strokeDash=[6, 4], strokeWidth=2)
    label_kwargs: dict[str, Any] = (
        {"align": "left", "dx": 4, "dy": -6} if axis == "y" else {"align": "left", "dx": 4, "dy": 8}
    )
    label = base.mark_text(color=color, **label_kwargs).encode(text="text:N")
    if axis == "y":
        label = label.encode(x=alt.value(0))
    else:
        label = label.encode(y=alt.value(0))
    return alt.layer(rule, label)


def wizard_funnel_chart(funnel: pd.DataFrame) -> alt.LayerChart:
    """Bars: share of started sessions reaching each step; target rule at 75% for Connected."""
    data = funnel.assign(
        conversion_text=funnel["step_conversion"].map(
            lambda v: "" if v is None or pd.isna(v) else f"{v:.0%} of prev."
        )
    )
    base = alt.Chart(data).encode(
        x=alt.X("label:N", title="Wizard step", sort=None),
        y=alt.Y(
            "share_of_started:Q",
            title="Share of sessions started",
            axis=alt.Axis(format="%"),
            scale=alt.Scale(domain=[0, 1]),
        ),
        tooltip=[
            "label",
            "reached",
            alt.Tooltip("share_of_started:Q", format=".1%"),
            alt.Tooltip("step_conversion:Q", format=".1%"),
            "dropped_here",
        ],
    )
    bars = base.mark_bar(color="#4c78a8")
    text = base.mark_text(dy=-8).encode(text="conversion_text:N")
    target = _rule(TARGET_COMPLETION, "Target: 75% reach Connected")
    return alt.layer(bars, text, target).properties(height=320)


def customer_funnel_chart(funnel: pd.DataFrame) -> alt.LayerChart:
    """Customer stages as share of demoed; the 60% trial → production target as a tick."""
    data = funnel.assign(
        conversion_text=funnel["step_conversion"].map(
            lambda v: "" if v is None or pd.isna(v) else f"{v:.0%} of prev."
        )
    )
    base = alt.Chart(data).encode(
        x=alt.X("stage:N", title="Stage", sort=list(CUSTOMER_STAGES)),
        y=alt.Y(
            "share_of_demoed:Q",
            title="Share of demoed customers",
            axis=alt.Axis(format="%"),
            scale=alt.Scale(domain=[0, 1]),
        ),
        tooltip=[
            "stage",
            "customers",
            alt.Tooltip("share_of_demoed:Q", format=".1%"),
            alt.Tooltip("step_conversion:Q", format=".1%"),
            "dropped_after",
        ],
    )
    layers: list[Any] = [
        base.mark_bar(color="#72b7b2"),
        base.mark_text(dy=-8).encode(text="conversion_text:N"),
    ]
    trial_share = funnel.loc[funnel["stage"] == CUSTOMER_STAGES[1], "share_of_demoed"]
    if len(trial_share) and pd.notna(trial_share.iloc[0]):
        tick = pd.DataFrame(
            {
                "stage": [CUSTOMER_STAGES[2]],
                "value": [float(trial_share.iloc[0]) * TARGET_TRIAL_CONVERSION],
                "text": ["60% of trials (target)"],
            }
        )
        tick_base = alt.Chart(tick).encode(
            x=alt.X("stage:N", sort=list(CUSTOMER_STAGES)), y="value:Q"
        )
        layers += [
            tick_base.mark_tick(color="#d62728", thickness=3, size=60),
            tick_base.mark_text(color="#d62728", dy=-8).encode(text="text:N"),
        ]
    return alt.layer(*layers).properties(height=320)


def sync_histogram_chart(histogram: pd.DataFrame, median_min: float | None) -> alt.LayerChart:
    """First syncs per minute bin, the 30–60 min baseline band and the 5-minute target."""
    band = pd.DataFrame(
        {
            "from": [BASELINE_SYNC_MINUTES[0]],
            "to": [BASELINE_SYNC_MINUTES[1]],
            "text": ["Baseline 30–60 min (CloudFormation)"],
        }
    )
    scale = alt.Scale(type="sqrt", domain=[0, SYNC_BIN_EDGES[-1] + SYNC_OVERFLOW_WIDTH])
    band_layer = (
        alt.Chart(band)
        .mark_rect(color="#bbbbbb", opacity=0.35)
        .encode(x=alt.X("from:Q", scale=scale), x2="to:Q", tooltip=["text:N"])
    )
    band_text = (
        alt.Chart(band)
        .mark_text(align="left", dx=4, dy=8, color="#666666")
        .encode(x=alt.X("from:Q", scale=scale), y=alt.value(0), text="text:N")
    )
    bars = (
        alt.Chart(histogram)
        .mark_bar(color="#4c78a8", stroke="white")
        .encode(
            x=alt.X(
                "from_min:Q", title="Minutes from approval to first data (√ scale)", scale=scale
            ),
            x2="to_min:Q",
            y=alt.Y("first_syncs:Q", title="First syncs"),
            tooltip=[
                "bin",
                "first_syncs",
                alt.Tooltip("share:Q", format=".1%"),
                alt.Tooltip("cumulative_share:Q", format=".1%"),
            ],
        )
    )
    layers: list[Any] = [
        band_layer,
        band_text,
        bars,
        _rule(TARGET_SYNC_SECONDS / 60, "Target ≤ 5 min", axis="x"),
    ]
    if median_min is not None:
        layers.append(_rule(median_min, f"Median {median_min:.1f} min", axis="x", color="#222222"))
    return alt.layer(*layers).properties(height=300)


def _cohort_axis(grain: str) -> alt.X:
    return alt.X(
        "cohort:T", title=f"{grain.capitalize()} starting", axis=alt.Axis(format="%d %b %y")
    )


def completion_trend_chart(trend: pd.DataFrame, grain: str) -> alt.LayerChart:
    """Completion rate per cohort with the 75% target; cohorts with open sessions hollow."""
    data = trend.assign(cohort=pd.to_datetime(trend["cohort"]))
    base = alt.Chart(data).encode(
        x=_cohort_axis(grain),
        y=alt.Y(
            "rate:Q",
            title="Completion rate",
            axis=alt.Axis(format="%"),
            scale=alt.Scale(domain=[0, 1]),
        ),
        tooltip=[
            alt.Tooltip("cohort:T"),
            "started",
            "connected",
            alt.Tooltip("rate:Q", format=".1%"),
            "still_open",
        ],
    )
    line = base.mark_line(color="#4c78a8")
    points = base.mark_point(filled=True, size=60).encode(
        shape=alt.Shape("still_open:N", title="Sessions still open")
    )
    return alt.layer(line, points, _rule(TARGET_COMPLETION, "Target 75%")).properties(height=280)


def sync_trend_chart(trend: pd.DataFrame, grain: str) -> alt.LayerChart:
    """Median and p90 minutes per cohort with the 5-minute target (lower is better)."""
    data = trend.assign(cohort=pd.to_datetime(trend["cohort"])).melt(
        id_vars=["cohort", "count"],
        value_vars=["median_min", "p90_min"],
        var_name="measure",
        value_name="minutes",
    )
    lines = (
        alt.Chart(data)
        .mark_line(point=True)
        .encode(
            x=_cohort_axis(grain),
            y=alt.Y("minutes:Q", title="Minutes (lower is better)"),
            color=alt.Color("measure:N", title=None),
            tooltip=[
                alt.Tooltip("cohort:T"),
                "measure",
                alt.Tooltip("minutes:Q", format=".1f"),
                "count",
            ],
        )
    )
    return alt.layer(lines, _rule(TARGET_SYNC_SECONDS / 60, "Target ≤ 5 min")).properties(
        height=280
    )


def trial_trend_chart(trend: pd.DataFrame, grain: str) -> alt.LayerChart:
    """Trial → production per cohort of trial end; open cohorts hollow; 60% target."""
    data = trend.assign(cohort=pd.to_datetime(trend["cohort"]))
    base = alt.Chart(data).encode(
        x=_cohort_axis(grain),
        y=alt.Y(
            "rate:Q",
            title="Trial → production (decided)",
            axis=alt.Axis(format="%"),
            scale=alt.Scale(domain=[0, 1]),
        ),
        tooltip=[
            alt.Tooltip("cohort:T"),
            "ended",
            "decided",
            "converted",
            "open",
            alt.Tooltip("rate:Q", format=".1%"),
        ],
    )
    bars = base.mark_bar(color="#72b7b2").encode(
        opacity=alt.Opacity(
            "cohort_open:N",
            title="Has open trials",
            scale=alt.Scale(domain=[False, True], range=[1.0, 0.4]),
        )
    )
    return alt.layer(bars, _rule(TARGET_TRIAL_CONVERSION, "Target 60%")).properties(height=280)


def tickets_chart(trend: pd.DataFrame, grain: str) -> alt.LayerChart:
    """Setup tickets per cohort vs the baseline expectation and the −50% target line."""
    data = trend.assign(cohort=pd.to_datetime(trend["cohort"]))
    bars = (
        alt.Chart(data)
        .mark_bar(color="#f58518")
        .encode(
            x=_cohort_axis(grain),
            y=alt.Y("tickets:Q", title="Setup tickets (lower is better)"),
            tooltip=[
                alt.Tooltip("cohort:T"),
                "days",
                "tickets",
                alt.Tooltip("baseline_expected:Q", format=".1f"),
                alt.Tooltip("target:Q", format=".1f"),
            ],
        )
    )
    lines = (
        alt.Chart(data)
        .transform_fold(["baseline_expected", "target"], as_=["line", "value"])
        .mark_line(strokeDash=[6, 4])
        .encode(
            x=_cohort_axis(grain),
            y="value:Q",
            color=alt.Color(
                "line:N",
                title=None,
                scale=alt.Scale(
                    domain=["baseline_expected", "target"], range=["#666666", "#d62728"]
                ),
            ),
        )
    )
    return alt.layer(bars, lines).properties(height=280)


# --- the service ----------------------------------------------------------------------------


class MetricsService:
    """Leadership metrics on the store; wired as ``services.metrics``."""

    def __init__(self, engine: Engine, clock: Clock) -> None:
        self._engine = engine
        self._clock = clock
        self._staff = StaffDirectory(engine)

    def default_filter(self) -> MetricsFilter:
        """Last 90 days, weekly cohorts, no filters."""
        today = self._clock.now().date()
        return MetricsFilter(start=today - timedelta(days=89), end=today)

    def today(self) -> date:
        """Today (UTC) on the injected clock."""
        return self._clock.now().date()

    def dashboard(self, member: StaffMember | None, filters: MetricsFilter) -> Dashboard:
        """Everything the Leadership page shows for ``filters`` (needs ``metrics.read``)."""
        self._staff.require(member, "metrics.read")
        filters.validate()
        with self._engine.connect() as connection:
            return compute_dashboard(
                engine_runner(connection), filters, self._clock.now(), self._rep_names(connection)
            )

    def rep_options(self, member: StaffMember | None) -> list[tuple[int, str]]:
        """(id, name) of every sales and CS staff member, for the rep filter."""
        self._staff.require(member, "metrics.read")
        with self._engine.connect() as connection:
            rows = connection.execute(
                select(SU.c.id, SU.c.name)
                .where(SU.c.role.in_([StaffRole.SALES.value, StaffRole.CS.value]))
                .order_by(SU.c.name)
            ).all()
        return [(int(row.id), str(row.name)) for row in rows]

    def data_version(self) -> tuple[int, ...]:
        """Changes whenever events, requests or tickets are added: part of the page cache key.

        Ticket imports and manual entries add rows, so the page's cached results are dropped
        on the next run in every process, not only the one that wrote.
        """
        with self._engine.connect() as connection:
            row = connection.execute(data_version_query()).one()
        return tuple(int(value or 0) for value in row)

    @staticmethod
    def _rep_names(connection: Any) -> dict[int, str]:
        rows = connection.execute(select(SU.c.id, SU.c.name)).all()
        return {int(row.id): str(row.name) for row in rows}


def frames_for_download(dashboard: Dashboard) -> dict[str, pd.DataFrame]:
    """Every chart's and table's data by name (the page offers each as CSV)."""
    kpi_rows = [
        {
            "metric": k.label,
            "value": k.value,
            "previous_period": k.previous,
            "target": k.target,
            "unit": k.unit,
            "higher_is_better": k.higher_is_better,
            "on_target": k.on_target,
            "note": k.note,
        }
        for k in dashboard.kpis
    ]
    return {
        "kpis": pd.DataFrame(kpi_rows),
        "wizard_funnel": dashboard.wizard_funnel,
        "completion_trend": dashboard.completion_trend,
        "sync_histogram": dashboard.sync_histogram,
        "sync_trend": dashboard.sync_trend,
        "customer_funnel": dashboard.customer_funnel,
        "trial_trend": dashboard.trial_trend,
        "tickets": dashboard.tickets,
        "reps": dashboard.reps,
    }


__all__: Sequence[str] = (
    "DEFINITIONS",
    "Dashboard",
    "Kpi",
    "MetricsFilter",
    "MetricsService",
    "compute_dashboard",
    "period_presets",
    "to_csv",
)
