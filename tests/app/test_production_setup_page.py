"""AppTest: the CloudFormation production setup, from external ID to a validated connection.

The customer's side goes through the link the page shows: the sandbox console's quick-create
page, read and submitted over HTTP as a browser would (``tests.cfn_console``).
"""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import urlsplit

from sqlmodel import select
from streamlit.testing.v1 import AppTest

from tests.app.test_trials_desk_page import prod_page
from tests.cfn_console import create_stack
from vell_core.app import Services
from vell_core.domain.models import CloudConnection, ConnectionStatus
from vell_core.store.engine import session_scope

__all__ = ["prod_page"]  # fixture
PAGE = "pages/production_setup.py"
ACCOUNT = "555000066001"


def start_setup(at: AppTest, company: str, account: str) -> None:
    at.run()
    assert not at.exception
    at.text_input(key="ps_company").set_value(company)
    at.text_input(key="ps_account").set_value(account)
    at.button[0].click().run()  # the form's submit button
    assert not at.exception


def shown_codes(at: AppTest) -> list[str]:
    return [code.value for code in at.code]


def connection(services: Services, account: str) -> CloudConnection:
    with session_scope(services.engine) as session:
        row = session.exec(
            select(CloudConnection).where(CloudConnection.aws_account_id == account)
        ).first()
    assert row is not None
    return row


def test_send_the_link_shows_the_link_itself_and_the_external_id(
    prod_page: Callable[..., AppTest], app_services: Services
) -> None:
    at = prod_page(PAGE, as_email="lena.fischer@vell.ai")
    start_setup(at, "Link Page Co", "5550-0006-6002")
    link, external_id = shown_codes(at)[:2]
    assert external_id.startswith("vell-")
    assert f"param_ExternalId={external_id}" in link
    # In the sandbox the link opens the sandbox's console, at the real console's path.
    parts = urlsplit(link)
    assert f"{parts.scheme}://{parts.netloc}" == app_services.sandbox.endpoint
    assert parts.path == "/cloudformation/home"
    assert parts.fragment.startswith("/stacks/quickcreate?")
    assert [b.label for b in at.get("link_button")] == ["Open the sandbox AWS console"]


def test_generate_link_then_create_the_stack_in_the_sandbox_console_then_validate(
    prod_page: Callable[..., AppTest], app_services: Services
) -> None:
    at = prod_page(PAGE, as_email="lena.fischer@vell.ai")
    start_setup(at, "Setup Page Co", "5550-0006-6001")
    link = shown_codes(at)[0]

    at.text_input(key="ps_role_arn").set_value("arn:aws:iam::555000066001:user/bob").run()
    at.button(key="ps_validate").click().run()
    assert any("not an IAM role ARN" in w.value for w in at.warning)

    role_arn = create_stack(link, ACCOUNT)
    at.text_input(key="ps_role_arn").set_value(role_arn).run()
    at.button(key="ps_validate").click().run()
    assert not at.exception
    assert any("is active" in s.value for s in at.success)
    assert connection(app_services, ACCOUNT).status is ConnectionStatus.ACTIVE


def test_validating_an_empty_role_arn_says_what_to_paste(
    prod_page: Callable[..., AppTest], app_services: Services
) -> None:
    at = prod_page(PAGE, as_email="lena.fischer@vell.ai")
    start_setup(at, "Empty Arn Co", "555000066003")
    at.button(key="ps_validate").click().run()
    assert not at.exception
    labels = [s.proto.label for s in at.get("status")]
    assert "Not connected yet: No RoleArn was pasted yet." in labels
    assert any("copy the RoleArn value from its Outputs tab" in w.value for w in at.warning)
    row = connection(app_services, "555000066003")
    assert row.status is ConnectionStatus.PENDING
    assert row.last_validated_at is None  # nothing was tried, so nothing is recorded
