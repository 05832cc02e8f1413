"""AppTest: the live-demo page with a connected demo, a trial, and expired credentials.

These tests get their own service graph (sandbox included): the expiry test moves the sandbox
clock forward, which must not expire other test modules' delegations.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pytest
from streamlit.testing.v1 import AppTest

from tests.conftest import StoreTemplates, private_channel
from tests.integration.test_sync import SMALL, connect, rep, set_sandbox_limits
from vell_core.app import Services, build_services
from vell_core.config.settings import PROJECT_ROOT, load_settings
from vell_core.domain.models import DelegationPath
from vell_core.ui import bridge as ui_bridge
from vell_core.views import marketplace as views

PAGE = "pages/demo_browser.py"
MAYA = "maya.chen@vell.ai"


@contextmanager
def demo_graph(folder: Path, templates: StoreTemplates) -> Iterator[Services]:
    """The app's graph on a seeded store copy, at the documented quotas; closed afterwards
    (``Services.close`` also stops the sync jobs)."""
    url = templates.copy(folder / "demo.db", seeded=True)
    settings = load_settings(
        vell_database_url=url,
        vell_sandbox_port=0,
        vell_start_worker=False,
        vell_live_refresh_seconds=0.5,
        **private_channel(),
    )
    services = build_services(settings, start_background=False)
    try:
        set_sandbox_limits(services, factor=1.0)
        yield services
    finally:
        services.close()


@pytest.fixture(scope="module")
def demo_services(
    tmp_path_factory: pytest.TempPathFactory, store_templates: StoreTemplates
) -> Iterator[Services]:
    with demo_graph(tmp_path_factory.mktemp("demo"), store_templates) as services:
        yield services


@pytest.fixture(scope="module")
def demo_id(demo_services: Services) -> int:
    delegation_id = connect(demo_services, SMALL)
    job = demo_services.sync.job_for(rep(demo_services), delegation_id)
    assert job.wait_done(30)
    return delegation_id


@pytest.fixture(scope="module")
def trial_id(demo_services: Services) -> int:
    delegation_id = connect(demo_services, SMALL, DelegationPath.TRIAL, hours=2)
    job = demo_services.sync.job_for(rep(demo_services), delegation_id)
    assert job.wait_done(30)
    return delegation_id


def page_for(services: Services, monkeypatch: pytest.MonkeyPatch) -> Callable[..., AppTest]:
    monkeypatch.setattr(ui_bridge, "get_services", lambda: services)

    def make(*, as_email: str = MAYA, **query: str) -> AppTest:
        test = AppTest.from_file(str(PROJECT_ROOT / PAGE), default_timeout=30)
        member = services.staff.by_email(as_email)
        assert member is not None
        test.session_state[ui_bridge.SIGNED_IN_KEY] = member.id
        for key, value in query.items():
            test.query_params[key] = value
        return test

    return make


@pytest.fixture
def page(demo_services: Services, monkeypatch: pytest.MonkeyPatch) -> Callable[..., AppTest]:
    return page_for(demo_services, monkeypatch)


def agreement_ids(services: Services, delegation_id: int) -> list[str]:
    """The agreements' ids in the page's order (the table leaves them to the CSV and detail)."""
    state = services.sync.state(rep(services), delegation_id)
    return list(views.agreements_frame(state.snapshot, state.now)["Agreement id"])


TABS = ("Listings", "Offers", "Agreements", "Change sets")
PICKERS = ("demo_product_pick", "demo_offer_pick", "demo_agreement_pick", "demo_change_set_pick")


def show_tab(at: AppTest, name: str) -> AppTest:
    """Open one of the live demo's tabs (only the open tab runs)."""
    at.session_state["demo_tab"] = name
    at.run()
    assert not at.exception
    return at


def every_tab(at: AppTest) -> Iterator[str]:
    """Open each tab in turn, yielding its name while it is open."""
    for name in TABS:
        show_tab(at, name)
        yield name


def metric(at: AppTest, label: str) -> str:
    return next(m.value for m in at.metric if m.label == label)


def table(at: AppTest, *columns: str) -> pd.DataFrame:
    """The first table on the page whose columns begin with ``columns``."""
    return next(
        frame.value
        for frame in at.dataframe
        if list(frame.value.columns)[: len(columns)] == list(columns)
    )


def test_demo_shows_listings_offers_agreements_and_change_sets(
    page: Callable[..., AppTest], demo_services: Services, demo_id: int
) -> None:
    at = page(delegation=str(demo_id))
    at.run()
    assert not at.exception
    assert at.selectbox(key="demo_delegation").value == demo_id
    assert metric(at, "Access ends in") not in ("expired", "—")
    assert metric(at, "Mode") == "Demo"
    assert any(c.value == "Read-only" for c in at.caption)
    assert [t.label for t in at.tabs] == list(TABS)
    assert metric(at, "Products") == "2"
    # Only the open tab runs: the other tabs' pickers are not built until they are opened.
    assert "demo_agreement_pick" not in [box.key for box in at.selectbox]
    downloads = charts = 0
    for name in every_tab(at):
        downloads += len(at.get("download_button"))
        charts += len(at.get("vega_lite_chart"))
        if name == "Offers":
            assert metric(at, "Offers") == "5"
        if name == "Agreements":
            assert metric(at, "Agreements") == "10"
            assert metric(at, "Active TCV (USD)").startswith("$")
    assert downloads >= 8  # a CSV for every table
    assert charts >= 3  # status, renewals, TCV by product…


def test_product_detail_health_and_disabled_update_in_a_demo(
    page: Callable[..., AppTest], demo_services: Services, demo_id: int
) -> None:
    at = page(delegation=str(demo_id))
    at.run()
    product = next(o for o in at.selectbox(key="demo_product_pick").options if o != "—")
    pick = at.selectbox(key="demo_product_pick")
    pick.set_value(pick.options[1] if pick.options[1] != "—" else product).run()
    assert not at.exception
    assert any(m.value.startswith("#### Listing health:") for m in at.markdown)
    assert any(m.value.startswith("**Short description**") for m in at.markdown)
    button = at.button(key="demo_update_open")
    assert button.disabled
    assert any("Read-only demo" in c.value for c in at.caption)


def test_agreement_and_change_set_detail(
    page: Callable[..., AppTest], demo_services: Services, demo_id: int
) -> None:
    at = page(delegation=str(demo_id))
    at.run()
    show_tab(at, "Agreements")
    agreements = table(at, "Product", "Buyer account", "Status")
    agreement = agreement_ids(demo_services, demo_id)[0]
    at.selectbox(key="demo_agreement_pick").set_value(agreement).run()
    assert not at.exception
    heading = f"{agreements['Product'].iloc[0]} — buyer {agreements['Buyer account'].iloc[0]}"
    assert any(s.value == heading for s in at.subheader)
    assert any(agreement in c.value for c in at.caption)  # the id is still there, secondary
    assert metric(at, "Pricing model") != "—"
    show_tab(at, "Change sets")
    history = table(at, "Name", "Status", "Started")
    at.selectbox(key="demo_change_set_pick").set_value(history["Change set id"].iloc[0]).run()
    assert not at.exception
    show_tab(at, "Agreements")  # the picked agreement is still open after a tab switch
    assert any(s.value == heading for s in at.subheader)
    show_tab(at, "Offers")
    offers = table(at, "Name", "Product", "Audience")
    at.selectbox(key="demo_offer_pick").set_value(offers["Offer id"].iloc[0]).run()
    assert not at.exception


def test_trial_updates_a_listing_with_live_change_set_progress(
    page: Callable[..., AppTest], demo_services: Services, trial_id: int
) -> None:
    at = page(delegation=str(trial_id))
    at.run()
    assert metric(at, "Mode") == "Trial"
    pick = at.selectbox(key="demo_product_pick")
    pick.set_value(pick.options[1]).run()
    button = at.button(key="demo_update_open")
    assert not button.disabled
    button.click().run()
    assert not at.exception
    new_text = "Trace every request across AWS accounts; fix incidents in minutes. " * 2
    at.text_area(key="demo_edit_short").set_value(new_text).run()
    at.button(key="demo_edit_confirm").click().run()
    assert not at.exception
    tracked = at.session_state["demo_change"]
    assert tracked["status"] == "PREPARING"
    demo_services.sandbox.advance(45)
    deadline = time.monotonic() + 10
    while at.session_state["demo_change"].get("status") != "SUCCEEDED":
        assert time.monotonic() < deadline
        at.run()
    at.run()
    assert not at.exception
    assert any("AWS applied the update" in s.value for s in at.success)
    assert any(new_text.strip()[:40] in m.value for m in at.markdown)


def test_expired_credentials_offer_renewal_instead_of_failing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, store_templates: StoreTemplates
) -> None:
    with demo_graph(tmp_path, store_templates) as services:
        delegation_id = connect(services, SMALL)
        at = page_for(services, monkeypatch)(delegation=str(delegation_id))
        at.run()
        assert metric(at, "Products") == "2"
        view = services.delegations.get(rep(services), delegation_id)
        services.sandbox.advance(
            (view.credentials_expire_at - services.clock.now()).total_seconds()
        )
        at.run()
        assert not at.exception
        assert any(w.value.startswith("Expired:") and " ended at " in w.value for w in at.warning)
        assert at.button(key="demo_renew")  # renew right here, not "go elsewhere"
        assert not at.tabs  # no customer data after expiry


def test_ended_delegations_stay_listed_as_expired(page: Callable[..., AppTest]) -> None:
    """A rep whose seeded demos have all ended sees them as expired, not an empty page."""
    at = page(as_email="tom.becker@vell.ai")
    at.run()
    assert not at.exception
    assert any("expired" in str(o) for o in at.selectbox(key="demo_delegation").options)
    assert any(w.value.startswith("Expired:") for w in at.warning)


def test_leadership_cannot_open_the_live_demo(page: Callable[..., AppTest]) -> None:
    at = page(as_email="rachel.kim@vell.ai")
    at.run()
    assert any("do not have access" in e.value for e in at.error)


# -- issue 13: screens that read like a product -----------------------------------------------

ID_COLUMNS = ("Product id", "Offer id", "Agreement id", "Change set id", "Term id")


def chart_specs(at: AppTest) -> dict[str, dict]:
    """Every Vega-Lite chart on the page by its title."""
    specs = [json.loads(chart.proto.spec) for chart in at.get("vega_lite_chart")]
    return {spec.get("title"): spec for spec in specs}


def chart_data(at: AppTest, title: str) -> pd.DataFrame:
    """The rows a chart draws (sent to the browser as an Arrow table)."""
    chart = next(c for c in at.get("vega_lite_chart") if json.loads(c.proto.spec)["title"] == title)
    [dataset] = chart.proto.datasets  # one named dataset, already Arrow bytes
    return pa.ipc.open_stream(dataset.data.data).read_pandas()


def open_everything(at: AppTest) -> list[pd.DataFrame]:
    """Open each tab and its first product, offer, agreement or change set: every table shown."""
    pickers = dict(zip(TABS, PICKERS, strict=True))
    frames: list[pd.DataFrame] = []
    for name in every_tab(at):
        at.selectbox(key=pickers[name]).select_index(1).run()
        assert not at.exception
        frames += [frame.value for frame in at.dataframe]
    return frames


def test_demo_tables_read_like_a_product(
    page: Callable[..., AppTest], demo_services: Services, demo_id: int
) -> None:
    """Human headers, no literal None, ids after what a person reads, money and shares as text."""
    at = page(delegation=str(demo_id))
    at.run()
    frames = open_everything(at)
    assert len(frames) >= 14
    for shown in frames:
        columns = list(shown.columns)
        cells = set(shown.astype(str).to_numpy().ravel().tolist())
        assert not cells & {"None", "nan", "NaT", "<NA>"}, columns
        assert all(column[:1].isupper() and "_" not in column for column in columns), columns
        ids = [column for column in columns if column in ID_COLUMNS]
        assert columns[len(columns) - len(ids) :] == ids, columns  # ids last
    show_tab(at, "Agreements")
    buckets = table(at, "Due in", "Agreements", "TCV (USD)")
    assert all(value.startswith("$") for value in buckets["TCV (USD)"])
    assert all(value == "—" or value.endswith("%") for value in buckets["Auto-renew share"])
    terms = table(at, "Term", "Field", "Value", "Term id")  # the agreement's terms
    assert not any("[" in field or "." in field for field in terms["Field"])


def test_offer_terms_spell_out_fields_and_durations(
    page: Callable[..., AppTest], demo_services: Services, demo_id: int
) -> None:
    """``Documents[1].Type`` and ``P12M`` were shown as the API spells them."""
    at = page(delegation=str(demo_id))
    at.run()
    values: list[str] = []
    show_tab(at, "Offers")
    for offer_id in table(at, "Name", "Product", "Audience")["Offer id"]:
        at.selectbox(key="demo_offer_pick").set_value(offer_id).run()
        terms = table(at, "Term", "Field", "Value")
        assert not any("[" in field or "." in field for field in terms["Field"])
        values += terms["Value"].tolist()
    assert not [value for value in values if re.fullmatch(r"P(T?\d+[YMWDHS])+", value)]
    assert "12 months" in values


def test_pickers_name_buyer_product_status_value_and_date(
    page: Callable[..., AppTest], demo_services: Services, demo_id: int
) -> None:
    """ "Open an agreement" and "Open a change set" listed opaque ids; two offers shared a name."""
    at = page(delegation=str(demo_id))
    at.run()
    pickers = {
        "Agreements": ("demo_agreement_pick", lambda: agreement_ids(demo_services, demo_id)),
        "Change sets": (
            "demo_change_set_pick",
            lambda: table(at, "Name", "Status", "Started")["Change set id"],
        ),
        "Offers": ("demo_offer_pick", lambda: table(at, "Name", "Product", "Audience")["Offer id"]),
    }
    for tab, (key, ids_shown) in pickers.items():
        show_tab(at, tab)
        ids = list(ids_shown())
        options = at.selectbox(key=key).options[1:]
        assert len(options) == len(set(options)) == len(ids), key  # every one, each unique
        assert not set(options) & set(ids), key  # not opaque ids
    show_tab(at, "Agreements")
    agreements = table(at, "Product", "Buyer account", "Status")
    first = at.selectbox(key="demo_agreement_pick").options[1]
    row = agreements.iloc[0]
    for part in (row["Product"], row["Buyer account"], row["Status"], row["Start"]):
        assert part in first
    assert "$" in first


def test_demo_charts_whole_counts_bucket_order_and_active_tcv(
    page: Callable[..., AppTest], demo_services: Services, demo_id: int
) -> None:
    """Counts in whole numbers, renewals ≤30 → 31–60 → 61–90, and TCV by product that adds up
    to the Active TCV headline beside it."""
    at = page(delegation=str(demo_id))
    at.run()
    specs: dict[str, dict] = {}
    for _ in every_tab(at):
        specs |= chart_specs(at)
    show_tab(at, "Agreements")
    for title in ("Offers by status", "Agreements by status", "Change sets by status"):
        assert specs[title]["encoding"]["x"]["axis"] == {"format": "d", "tickMinStep": 1}, title
    renewals = specs["Renewals due (USD TCV)"]
    assert renewals["encoding"]["y"]["sort"] == ["≤30 days", "31–60 days", "61–90 days"]
    by_product = specs["Active TCV by product (USD)"]
    assert by_product["encoding"]["x"]["field"] == "Active TCV"
    headline = float(metric(at, "Active TCV (USD)").lstrip("$").replace(",", ""))
    charted = chart_data(at, "Active TCV by product (USD)")["Active TCV"].sum()
    assert charted == pytest.approx(headline)
