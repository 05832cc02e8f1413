"""Benchmark: the Leadership page's metrics on 1,000,000 funnel events.

Generates about three years of history (wizard sessions, demo/trial delegation requests,
production milestones and proportional setup tickets) into a temp SQLite file with
``executemany``, then computes everything the page shows for its default view (last 90 days,
weekly cohorts) and for the whole history, three ways:

* ours — ``vell_core.services.metrics.compute_dashboard`` on the store (SQL aggregation,
  small frames);
* naive — ``pd.read_sql`` every row, then compute the same definitions in pandas;
* DuckDB — the same rows loaded into DuckDB (load time reported separately), running our
  statements compiled for PostgreSQL, then the same shaping.

The three must agree on the five KPIs (current and previous period); the script exits non-zero
if they do not. Goals: ours < 1 s, ≥ 10× faster than naive, within 3× of DuckDB.

    .venv/bin/python bench/metrics_bench.py [EVENTS]
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
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pandas as pd
from sqlalchemy.dialects import postgresql

from vell_core.domain.metrics import (
    SYNC_BIN_EDGES,
    TRIAL_DECISION_WINDOW,
    WIZARD_STEPS,
    WIZARD_WINDOW,
    Dashboard,
    Kpi,
    MetricsFilter,
    Window,
    day_start,
    format_value,
)
from vell_core.services.metrics import compute_dashboard
from vell_core.store import migrate
from vell_core.store.engine import make_engine, read_connection
from vell_core.store.funnel import rebuild_summary
from vell_core.store.metrics import Runner, default_baseline, engine_runner

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
    rows = []
    for days_ago in range(HISTORY_DAYS, 0, -1):
        base = (20 if days_ago >= LAUNCH_DAYS_AGO else 9) / 30 * scale / 3
        for category, rate in (("setup", base), ("other", 6 / 30 * scale / 3)):
            for _ in range(np.random.default_rng(days_ago).poisson(rate)):
                opened = ANCHOR - timedelta(days=days_ago, minutes=rng.randint(0, 1439))
                ref = f"ZD-{len(rows)}"
                rows.append((ref, opened.strftime(FMT), category, "Bench ticket", "import"))
    return rows


def generate(path: Path, target_events: int) -> dict[str, int]:
    """Create the migrated store and bulk-insert the generated rows."""
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
    # summary with the same backfill the migration and the seed use (timed, reported apart).
    started = time.perf_counter()
    engine = make_engine(url)
    sessions = rebuild_summary(engine)
    engine.dispose()
    print(f"funnel_sessions backfill ({sessions} sessions): {time.perf_counter() - started:.1f} s")
    connection = sqlite3.connect(path)
    connection.execute("ANALYZE")
    connection.close()
    return {
        "funnel_events": len(generator.events),
        "delegation_requests": len(generator.requests),
        "customers": len(generator.customers),
        "support_tickets": len(ticket_rows),
    }


# --- the naive pandas version --------------------------------------------------------------


def naive(url: str, filters: MetricsFilter) -> dict[str, Any]:
    """Load every row with pd.read_sql and compute the page's figures in pandas."""
    engine = make_engine(url)
    with engine.connect() as connection:
        fe = pd.read_sql("SELECT * FROM funnel_events", connection, parse_dates=["occurred_at"])
        dr = pd.read_sql(
            "SELECT * FROM delegation_requests",
            connection,
            parse_dates=["approved_at", "expires_at"],
        )
        cu = pd.read_sql("SELECT aws_account_id, segment FROM customers", connection)
        tk = pd.read_sql("SELECT * FROM support_tickets", connection, parse_dates=["opened_at"])
    engine.dispose()
    for frame, column in (
        (fe, "occurred_at"),
        (dr, "approved_at"),
        (dr, "expires_at"),
        (tk, "opened_at"),
    ):
        frame[column] = frame[column].dt.tz_localize(UTC)
    w = Window.of(filters, ANCHOR)
    out: dict[str, Any] = {}
    out.update(_naive_wizard(fe, w, filters))
    out.update(_naive_sync(fe, w, filters))
    out.update(_naive_customers(fe, w, filters))
    out.update(_naive_trials(fe, dr, cu, w, filters))
    out.update(_naive_tickets(fe, tk, w, filters))
    return out


def _cohort(series: pd.Series, grain: str) -> pd.Series:
    days = series.dt.tz_convert(UTC).dt.tz_localize(None).dt.normalize()
    if grain == "week":
        return days - pd.to_timedelta(days.dt.day_of_week, unit="D")
    return days.dt.to_period("M").dt.to_timestamp()


def _naive_wizard(fe: pd.DataFrame, w: Window, f: MetricsFilter) -> dict[str, Any]:
    rank = {step.value: index + 1 for index, step in enumerate(WIZARD_STEPS)}
    ev = fe[
        fe["step"].isin(rank)
        & (fe["occurred_at"] >= w.prev_lo)
        & (fe["occurred_at"] < w.hi + WIZARD_WINDOW)
    ]
    ev = ev.assign(
        rank=ev["step"].map(rank), start=ev["occurred_at"].where(ev["step"] == "provider")
    )
    s = ev.groupby("wizard_session_id").agg(
        started=("start", "min"),
        furthest=("rank", "max"),
        path=("path", "max"),
        segment=("segment", "max"),
        rep=("actor_user_id", "max"),
    )
    s = s[(s["started"] >= w.prev_lo) & (s["started"] < w.hi)]
    s = _apply(s, f, rep="rep", path="path", segment="segment")
    s = s.assign(cur=s["started"] >= w.lo, done=s["furthest"] == len(WIZARD_STEPS))
    out = {f"completion_{c}": _rate(s[s["cur"] == c]["done"]) for c in (True, False)}
    cur = s[s["cur"]]
    out["funnel"] = [int((cur["furthest"] >= i).sum()) for i in range(1, len(WIZARD_STEPS) + 1)]
    out["completion_trend"] = cur.groupby(_cohort(cur["started"], f.grain))["done"].mean()
    out["rep_completion"] = cur.groupby("rep")["done"].agg(["size", "sum"])
    return out


def _naive_sync(fe: pd.DataFrame, w: Window, f: MetricsFilter) -> dict[str, Any]:
    ev = fe[
        (fe["step"] == "first_sync")
        & fe["value_seconds"].notna()
        & (fe["occurred_at"] >= w.prev_lo)
        & (fe["occurred_at"] < w.hi)
    ]
    ev = _apply(ev, f, rep="actor_user_id", path="path", segment="segment")
    ev = ev.assign(cur=ev["occurred_at"] >= w.lo)
    out = {}
    for c in (True, False):
        values = ev[ev["cur"] == c]["value_seconds"]
        out[f"sync_median_{c}"] = values.median() / 60 if len(values) else None
        out[f"sync_p90_{c}"] = values.quantile(0.9) / 60 if len(values) else None
    cur = ev[ev["cur"]]
    edges = [e * 60 for e in SYNC_BIN_EDGES] + [math.inf]
    out["histogram"] = np.histogram(cur["value_seconds"], bins=edges)[0].tolist()
    out["sync_trend"] = cur.groupby(_cohort(cur["occurred_at"], f.grain))["value_seconds"].agg(
        ["median", lambda v: v.quantile(0.9)]
    )
    out["rep_sync"] = cur.groupby("actor_user_id")["value_seconds"].median()
    return out


def _naive_customers(fe: pd.DataFrame, w: Window, f: MetricsFilter) -> dict[str, Any]:
    ev = fe[fe["step"].isin(["connected", "production"]) & (fe["occurred_at"] < w.as_of)]
    demo = (ev["step"] == "connected") & (ev["path"] == "demo")
    ev = ev.assign(
        demo_at=ev["occurred_at"].where(demo),
        trial=(ev["step"] == "connected") & (ev["path"] == "trial"),
        production=ev["step"] == "production",
        demo_rep=ev["actor_user_id"].where(demo),
    )
    c = ev.groupby("customer").agg(
        demo_at=("demo_at", "min"),
        trial=("trial", "max"),
        production=("production", "max"),
        rep=("demo_rep", "max"),
        segment=("segment", "max"),
    )
    c = _apply(
        c[(c["demo_at"] >= w.prev_lo) & (c["demo_at"] < w.hi)], f, rep="rep", segment="segment"
    )
    c = c.assign(cur=c["demo_at"] >= w.lo)
    out = {f"demo_production_{k}": _rate(c[c["cur"] == k]["production"]) for k in (True, False)}
    cur = c[c["cur"]]
    out["customer_funnel"] = [len(cur), int(cur["trial"].sum()), int(cur["production"].sum())]
    return out


def _naive_trials(
    fe: pd.DataFrame, dr: pd.DataFrame, cu: pd.DataFrame, w: Window, f: MetricsFilter
) -> dict[str, Any]:
    t = dr[(dr["type"] == "trial") & dr["approved_at"].notna() & (dr["expires_at"] >= w.prev_lo)]
    t = t.merge(cu, on="aws_account_id", how="left")
    t = t.groupby("aws_account_id").agg(
        started=("approved_at", "min"),
        ended=("expires_at", "max"),
        rep=("user_id", "max"),
        segment=("segment", "max"),
    )
    t = _apply(
        t[(t["ended"] >= w.prev_lo) & (t["ended"] < w.effective_hi)],
        f,
        rep="rep",
        segment="segment",
    )
    prod = fe[(fe["step"] == "production") & (fe["occurred_at"] < w.as_of)]
    last_prod = prod.groupby("customer")["occurred_at"].max()
    t = t.assign(
        converted=t.index.map(last_prod).to_series(index=t.index) >= t["started"],
        open=t["ended"] > w.as_of - TRIAL_DECISION_WINDOW,
        cur=t["ended"] >= w.lo,
    )
    decided = t[~t["open"]]
    out = {f"trial_{c}": _rate(decided[decided["cur"] == c]["converted"]) for c in (True, False)}
    cur = decided[decided["cur"]]
    out["trial_trend"] = cur.groupby(_cohort(cur["ended"], f.grain))["converted"].mean()
    return out


def _naive_tickets(
    fe: pd.DataFrame, tk: pd.DataFrame, w: Window, f: MetricsFilter
) -> dict[str, Any]:
    setup = tk[tk["category"] == "setup"]
    launch = fe.loc[fe["step"] == "request_sent", "occurred_at"].min()
    choice = default_baseline(launch.to_pydatetime(), setup["opened_at"].min().to_pydatetime())
    assert choice is not None
    b_lo = day_start(choice[0])
    b_hi = day_start(choice[1]) + timedelta(days=1)
    base = ((setup["opened_at"] >= b_lo) & (setup["opened_at"] < b_hi)).sum() / (b_hi - b_lo).days
    out = {}
    for c, lo, hi in ((True, w.lo, w.effective_hi), (False, w.prev_lo, w.lo)):
        n = ((setup["opened_at"] >= lo) & (setup["opened_at"] < hi)).sum()
        # A previous period without any setup ticket has no meaningful change ("—").
        days = (hi - lo).total_seconds() / 86400
        out[f"tickets_{c}"] = None if not c and n == 0 else n / days / base - 1
    cur = setup[(setup["opened_at"] >= w.lo) & (setup["opened_at"] < w.hi)]
    out["tickets_trend"] = cur.groupby(_cohort(cur["opened_at"], f.grain)).size()
    return out


def _apply(frame: pd.DataFrame, f: MetricsFilter, **columns: str) -> pd.DataFrame:
    if f.rep_ids and "rep" in columns:
        frame = frame[frame[columns["rep"]].isin(f.rep_ids)]
    if f.paths and "path" in columns:
        frame = frame[frame[columns["path"]].isin(f.paths)]
    if f.segments and "segment" in columns:
        frame = frame[frame[columns["segment"]].isin(f.segments)]
    return frame


def _rate(flags: pd.Series) -> float | None:
    return float(flags.mean()) if len(flags) else None


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


# --- driver --------------------------------------------------------------------------------


def timed(function: Callable[[], Any], repeat: int = 3) -> tuple[Any, float, float]:
    """(result, first run seconds, median of ``repeat`` warm runs)."""
    started = time.perf_counter()
    result = function()
    first = time.perf_counter() - started
    warm = []
    for _ in range(repeat):
        started = time.perf_counter()
        function()
        warm.append(time.perf_counter() - started)
    return result, first, statistics.median(warm)


def kpi_values(dashboard: Dashboard) -> dict[str, float | None]:
    """The five KPIs, current and previous, keyed like the naive version."""
    by_key = {k.key: k for k in dashboard.kpis}
    names = {
        "completion": "completion",
        "sync": "sync_median",
        "customers": "demo_production",
        "trial": "trial",
        "tickets": "tickets",
    }
    out = {}
    for key, name in names.items():
        out[f"{name}_True"] = by_key[key].value
        out[f"{name}_False"] = by_key[key].previous
    return out


def agree(a: dict[str, Any], b: dict[str, Any]) -> list[str]:
    """Names whose values differ (beyond float noise)."""
    bad = []
    for name, value in a.items():
        other = b.get(name)
        if value is None or other is None:
            if value is not other and not (value is None and other is None):
                bad.append(f"{name}: {value} vs {other}")
        elif not math.isclose(float(value), float(other), rel_tol=1e-9, abs_tol=1e-9):
            bad.append(f"{name}: {value} vs {other}")
    return bad


def main() -> int:
    target = int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "bench.db"
        started = time.perf_counter()
        counts = generate(path, target)
        print(f"generated {counts} in {time.perf_counter() - started:.1f} s")
        url = f"sqlite:///{path}"
        engine = make_engine(url)
        started = time.perf_counter()
        duck = load_duckdb(path)
        print(f"DuckDB load (not timed below): {time.perf_counter() - started:.1f} s")
        failures = 0
        default = MetricsFilter(start=ANCHOR.date() - timedelta(days=89), end=ANCHOR.date())
        everything = MetricsFilter(
            start=ANCHOR.date() - timedelta(days=HISTORY_DAYS), end=ANCHOR.date(), grain="month"
        )
        for label, filters in (
            ("default view: last 90 days, weekly", default),
            ("whole history (3 years), monthly", everything),
        ):
            failures += run_case(label, filters, engine, url, duck)
        engine.dispose()
    return 1 if failures else 0


def run_case(
    label: str, filters: MetricsFilter, engine: Any, url: str, duck: duckdb.DuckDBPyConnection
) -> int:
    """Time the three implementations on one filter and check they agree."""
    names = {rep: f"Rep {rep}" for rep in REPS}

    def ours() -> Dashboard:
        with read_connection(engine) as connection:
            return compute_dashboard(engine_runner(connection), filters, ANCHOR, names)

    mine, mine_first, mine_warm = timed(ours)
    started = time.perf_counter()
    theirs = naive(url, filters)
    naive_seconds = time.perf_counter() - started
    duck_result, duck_first, duck_warm = timed(
        lambda: compute_dashboard(duckdb_runner(duck), filters, ANCHOR, names)
    )
    print(f"\n== {label}")
    print(f"ours (SQLite, SQL aggregation): first {mine_first:.3f} s, warm {mine_warm:.3f} s")
    print(f"naive pandas (load all rows):   {naive_seconds:.3f} s")
    print(f"DuckDB (same statements):       first {duck_first:.3f} s, warm {duck_warm:.3f} s")
    print(
        f"speed-up vs naive: {naive_seconds / mine_warm:.1f}×   ours ÷ DuckDB: "
        f"{mine_warm / duck_warm:.2f}×"
    )
    goals = {
        "under 1 s": mine_warm < 1.0,
        "≥ 10× naive": naive_seconds / mine_warm >= 10,
        "within 3× DuckDB": mine_warm / duck_warm <= 3,
    }
    print("goals: " + ", ".join(f"{k} {'OK' if v else 'MISSED'}" for k, v in goals.items()))
    for k in mine.kpis:
        print(f"  {k.label:32} {k.value_text:>10}  (prev {format_prev(k)}, target {k.target_text})")
    mismatches = agree(kpi_values(mine), {k: theirs[k] for k in kpi_values(mine)})
    mismatches += agree(kpi_values(mine), kpi_values(duck_result))
    mine_funnel = mine.wizard_funnel["reached"].tolist()
    if mine_funnel != theirs["funnel"]:
        mismatches.append(f"wizard funnel {mine_funnel} vs {theirs['funnel']}")
    if mine.sync_histogram["first_syncs"].tolist() != theirs["histogram"]:
        mismatches.append("sync histogram differs")
    if mine.customer_funnel["customers"].tolist() != theirs["customer_funnel"]:
        mismatches.append("customer funnel differs")
    print("implementations agree" if not mismatches else f"MISMATCH: {mismatches}")
    return len(mismatches)


def format_prev(kpi: Kpi) -> str:
    return format_value(kpi.previous, kpi.unit)


if __name__ == "__main__":
    sys.exit(main())
