"""AppTest: the connections page lists connections with health; re-validate and disconnect."""

from __future__ import annotations

from collections.abc import Callable

from streamlit.testing.v1 import AppTest

from tests.app.test_trials_desk_page import prod_page
from vell_core.app import Services
from vell_core.domain.models import ConnectionVia

__all__ = ["prod_page"]  # fixture
PAGE = "pages/connections.py"
CS = "lena.fischer@vell.ai"


def new_connection(services: Services, company: str) -> int:
    """A connection whose role does not exist in the sandbox (validation must fail politely)."""
    member = services.staff.by_email(CS)
    row = services.connections.create_pending(
        member, company=company, aws_account_id="555000088001", via=ConnectionVia.DELEGATION
    )
    services.connections.activate(
        member, row.id, "arn:aws:iam::555000088001:role/vell.ai/VellMarketplaceConnector-0123"
    )
    return int(row.id)


def test_sales_cannot_open_connections(prod_page: Callable[..., AppTest]) -> None:
    at = prod_page(PAGE, as_email="maya.chen@vell.ai")
    at.run()
    assert any("do not have access" in e.value for e in at.error)


def test_list_revalidate_and_disconnect(
    prod_page: Callable[..., AppTest], app_services: Services
) -> None:
    connection_id = new_connection(app_services, "Conn Page Co")
    at = prod_page(PAGE, as_email="sam.patel@vell.ai")
    at.run()
    assert not at.exception
    at.text_input(key="cx_company").set_value("Conn Page").run()
    frame = at.dataframe[0].value
    assert list(frame["Connection #"]) == [connection_id]
    assert frame["Health"].iloc[0].startswith("Healthy")
    assert next(iter(frame.columns)) == "Company"
    assert list(frame.columns)[-1] == "Connection #"

    at.button(key="cx_validate").click().run()
    assert not at.exception
    assert any("role name is wrong" in w.value for w in at.warning)
    assert (
        app_services.connections.get(app_services.staff.by_email(CS), connection_id)
        .health(app_services.clock.now())
        .startswith("Failing")
    )

    assert at.button(key="cx_disconnect").disabled
    at.checkbox(key="cx_confirm").check().run()
    at.button(key="cx_disconnect").click().run()
    assert not at.exception
    at.toggle(key="cx_disconnected").set_value(True).run()
    assert any("Customer deletes the role" in m.value for m in at.markdown)
    at.button(key="cx_gone").click().run()
    assert not at.exception
    assert any("no longer has access" in s.value for s in at.success)
