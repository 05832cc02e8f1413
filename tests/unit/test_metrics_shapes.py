"""Pure shaping functions of vell_core.metrics on small hand-made frames (no DB)."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime

import numpy as np
import pandas as pd
import pytest

from vell_core.domain.errors import ValidationFailed
from vell_core.domain.metrics import (
    TARGET_COMPLETION,
    Baseline,
    Kpi,
    MetricsFilter,
    Window,
    period_presets,
)
from vell_core.store.metrics import default_baseline
from vell_core.views.metrics import (
    REP_COLUMNS,
    completion_rate,
    completion_trend,
    customer_funnel,
    customer_funnel_table,
    demo_to_production,
    normalise,
    previous_ticket_change,
    quantile,
    quantiles,
    reps_table,
    sync_histogram,
    sync_stats,
    ticket_change,
    tickets_trend,
    trial_stats,
    trial_trend,
    wizard_funnel,
    wizard_funnel_table,
)
from vell_core.views.metrics_charts import (
    SYNC_ZONES,
    completion_trend_chart,
    customer_funnel_chart,
    sync_histogram_chart,
    sync_trend_chart,
    tickets_chart,
    trial_trend_chart,
    wizard_funnel_chart,
)


def ranks(values: list[float]) -> pd.DataFrame:
    """What sync_ranks_query returns for one period (all rows kept, which is a superset)."""
    ordered = sorted(values)
    n = len(ordered)
    return pd.DataFrame(
        {
            "current": 1,
            "cohort": date(2026, 1, 5),
            "rep": 1,
            "v": ordered,
            "rn_p": range(n),
            "n_p": n,
            "rn_c": range(n),
            "n_c": n,
        }
    )


@pytest.mark.parametrize(
    "values",
    [[42.0], [10.0, 20.0], [5.0, 5.0, 5.0, 9.0], [1.0, 2.0, 3.0, 4.0, 100.0], list(range(11))],
)
def test_quantiles_match_numpy_linear(values: list[float]) -> None:
    stats = quantiles(ranks(values), None, "rn_p", "n_p")[None]
    assert stats["median_s"] == pytest.approx(float(np.quantile(values, 0.5)))
    assert stats["p90_s"] == pytest.approx(float(np.quantile(values, 0.9)))
    assert stats["count"] == len(values)


def test_quantile_of_nothing_is_none() -> None:
    assert quantile(0, {}, 0.5) is None
    assert quantiles(ranks([]).iloc[0:0], None, "rn_p", "n_p") == {}


def sessions(rows: list[tuple[int, int, int]], cohort: date = date(2026, 1, 5)) -> pd.DataFrame:
    """(furthest, n, recent) rows of the current period."""
    return normalise(
        pd.DataFrame(
            [
                {"current": 1, "cohort": cohort, "rep": 1, "furthest": f, "recent": r, "n": n}
                for f, n, r in rows
            ]
        )
    )


def test_wizard_funnel_counts_furthest_step_and_drop_off() -> None:
    # 10 started: 2 stopped at provider, 1 at choose_path, 3 at request_sent, 4 connected.
    frame = sessions([(1, 2, 0), (3, 1, 0), (4, 3, 0), (6, 4, 0)])
    funnel = wizard_funnel(frame)
    assert funnel["reached"].tolist() == [10, 8, 8, 7, 4, 4]
    assert funnel["dropped_here"].tolist() == [2, 0, 1, 3, 0, 0]
    assert funnel["step_conversion"].iloc[1] == pytest.approx(0.8)
    assert funnel["step_conversion"].iloc[4] == pytest.approx(4 / 7)
    assert completion_rate(frame) == pytest.approx(0.4)


def test_wizard_funnel_empty() -> None:
    funnel = wizard_funnel(sessions([]).iloc[0:0])
    assert funnel["reached"].tolist() == [0] * 6
    assert funnel["share_of_started"].isna().all()
    assert completion_rate(sessions([]).iloc[0:0]) is None


def test_completion_trend_flags_cohorts_with_open_sessions() -> None:
    old = sessions([(6, 3, 0), (2, 1, 0)], cohort=date(2026, 1, 5))
    new = sessions([(6, 1, 1), (4, 1, 1)], cohort=date(2026, 1, 12))
    trend = completion_trend(pd.concat([old, new]))
    assert trend["rate"].tolist() == [0.75, 0.5]
    assert trend["still_open"].tolist() == [False, True]


def trials(rows: list[tuple[int, int, int]]) -> pd.DataFrame:
    """(converted, open, n) rows."""
    return normalise(
        pd.DataFrame(
            [
                {
                    "current": 1,
                    "cohort": date(2026, 1, 5),
                    "rep": 2,
                    "converted": c,
                    "open": o,
                    "n": n,
                }
                for c, o, n in rows
            ]
        )
    )


def test_trial_rate_excludes_open_trials_from_both_sides() -> None:
    stats = trial_stats(trials([(1, 0, 3), (0, 0, 2), (1, 1, 1), (0, 1, 4)]))
    assert stats == {
        "ended": 10,
        "open": 5,
        "open_converted": 1,
        "decided": 5,
        "converted": 3,
        "rate": 0.6,
    }


def test_trial_rate_when_every_trial_is_open() -> None:
    stats = trial_stats(trials([(0, 1, 2)]))
    assert stats["rate"] is None
    assert trial_trend(trials([(0, 1, 2)]))["cohort_open"].tolist() == [True]


def test_ticket_change_against_baseline() -> None:
    baseline = Baseline(date(2025, 1, 1), date(2025, 3, 31), 90, "test")  # 90 days
    assert baseline.per_30_days == pytest.approx(30.0)
    assert ticket_change(15.0, baseline) == pytest.approx(-0.5)
    assert ticket_change(None, baseline) is None
    assert ticket_change(10.0, Baseline(None, None, 0, "none")) is None


def test_previous_period_without_setup_tickets_shows_no_change() -> None:
    baseline = Baseline(date(2025, 1, 1), date(2025, 3, 31), 90, "test")  # 30 per 30 days
    empty = normalise(pd.DataFrame({"current": [], "cohort": [], "n": []}))
    assert previous_ticket_change(empty, 31.0, baseline) is None  # "—", not −100%
    some = normalise(pd.DataFrame({"current": [0], "cohort": [date(2026, 1, 5)], "n": [15]}))
    assert previous_ticket_change(some, 30.0, baseline) == pytest.approx(-0.5)
    tile = Kpi("tickets", "T", -0.5, None, -0.5, "change", higher_is_better=False)
    assert (tile.value_text, tile.delta_text) == ("-50%", None)


def test_default_baseline_prefers_the_90_days_before_launch() -> None:
    launch = datetime(2026, 6, 1, 9, tzinfo=UTC)
    first = datetime(2025, 1, 1, tzinfo=UTC)
    assert default_baseline(launch, first)[:2] == (date(2026, 3, 3), date(2026, 5, 31))
    short = datetime(2026, 5, 1, tzinfo=UTC)  # history too short: first 90 days instead
    assert default_baseline(launch, short)[:2] == (date(2026, 5, 1), date(2026, 7, 29))
    assert default_baseline(None, None) is None


def test_tickets_trend_scales_baseline_to_partial_cohorts() -> None:
    window = Window.of(
        MetricsFilter(date(2026, 1, 7), date(2026, 1, 13)), datetime(2026, 2, 1, tzinfo=UTC)
    )
    baseline = Baseline(date(2025, 1, 1), date(2025, 1, 30), 30, "test")  # 1 per day
    frame = normalise(pd.DataFrame({"current": [1], "cohort": [date(2026, 1, 5)], "n": [2]}))
    trend = tickets_trend(frame, baseline, window, "week")
    assert trend["cohort"].tolist() == [date(2026, 1, 5), date(2026, 1, 12)]
    assert trend["days"].tolist() == [5.0, 2.0]
    assert trend["tickets"].tolist() == [2, 0]
    assert trend["baseline_expected"].tolist() == [5.0, 2.0]
    assert trend["target"].tolist() == [2.5, 1.0]


def test_kpi_lower_is_better() -> None:
    kpi = Kpi("sync", "Sync", 4.0, 6.5, 5.0, "minutes", higher_is_better=False)
    assert kpi.delta_text == "-2.5 min"
    assert kpi.delta_color == "inverse"
    assert kpi.on_target is True
    assert kpi.target_text == "≤ 5.0 min"
    rate = Kpi("completion", "C", 0.7, None, 0.75, "ratio", higher_is_better=True)
    assert (rate.value_text, rate.delta_text, rate.on_target) == ("70%", None, False)


def test_filter_validation() -> None:
    with pytest.raises(ValidationFailed) as caught:
        MetricsFilter(date(2026, 2, 1), date(2026, 1, 1), paths=("nope",), grain="day").validate()
    assert set(caught.value.fields) == {"period", "path", "grain"}


def test_period_presets_cover_quarters() -> None:
    presets = period_presets(date(2026, 5, 20))
    assert presets["Q2 2026 (to date)"] == (date(2026, 4, 1), date(2026, 5, 20))
    assert presets["Q1 2026"] == (date(2026, 1, 1), date(2026, 3, 31))
    assert presets["Q2 2025"] == (date(2025, 4, 1), date(2025, 6, 30))


def marks(spec: dict) -> list[str]:
    """The mark type of every leaf layer of a Vega-Lite spec."""
    if "layer" in spec:
        return [mark for layer in spec["layer"] for mark in marks(layer)]
    mark = spec.get("mark", {})
    return [mark if isinstance(mark, str) else mark.get("type", "")]


def test_every_chart_draws_its_target() -> None:
    funnel = wizard_funnel(sessions([(1, 2, 0), (6, 2, 0)]))
    trend = completion_trend(sessions([(6, 2, 0), (1, 2, 0)]))
    histogram = sync_histogram(
        normalise(pd.DataFrame({"current": [1], "rep": [1], "bin": [2], "n": [3]}))
    )
    specs = {
        "funnel": (wizard_funnel_chart(funnel), TARGET_COMPLETION),
        "completion": (completion_trend_chart(trend, "week"), TARGET_COMPLETION),
        "sync": (sync_histogram_chart(histogram, 1.2), 5.0),
        "trial": (trial_trend_chart(trial_trend(trials([(1, 0, 1)])), "week"), 0.6),
    }
    for name, (chart, target) in specs.items():
        text = json.dumps(chart.to_dict())
        assert f'"value": {target}' in text, name
    assert "Baseline 30–60 min" in json.dumps(specs["sync"][0].to_dict(), ensure_ascii=False)
    funnel_spec = specs["funnel"][0].to_dict()
    assert "75% target for Connected" in funnel_spec["title"]["subtitle"]
    # The bars' own "% of prev." labels are the only text marks: a label on the target line
    # overlapped the Connected bar's.
    assert marks(funnel_spec).count("text") == 1
    tickets = tickets_chart(
        pd.DataFrame(
            {
                "cohort": [date(2026, 1, 5)],
                "days": [7.0],
                "tickets": [3],
                "baseline_expected": [4.0],
                "target": [2.0],
            }
        ),
        "week",
    )
    assert '"target"' in json.dumps(tickets.to_dict())


def test_sync_histogram_counts_and_target_share() -> None:
    bins = normalise(
        pd.DataFrame({"current": [1, 1, 1], "rep": [1, 1, 2], "bin": [0, 7, 16], "n": [3, 1, 1]})
    )
    histogram = sync_histogram(bins)
    assert histogram["first_syncs"].sum() == 5
    assert histogram.loc[7, "bin"] == "5–7.5 min"
    assert histogram.loc[0, "bin"] == "0–30 s"
    assert histogram.iloc[-1]["bin"] == "≥ 2 h"
    ranks_frame = ranks([10.0, 20.0, 30.0, 400.0, 9000.0])
    stats = sync_stats(bins, ranks_frame)
    assert stats["share_within_target"] == pytest.approx(3 / 5)
    assert stats["median_s"] == 30.0


# --- issue 13: charts and tables that read like a product -----------------------------------


def _layers(spec: dict, data: dict | None = None) -> list[dict]:
    """Every unit spec inside a (possibly nested) layer spec, with the data it inherits."""
    data = spec.get("data", data)
    if "layer" in spec:
        return [unit for layer in spec["layer"] for unit in _layers(layer, data)]
    return [{**spec, "data": data}]


def _dataset(spec: dict, unit: dict) -> list[dict]:
    return spec["datasets"][unit["data"]["name"]]


def test_sync_histogram_is_one_bar_per_bin_in_order_with_whole_counts() -> None:
    """It was drawn as floating dashes on a √ scale with overlapping labels."""
    histogram = sync_histogram(
        normalise(pd.DataFrame({"current": [1, 1], "rep": [1, 1], "bin": [2, 9], "n": [3, 1]}))
    )
    spec = sync_histogram_chart(histogram, 1.2).to_dict()
    bars = next(u for u in _layers(spec) if u.get("mark", {}).get("type") == "bar")
    x, y = bars["encoding"]["x"], bars["encoding"]["y"]
    assert x["type"] == "nominal"
    assert x["sort"] == histogram["bin"].tolist()
    assert "x2" not in bars["encoding"]
    assert "scale" not in x
    assert x["axis"]["labelAngle"] == -40
    assert x["axis"]["labelOverlap"] is False
    assert y["axis"]["format"] == "d"
    assert y["axis"]["tickMinStep"] == 1
    assert {row["zone"] for row in _dataset(spec, bars)} == set(SYNC_ZONES)
    rules = [u for u in _layers(spec) if u.get("mark", {}).get("type") == "rule"]
    target = next(u for u in rules if _dataset(spec, u)[0]["value"] == 5.0)
    assert _dataset(spec, target)[0]["bin"] == "5–7.5 min"  # on the 5-minute edge
    assert target["encoding"]["x"]["bandPosition"] == 0


def test_legends_read_in_words_not_true_false() -> None:
    """ "Has open trials: false/true" and "median_min" are not words a reader knows."""
    trend = completion_trend(sessions([(6, 2, 0), (1, 2, 1)]))
    sync = pd.DataFrame(
        {"cohort": [date(2026, 1, 5)], "count": [3], "median_min": [1.0], "p90_min": [4.0]}
    )
    charts = {
        "completion": completion_trend_chart(trend, "week"),
        "trial": trial_trend_chart(trial_trend(trials([(1, 0, 1), (0, 1, 1)])), "week"),
        "sync": sync_trend_chart(sync, "week"),
    }
    for name, chart in charts.items():
        spec = chart.to_dict()
        for unit in _layers(spec):
            for channel in ("color", "shape", "opacity"):
                encoding = unit.get("encoding", {}).get(channel)
                if encoding and "field" in encoding:
                    values = {str(row[encoding["field"]]) for row in _dataset(spec, unit)}
                    assert not values & {"True", "False", "true", "false"}, name
                    assert not any("_" in value for value in values), name
    tickets = tickets_chart(
        pd.DataFrame(
            {
                "cohort": [date(2026, 1, 5)],
                "days": [7.0],
                "tickets": [3],
                "baseline_expected": [4.0],
                "target": [2.0],
            }
        ),
        "week",
    ).to_dict()
    lines = next(u for u in _layers(tickets) if "color" in u.get("encoding", {}))
    assert lines["encoding"]["color"]["scale"]["domain"] == [
        "Baseline expectation",
        "Target (half the baseline)",
    ]
    bars = next(u for u in _layers(tickets) if u.get("mark", {}).get("type") == "bar")
    assert bars["encoding"]["y"]["axis"]["format"] == "d"


def test_customer_funnel_has_no_trial_to_production_step() -> None:
    """The funnel's trial → production step sat beside the Trial → production KPI with another
    number: the Production stage is a share of demoed customers (= Demo → production)."""
    customers = normalise(
        pd.DataFrame(
            {
                "current": [1, 1, 1],
                "cohort": [date(2026, 1, 5)] * 3,
                "rep": [1, 1, 1],
                "trial": [1, 1, 0],
                "production": [1, 0, 1],
                "n": [2, 5, 1],
            }
        )
    )
    funnel = customer_funnel(customers)
    assert funnel["step_conversion"].tolist()[1] == pytest.approx(7 / 8)
    assert funnel["step_conversion"].isna().tolist() == [True, False, True]
    assert funnel["share_of_demoed"].tolist()[2] == pytest.approx(demo_to_production(customers))
    text = json.dumps(customer_funnel_chart(funnel).to_dict(), ensure_ascii=False)
    assert "of prev." not in text
    assert "60% of trials" not in text
    assert "3 · 38% of demoed" in text
    shown = customer_funnel_table(funnel)
    assert shown["Of the stage before"].tolist() == ["—", "88%", "—"]


def test_tables_have_human_headers_and_percentages() -> None:
    funnel = wizard_funnel(sessions([(1, 2, 0), (6, 2, 0)]))
    shown = wizard_funnel_table(funnel)
    assert list(shown.columns) == [
        "Step",
        "Sessions reached",
        "Share of started",
        "Of the step before",
        "Dropped here",
    ]
    assert shown["Share of started"].tolist()[0] == "100%"
    assert shown["Of the step before"].tolist()[0] == "—"  # not "None"
    reps = reps_table(
        pd.DataFrame(
            [{column: 0.9467 if column == "completion_rate" else 1 for column in REP_COLUMNS}]
        ).assign(rep="Maya Chen", trial_conversion=None)
    )
    assert reps.loc[0, "Completion"] == "95%"
    assert reps.loc[0, "Trial → production"] == "—"
    assert not any("_" in column for column in reps.columns)
