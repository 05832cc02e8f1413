"""The sandbox side of exchange tests: launch and approve, count redemptions, script wire faults."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import boto3
import pytest
from botocore.awsrequest import AWSResponse
from botocore.exceptions import ConnectionClosedError

from vell_core.app import Services
from vell_core.domain.roles import StaffMember
from vell_core.services.delegation import DelegationView, LaunchRequest, new_launch_token
from vell_core.services.faults import FaultHook, no_faults
from vell_core.services.worker import NotificationWorker

CUSTOMER = "602341187520"
OTHER_CUSTOMER = "418295730164"
STS_ERROR = (
    '<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><Error>'
    "<Type>{kind}</Type><Code>{code}</Code><Message>{code}</Message></Error>"
    "<RequestId>c0ffee00-0000-4000-8000-000000000000</RequestId></ErrorResponse>"
)


def rep(services: Services) -> StaffMember:
    member = services.staff.by_email("maya.chen@vell.ai")
    assert member is not None
    return member


def launch(services: Services, account: str = CUSTOMER, company: str = "Acme") -> DelegationView:
    request = LaunchRequest(
        company=company,
        aws_account_id=account,
        path="demo",  # type: ignore[arg-type]
        launch_token=new_launch_token(),
        wizard_session_id=f"wiz-{account}",
    )
    return services.delegations.launch(rep(services), request)


def customer_iam(services: Services, account: str, persona: str) -> Any:
    creds = services.sandbox.persona_credentials(account, persona)
    return boto3.client(
        "iam",
        endpoint_url=services.sandbox.endpoint,
        region_name="us-east-1",
        aws_access_key_id=creds["AccessKeyId"],
        aws_secret_access_key=creds["SecretAccessKey"],
    )


def approve(services: Services, view: DelegationView, account: str = CUSTOMER) -> None:
    """The customer's owner and admin associate, accept and send: AWS releases the token."""
    request_id = view.delegation_request_id
    customer_iam(services, account, "owner").associate_delegation_request(
        DelegationRequestId=request_id
    )
    customer_iam(services, account, "admin").accept_delegation_request(
        DelegationRequestId=request_id
    )
    customer_iam(services, account, "owner").send_delegation_token(DelegationRequestId=request_id)


def reject(services: Services, view: DelegationView, account: str) -> None:
    request_id = view.delegation_request_id
    iam = customer_iam(services, account, "owner")
    iam.associate_delegation_request(DelegationRequestId=request_id)
    iam.reject_delegation_request(DelegationRequestId=request_id, Notes="not now")


def drain(
    services: Services, rounds: int = 8, fault_hook: FaultHook = no_faults, visibility: int = 30
) -> None:
    """Run a worker until the queue is empty (no long polling: everything is already there)."""
    runner = NotificationWorker(
        sqs=services.aws.client("sqs"),
        queue_url=str(services.settings.vell_delegation_queue_url),
        processor=services.processor,
        inbox=services.inbox,
        clock=services.clock,
        visibility_timeout=visibility,
        fault_hook=fault_hook,
    )
    for _ in range(rounds):
        if runner.run_once(wait_seconds=0).received == 0:
            return


def take_messages(services: Services) -> list[dict[str, Any]]:
    """Receive (and delete) every message on the queue: the inner IAM notifications."""
    sqs = services.aws.client("sqs")
    url = str(services.settings.vell_delegation_queue_url)
    inner: list[dict[str, Any]] = []
    while True:
        batch = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=0)
        messages = batch.get("Messages", [])
        if not messages:
            return inner
        for message in messages:
            inner.append(json.loads(json.loads(message["Body"])["Message"]))
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])


class Redemptions:
    """Counts the tokens the sandbox's STS actually redeemed (credentials it minted)."""

    def __init__(self, services: Services, monkeypatch: pytest.MonkeyPatch) -> None:
        self.count = 0
        identities = services.sandbox.state.identities
        original = identities.register_delegated

        def counting(**kwargs: Any) -> Any:
            self.count += 1
            return original(**kwargs)

        monkeypatch.setattr(identities, "register_delegated", counting)


class _Body:
    def __init__(self, data: bytes) -> None:
        self._data = data

    def stream(self, **_: Any) -> Iterator[bytes]:
        yield self._data


@contextmanager
def sts_faults(services: Services, faults: list[str]) -> Iterator[list[str]]:
    """The next GetDelegatedAccessToken calls fail on the wire, one fault each, in order.

    ``"503"`` answers ServiceUnavailable, ``"throttle"`` answers Throttling (400), ``"drop"``
    drops the connection. The call never reaches the sandbox. Yields the faults still pending.
    """
    client = services.processor.partner_aws.client("sts")
    pending = list(faults)

    def before_send(request: Any, **_: Any) -> AWSResponse | None:
        if not pending:
            return None
        fault = pending.pop(0)
        if fault == "drop":
            raise ConnectionClosedError(endpoint_url=request.url)
        status, code, kind = (
            (503, "ServiceUnavailable", "Receiver")
            if fault == "503"
            else (400, "Throttling", "Sender")
        )
        body = STS_ERROR.format(code=code, kind=kind).encode()
        return AWSResponse(request.url, status, {"Content-Type": "text/xml"}, _Body(body))

    event = "before-send.sts.GetDelegatedAccessToken"
    client.meta.events.register(event, before_send, unique_id="exchange-faults")
    try:
        yield pending
    finally:
        client.meta.events.unregister(event, unique_id="exchange-faults")
