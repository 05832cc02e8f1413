"""``MetricsService``: the store and the clock behind the Leadership page."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING

from vell_core.domain.clock import Clock
from vell_core.domain.metrics import Dashboard, MetricsFilter, Window
from vell_core.domain.roles import StaffMember
from vell_core.services.staff import StaffDirectory
from vell_core.store.metrics import MetricsStore, Runner, fetch_raw

if TYPE_CHECKING:  # loaded where a frame is built: `vell run` starts without pandas
    import pandas as pd


def compute_dashboard(
    run: Runner, filters: MetricsFilter, as_of: datetime, rep_names: dict[int, str]
) -> Dashboard:
    """Run the queries through ``run`` and shape the result (also used by the benchmark)."""
    from vell_core.views.metrics import shape  # pandas and numpy: loaded on the first dashboard

    window = Window.of(filters.validate(), as_of)
    return shape(fetch_raw(run, filters, window), filters, window, rep_names)


# --- the service ----------------------------------------------------------------------------


class MetricsService:
    """Leadership metrics on the store; wired as ``services.metrics``."""

    def __init__(self, store: MetricsStore, clock: Clock, staff: StaffDirectory) -> None:
        self._store = store
        self._clock = clock
        self._staff = staff

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
        window = Window.of(filters.validate(), self._clock.now())
        raw, rep_names = self._store.fetch(filters, window)
        from vell_core.views.metrics import shape

        return shape(raw, filters, window, rep_names)

    def rep_options(self, member: StaffMember | None) -> list[tuple[int, str]]:
        """(id, name) of every sales and CS staff member, for the rep filter."""
        self._staff.require(member, "metrics.read")
        return self._store.rep_options()

    def data_version(self) -> tuple[int, ...]:
        """Changes whenever events, requests or tickets are added: part of the page cache key.

        Ticket imports and manual entries add rows, so the page's cached results are dropped
        on the next run in every process, not only the one that wrote.
        """
        return self._store.data_version()


def frames_for_download(dashboard: Dashboard) -> dict[str, pd.DataFrame]:
    """Every chart's and table's data by name (the page offers each as CSV)."""
    import pandas as pd

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
