"""The whole lifecycle against the sandbox with plain boto3 as the customer: launch, approve,
notify through SNS → SQS → worker, exchange, and use the credentials in the customer's account."""

from __future__ import annotations

import boto3
import pytest

from tests.conftest import GraphFactory
from vell_core.app import Services
from vell_core.domain.errors import AwsConflict, CredentialsUnavailable, NotFound, PermissionDenied
from vell_core.domain.models import (
    AwsDelegationState,
    DelegationPath,
    DelegationStatus,
    ExchangeState,
)
from vell_core.domain.roles import StaffMember
from vell_core.services.delegation import LaunchRequest, create_request_kwargs, new_launch_token

CUSTOMER = "602341187520"


@pytest.fixture
def services(make_services: GraphFactory) -> Services:
    return make_services()


def rep(services: Services, email: str = "maya.chen@vell.ai") -> StaffMember:
    member = services.staff.by_email(email)
    assert member is not None
    return member


def customer_iam(services: Services, persona: str):
    creds = services.sandbox.persona_credentials(CUSTOMER, persona)
    return boto3.client(
        "iam",
        endpoint_url=services.sandbox.endpoint,
        region_name="us-east-1",
        aws_access_key_id=creds["AccessKeyId"],
        aws_secret_access_key=creds["SecretAccessKey"],
    )


def drain(services: Services, rounds: int = 6) -> None:
    worker = services.new_worker()
    for _ in range(rounds):
        if worker.run_once(wait_seconds=0).received == 0:
            break


def launch(
    services: Services,
    path: DelegationPath = DelegationPath.DEMO,
    token: str | None = None,
    hours: int | None = None,
):
    request = LaunchRequest(
        company="Acme Analytics",
        aws_account_id=CUSTOMER,
        path=path,
        launch_token=token or new_launch_token(),
        session_duration=hours * 3600 if hours else None,
        wizard_session_id="wiz-test",
    )
    return services.delegations.launch(rep(services), request)


def test_demo_end_to_end_reaches_working_customer_credentials(services: Services) -> None:
    view = launch(services)
    assert view.aws_state is AwsDelegationState.UNASSIGNED
    assert view.console_deep_link.endswith(view.delegation_request_id)
    owner, admin = customer_iam(services, "owner"), customer_iam(services, "admin")
    owner.associate_delegation_request(DelegationRequestId=view.delegation_request_id)
    admin.accept_delegation_request(DelegationRequestId=view.delegation_request_id)
    owner.send_delegation_token(DelegationRequestId=view.delegation_request_id)
    drain(services)
    final = services.delegations.get(rep(services), view.id)
    assert final.aws_state is AwsDelegationState.FINALIZED
    assert final.status is DelegationStatus.APPROVED
    assert final.exchange_state is ExchangeState.DONE
    assert final.approver_id.endswith(":user/customer-admin")
    assert [e.state for e in final.timeline] == [
        AwsDelegationState.UNASSIGNED,
        AwsDelegationState.ASSIGNED,
        AwsDelegationState.ACCEPTED,
        AwsDelegationState.FINALIZED,
    ]
    clients = services.customer_access.for_delegation(rep(services), view.id)
    identity = clients.client("sts").get_caller_identity()
    assert identity["Account"] == CUSTOMER
    assert final.credentials_live(services.clock.now())


def test_a_retried_launch_creates_one_aws_request(services: Services) -> None:
    token = new_launch_token()
    first = launch(services, token=token)
    second = launch(services, token=token)
    assert first.id == second.id
    assert first.delegation_request_id == second.delegation_request_id
    assert len(services.sandbox.state.delegation.requests) == 1


def test_a_lost_create_response_is_recovered_not_duplicated(services: Services) -> None:
    token = new_launch_token()
    member = rep(services)
    request = LaunchRequest(
        company="Acme Analytics",
        aws_account_id=CUSTOMER,
        path=DelegationPath.DEMO,
        launch_token=token,
    )
    preview = services.delegations.preview(member, request)
    from vell_core.services.delegation import workflow_id_for

    kwargs = create_request_kwargs(
        preview, workflow_id_for(token), str(services.settings.aws_delegation_sns_topic_arn)
    )
    created = services.aws.client("iam").create_delegation_request(**kwargs)  # "lost" reply
    view = services.delegations.launch(member, request)
    assert view.delegation_request_id is None
    assert view.last_error
    assert len(services.sandbox.state.delegation.requests) == 1
    customer_iam(services, "owner").associate_delegation_request(
        DelegationRequestId=created["DelegationRequestId"]
    )
    drain(services)
    recovered = services.delegations.get(member, view.id)
    assert recovered.delegation_request_id == created["DelegationRequestId"]
    assert recovered.aws_state is AwsDelegationState.ASSIGNED


def test_forward_to_admin_then_reject_shows_each_state(services: Services) -> None:
    view = launch(services)
    owner = customer_iam(services, "owner")
    owner.associate_delegation_request(DelegationRequestId=view.delegation_request_id)
    owner.update_delegation_request(
        DelegationRequestId=view.delegation_request_id, Notes="Needed for the Vell demo call"
    )
    drain(services)
    assert services.delegations.get(rep(services), view.id).aws_state is (
        AwsDelegationState.PENDING_APPROVAL
    )
    customer_iam(services, "admin").reject_delegation_request(
        DelegationRequestId=view.delegation_request_id, Notes="Not this quarter"
    )
    drain(services)
    final = services.delegations.get(rep(services), view.id)
    assert final.status is DelegationStatus.REJECTED
    with pytest.raises(CredentialsUnavailable):
        services.customer_access.for_delegation(rep(services), view.id)


def test_root_cannot_approve_a_twelve_hour_trial(services: Services) -> None:
    view = launch(services, DelegationPath.TRIAL, hours=12)
    customer_iam(services, "owner").associate_delegation_request(
        DelegationRequestId=view.delegation_request_id
    )
    from vell_core.services.customer_console import ConsoleAction, Persona

    with pytest.raises(AwsConflict):
        services.customer_console.act(
            rep(services), CUSTOMER, view.delegation_request_id, Persona.ROOT, ConsoleAction.ACCEPT
        )


def test_credentials_expire_with_the_delegation(services: Services) -> None:
    view = launch(services)
    owner = customer_iam(services, "owner")
    owner.associate_delegation_request(DelegationRequestId=view.delegation_request_id)
    customer_iam(services, "admin").accept_delegation_request(
        DelegationRequestId=view.delegation_request_id
    )
    owner.send_delegation_token(DelegationRequestId=view.delegation_request_id)
    drain(services)
    assert services.customer_access.for_delegation(rep(services), view.id)
    services.sandbox.advance(4 * 3600 + 1)
    with pytest.raises(CredentialsUnavailable):
        services.customer_access.for_delegation(rep(services), view.id)


def test_another_rep_cannot_use_my_demo(services: Services) -> None:
    view = launch(services)
    with pytest.raises(PermissionDenied):
        services.customer_access.for_delegation(rep(services, "diego.alvarez@vell.ai"), view.id)


def test_change_token_moves_exactly_when_the_request_changes(services: Services) -> None:
    """The wizard's live view re-reads only when this token moves (issue 13)."""
    view = launch(services)
    member = rep(services)
    before = services.delegations.change_token(member, view.id)
    assert services.delegations.change_token(member, view.id) == before
    customer_iam(services, "owner").associate_delegation_request(
        DelegationRequestId=view.delegation_request_id
    )
    drain(services)
    after = services.delegations.change_token(member, view.id)
    assert after != before
    assert services.delegations.get(member, view.id).aws_state is AwsDelegationState.ASSIGNED


def test_change_token_is_refused_for_another_reps_request(services: Services) -> None:
    view = launch(services)
    with pytest.raises(NotFound):
        services.delegations.change_token(rep(services, "diego.alvarez@vell.ai"), view.id)
