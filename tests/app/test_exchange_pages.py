"""AppTest: a failed or retrying token exchange is never a silent wait for the rep, and the
AWS setup page counts the failures."""

from __future__ import annotations

import uuid
from collections.abc import Callable

from sqlalchemy import text
from streamlit.testing.v1 import AppTest

from vell_core.app import Services
from vell_core.domain.models import DelegationPath
from vell_core.services.delegation import LaunchRequest, new_launch_token

CUSTOMER = "418295730164"


def shown(elements) -> list[str]:
    """Element texts as the rep reads them (pages escape Markdown in untrusted strings)."""
    return [element.value.replace("\\", "") for element in elements]


def approved_without_credentials(
    services: Services, *, exchange_state: str, code: str | None, attempts: int = 1
) -> tuple[int, str]:
    """A launched request AWS finalized, whose exchange is in ``exchange_state``."""
    company = f"Exchange Test {uuid.uuid4().hex[:6]}"
    member = services.staff.by_email("maya.chen@vell.ai")
    assert member is not None
    view = services.delegations.launch(
        member,
        LaunchRequest(
            company=company,
            aws_account_id=CUSTOMER,
            path=DelegationPath.DEMO,
            launch_token=new_launch_token(),
        ),
    )
    with services.engine.begin() as connection:
        connection.execute(
            text(
                "UPDATE delegation_requests SET aws_state = 'FINALIZED', status = 'approved', "
                "exchange_state = :s, exchange_error_code = :c, exchange_attempts = :a "
                "WHERE id = :i"
            ),
            {"s": exchange_state, "c": code, "a": attempts, "i": view.id},
        )
    return view.id, company


def waiting_wizard(page: Callable[..., AppTest], delegation_id: int) -> AppTest:
    at = page("pages/wizard.py", as_email="maya.chen@vell.ai")
    at.session_state["wizard_state"] = {
        "step": 3,
        "session_id": "wiz-exchange",
        "company": "x",
        "account": CUSTOMER,
        "delegation_id": delegation_id,
    }
    return at.run()


def test_wizard_shows_a_final_failure_and_starts_a_new_request(
    page: Callable[..., AppTest], app_services: Services
) -> None:
    row_id, company = approved_without_credentials(
        app_services, exchange_state="failed", code="ExpiredTradeInTokenException"
    )
    at = waiting_wizard(page, row_id)
    assert not at.exception
    errors = shown(at.error)
    assert any(
        e.startswith("AWS would not exchange the token: the token had expired")
        and f"Start a new request for {company}" in e
        for e in errors
    ), errors
    at.button(key="wizard_exchange_restart").click().run()
    wizard = at.session_state["wizard_state"]
    assert (wizard["step"], wizard["company"], wizard["account"]) == (2, company, CUSTOMER)


def test_wizard_says_it_is_retrying(page: Callable[..., AppTest], app_services: Services) -> None:
    row_id, _ = approved_without_credentials(
        app_services, exchange_state="retrying", code="ServiceUnavailable", attempts=3
    )
    at = waiting_wizard(page, row_id)
    assert not at.exception
    assert any(
        "Approved — fetching credentials (retrying: 3 attempts so far" in w
        for w in shown(at.warning)
    )
    assert not at.error


def test_delegations_page_shows_the_failure_with_a_new_request_link(
    page: Callable[..., AppTest], app_services: Services
) -> None:
    _, company = approved_without_credentials(
        app_services, exchange_state="failed", code="AccessDenied"
    )
    at = page("pages/delegations.py", as_email="maya.chen@vell.ai")
    at.run()
    at.text_input(key="dl_company").set_value(company).run()
    table = at.dataframe[0].value
    assert list(table["Credentials"]) == ["failed"]
    at.session_state["dl_table"] = {"selection": {"rows": [0], "columns": []}}
    at.run()
    assert not at.exception
    assert any("was not allowed to redeem it (AccessDenied)" in e for e in shown(at.error))
    at.button(key="dl_exchange_restart").click().run()
    wizard = at.session_state["wizard_state"]
    assert (wizard["step"], wizard["company"], wizard["account"]) == (2, company, CUSTOMER)


def test_aws_setup_counts_failed_exchanges(
    page: Callable[..., AppTest], app_services: Services
) -> None:
    _, company = approved_without_credentials(
        app_services, exchange_state="failed", code="ValidationError"
    )
    at = page("pages/aws_setup.py", as_email="sam.patel@vell.ai").run()
    assert not at.exception
    metrics = {m.label: m.value for m in at.metric}
    assert int(metrics["Failed for good (7 days)"]) >= 1
    failures = next(
        frame.value for frame in at.dataframe if "What the rep sees" in frame.value.columns
    )
    assert company in list(failures["Company"])
    assert any("token exchange(s) failed for good" in e for e in shown(at.error))
