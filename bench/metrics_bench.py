"""Benchmark: the Leadership page's metrics on 1,000,000 funnel events (5,000,000 with EVENTS).

Generates about three years of history (wizard sessions, demo/trial delegation requests,
production milestones and proportional setup tickets) into a temp SQLite file with
``executemany``, then computes the whole dashboard for the default view (last 90 days, weekly
cohorts) and for the whole history (monthly), three ways:

* ours — ``vell_core.services.metrics.compute_dashboard`` on the store (SQL aggregation);
* pandas — a competent pandas version: plain ``sqlite3``, only the columns and rows (by fixed
  category) it needs, dates parsed with their explicit format, the same definitions computed
  from the raw events (not from the summary tables) into the same small frames, shaped by the
  same pure ``vell_core.views.metrics.shape``;
* DuckDB — the same rows loaded into DuckDB (load time reported apart), running our statements
  compiled for PostgreSQL, then the same shaping.

Every output of the dashboard (tiles, funnels, trends, histogram, rep table, baseline) must be
identical between the three; a mismatch is printed and the script exits 2, with or without
``--check``. Each side is timed cold (the first computation on a fresh engine / after the
load) and warm (median of ``--repeat`` more). Also timed: the backfills of the per-session
summary (``rebuild_summary``) and of the metrics rollup (``rebuild_rollup``), and the cost of
their upkeep on every recorded event (recording N events with and without it, one transaction
each as ``FunnelRecorder`` does). DuckDB gets the rollup tables too (same statements).

Goals (issue 14): each view at 1M events under 1 s (at 5M under 3 s), within 2× DuckDB on the
same statements, and ≥ 10× faster than the competent pandas baseline.

    .venv/bin/python bench/metrics_bench.py [EVENTS] [--quick] [--check] [--repeat 3]
"""

from __future__ import annotations

import math
import random
import re
import sqlite3
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import fields
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pandas as pd
from benchlib import Report, load_average, parser
from sqlalchemy.dialects import postgresql

from vell_core.domain.metrics import (
    SYNC_BIN_EDGES,
    TRIAL_DECISION_WINDOW,
    WIZARD_STEPS,
    WIZARD_WINDOW,
    Baseline,
    Dashboard,
    MetricsFilter,
    RawMetrics,
    Window,
    day_start,
)
from vell_core.domain.models import FunnelStep
from vell_core.services.metrics import compute_dashboard
from vell_core.store import migrate
from vell_core.store.engine import make_engine, read_connection, session_scope
from vell_core.store.funnel import insert_event, insert_event_row, rebuild_summary
from vell_core.store.metrics import Runner, default_baseline, engine_runner
from vell_core.store.rollup import rebuild_rollup
from vell_core.views.metrics import shape

ANCHOR = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
HISTORY_DAYS = 3 * 365
LAUNCH_DAYS_AGO = 540
REPS = tuple(range(1, 13))  # staff ids 1-12 are reps
FMT = "%Y-%m-%d %H:%M:%S.%f"  # how UtcDateTime stores timestamps on SQLite
TEMPLATE_ARN = "arn:aws:iam::aws:delegation-template/bench"

# --- data generation -----------------------------------------------------------------------


class Generator:
    """Seed-like journeys, appended as plain tuples for executemany."""

    def __init__(self, target_events: int) -> None:
        self.rng = random.Random(20251206)
        self.target = target_events
        self.events: list[tuple[Any, ...]] = []
        self.requests: list[tuple[Any, ...]] = []
        self.customers: list[tuple[Any, ...]] = []

    def run(self) -> None:
        index = 0
        while len(self.events) < self.target:
            self.journey(index)
            index += 1
        del self.events[self.target :]

    def journey(self, index: int) -> None:
        days_ago = HISTORY_DAYS * (1 - self.rng.random() ** 0.8)
        started = ANCHOR - timedelta(days=days_ago)
        account = f"{100000000000 + index:012d}"
        segment = self.rng.choices(("smb", "mid_market", "enterprise"), (0.5, 0.35, 0.15))[0]
        rep = self.rng.choice(REPS)
        self.customers.append((f"Bench {index}", account, segment, rep, started.strftime(FMT)))
        customer = (account, f"Bench {index}", segment, rep)
        if days_ago > LAUNCH_DAYS_AGO or self.rng.random() < 0.15:
            self.cloudformation(customer, started)
            return
        demo = self.delegation(customer, started, "demo")
        if demo is None or self.rng.random() > 0.52:
            return
        trial_start = demo + timedelta(days=self.rng.randint(2, 20))
        trial_end = (
            self.delegation(customer, trial_start, "trial") if trial_start < ANCHOR else None
        )
        if trial_end is None or (ANCHOR - trial_end).days < 10 or self.rng.random() > 0.63:
            return
        promoted = trial_end - timedelta(hours=self.rng.randint(1, 4))
        self.event(customer, str(uuid.uuid4()), "production", promoted, "trial")

    def cloudformation(self, customer: tuple[Any, ...], at: datetime) -> None:
        session = str(uuid.uuid4())
        completed = self.rng.random() < 0.41
        steps = ("provider", "account_info", "choose_path")
        for step in steps[: 3 if completed else self.rng.randint(1, 3)]:
            self.event(customer, session, step, at, "production")
            at += timedelta(minutes=self.rng.randint(1, 6))
        if not completed:
            return
        at += timedelta(minutes=self.rng.randint(25, 55))
        self.event(customer, session, "connected", at, "production")
        sync = self.rng.uniform(30 * 60, 62 * 60)
        self.event(
            customer, session, "first_sync", at + timedelta(seconds=sync), "production", sync
        )
        self.event(customer, session, "production", at, "production")

    def delegation(self, customer: tuple[Any, ...], at: datetime, path: str) -> datetime | None:
        """One wizard session and request; returns the access end if it was approved."""
        session = str(uuid.uuid4())
        for step in ("provider", "account_info", "choose_path"):
            if self.rng.random() < 0.05:
                return None
            self.event(customer, session, step, at, path)
            at += timedelta(seconds=self.rng.randint(20, 150))
        self.event(customer, session, "request_sent", at, path)
        self.event(customer, session, "waiting", at, path)
        approved = self.rng.random() < 0.8 and at < ANCHOR - timedelta(hours=1)
        approved_at = at + timedelta(seconds=self.rng.randint(40, 900)) if approved else None
        duration = 14400 if path == "demo" else 43200
        expires = approved_at + timedelta(seconds=duration) if approved_at else at + timedelta(1)
        self.request(customer, session, path, at, approved_at, expires, duration)
        if approved_at is None:
            return None
        self.event(customer, session, "approved", approved_at, path)
        self.event(customer, session, "connected", approved_at + timedelta(seconds=2), path)
        sync = (
            self.rng.uniform(360, 1500)
            if self.rng.random() < 0.12
            else self.rng.lognormvariate(4.3, 0.6)
        )
        self.event(
            customer, session, "first_sync", approved_at + timedelta(seconds=sync), path, sync
        )
        return expires

    def event(
        self,
        customer: tuple[Any, ...],
        session: str,
        step: str,
        at: datetime,
        path: str,
        value: float | None = None,
    ) -> None:
        account, company, segment, rep = customer
        at = min(at, ANCHOR)
        self.events.append(
            (session, step, account, company, segment, path, rep, value, at.strftime(FMT))
        )

    def request(
        self,
        customer: tuple[Any, ...],
        session: str,
        path: str,
        sent: datetime,
        approved: datetime | None,
        expires: datetime,
        duration: int,
    ) -> None:
        account, company, _segment, rep = customer
        status = "expired" if approved else "rejected"
        self.requests.append(
            (
                rep,
                company,
                account,
                f"bench-{len(self.requests)}",
                path,
                status,
                approved.strftime(FMT) if approved else None,
                expires.strftime(FMT),
                0,
                duration,
                path,
                TEMPLATE_ARN,
                session,
                "none",
                sent.strftime(FMT),
                (approved or sent).strftime(FMT),
            )
        )


def tickets(events: int) -> list[tuple[Any, ...]]:
    """Setup and other tickets in the seed's proportion to events, fewer after launch."""
    rng = random.Random(7)
    scale = events / 1051  # the seed's ~250 tickets per ~1,050 events and one year
    rows: list[tuple[Any, ...]] = []
    for days_ago in range(HISTORY_DAYS, 0, -1):
        base = (20 if days_ago >= LAUNCH_DAYS_AGO else 9) / 30 * scale / 3
        for category, rate in (("setup", base), ("other", 6 / 30 * scale / 3)):
            for _ in range(np.random.default_rng(days_ago).poisson(rate)):
                opened = ANCHOR - timedelta(days=days_ago, minutes=rng.randint(0, 1439))
                ref = f"ZD-{len(rows)}"
                rows.append((ref, opened.strftime(FMT), category, "Bench ticket", "import"))
    return rows


def generate(
    path: Path, target_events: int
) -> tuple[dict[str, int], tuple[float, float, int], int]:
    """Create the migrated store, bulk-insert the rows.

    Returns (counts, (summary backfill s, rollup backfill s, rollup rows), sessions).
    """
    url = f"sqlite:///{path}"
    migrate.upgrade(url)
    generator = Generator(target_events)
    generator.run()
    ticket_rows = tickets(target_events)
    connection = sqlite3.connect(path)
    # A throwaway file: skip durability while bulk loading (the app's engine restores WAL).
    connection.execute("PRAGMA journal_mode=OFF")
    connection.execute("PRAGMA synchronous=OFF")
    connection.execute("PRAGMA cache_size=-200000")
    with connection:
        connection.executemany(
            "INSERT INTO staff_users (id, name, email, role, active, created_at) "
            "VALUES (?, ?, ?, 'sales', 1, '2023-01-01 00:00:00.000000')",
            [(rep, f"Rep {rep}", f"rep{rep}@vell.ai") for rep in REPS],
        )
        connection.executemany(
            "INSERT INTO customers (company, aws_account_id, segment, owner_user_id, created_at) "
            "VALUES (?, ?, ?, ?, ?)",
            generator.customers,
        )
        connection.executemany(
            "INSERT INTO funnel_events (wizard_session_id, step, customer, company, segment, "
            "path, actor_user_id, value_seconds, occurred_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            generator.events,
        )
        connection.executemany(
            "INSERT INTO delegation_requests (user_id, company, aws_account_id, "
            "requestor_workflow_id, type, status, approved_at, expires_at, "
            "create_persistent_role, session_duration, template_name, template_arn, "
            "wizard_session_id, exchange_state, created_at, updated_at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            generator.requests,
        )
        connection.executemany(
            "INSERT INTO support_tickets (external_ref, opened_at, category, subject, source) "
            "VALUES (?, ?, ?, ?, ?)",
            ticket_rows,
        )
    connection.close()
    # The events went in by bulk insert, not through FunnelRecorder: fill the per-session
    # summary and the rollup with the same backfills the migrations and the seed use (timed,
    # reported apart).
    engine = make_engine(url)
    started = time.perf_counter()
    sessions = rebuild_summary(engine)
    summary = time.perf_counter() - started
    started = time.perf_counter()
    rows = rebuild_rollup(engine)
    backfill = (summary, time.perf_counter() - started, rows)
    engine.dispose()
    connection = sqlite3.connect(path)
    connection.execute("ANALYZE")
    connection.close()
    counts = {
        "funnel_events": len(generator.events),
        "delegation_requests": len(generator.requests),
        "customers": len(generator.customers),
        "support_tickets": len(ticket_rows),
    }
    return counts, backfill, sessions


# --- the competent pandas version ----------------------------------------------------------

WIZARD_RANK = {step.value: index for index, step in enumerate(WIZARD_STEPS, start=1)}


def _read(connection: sqlite3.Connection, sql: str, stamps: tuple[str, ...]) -> pd.DataFrame:
    """One plain sqlite3 query into a frame, timestamps parsed with their stored format."""
    frame = pd.read_sql_query(sql, connection)
    for column in stamps:
        frame[column] = pd.to_datetime(frame[column], format=FMT, utc=True)
    return frame


def pandas_load(path: Path) -> dict[str, pd.DataFrame]:
    """Only the columns (and fixed categories) the page needs, with plain sqlite3."""
    connection = sqlite3.connect(path)
    try:
        return {
            "fe": _read(
                connection,
                "SELECT wizard_session_id, step, customer, segment, path, actor_user_id, "
                "value_seconds, occurred_at FROM funnel_events",
                ("occurred_at",),
            ),
            "dr": _read(
                connection,
                "SELECT d.aws_account_id, d.user_id, d.approved_at, d.expires_at, c.segment "
                "FROM delegation_requests d LEFT JOIN customers c "
                "ON c.aws_account_id = d.aws_account_id "
                "WHERE d.type = 'trial' AND d.approved_at IS NOT NULL",
                ("approved_at", "expires_at"),
            ),
            "tk": _read(
                connection,
                "SELECT opened_at FROM support_tickets WHERE category = 'setup'",
                ("opened_at",),
            ),
        }
    finally:
        connection.close()


def pandas_dashboard(
    path: Path, filters: MetricsFilter, as_of: datetime, rep_names: dict[int, str]
) -> Dashboard:
    """Load, aggregate the raw events into the page's small frames, shape them."""
    data = pandas_load(path)
    window = Window.of(filters, as_of)
    fe = data["fe"]
    raw = RawMetrics(
        sessions=_pd_sessions(fe, window, filters),
        sync_bins=_pd_sync_bins(fe, window, filters),
        sync_ranks=_pd_sync_ranks(fe, window, filters),
        customers=_pd_customers(fe, window, filters),
        trials=_pd_trials(fe, data["dr"], window, filters),
        tickets=_pd_tickets(data["tk"], window, filters),
        baseline=_pd_baseline(fe, data["tk"]),
    )
    return shape(raw, filters, window, rep_names)


def _cohort(series: pd.Series, grain: str) -> pd.Series:
    days = series.dt.tz_convert(UTC).dt.tz_localize(None).dt.normalize()
    if grain == "week":
        return days - pd.to_timedelta(days.dt.day_of_week, unit="D")
    return days.dt.to_period("M").dt.to_timestamp()


def _apply(frame: pd.DataFrame, f: MetricsFilter, **columns: str) -> pd.DataFrame:
    if f.rep_ids and "rep" in columns:
        frame = frame[frame[columns["rep"]].isin(f.rep_ids)]
    if f.paths and "path" in columns:
        frame = frame[frame[columns["path"]].isin(f.paths)]
    if f.segments and "segment" in columns:
        frame = frame[frame[columns["segment"]].isin(f.segments)]
    return frame


def _count(frame: pd.DataFrame, *keys: str) -> pd.DataFrame:
    """``GROUP BY keys`` with ``n`` (NULL keys kept, as SQL does)."""
    return frame.groupby(list(keys), dropna=False).size().rename("n").reset_index()


def _between(series: pd.Series, lo: datetime, hi: datetime) -> pd.Series:
    return (series >= lo) & (series < hi)


def _pd_sessions(fe: pd.DataFrame, w: Window, f: MetricsFilter) -> pd.DataFrame:
    ev = fe[fe["step"].isin(WIZARD_RANK.keys())]
    ev = ev[_between(ev["occurred_at"], w.prev_lo, w.hi + WIZARD_WINDOW)]
    ev = ev.assign(
        rank=ev["step"].map(WIZARD_RANK), start=ev["occurred_at"].where(ev["step"] == "provider")
    )
    s = ev.groupby("wizard_session_id").agg(
        started=("start", "min"),
        furthest=("rank", "max"),
        path=("path", "max"),
        segment=("segment", "max"),
        rep=("actor_user_id", "max"),
    )
    s = _apply(s[_between(s["started"], w.prev_lo, w.hi)], f, rep="rep", path="path",
               segment="segment")  # fmt: skip
    s = s.assign(
        current=(s["started"] >= w.lo).astype(int),
        cohort=_cohort(s["started"], f.grain),
        recent=(s["started"] >= w.as_of - WIZARD_WINDOW).astype(int),
    )
    return _count(s, "current", "cohort", "rep", "furthest", "recent")


def _pd_syncs(fe: pd.DataFrame, w: Window, f: MetricsFilter) -> pd.DataFrame:
    ev = fe[(fe["step"] == "first_sync") & fe["value_seconds"].notna()]
    ev = _apply(ev[_between(ev["occurred_at"], w.prev_lo, w.hi)], f, rep="actor_user_id",
                path="path", segment="segment")  # fmt: skip
    return pd.DataFrame(
        {
            "current": (ev["occurred_at"] >= w.lo).astype(int),
            "cohort": _cohort(ev["occurred_at"], f.grain),
            "rep": ev["actor_user_id"],
            "v": ev["value_seconds"],
        }
    )


def _pd_sync_bins(fe: pd.DataFrame, w: Window, f: MetricsFilter) -> pd.DataFrame:
    s = _pd_syncs(fe, w, f)
    edges = np.array(SYNC_BIN_EDGES[1:], dtype=float) * 60
    s = s.assign(bin=np.searchsorted(edges, s["v"].to_numpy(), side="right"))
    return _count(s, "current", "rep", "bin")


def _pd_sync_ranks(fe: pd.DataFrame, w: Window, f: MetricsFilter) -> pd.DataFrame:
    """Every first sync with its rank in its period and its cohort (shaping interpolates)."""
    s = _pd_syncs(fe, w, f).sort_values("v", kind="stable")
    by_period = s.groupby("current")
    by_cohort = s.groupby(["current", "cohort"])
    return s.assign(
        rn_p=by_period.cumcount(),
        n_p=by_period["v"].transform("size"),
        rn_c=by_cohort.cumcount(),
        n_c=by_cohort["v"].transform("size"),
    )


def _pd_customers(fe: pd.DataFrame, w: Window, f: MetricsFilter) -> pd.DataFrame:
    connected = fe[fe["step"] == "connected"]
    demos = connected[connected["path"] == "demo"]
    first_demo = demos.groupby("customer")["occurred_at"].min()
    in_window = demos[_between(demos["occurred_at"], w.prev_lo, w.hi)]
    c = in_window.groupby("customer").agg(rep=("actor_user_id", "max"), segment=("segment", "max"))
    c = c.assign(demo_at=first_demo.reindex(c.index))
    c = _apply(c[c["demo_at"] >= w.prev_lo], f, rep="rep", segment="segment")
    trial = connected[(connected["path"] == "trial") & (connected["occurred_at"] < w.as_of)]
    production = fe[(fe["step"] == "production") & (fe["occurred_at"] < w.as_of)]
    c = c.assign(
        current=(c["demo_at"] >= w.lo).astype(int),
        cohort=_cohort(c["demo_at"], f.grain),
        trial=c.index.isin(trial["customer"]).astype(int),
        production=c.index.isin(production["customer"]).astype(int),
    )
    return _count(c, "current", "cohort", "rep", "trial", "production")


def _pd_trials(fe: pd.DataFrame, dr: pd.DataFrame, w: Window, f: MetricsFilter) -> pd.DataFrame:
    t = (
        dr[dr["expires_at"] >= w.prev_lo]
        .groupby("aws_account_id")
        .agg(
            started=("approved_at", "min"),
            ended=("expires_at", "max"),
            rep=("user_id", "max"),
            segment=("segment", "max"),
        )
    )
    t = _apply(t[_between(t["ended"], w.prev_lo, w.effective_hi)], f, rep="rep",
               segment="segment")  # fmt: skip
    production = fe[(fe["step"] == "production") & (fe["occurred_at"] < w.as_of)]
    last = production.groupby("customer")["occurred_at"].max().reindex(t.index)
    t = t.assign(
        current=(t["ended"] >= w.lo).astype(int),
        cohort=_cohort(t["ended"], f.grain),
        converted=(last >= t["started"]).astype(int),
        open=(t["ended"] > w.as_of - TRIAL_DECISION_WINDOW).astype(int),
    )
    return _count(t, "current", "cohort", "rep", "converted", "open")


def _pd_tickets(tk: pd.DataFrame, w: Window, f: MetricsFilter) -> pd.DataFrame:
    t = tk[_between(tk["opened_at"], w.prev_lo, w.hi)]
    t = t.assign(current=(t["opened_at"] >= w.lo).astype(int),
                 cohort=_cohort(t["opened_at"], f.grain))  # fmt: skip
    return _count(t, "current", "cohort")


def _pd_baseline(fe: pd.DataFrame, tk: pd.DataFrame) -> Baseline:
    launch = fe.loc[fe["step"] == FunnelStep.REQUEST_SENT.value, "occurred_at"].min()
    first = tk["opened_at"].min()
    chosen = default_baseline(
        None if pd.isna(launch) else launch.to_pydatetime(),
        None if pd.isna(first) else first.to_pydatetime(),
    )
    if chosen is None:
        return Baseline(None, None, 0, "no setup tickets recorded yet")
    start, end, how = chosen
    count = _between(tk["opened_at"], day_start(start), day_start(end) + timedelta(days=1)).sum()
    return Baseline(start, end, int(count), how)


# --- DuckDB over the same rows -------------------------------------------------------------


def load_duckdb(path: Path) -> duckdb.DuckDBPyConnection:
    """Copy the store's tables into DuckDB (timestamps as TIMESTAMPTZ)."""
    source = sqlite3.connect(path)
    duck = duckdb.connect()
    duck.execute("SET TimeZone = 'UTC'")
    for table, stamps in (
        ("funnel_events", ["occurred_at"]),
        ("delegation_requests", ["approved_at", "expires_at"]),
        ("customers", []),
        ("support_tickets", ["opened_at"]),
        ("staff_users", []),
        ("metrics_rollup", []),
        ("metrics_sync_values", []),
        ("metrics_exceptions", []),
        (
            "funnel_sessions",
            [
                "started_at",
                "account_info_at",
                "choose_path_at",
                "request_sent_at",
                "approved_at",
                "connected_at",
                "first_sync_at",
                "production_at",
            ],
        ),
    ):
        frame = pd.read_sql(f"SELECT * FROM {table}", source)  # fixed table names
        for column in stamps:
            frame[column] = pd.to_datetime(frame[column]).dt.tz_localize(UTC)
        duck.register("frame", frame)
        duck.execute(f"CREATE TABLE {table} AS SELECT * FROM frame")
        duck.unregister("frame")
    source.close()
    return duck


def duckdb_runner(duck: duckdb.DuckDBPyConnection) -> Runner:
    """Run our statements, compiled for PostgreSQL, on DuckDB."""
    dialect = postgresql.psycopg.dialect()

    def run(statement: Any) -> pd.DataFrame:
        compiled = statement.compile(dialect=dialect, compile_kwargs={"render_postcompile": True})
        sql = re.sub(r"%\((\w+)\)s", r"$\1", str(compiled))
        return duck.execute(sql, dict(compiled.params)).df()

    return run


# --- comparing every output ----------------------------------------------------------------


def _close(a: Any, b: Any) -> bool:
    if a is None or b is None or (isinstance(a, float) and math.isnan(a)):
        return (a is None or _nan(a)) and (b is None or _nan(b))
    if isinstance(a, int | float) and isinstance(b, int | float):
        return math.isclose(float(a), float(b), rel_tol=1e-9, abs_tol=1e-9)
    return bool(a == b)


def _nan(value: Any) -> bool:
    return isinstance(value, float) and math.isnan(value)


def _frame_differences(name: str, a: pd.DataFrame, b: pd.DataFrame) -> list[str]:
    if list(a.columns) != list(b.columns) or len(a) != len(b):
        return [f"{name}: shape {list(a.columns)}×{len(a)} vs {list(b.columns)}×{len(b)}"]
    out = []
    for column in a.columns:
        for index, (x, y) in enumerate(zip(a[column].tolist(), b[column].tolist(), strict=True)):
            if isinstance(x, pd.Timestamp | datetime) or isinstance(y, pd.Timestamp | datetime):
                x, y = pd.Timestamp(x).date(), pd.Timestamp(y).date()
            if not _close(x, y):
                out.append(f"{name}[{index}].{column}: {x!r} vs {y!r}")
                break
    return out


def differences(a: Dashboard, b: Dashboard) -> list[str]:
    """Every output of the dashboard that differs between two computations."""
    out: list[str] = []
    for field in fields(Dashboard):
        x, y = getattr(a, field.name), getattr(b, field.name)
        if isinstance(x, pd.DataFrame):
            out += _frame_differences(field.name, x, y)
        elif field.name == "kpis":
            for k, other in zip(x, y, strict=True):
                for attr in ("key", "value", "previous", "target", "note"):
                    if not _close(getattr(k, attr), getattr(other, attr)):
                        out.append(
                            f"kpi {k.key}.{attr}: {getattr(k, attr)} vs {getattr(other, attr)}"
                        )
        elif isinstance(x, dict):
            out += [f"{field.name}.{key}: {x[key]} vs {y.get(key)}" for key in x
                    if not _close(x[key], y.get(key))]  # fmt: skip
        elif x != y:
            out.append(f"{field.name}: {x} vs {y}")
    return out


# --- the summary tables' cost: backfill and upkeep per event ---------------------------------


def upkeep_events(count: int, tag: str) -> list[dict[str, Any]]:
    """``count`` events of new wizard sessions (six steps and a first sync each), recent."""
    rng = random.Random(tag)
    steps = [*(step.value for step in WIZARD_STEPS), FunnelStep.FIRST_SYNC.value]
    out: list[dict[str, Any]] = []
    index = 0
    while len(out) < count:
        session = f"{tag}-{index}"
        at = ANCHOR - timedelta(days=rng.randint(1, 60))
        for step in steps:
            out.append({
                "wizard_session_id": session, "step": step,
                "customer": f"{900000000000 + index:012d}", "company": "Upkeep",
                "segment": "smb", "path": "demo", "actor_user_id": rng.choice(REPS),
                "value_seconds": 90.0 if step == FunnelStep.FIRST_SYNC.value else None,
                "occurred_at": at,
            })  # fmt: skip
            at += timedelta(seconds=30)
        index += 1
    return out[:count]


def _record_event_only(session: Any, values: dict[str, Any]) -> None:
    """The event insert alone (what recording costs without the summary and rollup upkeep)."""
    insert_event_row(session, values)


def upkeep_cost(url: str, count: int) -> tuple[float, float]:
    """(seconds per event with the summary upkeep, without), one transaction per event."""
    engine = make_engine(url)
    with_summary = upkeep_events(count, "with")
    without = upkeep_events(count, "without")
    spent = {"with": 0.0, "without": 0.0}
    block = 50  # alternate blocks so a load change on the shared machine hits both alike
    for start in range(0, count, block):
        for label, events, write in (
            ("with", with_summary, insert_event),
            ("without", without, _record_event_only),
        ):
            began = time.perf_counter()
            for values in events[start : start + block]:
                with session_scope(engine) as session:
                    write(session, values)
            spent[label] += time.perf_counter() - began
    engine.dispose()
    return spent["with"] / count, spent["without"] / count


# --- driver --------------------------------------------------------------------------------


def timed(function: Callable[[], Any], repeat: int) -> tuple[Any, float, float]:
    """(result, cold seconds: the first run, warm seconds: median of ``repeat`` more)."""
    started = time.perf_counter()
    result = function()
    cold = time.perf_counter() - started
    warm = []
    for _ in range(repeat):
        started = time.perf_counter()
        function()
        warm.append(time.perf_counter() - started)
    return result, cold, statistics.median(warm)


# Issue 14 sets the ≥ 10× pandas goal for history that has grown (1M and 5M events). At the
# quick size (100k) ours is ~100 ms of fixed cost (statements, frame shaping) against ~0.5 s
# of pandas, a ratio that says nothing about growth; it is printed, not checked.
PANDAS_GOAL_EVENTS = 1_000_000


def main() -> int:
    args = arguments()
    target = args.events or (100_000 if args.quick else 1_000_000)
    report = Report("metrics", args)
    mismatches = 0
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "bench.db"
        started = time.perf_counter()
        counts, backfill, sessions = generate(path, target)
        print(f"generated {counts} in {time.perf_counter() - started:.1f} s", flush=True)
        report.info("size", f"{target:,} events, {sessions:,} sessions (load {load_average()})")
        summary, rolled, rollup_rows = backfill
        report.info(
            "summary backfill (rebuild_summary)",
            f"{summary:.2f} s",
            f"{summary / target * 1e6:.1f} µs per event",
        )
        report.info(
            "rollup backfill (rebuild_rollup)",
            f"{rolled:.2f} s, {rollup_rows:,} rollup rows",
            f"{rolled / target * 1e6:.1f} µs per event",
        )
        url = f"sqlite:///{path}"
        started = time.perf_counter()
        duck = load_duckdb(path)
        report.info("DuckDB load (not in its timings)", f"{time.perf_counter() - started:.2f} s")
        limit = 1.0 if target <= 1_000_000 else 3.0
        default = MetricsFilter(start=ANCHOR.date() - timedelta(days=89), end=ANCHOR.date())
        everything = MetricsFilter(
            start=ANCHOR.date() - timedelta(days=HISTORY_DAYS), end=ANCHOR.date(), grain="month"
        )
        for label, filters in (("90-day view", default), ("whole history", everything)):
            mismatches += run_case(report, label, filters, url, path, duck, limit, args.repeat,
                                   pandas_goal=target >= PANDAS_GOAL_EVENTS)  # fmt: skip
        with_upkeep, without = upkeep_cost(url, args.upkeep_events)
        report.info(
            f"recording an event, with summary and rollup upkeep ({args.upkeep_events} events)",
            f"{with_upkeep * 1000:.2f} ms vs {without * 1000:.2f} ms without",
            f"+{(with_upkeep - without) * 1000:.2f} ms per event "
            f"({with_upkeep / without - 1:+.0%}; load {load_average()})",
        )
    code = report.finish()
    if mismatches:
        print(f"MISMATCH: {mismatches} output(s) differ between implementations", file=sys.stderr)
        return 2
    return code


def arguments() -> Any:
    cli = parser(__doc__.splitlines()[0])
    cli.add_argument("events", type=int, nargs="?", help="funnel events (default 1,000,000; "
                     "--quick 100,000)")  # fmt: skip
    cli.add_argument("--repeat", type=int, default=3, help="warm runs (median reported)")
    cli.add_argument("--upkeep-events", type=int, default=600, help="events recorded per side")
    return cli.parse_args()


def run_case(
    report: Report,
    label: str,
    filters: MetricsFilter,
    url: str,
    path: Path,
    duck: duckdb.DuckDBPyConnection,
    limit: float,
    repeat: int,
    *,
    pandas_goal: bool,
) -> int:
    """Time the three implementations on one filter; the number of differing outputs.

    ``pandas_goal``: check the ≥ 10× speed-up over pandas (set at 1M events and more); below
    that the speed-up is printed, not checked (see ``PANDAS_GOAL_EVENTS``).
    """
    names = {rep: f"Rep {rep}" for rep in REPS}
    engine = make_engine(url)  # a fresh engine: the first run is cold (empty page cache)

    def ours() -> Dashboard:
        with read_connection(engine) as connection:
            return compute_dashboard(engine_runner(connection), filters, ANCHOR, names)

    load = load_average()
    mine, mine_cold, mine_warm = timed(ours, repeat)
    engine.dispose()
    theirs, pd_cold, pd_warm = timed(lambda: pandas_dashboard(path, filters, ANCHOR, names),
                                     repeat)  # fmt: skip
    ducks, duck_cold, duck_warm = timed(
        lambda: compute_dashboard(duckdb_runner(duck), filters, ANCHOR, names), repeat
    )
    report.info(f"{label}: load average", load)
    for kind, ours_s, pd_s, duck_s in (
        ("cold", mine_cold, pd_cold, duck_cold),
        ("warm", mine_warm, pd_warm, duck_warm),
    ):
        report.under(f"{label}, {kind}: ours", ours_s, limit)
        report.within(f"{label}, {kind}: ours vs DuckDB", ours_s, duck_s, 2, "DuckDB")
        name = f"{label}, {kind}: ours vs pandas"
        if pandas_goal:
            report.faster(name, ours_s, pd_s, 10, "pandas")
        else:
            report.info(name, f"{ours_s * 1000:.0f} ms vs {pd_s * 1000:.0f} ms",
                        f"{pd_s / ours_s:.1f}× faster (the ≥ 10× goal is set at "
                        f"{PANDAS_GOAL_EVENTS:,} events; not checked at this size)")  # fmt: skip
    vs_pandas = differences(mine, theirs)
    vs_duck = differences(mine, ducks)
    report.same(f"{label}: every output, ours = pandas", vs_pandas)
    report.same(f"{label}: every output, ours = DuckDB", vs_duck)
    for name, found in (("pandas", vs_pandas), ("DuckDB", vs_duck)):
        for line in found:
            print(f"  MISMATCH ours vs {name}: {line}", file=sys.stderr)
    return len(vs_pandas) + len(vs_duck)


if __name__ == "__main__":
    sys.exit(main())
