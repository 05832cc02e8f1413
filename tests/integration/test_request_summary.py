"""The desk reads AWS's summary of a request through its normal client factory (sandbox AWS).

The order is AWS's: the summary exists only once the request does, and Vell may read it only
while the request has no owner account, so the desk asks right after creating the request and
keeps the final answer.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3
import pytest
from sqlmodel import select

from tests.conftest import private_channel
from vell_core.app import Services, build_services
from vell_core.aws.request_summary import NOTICES, SummaryStatus
from vell_core.config.settings import load_settings
from vell_core.domain.errors import NotFound
from vell_core.domain.models import (
    AwsDelegationState,
    DelegationPath,
    ExchangeState,
    InboxStatus,
    NotificationInbox,
)
from vell_core.domain.roles import StaffMember
from vell_core.services import seed
from vell_core.services.delegation import LaunchRequest, new_launch_token
from vell_core.store import migrate
from vell_core.store.engine import read_session
from vell_core.store.seed import SeedStore

CUSTOMER = "602341187520"
STRANGER = "418295730164"
GENERATION = 5  # sandbox seconds, more than the sandbox's summary_seconds


def _services(tmp_path: Path, **overrides: Any) -> Services:
    url = f"sqlite:///{tmp_path / 'summary.db'}"
    migrate.upgrade(url)
    settings = load_settings(
        vell_database_url=url, vell_sandbox_port=0, **private_channel(), **overrides
    )
    graph = build_services(settings, start_background=False)
    seed.seed(SeedStore(graph.engine), datetime.now(UTC))
    return graph


@pytest.fixture
def services(tmp_path: Path) -> Iterator[Services]:
    graph = _services(tmp_path)
    yield graph
    graph.close()


def rep(services: Services, email: str = "maya.chen@vell.ai") -> StaffMember:
    member = services.staff.by_email(email)
    assert member is not None
    return member


def launch(services: Services, path: DelegationPath = DelegationPath.DEMO) -> Any:
    request = LaunchRequest(
        company="Acme Analytics",
        aws_account_id=CUSTOMER,
        path=path,
        launch_token=new_launch_token(),
        wizard_session_id="wiz-summary",
    )
    return services.delegations.launch(rep(services), request)


def customer_iam(services: Services, persona: str, account: str = CUSTOMER) -> Any:
    creds = services.sandbox.persona_credentials(account, persona)
    return boto3.client(
        "iam",
        endpoint_url=services.sandbox.endpoint,
        region_name="us-east-1",
        aws_access_key_id=creds["AccessKeyId"],
        aws_secret_access_key=creds["SecretAccessKey"],
    )


def summary_calls(services: Services) -> list[str]:
    """Every GetHumanReadableSummary the desk's own IAM client sends from now on."""
    calls: list[str] = []
    services.aws.client("iam").meta.events.register(
        "before-call.iam.GetHumanReadableSummary",
        lambda **_: calls.append("GetHumanReadableSummary"),
    )
    return calls


def drain(services: Services) -> None:
    worker = services.new_worker()
    for _ in range(6):
        if worker.run_once(wait_seconds=0).received == 0:
            break


def test_generating_then_available_then_kept_without_asking_aws_again(
    services: Services,
) -> None:
    view = launch(services)
    calls = summary_calls(services)
    first = services.delegations.aws_summary(rep(services), view.id)
    assert first.status is SummaryStatus.GENERATING
    assert not first.final
    assert first.notice == NOTICES[SummaryStatus.GENERATING]
    services.sandbox.advance(GENERATION)
    ready = services.delegations.aws_summary(rep(services), view.id)
    assert ready.status is SummaryStatus.AVAILABLE
    assert ready.content.startswith("Vell (AWS account 253265132499) asks for temporary access")
    assert "for 4 hours" in ready.content
    assert f"arn:aws:aws-marketplace:us-east-1:{CUSTOMER}:AWSMarketplace/*" in ready.content
    assert len(calls) == 2
    again = services.delegations.aws_summary(rep(services), view.id)
    assert again == ready
    assert len(calls) == 2  # kept on the row: no third call
    assert services.delegations.get(rep(services), view.id).aws_summary == ready


def test_the_request_is_created_without_an_owner_account_by_default(services: Services) -> None:
    """Otherwise AWS would never show Vell its summary (the model's access rules)."""
    view = launch(services)
    stored = services.sandbox.state.delegation.requests[view.delegation_request_id]
    assert stored.owner_account_id is None
    assert services.delegations.sent_request(rep(services), view.id).owner_account_pinned is False


def test_the_summary_stays_readable_after_the_customer_opens_the_link(
    services: Services,
) -> None:
    view = launch(services)
    services.delegations.aws_summary(rep(services), view.id)
    services.sandbox.advance(GENERATION)
    ready = services.delegations.aws_summary(rep(services), view.id)
    customer_iam(services, "owner").associate_delegation_request(
        DelegationRequestId=view.delegation_request_id
    )
    with pytest.raises(services.aws.client("iam").exceptions.ClientError) as refused:
        services.aws.client("iam").get_human_readable_summary(
            EntityArn=f"arn:aws:iam::253265132499:delegation-request/{view.delegation_request_id}"
        )
    assert refused.value.response["Error"]["Code"] == "AccessDenied"
    assert services.delegations.aws_summary(rep(services), view.id) == ready


def test_opened_before_aws_finished_is_out_of_reach_and_said_so(services: Services) -> None:
    view = launch(services)
    services.delegations.aws_summary(rep(services), view.id)
    customer_iam(services, "owner").associate_delegation_request(
        DelegationRequestId=view.delegation_request_id
    )
    services.sandbox.advance(GENERATION)
    calls = summary_calls(services)
    late = services.delegations.aws_summary(rep(services), view.id)
    assert late.status is SummaryStatus.OUT_OF_REACH
    assert late.final
    assert "only to the customer's account" in (late.notice or "")
    services.delegations.aws_summary(rep(services), view.id)
    assert len(calls) == 1


def test_a_failed_generation_is_final_with_a_friendly_notice(services: Services) -> None:
    services.sandbox.control.set_config(summary_failures=True)
    try:
        view = launch(services)
        services.delegations.aws_summary(rep(services), view.id)
        services.sandbox.advance(GENERATION)
        failed = services.delegations.aws_summary(rep(services), view.id)
    finally:
        services.sandbox.control.set_config(summary_failures=False)
    assert failed.status is SummaryStatus.FAILED
    assert failed.final
    assert failed.content == ""
    assert "you can still send the link" in (failed.notice or "")


def test_pinning_the_owner_account_puts_the_summary_out_of_reach(tmp_path: Path) -> None:
    graph = _services(tmp_path, vell_pin_owner_account=True)
    try:
        view = launch(graph)
        stored = graph.sandbox.state.delegation.requests[view.delegation_request_id]
        assert stored.owner_account_id == CUSTOMER
        summary = graph.delegations.aws_summary(rep(graph), view.id)
        assert summary.status is SummaryStatus.OUT_OF_REACH
        assert graph.delegations.sent_request(rep(graph), view.id).owner_account_pinned
    finally:
        graph.close()


def test_another_rep_cannot_read_someone_elses_summary(services: Services) -> None:
    view = launch(services)
    with pytest.raises(NotFound):
        services.delegations.aws_summary(rep(services, "diego.alvarez@vell.ai"), view.id)


def test_the_sent_request_is_exactly_the_preview(services: Services) -> None:
    request = LaunchRequest(
        company="Acme Analytics",
        aws_account_id=CUSTOMER,
        path=DelegationPath.TRIAL,
        launch_token=new_launch_token(),
        session_duration=6 * 3600,
    )
    preview = services.delegations.preview(rep(services), request)
    view = services.delegations.launch(rep(services), request)
    sent = services.delegations.sent_request(rep(services), view.id)
    assert sent.policy_pretty == preview.policy_pretty
    assert sent.request_message == preview.request_message
    assert sent.description == preview.description
    assert sent.session_duration == 6 * 3600


def test_an_unpinned_request_opened_by_another_account_never_gives_vell_its_credentials(
    services: Services,
) -> None:
    """The cost of not pinning, contained: a stranger who gets the link may open and approve
    it, but every notification naming their account is quarantined and nothing is exchanged."""
    view = launch(services)
    owner, admin = (customer_iam(services, p, STRANGER) for p in ("owner", "admin"))
    owner.associate_delegation_request(DelegationRequestId=view.delegation_request_id)
    admin.accept_delegation_request(DelegationRequestId=view.delegation_request_id)
    owner.send_delegation_token(DelegationRequestId=view.delegation_request_id)
    drain(services)
    after = services.delegations.get(rep(services), view.id)
    assert after.aws_state is AwsDelegationState.UNASSIGNED
    assert after.exchange_state is ExchangeState.NONE
    with read_session(services.engine) as session:
        statuses = session.exec(select(NotificationInbox.status)).all()
    assert statuses
    assert set(statuses) == {InboxStatus.QUARANTINED}
