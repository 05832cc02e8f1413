"""Altair charts: frames in, charts out, every target drawn."""

from __future__ import annotations

from typing import Any

import altair as alt
import pandas as pd

from vell_core.domain.metrics import (
    BASELINE_SYNC_MINUTES,
    CUSTOMER_STAGES,
    SYNC_BIN_EDGES,
    SYNC_OVERFLOW_WIDTH,
    TARGET_COMPLETION,
    TARGET_SYNC_SECONDS,
    TARGET_TRIAL_CONVERSION,
)

# --- charts (pure: frames in, Altair out) ---------------------------------------------------


# what ``alt.layer`` is typed to return (at run time it is always a LayerChart)
Layered = alt.LayerChart | alt.FacetChart


def _rule(value: float, text: str, axis: str = "y", color: str = "#d62728") -> Layered:
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


def wizard_funnel_chart(funnel: pd.DataFrame) -> Layered:
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


def customer_funnel_chart(funnel: pd.DataFrame) -> Layered:
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


def sync_histogram_chart(histogram: pd.DataFrame, median_min: float | None) -> Layered:
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


def completion_trend_chart(trend: pd.DataFrame, grain: str) -> Layered:
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


def sync_trend_chart(trend: pd.DataFrame, grain: str) -> Layered:
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


def trial_trend_chart(trend: pd.DataFrame, grain: str) -> Layered:
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


def tickets_chart(trend: pd.DataFrame, grain: str) -> Layered:
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


def dashboard_chart_specs(dashboard: Any, grain: str) -> dict[str, dict[str, Any]]:
    """Every chart of the Leadership page as a finished Vega-Lite spec, built and validated once.

    Building and validating the Altair objects was over half of a cached rerun (issue 13); the
    page caches these specs by the same key as the dashboard (filters and data version) and
    hands them to ``st.vega_lite_chart``, which skips Altair entirely.
    """
    specs: dict[str, dict[str, Any]] = {
        "wizard_funnel": wizard_funnel_chart(dashboard.wizard_funnel).to_dict(),
        "customer_funnel": customer_funnel_chart(dashboard.customer_funnel).to_dict(),
    }
    if not dashboard.completion_trend.empty:
        specs["completion_trend"] = completion_trend_chart(
            dashboard.completion_trend, grain
        ).to_dict()
    stats = dashboard.sync_stats
    if stats["n"]:
        median = stats["median_s"] / 60 if stats["median_s"] is not None else None
        specs["sync_histogram"] = sync_histogram_chart(dashboard.sync_histogram, median).to_dict()
        specs["sync_trend"] = sync_trend_chart(dashboard.sync_trend, grain).to_dict()
    if not dashboard.trial_trend.empty:
        specs["trial_trend"] = trial_trend_chart(dashboard.trial_trend, grain).to_dict()
    if dashboard.baseline.start is not None:
        specs["tickets"] = tickets_chart(dashboard.tickets, grain).to_dict()
    return specs
