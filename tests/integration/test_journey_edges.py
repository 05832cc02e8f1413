"""Where the delegation journeys end: expiry, renewal, refusals in AWS's words, one
production rule, and request texts that say what each path grants."""

from __future__ import annotations

import pytest
from sqlmodel import select

from tests.integration import test_delegation_flow as flow
from tests.integration.test_delegation_flow import CUSTOMER, customer_iam, drain, launch, rep
from vell_core.app import Services
from vell_core.domain.errors import AwsConflict, NotFound, ValidationFailed
from vell_core.domain.models import (
    CloudConnection,
    ConnectionStatus,
    DelegationPath,
    DelegationStatus,
)
from vell_core.services.customer_console import ConsoleAction, Persona
from vell_core.services.delegation import DelegationFilter, LaunchRequest, new_launch_token
from vell_core.store.engine import session_scope

services = flow.services  # the same sandbox-backed service graph fixture


def approve(services: Services, view) -> None:
    owner = customer_iam(services, "owner")
    owner.associate_delegation_request(DelegationRequestId=view.delegation_request_id)
    customer_iam(services, "admin").accept_delegation_request(
        DelegationRequestId=view.delegation_request_id
    )
    owner.send_delegation_token(DelegationRequestId=view.delegation_request_id)
    drain(services)


def test_an_approved_demo_reads_expired_once_its_access_ends(services: Services) -> None:
    view = launch(services)
    approve(services, view)
    member = rep(services)
    approved = services.delegations.get(member, view.id)
    assert approved.display_status(services.clock.now()) is DelegationStatus.APPROVED
    services.sandbox.advance(4 * 3600 + 1)
    now = services.clock.now()
    ended = services.delegations.get(member, view.id)
    assert ended.display_status(now) is DelegationStatus.EXPIRED
    assert ended.ended_at(now) == ended.credentials_expire_at
    expired = services.delegations.list(
        member, DelegationFilter(statuses=(DelegationStatus.EXPIRED,))
    )
    assert view.id in {v.id for v in expired}
    still_approved = services.delegations.list(
        member, DelegationFilter(statuses=(DelegationStatus.APPROVED,))
    )
    assert view.id not in {v.id for v in still_approved}


def test_renewal_prefills_the_same_customer_and_path(services: Services) -> None:
    view = launch(services, DelegationPath.TRIAL, hours=6)
    draft = services.delegations.renewal(rep(services), view.id)
    assert (draft.company, draft.aws_account_id, draft.path, draft.hours) == (
        "Acme Analytics",
        CUSTOMER,
        DelegationPath.TRIAL,
        6,
    )


def test_another_rep_cannot_renew_my_demo(services: Services) -> None:
    view = launch(services)
    with pytest.raises(NotFound):
        services.delegations.renewal(rep(services, "diego.alvarez@vell.ai"), view.id)


def test_onboarding_requests_are_not_renewable(services: Services) -> None:
    view = launch(services, DelegationPath.ONBOARDING)
    with pytest.raises(ValidationFailed, match="cannot be renewed"):
        services.delegations.renewal(rep(services), view.id)


def test_an_account_in_production_gets_no_second_onboarding_request(services: Services) -> None:
    with session_scope(services.engine) as session:
        active = session.exec(
            select(CloudConnection).where(CloudConnection.status == ConnectionStatus.ACTIVE)
        ).first()
        assert active is not None
        account = active.aws_account_id
    request = LaunchRequest(
        company="Promoted Co",
        aws_account_id=account,
        path=DelegationPath.ONBOARDING,
        launch_token=new_launch_token(),
    )
    with pytest.raises(ValidationFailed, match="already in production"):
        services.delegations.launch(rep(services), request)
    demo = LaunchRequest(
        company="Promoted Co",
        aws_account_id=account,
        path=DelegationPath.DEMO,
        launch_token=new_launch_token(),
    )
    assert services.delegations.preview(rep(services), demo)  # a demo is still fine


def test_each_path_describes_what_it_grants(services: Services) -> None:
    texts = {
        path: services.delegations.preview(
            rep(services),
            LaunchRequest(
                company="Acme", aws_account_id=CUSTOMER, path=path, launch_token=new_launch_token()
            ),
        ).description
        for path in DelegationPath
    }
    assert "read-only" in texts[DelegationPath.DEMO]
    assert "update your listings" in texts[DelegationPath.TRIAL]
    assert "create one IAM role" in texts[DelegationPath.ONBOARDING]
    assert len(set(texts.values())) == 3


def test_root_approval_of_a_trial_says_why_in_plain_words(services: Services) -> None:
    view = launch(services, DelegationPath.TRIAL, hours=12)
    customer_iam(services, "owner").associate_delegation_request(
        DelegationRequestId=view.delegation_request_id
    )
    with pytest.raises(AwsConflict) as refused:
        services.customer_console.act(
            rep(services), CUSTOMER, view.delegation_request_id, Persona.ROOT, ConsoleAction.ACCEPT
        )
    assert "root user can approve requests of 4 hours or less" in refused.value.message
    assert "conflict" not in refused.value.message
