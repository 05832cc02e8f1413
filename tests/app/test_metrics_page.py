"""AppTest: the Leadership page on seeded history, with filters applied."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from streamlit.testing.v1 import AppTest

from vell_core.app import Services
from vell_core.views.metrics import DASHBOARD_SECTIONS as SECTIONS

LEADER = "rachel.kim@vell.ai"


@pytest.fixture
def metrics_page(
    page: Callable[..., AppTest], app_services: Services, monkeypatch: pytest.MonkeyPatch
) -> Callable[..., AppTest]:
    """The page factory for the metrics page (the graph wires ``services.metrics``)."""
    return page


def kpi_labels(at: AppTest) -> list[str]:
    return [metric.label for metric in at.metric]


def show(at: AppTest, section: str) -> AppTest:
    """Show one of the page's sections (one is on screen at a time)."""
    at.button_group(key="metrics_section").set_value(section).run()
    assert not at.exception
    return at


def across_sections(at: AppTest, element: str) -> int:
    """How many ``element``s the page shows over all its sections."""
    return sum(len(show(at, section).get(element)) for section in SECTIONS)


def test_first_run_shows_five_kpis_charts_and_downloads(
    metrics_page: Callable[..., AppTest],
) -> None:
    at = metrics_page("pages/metrics.py", as_email=LEADER).run()
    assert not at.exception
    assert kpi_labels(at) == [
        "Wizard completion",
        "Time to first sync",
        "Demo → production",
        "Trial → production",
        "Setup tickets",
    ]
    assert all(metric.value != "—" for metric in at.metric[:2])
    assert at.button_group(key="metrics_section").value == SECTIONS[0]
    assert len(at.get("vega_lite_chart")) == 2  # one section on screen: the wizard's two charts
    assert across_sections(at, "vega_lite_chart") >= 6  # Altair charts
    assert across_sections(at, "download_button") >= 8 + len(SECTIONS)  # KPIs' on each


def test_each_section_shows_only_its_own_charts(metrics_page: Callable[..., AppTest]) -> None:
    """Issue 13: one section at a time keeps the browser's redraw short."""
    at = metrics_page("pages/metrics.py", as_email=LEADER).run()
    headings = {}
    for section in SECTIONS:
        show(at, section)
        headings[section] = [h.value for h in at.subheader]
        assert len(at.get("vega_lite_chart")) <= 2
    assert headings["Customers"] == ["Demo → trial → production (customers)"]
    assert headings["By rep"] == ["By rep"]
    assert len({tuple(h) for h in headings.values()}) == len(SECTIONS)


def test_filters_by_rep_quarter_path_segment_and_month(
    metrics_page: Callable[..., AppTest],
) -> None:
    at = metrics_page("pages/metrics.py", as_email=LEADER).run()
    quarter = next(
        option
        for option in at.selectbox(key="metrics_period").options
        if option.startswith("Q") and "to date" not in option
    )
    at.selectbox(key="metrics_period").set_value(quarter).run()
    assert not at.exception
    rep = at.multiselect(key="metrics_reps").options[0]
    at.multiselect(key="metrics_reps").set_value([rep]).run()
    at.multiselect(key="metrics_paths").set_value(["demo", "trial"]).run()
    at.multiselect(key="metrics_segments").set_value(["smb", "mid_market"]).run()
    at.radio(key="metrics_grain").set_value("month").run()
    assert not at.exception
    assert len(at.metric) == 5 or any("No data" in info.value for info in at.info)
    if len(at.metric) == 5:
        reps_table = show(at, "By rep").dataframe[0].value
        assert set(reps_table["Rep"]) <= {rep, "Unassigned"}


def test_empty_filter_says_so(metrics_page: Callable[..., AppTest]) -> None:
    at = metrics_page("pages/metrics.py", as_email=LEADER).run()
    at.selectbox(key="metrics_period").set_value("Custom range").run()
    start = at.date_input(key="metrics_range").value[0] - timedelta(days=900)
    at.date_input(key="metrics_range").set_value((start, start + timedelta(days=1))).run()
    assert not at.exception
    assert any("No data for this filter" in info.value for info in at.info)
    assert not at.metric


def test_sales_cannot_open_the_page(metrics_page: Callable[..., AppTest]) -> None:
    at = metrics_page("pages/metrics.py", as_email="maya.chen@vell.ai").run()
    assert any("do not have access" in error.value for error in at.error)
    assert not at.metric


def test_a_cached_rerun_builds_no_altair_chart(
    metrics_page: Callable[..., AppTest], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 13: chart specs are cached with the dashboard, so a rerun skips Altair."""
    import altair as alt

    at = metrics_page("pages/metrics.py", as_email=LEADER).run()
    charts = len(at.get("vega_lite_chart"))
    built: list[str] = []
    for cls in (alt.Chart, alt.LayerChart):
        original = cls.to_dict

        def counting(self: Any, *args: Any, _original: Any = original, **kwargs: Any) -> Any:
            built.append(type(self).__name__)
            return _original(self, *args, **kwargs)

        monkeypatch.setattr(cls, "to_dict", counting)
    at.run()
    assert not at.exception
    assert len(at.get("vega_lite_chart")) == charts
    assert built == []


def test_tables_read_like_a_product_and_last_30_days_is_not_the_future(
    metrics_page: Callable[..., AppTest],
) -> None:
    """Issue 13: ``share_of_demoed`` headers, 0.9467 ratios and "None" cells; "Last 30 days"
    described as running into the future; two numbers named trial → production."""
    at = metrics_page("pages/metrics.py", as_email=LEADER)
    at.run()
    at.selectbox(key="metrics_period").set_value("Last 30 days").run()
    assert not at.exception
    period = next(c.value for c in at.caption if "compared with the 30 days before" in c.value)
    assert "so far" not in period
    assert "future" not in period
    frames = [frame.value for section in SECTIONS for frame in show(at, section).dataframe]
    assert len(frames) == 3
    for shown in frames:
        assert all("_" not in column and column[:1].isupper() for column in shown.columns)
        cells = set(shown.astype(str).to_numpy().ravel().tolist())
        assert not cells & {"None", "nan", "<NA>"}
        assert not any(re.fullmatch(r"0\.\d+", cell) for cell in cells)  # shares as percentages
    funnel = next(f for f in frames if "Share of demoed" in f.columns)
    production = funnel[funnel["Stage"] == "Production"].iloc[0]
    assert production["Of the stage before"] == "—"  # no second "trial → production" number
    demo_to_production = next(m.value for m in at.metric if m.label == "Demo → production")
    assert production["Share of demoed"] == demo_to_production
