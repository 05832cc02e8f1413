"""AppTest with hostile input (issue 15): clear errors, no raw exception, no Markdown from
untrusted text, no formula in a CSV download, and forms that keep what was typed."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable
from typing import Any

import pytest
import streamlit as st
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st_h
from markdown_it import MarkdownIt
from streamlit.testing.v1 import AppTest

from tests.hostile import MARKDOWN, hostile_text, unicode_digit_accounts
from vell_core.app import Services
from vell_core.domain.models import DelegationPath
from vell_core.services.delegation import LaunchRequest, new_launch_token
from vell_core.views.csv_export import FORMULA_PREFIXES
from vell_core.views.text import WORD_JOINER

PAYLOAD = "**Bold** :red[Evil] [link](https://evil.example)"
FORMULA = '=HYPERLINK("https://evil.example","Click")'
GFM = MarkdownIt("gfm-like")
FEW = settings(
    max_examples=6, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


def markdown_bodies(at: AppTest) -> list[str]:
    """Every string the page handed to a Markdown-rendering element."""
    groups = (at.markdown, at.caption, at.info, at.success, at.warning, at.error, at.subheader)
    return [element.value for group in groups for element in group]


def assert_rendered_as_text(at: AppTest) -> None:
    """No element turns untrusted text into bold, links, colours or icons."""
    for body in markdown_bodies(at):
        rendered = GFM.render(body)
        assert "evil.example" not in re.sub(r"<a href=\"[^\"]*vell[^\"]*\"", "", rendered) or (
            "<a " not in rendered
        ), body
        assert "<strong>Bold</strong>" not in rendered, body
        assert ":red[Evil]" not in body, body  # a Streamlit directive left unescaped


def shown_text(body: str) -> str:
    """The HTML a Markdown body renders to, without ``plain``'s invisible word joiners."""
    return GFM.render(body).replace(WORD_JOINER, "")


def start_wizard(at: AppTest, company: str, account: str) -> None:
    at.run()
    at.button(key="wizard_provider_next").click().run()
    at.text_input(key="wizard_company").set_value(company)
    at.text_input(key="wizard_account").set_value(account)
    at.button(key="wizard_account_next").click().run()


def test_wizard_shows_a_markdown_company_as_text(page: Callable[..., AppTest]) -> None:
    at = page("pages/wizard.py", as_email="maya.chen@vell.ai")
    start_wizard(at, PAYLOAD, "4182-9573-0164")
    assert at.session_state["wizard_state"]["step"] == 2
    at.button(key="wizard_path_demo").click().run()
    assert not at.exception
    assert any("2048" in m.value for m in at.metric)  # the preview rendered
    assert_rendered_as_text(at)
    # Shown, as text (plain's invisible word joiners, against Streamlit's autolinker, aside).
    assert any(PAYLOAD in shown_text(body) for body in markdown_bodies(at))


@pytest.mark.parametrize("account", list(unicode_digit_accounts("418295730164")))
def test_wizard_refuses_unicode_digits_with_a_message(
    page: Callable[..., AppTest], account: str
) -> None:
    at = page("pages/wizard.py", as_email="maya.chen@vell.ai")
    start_wizard(at, "Acme", account)
    assert not at.exception
    assert at.session_state["wizard_state"]["step"] == 1
    assert any("12 digits" in e.value for e in at.error)


def test_a_long_company_paste_gets_the_length_error(page: Callable[..., AppTest]) -> None:
    at = page("pages/wizard.py", as_email="maya.chen@vell.ai")
    start_wizard(at, "A" * 100, "418295730164")
    assert not at.exception
    assert at.session_state["wizard_state"]["step"] == 1
    assert any("at most 80 characters" in e.value for e in at.error)


@FEW
@given(company=hostile_text(), account=st_h.one_of(st_h.just("418295730164"), hostile_text()))
def test_wizard_never_shows_a_raw_exception(
    page: Callable[..., AppTest], company: str, account: str
) -> None:
    at = page("pages/wizard.py", as_email="diego.alvarez@vell.ai")
    start_wizard(at, company, account)
    assert not at.exception
    if at.session_state["wizard_state"]["step"] == 2:
        at.button(key="wizard_path_demo").click().run()
        assert not at.exception
    assert_rendered_as_text(at)


# --- the public demo page ---------------------------------------------------------------------


def test_demo_page_shows_the_company_as_text_and_refuses_unicode_digits(
    page: Callable[..., AppTest], app_services: Services
) -> None:
    rep = app_services.staff.by_email("tom.becker@vell.ai")
    link = app_services.demo_links.create(rep, "Bold** :red[Evil] [link](https://evil.example)")
    at = page("pages/demo_request.py", demo_link=link.token)
    at.run()
    assert not at.exception
    assert_rendered_as_text(at)
    assert at.text_input(key="demo_account").proto.max_chars == 0  # a padded paste is kept
    at.text_input(key="demo_account").set_value(next(unicode_digit_accounts("418295730164")))
    at.button(key="demo_request_submit").click().run()
    assert not at.exception
    assert any("12 digits" in e.value for e in at.error)
    assert not any("already been used" in e.value for e in at.error)


# --- CSV downloads ------------------------------------------------------------------------------


@pytest.fixture
def downloads(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """Every ``st.download_button`` payload the page produced."""
    seen: list[Any] = []
    original = st.download_button

    def spy(label: str, data: Any, *args: Any, **kwargs: Any) -> Any:
        seen.append(data() if callable(data) else data)  # built on click: click it here
        return original(label, data, *args, **kwargs)

    monkeypatch.setattr(st, "download_button", spy)
    return seen


def test_delegations_csv_carries_no_formula(
    page: Callable[..., AppTest], app_services: Services, downloads: list[Any]
) -> None:
    rep = app_services.staff.by_email("priya.natarajan@vell.ai")
    app_services.delegations.launch(
        rep,
        LaunchRequest(
            company=FORMULA,
            aws_account_id="418295730164",
            path=DelegationPath.DEMO,
            launch_token=new_launch_token(),
        ),
    )
    at = page("pages/delegations.py", as_email="priya.natarajan@vell.ai")
    at.run()
    assert not at.exception
    assert downloads, "the page offered no CSV"
    data = downloads[-1]() if callable(downloads[-1]) else downloads[-1]  # built on click
    text = data.decode() if isinstance(data, bytes) else data
    cells = [cell for row in csv.reader(io.StringIO(text)) for cell in row]
    assert "'" + FORMULA in cells
    assert not [cell for cell in cells if cell.startswith(FORMULA_PREFIXES)]


# --- forms keep what was typed --------------------------------------------------------------------


def test_ticket_form_keeps_values_when_refused_and_clears_when_stored(
    page: Callable[..., AppTest],
) -> None:
    at = page("pages/tickets.py", as_email="lena.fischer@vell.ai")
    at.run()
    at.text_input(key="ticket_subject").set_value("Stack failed")
    at.text_input(key="ticket_company").set_value(MARKDOWN[0])
    at.text_input(key="ticket_acct").set_value("12345")  # refused
    at.button(key="FormSubmitter:tickets_manual-Add ticket").click().run()
    assert not at.exception
    assert any("customer" in e.value for e in at.error)
    assert at.text_input(key="ticket_subject").value == "Stack failed"
    assert at.text_input(key="ticket_company").value == MARKDOWN[0]
    at.text_input(key="ticket_acct").set_value("418295730164")
    at.button(key="FormSubmitter:tickets_manual-Add ticket").click().run()
    assert not at.exception
    assert any("Added ticket" in s.value for s in at.success)
    assert at.text_input(key="ticket_subject").value == ""
    assert_rendered_as_text(at)


# --- no silent paste limits ---------------------------------------------------------------------


def test_ticket_fields_have_no_paste_limit_and_take_an_account_with_dashes(
    page: Callable[..., AppTest], app_services: Services
) -> None:
    at = page("pages/tickets.py", as_email="lena.fischer@vell.ai")
    at.run()
    keys = ("ticket_ref", "ticket_category", "ticket_subject", "ticket_acct", "ticket_company")
    # A browser drops a paste longer than max_chars without a word: none may have one.
    assert [at.text_input(key=k).proto.max_chars for k in keys] == [0] * len(keys)
    at.text_input(key="ticket_subject").set_value("Pasted account")
    at.text_input(key="ticket_acct").set_value("5550-0006-6001")  # 14 characters, as copied
    at.button(key="FormSubmitter:tickets_manual-Add ticket").click().run()
    assert not at.exception
    assert any("Added ticket" in s.value for s in at.success)
    member = app_services.staff.by_email("lena.fischer@vell.ai")
    stored = next(t for t in app_services.tickets.recent(member) if t.subject == "Pasted account")
    assert stored.customer == "555000066001"


def test_a_long_ticket_subject_gets_the_length_error(page: Callable[..., AppTest]) -> None:
    at = page("pages/tickets.py", as_email="lena.fischer@vell.ai")
    at.run()
    at.text_input(key="ticket_subject").set_value("S" * 250)
    at.button(key="FormSubmitter:tickets_manual-Add ticket").click().run()
    assert not at.exception
    assert any("subject" in e.value and "200" in e.value for e in at.error)
    assert at.text_input(key="ticket_subject").value == "S" * 250  # kept, to be shortened


def test_a_long_demo_link_company_gets_the_length_error(page: Callable[..., AppTest]) -> None:
    at = page("pages/demo_links.py", as_email="maya.chen@vell.ai")
    at.run()
    assert at.text_input(key="demo_link_company").proto.max_chars == 0
    at.text_input(key="demo_link_company").set_value("A" * 100)
    at.button[0].click().run()  # Create link
    assert not at.exception
    assert any("at most 80 characters" in e.value for e in at.error)
    assert not at.code  # no link was issued


def test_account_fields_have_no_paste_limit(page: Callable[..., AppTest]) -> None:
    at = page("pages/wizard.py", as_email="maya.chen@vell.ai")
    at.run()
    at.button(key="wizard_provider_next").click().run()
    assert at.text_input(key="wizard_account").proto.max_chars == 0  # the browser would drop it
    at.text_input(key="wizard_company").set_value("Padded Co")
    at.text_input(key="wizard_account").set_value("   4182-9573-0164   ")  # 20, as copied
    at.button(key="wizard_account_next").click().run()
    assert at.session_state["wizard_state"]["step"] == 2
    assert at.session_state["wizard_state"]["account"] == "418295730164"
