"""AppTest: the live-demo page with a connected demo, a trial, and expired credentials.

These tests get their own service graph (sandbox included): the expiry test moves the sandbox
clock forward, which must not expire other test modules' delegations.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from tests.conftest import StoreTemplates, private_channel
from tests.integration.test_sync import SMALL, connect, rep, set_sandbox_limits
from vell_core.app import Services, build_services
from vell_core.config.settings import PROJECT_ROOT, load_settings
from vell_core.domain.models import DelegationPath
from vell_core.ui import bridge as ui_bridge

PAGE = "pages/demo_browser.py"
MAYA = "maya.chen@vell.ai"


def _graph(folder: Path, templates: StoreTemplates) -> Services:
    url = templates.copy(folder / "demo.db", seeded=True)
    settings = load_settings(
        vell_database_url=url,
        vell_sandbox_port=0,
        vell_start_worker=False,
        vell_live_refresh_seconds=0.5,
        **private_channel(),
    )
    services = build_services(settings, start_background=False)
    set_sandbox_limits(services, factor=1.0)
    return services


@pytest.fixture(scope="module")
def demo_services(
    tmp_path_factory: pytest.TempPathFactory, store_templates: StoreTemplates
) -> Iterator[Services]:
    services = _graph(tmp_path_factory.mktemp("demo"), store_templates)
    yield services
    services.sync.close()
    services.close()


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


def metric(at: AppTest, label: str) -> str:
    return next(m.value for m in at.metric if m.label == label)


def test_demo_shows_listings_offers_agreements_and_change_sets(
    page: Callable[..., AppTest], demo_services: Services, demo_id: int
) -> None:
    at = page(delegation=str(demo_id))
    at.run()
    assert not at.exception
    assert at.selectbox(key="demo_delegation").value == demo_id
    assert metric(at, "Access ends in") not in ("expired", "—")
    assert metric(at, "Mode") == "Demo (read-only)"
    assert metric(at, "Products") == "2"
    assert metric(at, "Offers") == "5"
    assert metric(at, "Agreements") == "10"
    assert metric(at, "Active TCV (USD)").startswith("$")
    assert [t.label for t in at.tabs] == ["Listings", "Offers", "Agreements", "Change sets"]
    assert len(at.get("download_button")) >= 8  # a CSV for every table
    assert len(at.get("vega_lite_chart")) >= 3  # status, renewals, TCV by product…


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
    agreement = at.selectbox(key="demo_agreement_pick").options[1]
    at.selectbox(key="demo_agreement_pick").set_value(agreement).run()
    assert not at.exception
    assert any(s.value == f"Agreement {agreement}" for s in at.subheader)
    assert metric(at, "Pricing model") != "—"
    change_set = at.selectbox(key="demo_change_set_pick").options[1]
    at.selectbox(key="demo_change_set_pick").set_value(change_set).run()
    assert not at.exception
    offer = at.selectbox(key="demo_offer_pick").options[1]
    at.selectbox(key="demo_offer_pick").set_value(offer).run()
    assert not at.exception


def test_trial_updates_a_listing_with_live_change_set_progress(
    page: Callable[..., AppTest], demo_services: Services, trial_id: int
) -> None:
    at = page(delegation=str(trial_id))
    at.run()
    assert metric(at, "Mode") == "Trial (read/write)"
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
    services = _graph(tmp_path, store_templates)
    try:
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
    finally:
        services.sync.close()
        services.close()


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
