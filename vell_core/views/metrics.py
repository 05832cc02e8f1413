"""Pure shaping: the raw frames into KPI tiles and tables (no database, no Streamlit)."""

from __future__ import annotations

import math
from datetime import date, timedelta
from typing import Any

import numpy as np
import pandas as pd

from vell_core.domain.metrics import (
    CUSTOMER_STAGES,
    STEP_LABELS,
    SYNC_BIN_EDGES,
    SYNC_OVERFLOW_WIDTH,
    TARGET_COMPLETION,
    TARGET_SYNC_SECONDS,
    TARGET_TICKET_CHANGE,
    TARGET_TRIAL_CONVERSION,
    WIZARD_STEPS,
    Baseline,
    Dashboard,
    Kpi,
    MetricsFilter,
    RawMetrics,
    Window,
    cohort_end,
    day_start,
    format_value,
    ratio,
)
from vell_core.domain.models import FunnelStep
from vell_core.domain.numbers import percent
from vell_core.views import formatting
from vell_core.views.formatting import display_frame

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


def _minutes_label(minutes: float) -> str:
    """A bin edge in the unit people read: ``30 s``, ``7.5 min``, ``1.5 h``."""
    if minutes < 1:
        return f"{minutes * 60:g} s"
    if minutes >= 60:
        return f"{minutes / 60:g} h"
    return f"{minutes:g} min"


def bin_label(low: float, high: float | None) -> str:
    """``0–30 s``, ``30 s–1 min``, ``5–7.5 min``, ``1–1.5 h``, ``≥ 2 h``."""
    if high is None:
        return f"≥ {_minutes_label(low)}"
    low_text, high_text = _minutes_label(low), _minutes_label(high)
    low_unit, high_unit = low_text.split(" ")[1], high_text.split(" ")[1]
    if low_unit == high_unit or low == 0:
        return f"{low_text.split(' ')[0]}–{high_text}"
    return f"{low_text}–{high_text}"


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
    labels = [bin_label(a, b) for a, b in zip(SYNC_BIN_EDGES[:-1], ends, strict=False)]
    labels.append(bin_label(SYNC_BIN_EDGES[-1], None))
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
    """Demo → trial → production at customer level (one period's demo cohort).

    *Production* counts every demoed customer now in production, with or without a trial, so
    it is not a subset of *Trial connected*: production ÷ trial connected would be no
    conversion rate at all, and sat beside the *Trial → production* KPI (a different measure:
    trials that ended, decided 14 days later) as a second number for one name (issue 13). Its
    step conversion is therefore empty; its share of demoed is the Demo → production KPI.
    """
    counts = [total(customers), total(customers, trial=1), total(customers, production=1)]
    rows = []
    for index, (stage, count) in enumerate(zip(CUSTOMER_STAGES, counts, strict=True)):
        rows.append(
            {
                "stage": stage,
                "customers": count,
                "share_of_demoed": ratio(count, counts[0]),
                "step_conversion": ratio(count, counts[index - 1]) if index == 1 else None,
                "dropped_after": count - counts[1] if index == 0 else None,
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


def previous_ticket_change(tickets: pd.DataFrame, days: float, baseline: Baseline) -> float | None:
    """The previous period's change, or None ("—") when it has no setup tickets at all.

    An empty previous period almost always means the ticket history does not reach back that
    far, so comparing with it would show a meaningless −100%.
    """
    if total(tickets) == 0:
        return None
    return ticket_change(ticket_rate(tickets, days), baseline)


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
            "Time to first sync",
            _minutes(sync_now["median_s"]),
            _minutes(sync_before["median_s"]),
            TARGET_SYNC_SECONDS / 60,
            "minutes",
            higher_is_better=False,
            note=f"median · p90 {format_value(_minutes(sync_now['p90_s']), 'minutes')} · "
            f"{sync_now['n']} first syncs",
        ),
        Kpi(
            "customers",
            "Demo → production",
            demo_to_production(now["customers"]),
            demo_to_production(before["customers"]),
            None,
            "ratio",
            higher_is_better=True,
            note=f"{total(now['customers'], production=1)} of {total(now['customers'])} "
            "demoed customers",
        ),
        Kpi(
            "trial",
            "Trial → production",
            trials_now["rate"],
            trials_before["rate"],
            TARGET_TRIAL_CONVERSION,
            "ratio",
            higher_is_better=True,
            note=f"{trials_now['converted']} of {trials_now['decided']} decided trials · "
            f"{trials_now['open']} still open (not counted)",
        ),
        Kpi(
            "tickets",
            "Setup tickets",
            ticket_change(ticket_rate(now["tickets"], days_now), baseline),
            previous_ticket_change(before["tickets"], days_before, baseline),
            TARGET_TICKET_CHANGE,
            "change",
            higher_is_better=False,
            note=f"change in the rate vs the baseline ({baseline.how})",
        ),
    )


# --- what a person reads: the page's tables -------------------------------------------------
#
# The frames above stay machine-friendly (the CSV downloads and the charts use them); these
# turn them into the text on screen: human headers, shares as percentages, no "None".

WIZARD_FUNNEL_HEADERS = {
    "label": "Step",
    "reached": "Sessions reached",
    "share_of_started": "Share of started",
    "step_conversion": "Of the step before",
    "dropped_here": "Dropped here",
}
CUSTOMER_FUNNEL_HEADERS = {
    "stage": "Stage",
    "customers": "Customers",
    "share_of_demoed": "Share of demoed",
    "step_conversion": "Of the stage before",
    "dropped_after": "Went no further",
}
# The rates, with the count each is of; the counts behind them (connected sessions, converted
# trials) are in the CSV, so the last column still fits at 1280 px.
REP_HEADERS = {
    "rep": "Rep",
    "sessions_started": "Sessions",
    "completion_rate": "Completion",
    "first_syncs": "First syncs",
    "syncs_within_5_min": "Syncs ≤ 5 min",
    "customers_demoed": "Demoed",
    "customers_production": "In production",
    "trials_decided": "Trials decided",
    "trial_conversion": "Trial → production",
}
_SHARE_COLUMNS = {
    "share_of_started",
    "share_of_demoed",
    "step_conversion",
    "completion_rate",
    "syncs_within_5_min",
    "trial_conversion",
}


def _table(frame: pd.DataFrame, headers: dict[str, str]) -> pd.DataFrame:
    formats = {
        column: percent if column in _SHARE_COLUMNS else formatting.count
        for column in headers
        if column not in ("label", "stage", "rep")
    }
    return display_frame(frame, formats, columns=list(headers), rename=headers)


def wizard_funnel_table(funnel: pd.DataFrame) -> pd.DataFrame:
    """The wizard funnel as shown on the page."""
    return _table(funnel, WIZARD_FUNNEL_HEADERS)


def customer_funnel_table(funnel: pd.DataFrame) -> pd.DataFrame:
    """The customer funnel as shown on the page."""
    return _table(funnel, CUSTOMER_FUNNEL_HEADERS)


def reps_table(reps: pd.DataFrame) -> pd.DataFrame:
    """The per-rep breakdown as shown on the page."""
    return _table(reps, REP_HEADERS)


def dashboard_tables(dashboard: Dashboard) -> dict[str, pd.DataFrame]:
    """Every table of the Leadership page as shown (the page caches them with the charts)."""
    return {
        "wizard_funnel": wizard_funnel_table(dashboard.wizard_funnel),
        "customer_funnel": customer_funnel_table(dashboard.customer_funnel),
        "reps": reps_table(dashboard.reps),
    }


# The Leadership page shows one section at a time (issue 13: drawing every chart at once was
# most of a cached rerun); the labels match the KPI tiles. Pages and tests read this tuple.
DASHBOARD_SECTIONS = (
    "Wizard completion",
    "Time to first sync",
    "Customers",
    "Trial → production",
    "Setup tickets",
    "By rep",
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
    if filters.end > window.as_of.date():
        # Only a period that ends after today; one that ends today is "so far" by nature.
        notes.append("The period ends after today; rates cover the days so far.")
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
