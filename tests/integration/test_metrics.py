"""Every metric against hand-computed fixtures, on SQLite and PostgreSQL (``store_url``)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta

import pandas as pd
import pytest
from altair.vegalite.v6.schema.core import Root as VegaLiteRoot
from sqlalchemy.engine import Engine

from tests.conftest import StoreTemplates
from vell_core.domain.clock import FrozenClock
from vell_core.domain.errors import PermissionDenied
from vell_core.domain.metrics import GRAINS, Dashboard, MetricsFilter, period_presets
from vell_core.domain.models import (
    DelegationPath,
    DelegationRequest,
    DelegationStatus,
    FunnelEvent,
    StaffRole,
    StaffUser,
    SupportTicket,
)
from vell_core.domain.roles import StaffMember
from vell_core.services.metrics import MetricsService
from vell_core.services.staff import StaffDirectory
from vell_core.store import migrate
from vell_core.store.engine import make_engine, session_scope
from vell_core.store.funnel import insert_event
from vell_core.store.metrics import MetricsStore
from vell_core.store.staff import StaffStore
from vell_core.views.metrics_charts import dashboard_chart_dicts

NOW = datetime(2026, 3, 31, 12, 0, tzinfo=UTC)
# Period: March 2026 (31 days); previous period: 29 Jan - 28 Feb.
MARCH = MetricsFilter(start=date(2026, 3, 1), end=date(2026, 3, 31))
CHARTS_WITH_DATA = (
    "wizard_funnel",
    "customer_funnel",
    "completion_trend",
    "sync_histogram",
    "sync_trend",
    "trial_trend",
    "tickets",
)
BOSS = StaffMember(id=1, name="Rachel", email="rachel@vell.ai", role=StaffRole.LEADERSHIP)
REP_A, REP_B = 2, 3
WIZARD = ("provider", "account_info", "choose_path", "request_sent", "approved", "connected")


@pytest.fixture
def store(store_url: str) -> Iterator[Engine]:
    migrate.upgrade(store_url)
    engine = make_engine(store_url)
    with session_scope(engine) as session:
        for user_id, name, role in (
            (1, "Rachel", StaffRole.LEADERSHIP),
            (REP_A, "Ann Rep", StaffRole.SALES),
            (REP_B, "Bob Rep", StaffRole.SALES),
            (4, "Maya Sales", StaffRole.SALES),
        ):
            session.add(
                StaffUser(
                    id=user_id,
                    name=name,
                    email=f"{user_id}@vell.ai",
                    role=role,
                    created_at=NOW - timedelta(days=900),
                )
            )
    yield engine
    engine.dispose()


def at(day: date | str, hour: int = 10, minute: int = 0) -> datetime:
    day = date.fromisoformat(day) if isinstance(day, str) else day
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=UTC)


def session_events(
    sid: str,
    start: datetime,
    steps: int,
    *,
    rep: int = REP_A,
    path: str = "demo",
    customer: str = "111111111111",
    segment: str = "smb",
) -> list[FunnelEvent]:
    """A wizard session reaching its first ``steps`` steps; early steps carry no path (live)."""
    return [
        FunnelEvent(
            wizard_session_id=sid,
            step=step,
            occurred_at=start + timedelta(minutes=index),
            customer="" if index < 2 else customer,
            segment=None if index < 2 else segment,
            path=None if index < 3 else path,
            actor_user_id=rep,
        )
        for index, step in enumerate(WIZARD[:steps])
    ]


def event_values(event: FunnelEvent) -> dict[str, object]:
    """The event's column values (as ``FunnelRecorder`` passes them), without the id."""
    return {name: getattr(event, name) for name in FunnelEvent.model_fields if name != "id"}


def add(engine: Engine, *rows: object) -> None:
    """Insert the rows; funnel events go through the recorder's path (summary kept in step)."""
    with session_scope(engine) as session:
        for row in rows:
            for item in row if isinstance(row, list) else [row]:
                if isinstance(item, FunnelEvent):
                    session.flush()
                    insert_event(session, event_values(item))
                else:
                    session.add(item)


def dashboard(engine: Engine, filters: MetricsFilter = MARCH, now: datetime = NOW) -> Dashboard:
    return MetricsService(
        MetricsStore(engine), FrozenClock(now), StaffDirectory(StaffStore(engine))
    ).dashboard(BOSS, filters)


def kpi(board: Dashboard, key: str) -> tuple[float | None, float | None]:
    found = next(k for k in board.kpis if k.key == key)
    return found.value, found.previous


def test_no_data_gives_empty_dashboard_not_errors(store: Engine) -> None:
    board = dashboard(store)
    assert board.is_empty
    assert [kpi(board, k) for k in ("completion", "sync", "customers", "trial", "tickets")] == [
        (None, None)
    ] * 5
    assert board.wizard_funnel["reached"].tolist() == [0] * 6
    assert board.completion_trend.empty
    assert board.reps.empty
    assert board.baseline.start is None


def test_one_event(store: Engine) -> None:
    add(store, session_events("s1", at("2026-03-10"), 1))
    board = dashboard(store)
    assert not board.is_empty
    assert kpi(board, "completion") == (0.0, None)
    assert board.wizard_funnel["reached"].tolist() == [1, 0, 0, 0, 0, 0]
    assert board.wizard_funnel["dropped_here"].tolist() == [1, 0, 0, 0, 0, 0]


def test_wizard_completion_funnel_and_previous_period(store: Engine) -> None:
    add(
        store,
        session_events("a", at("2026-03-02"), 6),  # connected
        session_events("b", at("2026-03-03"), 6, rep=REP_B, path="trial"),
        session_events("c", at("2026-03-04"), 4),  # stopped at request sent
        session_events("d", at("2026-03-05"), 2, rep=REP_B),  # stopped at account info
        session_events("e", at("2026-02-20"), 6),  # previous period: 1 of 2
        session_events("f", at("2026-02-21"), 3),
        session_events("g", at("2026-01-01"), 6),  # before both periods
        # Started on 31 March, connects in April (within 7 days): counts for March.
        session_events("h", at("2026-03-31", 11), 5),
        [
            FunnelEvent(
                wizard_session_id="h",
                step="connected",
                customer="1",
                path="demo",
                actor_user_id=REP_A,
                occurred_at=at("2026-04-02"),
            )
        ],
    )
    board = dashboard(store, now=at("2026-04-05"))
    assert kpi(board, "completion") == (pytest.approx(3 / 5), pytest.approx(0.5))
    assert board.wizard_funnel["reached"].tolist() == [5, 5, 4, 4, 3, 3]
    assert board.wizard_funnel["dropped_here"].tolist() == [0, 1, 0, 1, 0, 0]
    reps = board.reps.set_index("rep")
    assert reps.loc["Ann Rep", "sessions_started"] == 3
    assert reps.loc["Ann Rep", "completion_rate"] == pytest.approx(2 / 3)
    assert reps.loc["Bob Rep", "completion_rate"] == pytest.approx(0.5)
    # Filters: rep, path (from later steps of the session), segment.
    only_b = dashboard(
        store,
        MetricsFilter(date(2026, 3, 1), date(2026, 3, 31), rep_ids=(REP_B,)),
        now=at("2026-04-05"),
    )
    assert kpi(only_b, "completion")[0] == pytest.approx(0.5)
    trial = dashboard(
        store,
        MetricsFilter(date(2026, 3, 1), date(2026, 3, 31), paths=("trial",)),
        now=at("2026-04-05"),
    )
    assert trial.wizard_funnel["reached"].tolist() == [1, 1, 1, 1, 1, 1]
    enterprise = dashboard(
        store, MetricsFilter(date(2026, 3, 1), date(2026, 3, 31), segments=("enterprise",))
    )
    assert enterprise.wizard_funnel["reached"].tolist() == [0] * 6


def test_weekly_and_monthly_cohorts(store: Engine) -> None:
    add(
        store,
        session_events("a", at("2026-03-01"), 6),  # a Sunday: week of 23 Feb
        session_events("b", at("2026-03-02"), 1),
        session_events("c", at("2026-03-08"), 6),
    )
    weekly = dashboard(store).completion_trend
    assert weekly["cohort"].tolist() == [date(2026, 2, 23), date(2026, 3, 2)]
    assert weekly["rate"].tolist() == [1.0, 0.5]
    monthly = dashboard(store, MetricsFilter(date(2026, 3, 1), date(2026, 3, 31), grain="month"))
    assert monthly.completion_trend["cohort"].tolist() == [date(2026, 3, 1)]


def sync(sid: str, when: datetime, seconds: float, rep: int = REP_A) -> FunnelEvent:
    return FunnelEvent(
        wizard_session_id=sid,
        step="first_sync",
        customer="1",
        path="demo",
        segment="smb",
        actor_user_id=rep,
        value_seconds=seconds,
        occurred_at=when,
    )


def test_time_to_first_sync_median_p90_with_ties(store: Engine) -> None:
    # March: 60, 60, 60, 120, 600 s → median 60 s, p90 = 120 + 0.6*(600-120) = 408 s.
    # February: 30 min and 60 min → median 45 min.
    add(
        store,
        *[sync(f"m{i}", at("2026-03-03", 9, i), s) for i, s in enumerate([60, 600, 60, 120, 60])],
        sync("f1", at("2026-02-10"), 1800),
        sync("f2", at("2026-02-11"), 3600, rep=REP_B),
    )
    board = dashboard(store)
    assert kpi(board, "sync") == (pytest.approx(1.0), pytest.approx(45.0))
    assert board.sync_stats["p90_s"] == pytest.approx(408.0)
    assert board.sync_stats["share_within_target"] == pytest.approx(4 / 5)
    hist = board.sync_histogram.set_index("bin")["first_syncs"]
    assert (hist["1–1.5 min"], hist["2–3 min"], hist["10–15 min"], hist.sum()) == (3, 1, 1, 5)
    assert board.sync_trend["median_min"].tolist() == [pytest.approx(1.0)]


def customer_step(
    customer: str, step: str, path: str, when: datetime, rep: int = REP_A
) -> FunnelEvent:
    return FunnelEvent(
        wizard_session_id=f"{customer}-{path}-{step}",
        step=step,
        customer=customer,
        path=path,
        segment="mid_market",
        actor_user_id=rep,
        occurred_at=when,
    )


def test_customer_funnel_counts_first_demo_only(store: Engine) -> None:
    add(
        store,
        customer_step("100000000001", "connected", "demo", at("2026-03-02")),
        customer_step("100000000001", "connected", "trial", at("2026-03-10")),
        customer_step("100000000001", "production", "trial", at("2026-03-12")),
        customer_step("100000000002", "connected", "demo", at("2026-03-03")),
        customer_step("100000000002", "connected", "trial", at("2026-03-20")),
        customer_step("100000000003", "connected", "demo", at("2026-03-04"), rep=REP_B),
        # Demoed before the window: a second demo in March does not make it a new customer.
        customer_step("100000000004", "connected", "demo", at("2025-12-01")),
        customer_step("100000000004", "connected", "demo", at("2026-03-05")),
    )
    board = dashboard(store)
    assert board.customer_funnel["customers"].tolist() == [3, 2, 1]
    # Production is not a subset of Trial connected, so it has no step conversion (issue 13);
    # its share of demoed customers is the Demo → production KPI.
    assert board.customer_funnel["step_conversion"].tolist()[1] == pytest.approx(2 / 3)
    assert pd.isna(board.customer_funnel["step_conversion"].tolist()[2])
    assert board.customer_funnel["share_of_demoed"].tolist()[2] == pytest.approx(1 / 3)
    assert kpi(board, "customers") == (pytest.approx(1 / 3), None)
    assert board.customer_funnel["dropped_after"].tolist()[0] == 1


def trial(
    customer: str, approved: datetime, rep: int = REP_A, hours: int = 12
) -> DelegationRequest:
    return DelegationRequest(
        user_id=rep,
        company="Co",
        aws_account_id=customer,
        requestor_workflow_id=f"w-{customer}-{approved:%j}",
        type=DelegationPath.TRIAL,
        status=DelegationStatus.EXPIRED,
        approved_at=approved,
        expires_at=approved + timedelta(hours=hours),
        session_duration=43200,
        template_name="full-access",
        template_arn="arn:aws:iam::aws:t",
        created_at=approved,
        updated_at=approved,
    )


def test_trial_conversion_decided_and_open_cohorts(store: Engine) -> None:
    now = at("2026-03-31", 12)
    add(
        store,
        trial("200000000001", at("2026-03-02")),  # converted
        customer_step("200000000001", "production", "trial", at("2026-03-02", 20)),
        trial("200000000002", at("2026-03-03")),  # failed (decided)
        trial("200000000003", at("2026-03-05"), rep=REP_B),  # converted late, still counts
        customer_step("200000000003", "production", "trial", at("2026-03-25"), rep=REP_B),
        trial("200000000004", at("2026-03-25")),  # open: ended < 14 days ago, not converted
        trial("200000000005", at("2026-03-26")),  # open and already converted
        customer_step("200000000005", "production", "trial", at("2026-03-26", 15)),
        trial("200000000006", at("2026-03-31", 6)),  # still running: not ended
        trial("200000000007", at("2026-02-10")),  # previous period: failed
        # Renewed trial: a customer's trial ends with the last request (in March).
        trial("200000000008", at("2026-02-25")),
        trial("200000000008", at("2026-03-06")),
        customer_step("200000000008", "production", "trial", at("2026-03-06", 8)),
        # Production *before* the trial started does not count as conversion.
        customer_step("200000000002", "production", "demo", at("2026-01-02")),
    )
    board = dashboard(store, now=now)
    stats = board.trial_stats
    assert (stats["ended"], stats["open"], stats["decided"], stats["converted"]) == (6, 2, 4, 3)
    assert stats["open_converted"] == 1
    assert kpi(board, "trial") == (pytest.approx(0.75), pytest.approx(0.0))
    reps = board.reps.set_index("rep")
    assert reps.loc["Bob Rep", "trial_conversion"] == pytest.approx(1.0)
    assert board.trial_trend["cohort_open"].tolist()[-1] is True


def ticket(ref: str, opened: datetime, category: str = "setup") -> SupportTicket:
    return SupportTicket(external_ref=ref, opened_at=opened, category=category, subject="s")


def test_tickets_against_default_baseline(store: Engine) -> None:
    launch = at("2026-01-01")
    rows: list[object] = [customer_step("300000000001", "request_sent", "demo", launch)]
    # Baseline = 90 days before launch (3 Oct - 31 Dec 2025): 30 setup tickets → 10 per 30 days.
    rows += [ticket(f"b{i}", at("2025-10-03") + timedelta(days=3 * i)) for i in range(30)]
    rows += [ticket("old", at("2025-06-01"))]  # outside the baseline
    # March so far (now = 31 March noon: 30.5 days): 5 setup tickets (+ noise) → −50.8%.
    rows += [ticket(f"m{i}", at("2026-03-02") + timedelta(days=5 * i)) for i in range(5)]
    rows += [ticket("other", at("2026-03-10"), category="billing")]
    add(store, *rows)
    board = dashboard(store)
    assert (board.baseline.start, board.baseline.end) == (date(2025, 10, 3), date(2025, 12, 31))
    assert board.baseline.tickets == 30
    value, previous = kpi(board, "tickets")
    assert value == pytest.approx((5 / 30.5 * 30) / 10 - 1)
    # No setup tickets in the previous 31 days: "—", not a meaningless −100%.
    assert previous is None
    assert next(k for k in board.kpis if k.key == "tickets").delta_text is None
    assert int(board.tickets["tickets"].sum()) == 5
    chosen = dashboard(
        store,
        MetricsFilter(
            date(2026, 3, 1),
            date(2026, 3, 31),
            baseline_start=date(2026, 3, 1),
            baseline_end=date(2026, 3, 31),
        ),
    )
    assert kpi(chosen, "tickets")[0] == pytest.approx((5 / 30.5) / (5 / 31) - 1)


def test_metrics_need_metrics_read(store: Engine) -> None:
    sales = StaffMember(id=4, name="Maya", email="4@vell.ai", role=StaffRole.SALES)
    with pytest.raises(PermissionDenied):
        MetricsService(
            MetricsStore(store), FrozenClock(NOW), StaffDirectory(StaffStore(store))
        ).dashboard(sales, MARCH)


def test_data_version_changes_on_writes(store: Engine) -> None:
    service = MetricsService(
        MetricsStore(store), FrozenClock(NOW), StaffDirectory(StaffStore(store))
    )
    before = service.data_version()
    add(store, ticket("x", at("2026-03-02")))
    assert service.data_version() != before


def test_only_a_period_ending_after_today_is_said_to_run_into_the_future(store: Engine) -> None:
    """Issue 13: "Last 30 days" (ending today) was described as running into the future."""
    today = NOW.date()
    last_30 = period_presets(today)["Last 30 days"]
    assert dashboard(store, MetricsFilter(*last_30)).notes == ()
    ahead = dashboard(store, MetricsFilter(today - timedelta(days=6), today + timedelta(days=1)))
    assert ahead.notes == ("The period ends after today; rates cover the days so far.",)


def test_the_pages_unvalidated_charts_are_the_validated_ones(
    seeded_sqlite_url: str, store_templates: StoreTemplates
) -> None:
    """The page skips Vega-Lite validation for speed: on the seeded store's dashboard (every
    chart drawn) each spec the page draws is valid Vega-Lite, and validating while building
    yields the very same specs."""
    engine = make_engine(seeded_sqlite_url)
    now = store_templates.seed_anchor
    staff = StaffDirectory(StaffStore(engine))
    leader = staff.by_email("rachel.kim@vell.ai")
    assert leader is not None
    metrics = MetricsService(MetricsStore(engine), FrozenClock(now), staff)
    start, end = period_presets(now.date())["Last 90 days"]
    for grain in GRAINS:
        board = metrics.dashboard(leader, MetricsFilter(start, end, grain=grain))
        drawn = dashboard_chart_dicts(board, grain)
        assert set(drawn) == set(CHARTS_WITH_DATA)
        for spec in drawn.values():
            VegaLiteRoot.validate(spec)  # the schema itself, not our validate flag
        assert dashboard_chart_dicts(board, grain, validate=True) == drawn
    engine.dispose()
