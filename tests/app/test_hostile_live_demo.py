"""AppTest through the sandbox: a product title the customer set in their own Marketplace
catalog reaches the Live demo as text, and as an inert cell in every CSV the page offers.

The customer renames a product with ``StartChangeSet`` (UpdateInformation) in their account;
AWS applies it; a rep's demo of that account then syncs it like any listing.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterator
from typing import Any

import boto3
import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from tests.app.test_demo_pages import demo_graph, page_for, show_tab
from tests.app.test_hostile_pages import assert_rendered_as_text, markdown_bodies, shown_text
from tests.conftest import StoreTemplates
from tests.integration.test_sync import SMALL, connect, rep
from vell_core.app import Services
from vell_core.views.csv_export import FORMULA_PREFIXES

# Within AWS's 72-character ProductTitle limit: a formula, Markdown and a Streamlit directive.
HOSTILE_TITLE = '=HYPERLINK("https://evil.example","**Bold** :red[Evil]")'


def catalog_as_customer(services: Services, account: str) -> Any:
    creds = services.sandbox.persona_credentials(account, "admin")
    return boto3.client(
        "marketplace-catalog",
        endpoint_url=services.sandbox.endpoint,
        region_name="us-east-1",
        aws_access_key_id=creds["AccessKeyId"],
        aws_secret_access_key=creds["SecretAccessKey"],
    )


def rename_a_product(services: Services, account: str, title: str) -> str:
    """The customer renames their first SaaS product; returns its id once AWS applied it."""
    catalog = catalog_as_customer(services, account)
    product = catalog.list_entities(Catalog="AWSMarketplace", EntityType="SaaSProduct")[
        "EntitySummaryList"
    ][0]
    started = catalog.start_change_set(
        Catalog="AWSMarketplace",
        ChangeSet=[
            {
                "ChangeType": "UpdateInformation",
                "Entity": {"Type": "SaaSProduct@1.0", "Identifier": product["EntityId"]},
                "DetailsDocument": {"ProductTitle": title},
            }
        ],
    )
    services.sandbox.advance(120)  # AWS prepares, then applies it
    described = catalog.describe_change_set(
        Catalog="AWSMarketplace", ChangeSetId=started["ChangeSetId"]
    )
    assert described["Status"] == "SUCCEEDED", described
    return str(product["EntityId"])


@pytest.fixture(scope="module")
def hostile_services(
    tmp_path_factory: pytest.TempPathFactory, store_templates: StoreTemplates
) -> Iterator[Services]:
    with demo_graph(tmp_path_factory.mktemp("hostile-demo"), store_templates) as graph:
        yield graph


@pytest.fixture(scope="module")
def hostile_demo(hostile_services: Services) -> tuple[int, str]:
    product_id = rename_a_product(hostile_services, SMALL, HOSTILE_TITLE)
    delegation_id = connect(hostile_services, SMALL)
    job = hostile_services.sync.job_for(rep(hostile_services), delegation_id)
    assert job.wait_done(60)
    return delegation_id, product_id


@pytest.fixture
def downloads(monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """Every CSV the page offered, by file name."""
    seen: dict[str, str] = {}
    original = st.download_button

    def spy(label: str, data: Any, file_name: str | None = None, *args: Any, **kw: Any) -> Any:
        payload = data() if callable(data) else data  # built on click: click it here
        seen[str(file_name)] = payload.decode() if isinstance(payload, bytes) else str(payload)
        return original(label, data, file_name, *args, **kw)

    monkeypatch.setattr(st, "download_button", spy)
    return seen


@pytest.fixture
def page(hostile_services: Services, monkeypatch: pytest.MonkeyPatch) -> Callable[..., AppTest]:
    return page_for(hostile_services, monkeypatch)


def cells(text: str) -> list[str]:
    return [cell for row in csv.reader(io.StringIO(text)) for cell in row]


def open_everything(at: AppTest, product_id: str) -> None:
    """Open every tab, the renamed product, an agreement and a change set: every CSV."""
    at.selectbox(key="demo_product_pick").set_value(product_id).run()
    assert not at.exception
    show_tab(at, "Offers")
    for tab, key in (
        ("Agreements", "demo_agreement_pick"),
        ("Change sets", "demo_change_set_pick"),
    ):
        show_tab(at, tab)
        at.selectbox(key=key).select_index(1).run()
        assert not at.exception


def test_a_customer_set_product_title_is_inert_in_every_live_demo_csv(
    page: Callable[..., AppTest], hostile_demo: tuple[int, str], downloads: dict[str, str]
) -> None:
    delegation_id, product_id = hostile_demo
    at = page(delegation=str(delegation_id))
    at.run()
    assert not at.exception
    open_everything(at, product_id)
    carrying = sorted(
        name for name, text in downloads.items() if "'" + HOSTILE_TITLE in cells(text)
    )
    assert len(downloads) >= 11  # every table's CSV was offered
    for name, text in downloads.items():
        formulas = [c for c in cells(text) if c.startswith(FORMULA_PREFIXES)]
        assert not formulas, (name, formulas)
    # The title reached the six exports that name products (as in issue 15), neutralised.
    assert set(carrying) >= {
        "products.csv",
        "offers.csv",
        "agreements.csv",
        "agreements-by-product.csv",
        "renewals.csv",
        "change-sets.csv",
    }


def test_a_customer_set_product_title_renders_as_text(
    page: Callable[..., AppTest], hostile_demo: tuple[int, str]
) -> None:
    delegation_id, product_id = hostile_demo
    at = page(delegation=str(delegation_id))
    at.run()
    at.selectbox(key="demo_product_pick").set_value(product_id).run()
    assert not at.exception
    assert_rendered_as_text(at)
    shown = [shown_text(body) for body in markdown_bodies(at)]
    assert any(HOSTILE_TITLE.replace('"', "&quot;") in html for html in shown)  # as text
