"""Hostile input at every entry point: a clear ValidationFailed, and nothing written.

Issue 15 item 1: ``\\d`` accepted other scripts' digits as account ids, which then crashed the
wizard (raw ``TemplateRenderError``), broke demo-link redemption (``NoResultFound``), made
production setup blame "a unique external ID" and let tickets store non-ASCII ids. The property
tests at the end drive the same services with generated hostile values.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from tests.conftest import StoreTemplates, private_channel
from tests.hostile import hostile_text, invalid_account, unicode_digit_accounts
from vell_core.app import Services, build_services
from vell_core.config.settings import load_settings
from vell_core.domain.errors import ValidationFailed, VellError
from vell_core.domain.models import (
    CloudConnection,
    DelegationPath,
    DelegationRequest,
    DemoLinkUse,
    SupportTicket,
)
from vell_core.domain.roles import StaffMember
from vell_core.services.delegation import LaunchRequest, new_launch_token
from vell_core.services.tickets import TicketInput

ACCOUNT = "602341187520"
UNICODE_ACCOUNTS = list(unicode_digit_accounts(ACCOUNT))
SERVICE_EXAMPLES = settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@pytest.fixture(scope="module")
def services(
    tmp_path_factory: pytest.TempPathFactory, store_templates: StoreTemplates
) -> Iterator[Services]:
    folder: Path = tmp_path_factory.mktemp("hostile")
    url = store_templates.copy(folder / "hostile.db", seeded=True)
    settings_ = load_settings(vell_database_url=url, vell_sandbox_port=0, **private_channel())
    graph = build_services(settings_, start_background=False)
    yield graph
    graph.close()


def staff(services: Services, email: str) -> StaffMember:
    member = services.staff.by_email(email)
    assert member is not None
    return member


def rows(services: Services, table: type) -> int:
    with services.engine.connect() as connection:
        return int(connection.execute(select(func.count()).select_from(table)).scalar_one())


def launch_request(company: str, account: str) -> LaunchRequest:
    return LaunchRequest(
        company=company,
        aws_account_id=account,
        path=DelegationPath.DEMO,
        launch_token=new_launch_token(),
        wizard_session_id="wiz-hostile",
    )


# --- item 1: unicode digits are not account ids, at any entry point ---------------------------


@pytest.mark.parametrize("account", UNICODE_ACCOUNTS)
def test_wizard_preview_and_launch_refuse_unicode_digits(services: Services, account: str) -> None:
    rep = staff(services, "maya.chen@vell.ai")
    before = rows(services, DelegationRequest)
    with pytest.raises(ValidationFailed, match="12 digits"):
        services.delegations.preview(rep, launch_request("Acme", account))
    with pytest.raises(ValidationFailed, match="12 digits"):
        services.delegations.launch(rep, launch_request("Acme", account))
    assert rows(services, DelegationRequest) == before


@pytest.mark.parametrize("account", UNICODE_ACCOUNTS)
def test_demo_link_redemption_refuses_unicode_digits_and_keeps_the_link(
    services: Services, account: str
) -> None:
    link = services.demo_links.create(staff(services, "diego.alvarez@vell.ai"), "Acme")
    before = rows(services, DemoLinkUse)
    with pytest.raises(ValidationFailed, match="12 digits"):
        services.demo_links.redeem(link.token, account)
    assert rows(services, DemoLinkUse) == before
    assert services.demo_links.inspect(link.token).company == "Acme"  # still usable


@pytest.mark.parametrize("account", UNICODE_ACCOUNTS)
def test_production_setup_refuses_unicode_digits(services: Services, account: str) -> None:
    before = rows(services, CloudConnection)
    with pytest.raises(ValidationFailed, match="12 digits"):
        services.production_setup.start(
            staff(services, "lena.fischer@vell.ai"), company="Acme", aws_account_id=account
        )
    assert rows(services, CloudConnection) == before


@pytest.mark.parametrize("account", UNICODE_ACCOUNTS)
def test_tickets_refuse_unicode_digit_customers(services: Services, account: str) -> None:
    member = staff(services, "lena.fischer@vell.ai")
    before = rows(services, SupportTicket)
    ticket = TicketInput(
        "ZD-U1", datetime(2026, 1, 5, tzinfo=UTC), "Stack failed", customer=account
    )
    with pytest.raises(ValidationFailed, match="customer"):
        services.tickets.add(member, ticket)
    csv = f"external_ref,opened_at,subject,customer\nZD-U2,2026-01-05,Stack failed,{account}\n"
    report = services.tickets.import_csv(member, csv.encode())
    assert [(e.row, e.column) for e in report.errors] == [(2, "customer")]
    assert rows(services, SupportTicket) == before


def test_a_store_refusal_is_not_reported_as_an_already_used_link(services: Services) -> None:
    """If validation ever lets a bad account through, the check-constraint failure must not be
    swallowed as "already claimed" (it used to end in NoResultFound)."""
    link = services.demo_links.create(staff(services, "diego.alvarez@vell.ai"), "Acme")
    with pytest.raises(ValidationFailed):
        services.demo_links._claim(link.link_id, "12345678901x")  # bypasses the validator
    assert services.demo_links.inspect(link.token).company == "Acme"


def test_a_store_refusal_is_not_blamed_on_the_external_id(services: Services) -> None:
    from vell_core.domain.models import ConnectionVia

    with pytest.raises(ValidationFailed, match="could not be stored"):
        services.connections.create_pending(
            staff(services, "lena.fischer@vell.ai"),
            company="Acme",
            aws_account_id="12345678901x",  # bypasses the validator, as a future bug would
            via=ConnectionVia.CLOUDFORMATION,
        )


# --- property tests: generated hostile values, every service entry point ----------------------


def outcome(call: Callable[..., Any], *args: Any, **kwargs: Any) -> tuple[Any, VellError | None]:
    """(result, None) or (None, the VellError): anything else escapes and fails the test."""
    try:
        return call(*args, **kwargs), None
    except VellError as exc:
        return None, exc


@SERVICE_EXAMPLES
@given(company=st.one_of(st.just("Acme"), hostile_text()), account=hostile_text(account_like=True))
def test_wizard_preview_and_account_step_never_crash(
    services: Services, company: str, account: str
) -> None:
    rep = staff(services, "priya.natarajan@vell.ai")
    preview, error = outcome(services.delegations.preview, rep, launch_request(company, account))
    checked, step_error = outcome(services.delegations.validate_account_info, company, account)
    assert (error is None) == (step_error is None)  # the wizard step and the preview agree
    if error is None:
        assert preview.aws_account_id.isascii()
        assert preview.aws_account_id.isdigit()
        assert checked == (preview.company, preview.aws_account_id)
    else:
        assert isinstance(error, ValidationFailed)
        assert error.message


@SERVICE_EXAMPLES
@given(company=hostile_text(), account=hostile_text(account_like=True).filter(invalid_account))
def test_refused_launch_never_crashes_nor_writes(
    services: Services, company: str, account: str
) -> None:
    before = rows(services, DelegationRequest)
    _, error = outcome(
        services.delegations.launch,
        staff(services, "priya.natarajan@vell.ai"),
        launch_request(company, account),
    )
    assert isinstance(error, ValidationFailed)
    assert error.message
    assert rows(services, DelegationRequest) == before


@pytest.fixture(scope="module")
def open_link(services: Services) -> str:
    return services.demo_links.create(staff(services, "tom.becker@vell.ai"), "Acme").token


@SERVICE_EXAMPLES
@given(account=hostile_text(account_like=True).filter(invalid_account))
def test_refused_demo_link_redemption_never_crashes_nor_uses_the_link(
    services: Services, open_link: str, account: str
) -> None:
    before = rows(services, DemoLinkUse)
    with pytest.raises(ValidationFailed) as refused:
        services.demo_links.redeem(open_link, account)
    assert "12 digits" in refused.value.message
    assert rows(services, DemoLinkUse) == before
    assert services.demo_links.inspect(open_link).company == "Acme"


@SERVICE_EXAMPLES
@given(company=st.one_of(st.just("Acme"), hostile_text()), account=hostile_text(account_like=True))
def test_production_setup_never_crashes(services: Services, company: str, account: str) -> None:
    member = staff(services, "omar.haddad@vell.ai")
    view, error = outcome(
        services.production_setup.start, member, company=company, aws_account_id=account
    )
    if error is not None:
        assert error.message
        assert "unique external ID" not in error.message
    else:
        assert view.aws_account_id.isascii()
        assert view.aws_account_id.isdigit()


@SERVICE_EXAMPLES
@given(
    ref=hostile_text(),
    subject=hostile_text(),
    customer=st.one_of(st.just(""), hostile_text(account_like=True)),
    company=st.one_of(st.just(""), hostile_text()),
)
def test_manual_ticket_entry_never_crashes(
    services: Services, ref: str, subject: str, customer: str, company: str
) -> None:
    member = staff(services, "lena.fischer@vell.ai")
    ticket = TicketInput(
        ref or None, datetime(2026, 1, 5, tzinfo=UTC), subject, "setup", customer, company
    )
    view, error = outcome(services.tickets.add, member, ticket)
    if error is not None:
        assert isinstance(error, ValidationFailed)
        assert error.message
    else:
        assert view.customer is None or (view.customer.isascii() and view.customer.isdigit())
        stored = view.subject + (view.company or "") + (view.external_ref or "")
        assert "\x00" not in stored


# --- item 5: the smaller edges ----------------------------------------------------------------


def test_sync_choices_without_a_member_is_a_permission_error(services: Services) -> None:
    from vell_core.domain.errors import PermissionDenied

    with pytest.raises(PermissionDenied):
        services.sync.choices(None)


def test_an_identity_without_email_verified_does_not_sign_in(services: Services) -> None:
    assert services.staff.from_identity("maya.chen@vell.ai", email_verified=None) is None
    assert services.staff.from_identity("maya.chen@vell.ai", email_verified=True) is not None


def test_questionnaire_errors_say_what_is_expected_not_the_placeholder(
    services: Services,
) -> None:
    admin = staff(services, "sam.patel@vell.ai")
    bad = {
        "staging_account_id": UNICODE_ACCOUNTS[0],
        "contact_emails": "[alex@vell.ai], [team@vell.ai]",
        "partner_id": "P-12\x00",
    }
    with pytest.raises(ValidationFailed) as refused:
        services.partner_onboarding.set_profile(admin, bad)
    fields = refused.value.fields
    assert fields["Staging account ID"] == "expected a 12-digit AWS account id (digits 0-9 only)"
    assert "Your staging" not in refused.value.message
    assert fields["Contact emails"].endswith("e.g. alex@vell.ai, team@vell.ai")
    assert "]" not in fields["Contact emails"]
    assert "Partner ID" in fields
    assert all(
        entry.value == "" for entry in services.partner_onboarding.profile(admin)
    )  # nothing saved


@pytest.mark.parametrize(
    "base", ["http://localhost:8501", "https://user@desk.vell.ai", "https://desk.vell.ai/?a=b:c"]
)
def test_a_base_url_aws_would_refuse_stops_start_up_with_its_name(base: str) -> None:
    from vell_core.domain.errors import ConfigurationError

    with pytest.raises(ConfigurationError, match="VELL_APP_BASE_URL must be"):
        load_settings(vell_app_base_url=base)
