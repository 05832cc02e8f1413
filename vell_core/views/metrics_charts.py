"""Altair charts: frames in, charts out, every target drawn."""

from __future__ import annotations

from typing import Any

import altair as alt
import pandas as pd

from vell_core.domain.metrics import (
    BASELINE_SYNC_MINUTES,
    CUSTOMER_STAGES,
    TARGET_COMPLETION,
    TARGET_SYNC_SECONDS,
    TARGET_TRIAL_CONVERSION,
)
from vell_core.domain.numbers import percent
from vell_core.views.chart_data import with_arrow_datasets
from vell_core.views.formatting import minutes_text

# --- charts (pure: frames in, Altair out) ---------------------------------------------------
# Channels are written as objects (``alt.Text("text:N")``, ``alt.YValue(0)``), never as shorthand
# strings or ``alt.value`` dicts: Altair turns each of those into an object with a converter it
# rebuilds on every call by hashing its ~9,000 schema classes (~15 ms each; 16 of them were
# 0.24 s of the page's first view of a filter).

# what ``alt.layer`` is typed to return (at run time it is always a LayerChart)
Layered = alt.LayerChart | alt.FacetChart


def _rule(value: float, text: str | None, color: str = "#d62728") -> Layered:
    """A horizontal target line; its label (if any) sits at the right end, above the line,
    where it does not cover the first bar."""
    frame = pd.DataFrame({"value": [value], "text": [text or ""]})
    base = alt.Chart(frame).encode(alt.Y("value:Q"))
    rule = base.mark_rule(color=color, strokeDash=[6, 4], strokeWidth=2)
    if text is None:
        return alt.layer(rule)
    label = base.mark_text(color=color, align="right", dx=-4, dy=-6).encode(
        x=alt.XValue("width"), text=alt.Text("text:N")
    )
    return alt.layer(rule, label)


COUNT_FORMAT = "d"  # whole sessions, syncs, tickets: never 0.2 of one


def _count_axis(title: str) -> alt.Axis:
    return alt.Axis(title=title, format=COUNT_FORMAT, tickMinStep=1)


def _share_text(values: pd.Series, suffix: str) -> pd.Series:
    return values.map(lambda v: "" if v is None or pd.isna(v) else f"{percent(v)} {suffix}")


def wizard_funnel_chart(funnel: pd.DataFrame) -> Layered:
    """Bars: share of started sessions reaching each step; target rule at 75% for Connected."""
    data = funnel.assign(conversion_text=_share_text(funnel["step_conversion"], "of prev."))
    base = alt.Chart(data).encode(
        x=alt.X("label:N", title="Wizard step", sort=None, axis=alt.Axis(labelAngle=0)),
        y=alt.Y(
            "share_of_started:Q",
            title="Share of sessions started",
            axis=alt.Axis(format="%"),
            scale=alt.Scale(domain=[0, 1]),
        ),
        tooltip=[
            alt.Tooltip("label:N", title="Step"),
            alt.Tooltip("reached:Q", title="Sessions reached"),
            alt.Tooltip("share_of_started:Q", title="Share of started", format=".1%"),
            alt.Tooltip("step_conversion:Q", title="Of the step before", format=".1%"),
            alt.Tooltip("dropped_here:Q", title="Dropped here"),
        ],
    )
    bars = base.mark_bar(color="#4c78a8")
    text = base.mark_text(dy=-8).encode(text=alt.Text("conversion_text:N"))
    # The last bars' own labels sit at the target's height, so the target is named in the
    # subtitle instead of beside its line (issue 13: the two labels overlapped).
    target = _rule(TARGET_COMPLETION, None)
    title = alt.TitleParams(
        "Share of started sessions reaching each step",
        subtitle=f"Red dashed line: the {percent(TARGET_COMPLETION)} target for Connected",
        anchor="start",
    )
    return alt.layer(bars, text, target).properties(height=320, title=title)


def customer_funnel_chart(funnel: pd.DataFrame) -> Layered:
    """Customer stages as a share of demoed customers (the Production bar is the Demo →
    production KPI). No trial → production step: see ``shaping.customer_funnel``."""
    data = funnel.assign(
        share_text=[
            f"{count} · {percent(share)} of demoed" if share is not None and pd.notna(share) else ""
            for count, share in zip(funnel["customers"], funnel["share_of_demoed"], strict=True)
        ]
    )
    base = alt.Chart(data).encode(
        x=alt.X("stage:N", title="Stage", sort=list(CUSTOMER_STAGES), axis=alt.Axis(labelAngle=0)),
        y=alt.Y(
            "share_of_demoed:Q",
            title="Share of demoed customers",
            axis=alt.Axis(format="%"),
            scale=alt.Scale(domain=[0, 1]),
        ),
        tooltip=[
            alt.Tooltip("stage:N", title="Stage"),
            alt.Tooltip("customers:Q", title="Customers"),
            alt.Tooltip("share_of_demoed:Q", title="Share of demoed", format=".1%"),
        ],
    )
    layers: list[Any] = [
        base.mark_bar(color="#72b7b2"),
        base.mark_text(dy=-8).encode(text=alt.Text("share_text:N")),
    ]
    return alt.layer(*layers).properties(height=320)


SYNC_ZONES = ("Within the 5-minute target", "Over the target")


def sync_histogram_chart(histogram: pd.DataFrame, median_min: float | None) -> Layered:
    """First syncs per time bin, one bar per bin in order, the 5-minute target and the median
    as rules on the bin edges, and the old 30–60 min CloudFormation baseline shaded."""
    order = histogram["bin"].tolist()
    target_min = TARGET_SYNC_SECONDS / 60

    def x(**kwargs: Any) -> alt.X:
        return alt.X("bin:N", sort=order, **kwargs)

    data = histogram.assign(
        zone=[
            SYNC_ZONES[0] if high <= target_min else SYNC_ZONES[1] for high in histogram["to_min"]
        ]
    )
    low, high = BASELINE_SYNC_MINUTES
    band = histogram.loc[
        (histogram["from_min"] >= low) & (histogram["to_min"] <= high), ["bin"]
    ].assign(text="Baseline 30–60 min (CloudFormation)")
    band_layer = (
        alt.Chart(band)
        .mark_rect(color="#bbbbbb", opacity=0.35)
        .encode(x=x(), tooltip=[alt.Tooltip("text:N")])
    )
    band_text = (
        alt.Chart(band.head(1))
        .mark_text(align="left", dx=2, dy=40, color="#666666")
        .encode(x=x(bandPosition=0), y=alt.YValue(0), text=alt.Text("text:N"))
    )
    bars = (
        alt.Chart(data)
        .mark_bar()
        .encode(
            x=x(
                title="Time from approval to first data (bins)",
                axis=alt.Axis(labelAngle=-40, labelOverlap=False),
            ),
            y=alt.Y("first_syncs:Q", axis=_count_axis("First syncs")),
            color=alt.Color(
                "zone:N",
                title=None,
                scale=alt.Scale(domain=list(SYNC_ZONES), range=["#4c78a8", "#f58518"]),
                legend=alt.Legend(orient="top"),
            ),
            tooltip=[
                alt.Tooltip("bin:N", title="Time to first data"),
                alt.Tooltip("first_syncs:Q", title="First syncs"),
                alt.Tooltip("share:Q", title="Share", format=".1%"),
                alt.Tooltip("cumulative_share:Q", title="Up to here", format=".1%"),
            ],
        )
    )
    layers: list[Any] = [band_layer, band_text, bars]
    target_bin = histogram.loc[histogram["from_min"] == target_min, "bin"]
    if len(target_bin):
        layers.append(_edge_rule(order, target_bin.iloc[0], 0.0, target_min, "Target ≤ 5 min"))
    if median_min is not None:
        layers.append(_median_rule(histogram, order, median_min))
    return alt.layer(*layers).properties(height=300)


def _edge_rule(
    order: list[str], bin_label: str, position: float, value: float, text: str, **style: Any
) -> Layered:
    """A labelled vertical rule inside the band of ``bin_label`` (0 = its left edge)."""
    color = style.get("color", "#d62728")
    frame = pd.DataFrame({"bin": [bin_label], "value": [value], "text": [text]})
    x = alt.X("bin:N", sort=order, bandPosition=position)
    base = alt.Chart(frame).encode(x=x)
    rule = base.mark_rule(color=color, strokeDash=[6, 4], strokeWidth=2)
    label = base.mark_text(color=color, align="left", dx=4, dy=style.get("dy", 8)).encode(
        y=alt.YValue(0), text=alt.Text("text:N")
    )
    return alt.layer(rule, label)


def _median_rule(histogram: pd.DataFrame, order: list[str], median_min: float) -> Layered:
    """The median where it falls: in its bin, at its place between the bin's edges."""
    lows, highs = histogram["from_min"].tolist(), histogram["to_min"].tolist()
    index = next((i for i, high in enumerate(highs) if median_min < high), len(highs) - 1)
    width = highs[index] - lows[index]
    position = min(max((median_min - lows[index]) / width, 0.0), 1.0) if width else 0.0
    return _edge_rule(
        order,
        order[index],
        position,
        median_min,
        f"Median {minutes_text(median_min)}",
        color="#222222",
        dy=24,
    )


def _cohort_axis(grain: str) -> alt.X:
    return alt.X(
        "cohort:T", title=f"{grain.capitalize()} starting", axis=alt.Axis(format="%d %b %y")
    )


OPEN_SESSIONS = ("All sessions settled", "Some sessions still open")


def completion_trend_chart(trend: pd.DataFrame, grain: str) -> Layered:
    """Completion rate per cohort with the 75% target; cohorts with open sessions hollow."""
    data = trend.assign(
        cohort=pd.to_datetime(trend["cohort"]),
        sessions=[OPEN_SESSIONS[1] if bool(v) else OPEN_SESSIONS[0] for v in trend["still_open"]],
    )
    base = alt.Chart(data).encode(
        x=_cohort_axis(grain),
        y=alt.Y(
            "rate:Q",
            title="Completion rate",
            axis=alt.Axis(format="%"),
            scale=alt.Scale(domain=[0, 1]),
        ),
        tooltip=[
            alt.Tooltip("cohort:T", title="Cohort"),
            alt.Tooltip("started:Q", title="Sessions started"),
            alt.Tooltip("connected:Q", title="Connected"),
            alt.Tooltip("rate:Q", title="Completion", format=".1%"),
            alt.Tooltip("sessions:N", title="Sessions"),
        ],
    )
    line = base.mark_line(color="#4c78a8")
    points = base.mark_point(filled=True, size=60).encode(
        shape=alt.Shape("sessions:N", title=None, scale=alt.Scale(domain=list(OPEN_SESSIONS)))
    )
    return alt.layer(line, points, _rule(TARGET_COMPLETION, "Target 75%")).properties(height=280)


SYNC_MEASURES = {"median_min": "Median", "p90_min": "90th percentile"}


def sync_trend_chart(trend: pd.DataFrame, grain: str) -> Layered:
    """Median and p90 minutes per cohort with the 5-minute target (lower is better)."""
    data = trend.assign(cohort=pd.to_datetime(trend["cohort"])).melt(
        id_vars=["cohort", "count"],
        value_vars=list(SYNC_MEASURES),
        var_name="measure",
        value_name="minutes",
    )
    data["measure"] = data["measure"].map(SYNC_MEASURES)
    lines = (
        alt.Chart(data)
        .mark_line(point=True)
        .encode(
            x=_cohort_axis(grain),
            y=alt.Y("minutes:Q", title="Minutes (lower is better)"),
            color=alt.Color(
                "measure:N", title=None, scale=alt.Scale(domain=list(SYNC_MEASURES.values()))
            ),
            tooltip=[
                alt.Tooltip("cohort:T", title="Cohort"),
                alt.Tooltip("measure:N", title="Measure"),
                alt.Tooltip("minutes:Q", title="Minutes", format=".1f"),
                alt.Tooltip("count:Q", title="First syncs"),
            ],
        )
    )
    return alt.layer(lines, _rule(TARGET_SYNC_SECONDS / 60, "Target ≤ 5 min")).properties(
        height=280
    )


OPEN_TRIALS = ("All trials decided", "Some trials still undecided")


def trial_trend_chart(trend: pd.DataFrame, grain: str) -> Layered:
    """Trial → production per cohort of trial end; open cohorts paler; 60% target."""
    data = trend.assign(
        cohort=pd.to_datetime(trend["cohort"]),
        trials=[OPEN_TRIALS[1] if bool(v) else OPEN_TRIALS[0] for v in trend["cohort_open"]],
    )
    base = alt.Chart(data).encode(
        x=_cohort_axis(grain),
        y=alt.Y(
            "rate:Q",
            title="Trial → production (decided)",
            axis=alt.Axis(format="%"),
            scale=alt.Scale(domain=[0, 1]),
        ),
        tooltip=[
            alt.Tooltip("cohort:T", title="Trials ending in"),
            alt.Tooltip("ended:Q", title="Ended"),
            alt.Tooltip("decided:Q", title="Decided"),
            alt.Tooltip("converted:Q", title="In production"),
            alt.Tooltip("open:Q", title="Still undecided"),
            alt.Tooltip("rate:Q", title="Trial → production", format=".1%"),
        ],
    )
    bars = base.mark_bar(color="#72b7b2").encode(
        opacity=alt.Opacity(
            "trials:N",
            title=None,
            scale=alt.Scale(domain=list(OPEN_TRIALS), range=[1.0, 0.4]),
        )
    )
    return alt.layer(bars, _rule(TARGET_TRIAL_CONVERSION, "Target 60%")).properties(height=280)


TICKET_LINES = {"baseline_expected": "Baseline expectation", "target": "Target (half the baseline)"}


def tickets_chart(trend: pd.DataFrame, grain: str) -> Layered:
    """Setup tickets per cohort vs the baseline expectation and the −50% target line."""
    data = trend.assign(cohort=pd.to_datetime(trend["cohort"]))
    bars = (
        alt.Chart(data)
        .mark_bar(color="#f58518")
        .encode(
            x=_cohort_axis(grain),
            y=alt.Y("tickets:Q", axis=_count_axis("Setup tickets (lower is better)")),
            tooltip=[
                alt.Tooltip("cohort:T", title="Cohort"),
                alt.Tooltip("days:Q", title="Days"),
                alt.Tooltip("tickets:Q", title="Setup tickets"),
                alt.Tooltip("baseline_expected:Q", title="Baseline expectation", format=".1f"),
                alt.Tooltip("target:Q", title="Target", format=".1f"),
            ],
        )
    )
    lines = (
        alt.Chart(data)
        .transform_fold(list(TICKET_LINES), as_=["line", "value"])
        .transform_calculate(
            line=alt.expr.if_(
                alt.datum.line == "target",
                TICKET_LINES["target"],
                TICKET_LINES["baseline_expected"],
            )
        )
        .mark_line(strokeDash=[6, 4])
        .encode(
            x=_cohort_axis(grain),
            y=alt.Y("value:Q"),
            color=alt.Color(
                "line:N",
                title=None,
                scale=alt.Scale(domain=list(TICKET_LINES.values()), range=["#666666", "#d62728"]),
            ),
        )
    )
    return alt.layer(bars, lines).properties(height=280)


def dashboard_chart_specs(dashboard: Any, grain: str) -> dict[str, dict[str, Any]]:
    """Every chart of the Leadership page as a finished Vega-Lite spec, built once per filter.

    Building the Altair objects was over half of a cached rerun (issue 13); the page caches
    these specs by the same key as the dashboard (filters and data version) and hands them to
    ``st.vega_lite_chart``, which skips Altair entirely — and, the datasets being Arrow bytes
    already, the pandas round trip it makes for each of them.
    """
    specs = dashboard_chart_dicts(dashboard, grain)
    # Datasets as Arrow bytes once here, so a cached rerun draws them without pandas.
    return {name: with_arrow_datasets(spec) for name, spec in specs.items()}


def dashboard_chart_dicts(
    dashboard: Any, grain: str, *, validate: bool = False
) -> dict[str, dict[str, Any]]:
    """The page's charts as Vega-Lite dicts (datasets inline), the ones it has data for.

    Not validated against the Vega-Lite schema by default: validation is a third of the time
    these take (~0.1 s of ~0.33 s), paid on every first view of a filter, and what it checks
    (that the code below builds well-formed specs) does not depend on the data. The tests
    validate them (``validate=True``) on the seeded store's dashboard and check that both
    outputs are equal.
    """
    charts: dict[str, Layered] = {
        "wizard_funnel": wizard_funnel_chart(dashboard.wizard_funnel),
        "customer_funnel": customer_funnel_chart(dashboard.customer_funnel),
    }
    if not dashboard.completion_trend.empty:
        charts["completion_trend"] = completion_trend_chart(dashboard.completion_trend, grain)
    stats = dashboard.sync_stats
    if stats["n"]:
        median = stats["median_s"] / 60 if stats["median_s"] is not None else None
        charts["sync_histogram"] = sync_histogram_chart(dashboard.sync_histogram, median)
        charts["sync_trend"] = sync_trend_chart(dashboard.sync_trend, grain)
    if not dashboard.trial_trend.empty:
        charts["trial_trend"] = trial_trend_chart(dashboard.trial_trend, grain)
    if dashboard.baseline.start is not None:
        charts["tickets"] = tickets_chart(dashboard.tickets, grain)
    return {name: chart.to_dict(validate=validate) for name, chart in charts.items()}
