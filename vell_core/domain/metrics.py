"""Targets, definitions, the filter and result types, and small helpers (no SQL, no UI)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import TYPE_CHECKING

from vell_core.domain.errors import ValidationFailed
from vell_core.domain.models import CustomerSegment, DelegationPath, FunnelStep
from vell_core.domain.numbers import percent, signed_percent

if TYPE_CHECKING:  # loaded where a frame is built: `vell run` starts without pandas
    import pandas as pd

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
        "here* = sessions whose furthest step is this one. A session's rep, path and segment "
        "are those recorded on its wizard steps. Target ≥ 75%."
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
        "many reached production (up to now), each as a share of the demoed customers. "
        "*Production* counts them with or without a trial, so its share is the *Demo → "
        "production* figure above; it is not a trial conversion (that is *Trial → production*: "
        "trials that ended in the period, decided 14 days later). Tracked, no target; the path "
        "filter does not apply (the path is the funnel)."
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
        "*request_sent* event); without that history, the first 90 days of ticket data. A "
        "previous period without any setup ticket shows no change (—). Target "
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
    """Human text for a metric value (the shared percentage helpers for rates)."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "—"
    if unit == "minutes":
        return f"{value:.1f} min"
    if unit == "change":
        return signed_percent(value)
    return percent(value)


def ratio(numerator: float, denominator: float) -> float | None:
    """``numerator / denominator``, or None when there is nothing to divide by."""
    return numerator / denominator if denominator else None


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
