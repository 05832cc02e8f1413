"""AppTest: the access record on the delegation (staff) and behind the customer's signed link.

One trial, under a company name full of Markdown, is used the way a rep uses it (the live demo's
listings, an offer, a listing update) and once by customer success, then its access ends. The
module has its own service graph: it moves the sandbox clock past the access's end.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta

import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from tests.app.test_demo_pages import demo_graph
from tests.app.test_hostile_pages import PAYLOAD, assert_rendered_as_text
from tests.conftest import StoreTemplates
from tests.integration.test_sync import SMALL, connect, rep
from vell_core.app import Services
from vell_core.config.settings import PROJECT_ROOT
from vell_core.domain.models import DelegationPath
from vell_core.services import signed_links
from vell_core.services.access_record import PURPOSE
from vell_core.services.listing_update import ListingEdit, new_request_token
from vell_core.ui import bridge as ui_bridge

MAYA = "maya.chen@vell.ai"
TITLE = "What Vell saw and changed in your account"


@pytest.fixture(scope="module")
def services(
    tmp_path_factory: pytest.TempPathFactory, store_templates: StoreTemplates
) -> Iterator[Services]:
    with demo_graph(tmp_path_factory.mktemp("record-pages"), store_templates) as graph:
        yield graph


@pytest.fixture(scope="module")
def ended_id(services: Services) -> int:
    """A trial whose access has ended, after listings, an offer, an update and a CS look."""
    maya = rep(services)
    lena = rep(services, "lena.fischer@vell.ai")
    delegation_id = connect(services, SMALL, DelegationPath.TRIAL, hours=1, company=PAYLOAD)
    sync = services.sync
    job = sync.job_for(maya, delegation_id)
    assert job.wait_done(30)
    offers = sorted(job.offers)
    product = next(i for i, s in job.products.items() if s["EntityType"] == "SaaSProduct")
    sync.refresh(maya, delegation_id)
    sync.offer(maya, delegation_id, offers[0])
    edit = ListingEdit(product, "SaaSProduct@1.0", short_description="Record page test " * 4)
    services.listing_updates.submit(maya, delegation_id, edit, new_request_token())
    sync.refresh(lena, delegation_id)
    sync.offer(lena, delegation_id, offers[-1])
    sync.close()
    view = services.delegations.get(maya, delegation_id)
    assert view.credentials_expire_at is not None
    services.sandbox.advance(
        (view.credentials_expire_at - services.clock.now()).total_seconds() + 5
    )
    return delegation_id


@pytest.fixture
def page(services: Services, monkeypatch: pytest.MonkeyPatch) -> Callable[..., AppTest]:
    """Factory: ``page("pages/x.py", as_email=…, **query)``, not yet run."""
    monkeypatch.setattr(ui_bridge, "get_services", lambda: services)

    def make(path: str, *, as_email: str | None = None, **query: str) -> AppTest:
        test = AppTest.from_file(str(PROJECT_ROOT / path), default_timeout=30)
        if as_email is not None:
            member = services.staff.by_email(as_email)
            assert member is not None
            test.session_state[ui_bridge.SIGNED_IN_KEY] = member.id
        for key, value in query.items():
            test.query_params[key] = value
        return test

    return make


def delegation_detail(page: Callable[..., AppTest], company_term: str) -> AppTest:
    """The Delegations page with the one matching delegation selected."""
    at = page("pages/delegations.py", as_email=MAYA).run()
    at.text_input(key="dl_company").set_value(company_term).run()
    assert len(at.dataframe[0].value) == 1
    at.session_state["dl_table"] = {"selection": {"rows": [0], "columns": []}}
    return at.run()


def frames(at: AppTest, column: str) -> list[pd.DataFrame]:
    """The tables shown with ``column``, in page order (tables without a selection have no
    key in AppTest): "Started" is a table of screens, "Operation" the table of every call."""
    return [element.value for element in at.dataframe if column in element.value.columns]


def page_text(at: AppTest) -> str:
    """Everything the page shows as text, tables included."""
    groups = (at.title, at.markdown, at.caption, at.info, at.success, at.error, at.subheader)
    texts = [element.value for group in groups for element in group]
    texts += [str(m.label) + str(m.value) for m in at.metric]
    texts += [element.value.to_csv() for element in at.dataframe]
    return "\n".join(texts)


def test_staff_see_every_screen_on_the_delegation(
    page: Callable[..., AppTest], ended_id: int
) -> None:
    at = delegation_detail(page, "Evil")
    assert not at.exception
    assert "What Vell did with the customer's access" in [s.value for s in at.subheader]
    [screens] = frames(at, "Started")
    assert {"Listings, offers and agreements", "An offer", "A listing update"} <= set(
        screens["Screen"]
    )
    assert {"Maya Chen", "Lena Fischer"} <= set(screens["By"])  # staff see everyone
    metrics = {m.label: m.value for m in at.metric}
    assert int(metrics["Calls with their credentials"]) == int(screens["Calls"].sum()) > 5
    assert metrics["Changes made"] == "1"
    [calls] = frames(at, "Operation")
    assert len(calls) == int(screens["Calls"].sum())
    assert at.get("vega_lite_chart")  # calls over time per screen
    assert_rendered_as_text(at)


def test_after_expiry_the_rep_creates_the_customers_link(
    page: Callable[..., AppTest], ended_id: int
) -> None:
    at = delegation_detail(page, "Evil")
    at.button(key="dl_record_link").click().run()
    assert not at.exception
    link = at.code[-1].value
    assert "/access_record?record=" in link
    assert any("names no one at Vell but the rep" in s.value for s in at.success)


def test_a_live_delegation_offers_no_customer_link_yet(
    services: Services, page: Callable[..., AppTest], ended_id: int
) -> None:
    connect(services, SMALL, company="Still Live Record Co")
    at = delegation_detail(page, "Still Live Record")
    assert not at.exception
    assert any("Once the access has ended" in c.value for c in at.caption)
    assert not [b for b in at.button if b.key == "dl_record_link"]


def test_the_customer_reads_the_record_without_signing_in(
    services: Services, page: Callable[..., AppTest], ended_id: int
) -> None:
    token = services.access_records.issue_link(rep(services), ended_id).token
    at = page("Home.py", record=token).run()
    assert not at.exception
    assert [t.value for t in at.title] == [TITLE]
    assert not at.error
    text = page_text(at)
    assert "Maya Chen" in text
    assert "Lena" not in text  # the rep is the only one at Vell named
    changed, screens = frames(at, "Started")
    assert "Vell staff" in set(screens["By"])
    assert list(changed["Screen"]) == ["A listing update"]
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Changes made"] == "1"
    [calls] = frames(at, "Operation")
    assert int(metrics["Calls with your credentials"]) == len(calls) == int(screens["Calls"].sum())
    assert at.get("download_button")
    assert at.get("vega_lite_chart")
    assert not at.text_input  # read-only: nothing to type, nothing to press
    assert [b.key for b in at.button] == []
    assert_rendered_as_text(at)


def test_a_changed_link_is_refused_with_a_clear_message(
    services: Services, page: Callable[..., AppTest], ended_id: int
) -> None:
    token = services.access_records.issue_link(rep(services), ended_id).token
    at = page("Home.py", record=token[:-4] + ("AAAA" if token[-4:] != "AAAA" else "BBBB")).run()
    assert not at.exception
    assert any("changed or cut short" in e.value for e in at.error)
    assert not at.dataframe
    assert not at.metric


def test_an_expired_link_is_refused_with_a_clear_message(
    services: Services, page: Callable[..., AppTest], ended_id: int
) -> None:
    view = services.delegations.get(rep(services), ended_id)
    past = int((datetime.now(UTC) - timedelta(days=400)).timestamp())
    key = signed_links.purpose_key(signed_links.master_key(services.settings), PURPOSE)
    claims = {"v": 1, "lid": "c" * 32, "d": ended_id, "acct": SMALL, "rep": view.rep_id}
    token = signed_links.sign({**claims, "exp": past}, key)
    at = page("pages/access_record.py", record=token).run()
    assert not at.exception
    assert any("has expired" in e.value for e in at.error)
    assert not at.dataframe


def test_no_token_is_refused(page: Callable[..., AppTest]) -> None:
    at = page("pages/access_record.py").run()
    assert not at.exception
    assert any("not valid" in e.value for e in at.error)
    assert not at.dataframe
