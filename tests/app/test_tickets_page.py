"""AppTest: the support-tickets page (manual entry and the recent list)."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from streamlit.testing.v1 import AppTest

from vell_core.app import Services


@pytest.fixture
def tickets_page(
    page: Callable[..., AppTest], app_services: Services, monkeypatch: pytest.MonkeyPatch
) -> Callable[..., AppTest]:
    """The page factory for the tickets page (the graph wires ``services.tickets``)."""
    return page


def test_manual_entry_appears_in_recent_tickets(tickets_page: Callable[..., AppTest]) -> None:
    at = tickets_page("pages/tickets.py", as_email="rachel.kim@vell.ai").run()
    assert not at.exception
    at.text_input(key="ticket_ref").set_value("APPTEST-1")
    at.text_input(key="ticket_subject").set_value("Stuck on role validation")
    at.button(key="FormSubmitter:tickets_manual-Add ticket").click().run()
    assert not at.exception
    assert any("Added ticket APPTEST-1" in s.value for s in at.success)
    table = at.dataframe[0].value
    assert "APPTEST-1" in set(table["Ref"])


def test_missing_subject_is_a_friendly_error(tickets_page: Callable[..., AppTest]) -> None:
    at = tickets_page("pages/tickets.py", as_email="lena.fischer@vell.ai").run()
    at.button(key="FormSubmitter:tickets_manual-Add ticket").click().run()
    assert not at.exception
    assert any("subject" in error.value for error in at.error)


def test_sales_cannot_write_tickets(tickets_page: Callable[..., AppTest]) -> None:
    at = tickets_page("pages/tickets.py", as_email="maya.chen@vell.ai").run()
    assert any("do not have access" in error.value for error in at.error)
