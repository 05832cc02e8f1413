"""The exchange against the sandbox AWS: wire-level STS faults, a worker dying before the SQS
delete, an expired token, and another request's token, through SNS → SQS → worker."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import text

from tests.conftest import GraphFactory
from tests.integration.exchange_sandbox_helpers import (
    CUSTOMER,
    OTHER_CUSTOMER,
    Redemptions,
    approve,
    drain,
    launch,
    reject,
    rep,
    sts_faults,
    take_messages,
)
from tests.integration.ingest_helpers import FakeVerifier, envelope
from vell_core.app import Services
from vell_core.domain.models import ExchangeState
from vell_core.services.faults import BEFORE_DELETE
from vell_core.services.ingest import NotificationProcessor, Outcome


class Killed(BaseException):
    """The worker died here."""


@pytest.fixture
def services(make_services: GraphFactory) -> Services:
    return make_services()


@pytest.fixture
def redemptions(services: Services, monkeypatch: pytest.MonkeyPatch) -> Redemptions:
    return Redemptions(services, monkeypatch)


def audit_count(services: Services, delegation_id: int, outcome: str) -> int:
    with services.engine.connect() as connection:
        return int(
            connection.execute(
                text(
                    "SELECT count(*) FROM audit_log WHERE delegation_id = :d "
                    "AND action = 'sts.GetDelegatedAccessToken' AND outcome = :o"
                ),
                {"d": delegation_id, "o": outcome},
            ).scalar()
            or 0
        )


@pytest.mark.parametrize("faults", [["503"], ["throttle"], ["drop"], ["503", "drop", "503"]])
def test_transient_sts_faults_on_the_wire_end_with_credentials(
    services: Services, redemptions: Redemptions, faults: list[str]
) -> None:
    view = launch(services)
    approve(services, view)
    with sts_faults(services, faults) as pending:
        drain(services)
    assert pending == []  # every fault was hit
    final = services.delegations.get(rep(services), view.id)
    assert final.exchange_state is ExchangeState.DONE
    assert final.exchange_attempts == len(faults) + 1
    assert redemptions.count == 1  # the faults never reached AWS; the one real call did
    assert audit_count(services, view.id, "ok") == 1
    clients = services.customer_access.for_delegation(rep(services), view.id)
    assert clients.client("sts").get_caller_identity()["Account"] == CUSTOMER


def test_more_faults_than_attempts_wait_for_redelivery_then_succeed(
    services: Services, redemptions: Redemptions
) -> None:
    view = launch(services)
    approve(services, view)
    attempts = services.settings.vell_exchange_max_attempts
    with sts_faults(services, ["503"] * attempts):
        drain(services, rounds=1, visibility=0)  # one worker round: every attempt fails
    retrying = services.delegations.get(rep(services), view.id)
    assert retrying.exchange_state is ExchangeState.RETRYING
    notice = retrying.exchange_notice(services.clock.now())
    assert notice is not None
    assert not notice.final
    assert f"retrying: {attempts} attempts" in notice.message
    drain(services, visibility=0)  # SQS redelivers: the token is still good
    assert services.delegations.get(rep(services), view.id).exchange_state is ExchangeState.DONE
    assert redemptions.count == 1
    assert audit_count(services, view.id, "ok") == 1


def test_a_worker_killed_before_the_delete_changes_nothing_on_redelivery(
    services: Services, redemptions: Redemptions
) -> None:
    view = launch(services)
    approve(services, view)

    def die(step: str) -> None:
        if step == BEFORE_DELETE:
            raise Killed(step)

    kills = 0
    for _ in range(4):  # every message dies once before its delete; redelivery follows at once
        try:
            drain(services, rounds=1, fault_hook=die, visibility=0)
            break
        except Killed:
            kills += 1
    drain(services, visibility=0)
    assert kills >= 1
    final = services.delegations.get(rep(services), view.id)
    assert final.exchange_state is ExchangeState.DONE
    assert redemptions.count == 1
    assert audit_count(services, view.id, "ok") == 1


def test_an_expired_token_is_a_final_failure_shown_to_the_rep(
    services: Services, redemptions: Redemptions
) -> None:
    view = launch(services)
    approve(services, view)
    services.sandbox.advance(timedelta(hours=5).total_seconds())  # the 4 h demo is over
    drain(services)
    final = services.delegations.get(rep(services), view.id)
    assert final.exchange_state is ExchangeState.FAILED
    assert final.exchange_error_code == "ExpiredTradeInTokenException"
    notice = final.exchange_notice(services.clock.now())
    assert notice is not None
    assert notice.final
    assert notice.message.startswith("AWS would not exchange the token: the token had expired")
    assert notice.action_company == "Acme"
    assert redemptions.count == 0
    assert services.vault.get(view.id) is None


def fake_verified_processor(services: Services) -> NotificationProcessor:
    """The app's processor, except that it trusts the envelope (we forge the inner message)."""
    return NotificationProcessor(
        store=services.inbox,
        clock=services.clock,
        verifier=FakeVerifier(),  # type: ignore[arg-type]
        partner_aws=services.processor.partner_aws,
        vault=services.vault,
        audit=services.audit,
    )


def workflow_of(services: Services, delegation_id: int) -> str:
    with services.engine.connect() as connection:
        return str(
            connection.execute(
                text("SELECT requestor_workflow_id FROM delegation_requests WHERE id = :d"),
                {"d": delegation_id},
            ).scalar()
        )


def token_of(messages: list[dict], request_id: str) -> dict:
    return next(
        m for m in messages if m["Type"] == "ExchangeToken" and m["RequestId"] == request_id
    )


def test_another_requests_token_is_redeemed_checked_and_discarded(
    services: Services, redemptions: Redemptions
) -> None:
    a = launch(services, CUSTOMER, "Acme")
    b = launch(services, OTHER_CUSTOMER, "Borealis")
    approve(services, a, CUSTOMER)
    a_token = token_of(take_messages(services), a.delegation_request_id)
    poisoned = {
        **a_token,
        "RequestId": b.delegation_request_id,
        "RequestorWorkflowId": workflow_of(services, b.id),
        "OwnerAccountId": OTHER_CUSTOMER,
    }
    processor = fake_verified_processor(services)
    assert processor.process(envelope(poisoned)) is Outcome.QUARANTINED
    assert redemptions.count == 1  # AWS did mint A's credentials; we threw them away
    b_now = services.delegations.get(rep(services), b.id)
    assert b_now.exchange_state is ExchangeState.NONE
    assert b_now.credentials_expire_at is None
    assert services.vault.get(b.id) is None
    assert audit_count(services, b.id, "refused identity") == 1
    assert processor.process(envelope(a_token)) is Outcome.APPLIED  # A's own still works
    assert services.delegations.get(rep(services), a.id).exchange_state is ExchangeState.DONE


def test_no_exchange_for_a_rejected_request(services: Services, redemptions: Redemptions) -> None:
    a = launch(services, CUSTOMER, "Acme")
    b = launch(services, OTHER_CUSTOMER, "Borealis")
    reject(services, b, OTHER_CUSTOMER)
    drain(services)
    approve(services, a, CUSTOMER)
    a_token = token_of(take_messages(services), a.delegation_request_id)
    poisoned = {
        **a_token,
        "RequestId": b.delegation_request_id,
        "RequestorWorkflowId": workflow_of(services, b.id),
        "OwnerAccountId": OTHER_CUSTOMER,
    }
    assert fake_verified_processor(services).process(envelope(poisoned)) is Outcome.QUARANTINED
    assert redemptions.count == 0
    assert services.delegations.get(rep(services), b.id).status.value == "rejected"
