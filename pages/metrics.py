"""Leadership: the five success metrics against their targets, funnels, trends and reps."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any

import streamlit as st

from vell_core.domain.metrics import (
    DEFINITIONS,
    GRAINS,
    PATH_OPTIONS,
    SEGMENT_OPTIONS,
    Dashboard,
    MetricsFilter,
    period_presets,
)
from vell_core.services.metrics import frames_for_download
from vell_core.ui.bridge import friendly_errors, get_services, require_page
from vell_core.ui.tables import table_config
from vell_core.views.chart_data import text_table
from vell_core.views.csv_export import frame_csv_later
from vell_core.views.metrics import DASHBOARD_SECTIONS, dashboard_tables
from vell_core.views.metrics_charts import dashboard_chart_specs

CACHE_TTL_SECONDS = 300
CUSTOM = "Custom range"
Specs = dict[str, dict[str, Any]]
Shown = dict[str, Any]
Frames = dict[str, Any]

member = require_page("metrics.read")
services = get_services()


@st.cache_data(ttl=CACHE_TTL_SECONDS, show_spinner="Computing metrics…", max_entries=64)
def load(
    start: date,
    end: date,
    rep_ids: tuple[int, ...],
    paths: tuple[str, ...],
    segments: tuple[str, ...],
    grain: str,
    version: tuple[int, ...],
    _member: Any,
) -> Dashboard:
    """Cached by plain filter values and the data version (never by user: aggregates only).

    ``version`` changes whenever tickets, events or requests are added, so an import or a
    manual entry shows on the next run in every process; ``_member`` is not part of the key
    (the page has already checked access).
    """
    filters = MetricsFilter(start, end, rep_ids, paths, segments, grain)
    return get_services().metrics.dashboard(_member, filters)


@st.cache_data(ttl=CACHE_TTL_SECONDS, show_spinner=False, max_entries=64)
def chart_specs(key: tuple[Any, ...], _dashboard: Dashboard) -> dict[str, dict[str, Any]]:
    """The page's charts as Vega-Lite specs, cached by the dashboard's own key."""
    return dashboard_chart_specs(_dashboard, key[5])


@st.cache_data(ttl=CACHE_TTL_SECONDS, show_spinner=False, max_entries=64)
def tables(key: tuple[Any, ...], _dashboard: Dashboard) -> dict[str, Any]:
    """The page's tables as text people read (Arrow, sent as is) with their figure columns,
    cached by the dashboard's key."""
    return {
        name: (text_table(shown), table_config(shown))
        for name, shown in dashboard_tables(_dashboard).items()
    }


def table(cached: Any, key: str) -> None:
    """One cached, already formatted table (Arrow) with its column settings (``show_table``'s:
    figures right-aligned, widths that fit the page)."""
    shown, config = cached
    st.dataframe(shown, hide_index=True, key=key, placeholder="—", column_config=config)


def chart(specs: dict[str, dict[str, Any]], name: str) -> None:
    """One cached chart spec (no Altair building or validation on a rerun)."""
    st.vega_lite_chart(specs[name], width="stretch")


def download(name: str, frame: Any, key: str) -> None:
    """A CSV download button for one chart's or table's data."""
    st.download_button(
        f"Download {name} (CSV)",
        frame_csv_later(frame),  # built on click, not on every rerun
        f"vell-{key}.csv",
        "text/csv",
        key=f"dl_{key}",
        on_click="ignore",
    )


def kpi_header(dashboard: Dashboard) -> None:
    """Five tiles: value, change since the previous period, target."""
    for column, kpi in zip(st.columns(len(dashboard.kpis)), dashboard.kpis, strict=True):
        column.metric(
            kpi.label,
            kpi.value_text,
            kpi.delta_text,
            delta_color=kpi.delta_color,  # type: ignore[arg-type]
            help=DEFINITIONS[kpi.key],
        )
        met = {True: "on target", False: "below target", None: ""}[kpi.on_target]
        column.caption(f"Target {kpi.target_text} {('· ' + met) if met else ''}")
        if kpi.note:
            column.caption(kpi.note)


def wizard_section(dashboard: Dashboard, specs: Specs, shown: Shown, frames: Frames) -> None:
    """Wizard completion: the step funnel and completion by cohort."""
    st.subheader("Wizard funnel")
    st.caption(DEFINITIONS["completion"])
    chart(specs, "wizard_funnel")
    table(shown["wizard_funnel"], "metrics_funnel_table")
    download("wizard funnel", frames["wizard_funnel"], "wizard-funnel")
    if dashboard.completion_trend.empty:
        st.info("No wizard sessions started in this period.")
    else:
        chart(specs, "completion_trend")
        download("completion by cohort", frames["completion_trend"], "completion-trend")


def sync_section(dashboard: Dashboard, specs: Specs, shown: Shown, frames: Frames) -> None:
    """Time to first sync: the distribution and the trend by cohort."""
    st.subheader("Time to first sync")
    st.caption(DEFINITIONS["sync"])
    if not dashboard.sync_stats["n"]:
        st.info("No first syncs in this period.")
        return
    chart(specs, "sync_histogram")
    download("time-to-sync distribution", frames["sync_histogram"], "sync-histogram")
    chart(specs, "sync_trend")
    download("time to sync by cohort", frames["sync_trend"], "sync-trend")


def customers_section(dashboard: Dashboard, specs: Specs, shown: Shown, frames: Frames) -> None:
    """Customers through demo, trial and production."""
    st.subheader("Demo → trial → production (customers)")
    st.caption(DEFINITIONS["customers"])
    chart(specs, "customer_funnel")
    table(shown["customer_funnel"], "metrics_customer_table")
    download("customer funnel", frames["customer_funnel"], "customer-funnel")


def trials_section(dashboard: Dashboard, specs: Specs, shown: Shown, frames: Frames) -> None:
    """Trial → production conversion by cohort (open trials apart)."""
    st.subheader("Trial → production by cohort")
    st.caption(DEFINITIONS["trial"])
    trials = dashboard.trial_stats
    st.caption(
        f"{trials['ended']} trials ended · {trials['decided']} decided · {trials['open']} still "
        f"open ({trials['open_converted']} of them already in production) — open trials are "
        "not counted."
    )
    if dashboard.trial_trend.empty:
        st.info("No trials ended in this period.")
        return
    chart(specs, "trial_trend")
    download("trial conversion by cohort", frames["trial_trend"], "trial-trend")


def tickets_section(dashboard: Dashboard, specs: Specs, shown: Shown, frames: Frames) -> None:
    """Setup support tickets against the baseline."""
    st.subheader("Setup support tickets against the baseline")
    st.caption(DEFINITIONS["tickets"])
    baseline = dashboard.baseline
    if baseline.start is None:
        st.info("No setup tickets recorded yet, so there is no baseline.")
        return
    st.caption(
        f"Baseline {baseline.start:%d %b %Y} – {baseline.end:%d %b %Y} ({baseline.how}): "
        f"{baseline.tickets} tickets, {baseline.per_30_days:.1f} per 30 days."
    )
    chart(specs, "tickets")
    download("tickets vs baseline", frames["tickets"], "tickets")


def reps_section(dashboard: Dashboard, specs: Specs, shown: Shown, frames: Frames) -> None:
    """The breakdown by rep."""
    st.subheader("By rep")
    table(shown["reps"], "metrics_reps_table")
    download("rep breakdown", frames["reps"], "reps")


# One renderer per section of ``DASHBOARD_SECTIONS``, in its order.
SECTION_RENDERERS: dict[str, Callable[[Dashboard, Specs, Shown, Frames], None]] = dict(
    zip(
        DASHBOARD_SECTIONS,
        [
            wizard_section,
            sync_section,
            customers_section,
            trials_section,
            tickets_section,
            reps_section,
        ],
        strict=True,
    )
)
SECTIONS = list(DASHBOARD_SECTIONS)


st.title("Leadership metrics")
st.caption("The five success metrics against their targets. Times are UTC.")

with friendly_errors("load the metrics"):
    today = services.metrics.today()
    presets = period_presets(today)
    reps = dict(services.metrics.rep_options(member))
    cols = st.columns([2, 2, 2, 2, 2, 1])
    period = cols[0].selectbox("Period", [*presets, CUSTOM], index=1, key="metrics_period")
    start, end = presets.get(period, presets["Last 90 days"])
    if period == CUSTOM:
        chosen = cols[0].date_input("From – to", (start, end), key="metrics_range")
        if isinstance(chosen, tuple) and len(chosen) == 2:
            start, end = chosen
    rep_names = cols[1].multiselect("Rep", list(reps.values()), key="metrics_reps")
    paths = cols[2].multiselect("Path", PATH_OPTIONS, key="metrics_paths")
    segments = cols[3].multiselect("Customer segment", SEGMENT_OPTIONS, key="metrics_segments")
    grain = cols[4].radio("Cohorts", GRAINS, horizontal=True, key="metrics_grain")
    rep_ids = tuple(sorted(rep_id for rep_id, name in reps.items() if name in rep_names))
    key = (
        start,
        end,
        rep_ids,
        tuple(sorted(paths)),
        tuple(sorted(segments)),
        grain,
        services.metrics.data_version(),
    )
    dashboard = load(*key, member)
    specs = chart_specs(key, dashboard)
    shown = tables(key, dashboard)
    st.caption(
        f"{start:%d %b %Y} – {end:%d %b %Y}, compared with the {(end - start).days + 1} days "
        "before. " + " ".join(dashboard.notes)
    )
    if dashboard.is_empty:
        st.info("No data for this filter and period. Widen the period or clear a filter.")
        st.stop()
    kpi_header(dashboard)
    frames = frames_for_download(dashboard)
    download("KPIs", frames["kpis"], "kpis")

    section = st.segmented_control(
        "Show",
        SECTIONS,
        default=SECTIONS[0],
        key="metrics_section",
        help="One section at a time: the page stays quick to redraw.",
    )
    SECTION_RENDERERS[section or SECTIONS[0]](dashboard, specs, shown, frames)
