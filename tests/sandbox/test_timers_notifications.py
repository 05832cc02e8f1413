"""State timers on the sandbox clock, and SNS → SQS delivery of IAM's notifications."""

from __future__ import annotations

import base64
import json
from datetime import datetime, timedelta
from typing import Any

import pytest
import requests
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding

from tests.sandbox.conftest import (
    CONFIG,
    CUSTOMER,
    ClientMaker,
    create_kwargs,
    drain_notifications,
    finalize,
)

DAY = 86400


def _create(partner_iam: Any, **overrides: Any) -> str:
    return str(
        partner_iam.create_delegation_request(**create_kwargs(**overrides))["DelegationRequestId"]
    )


def test_unassigned_expires_after_one_day(
    control: Any, partner_iam: Any, make_client: ClientMaker, partner: dict[str, str]
) -> None:
    request_id = _create(partner_iam)
    control.advance(DAY - 60)
    assert (
        partner_iam.get_delegation_request(DelegationRequestId=request_id)["DelegationRequest"][
            "State"
        ]
        == "UNASSIGNED"
    )
    control.advance(120)
    request = partner_iam.get_delegation_request(DelegationRequestId=request_id)
    assert request["DelegationRequest"]["State"] == "EXPIRED"
    (message,) = drain_notifications(make_client, partner)
    assert message["inner"]["Type"] == "StateChange"
    assert message["inner"]["State"] == "EXPIRED"
    assert "OwnerAccountId" not in message["inner"]  # Q12: unknown owner is omitted


def test_other_states_expire_after_seven_days_and_timer_resets(
    control: Any, partner_iam: Any, owner_iam: Any
) -> None:
    request_id = _create(partner_iam)
    control.advance(DAY - 60)
    owner_iam.associate_delegation_request(DelegationRequestId=request_id)
    control.advance(6 * DAY)
    owner_iam.update_delegation_request(DelegationRequestId=request_id)  # timer restarts
    control.advance(6 * DAY)
    get = owner_iam.get_delegation_request
    request = get(DelegationRequestId=request_id)["DelegationRequest"]
    assert request["State"] == "PENDING_APPROVAL"
    assert (request["ExpirationTime"] - request["UpdatedTime"]).total_seconds() == 7 * DAY
    control.advance(DAY + 1)
    assert get(DelegationRequestId=request_id)["DelegationRequest"]["State"] == "EXPIRED"


def test_expired_requests_disappear_after_retention(control: Any, partner_iam: Any) -> None:
    request_id = _create(partner_iam)
    control.advance(DAY + 1)
    control.advance(30 * DAY + 1)
    with pytest.raises(partner_iam.exceptions.NoSuchEntityException):
        partner_iam.get_delegation_request(DelegationRequestId=request_id)


def test_state_change_for_every_transition_and_token_on_finalize(
    partner_iam: Any, owner_iam: Any, make_client: ClientMaker, partner: dict[str, str]
) -> None:
    request_id = finalize(partner_iam, owner_iam, RequestorWorkflowId="wf-notify-1")
    messages = drain_notifications(make_client, partner)
    kinds = [(m["inner"]["Type"], m["inner"]["State"]) for m in messages]
    assert kinds[:2] == [("StateChange", "ASSIGNED"), ("StateChange", "ACCEPTED")]
    assert sorted(kinds[2:]) == [("ExchangeToken", "FINALIZED"), ("StateChange", "FINALIZED")]
    token_message = next(m for m in messages if m["inner"]["Type"] == "ExchangeToken")
    inner = token_message["inner"]
    assert set(inner) == {
        "Type",
        "RequestId",
        "RequestorWorkflowId",
        "State",
        "OwnerAccountId",
        "UpdatedAt",
        "ExchangeToken",
        "ExpiresAt",
    }
    assert inner["RequestId"] == request_id
    assert inner["RequestorWorkflowId"] == "wf-notify-1"
    assert inner["OwnerAccountId"] == CUSTOMER
    assert inner["ExchangeToken"].startswith("eyJ")
    released = datetime.fromisoformat(inner["UpdatedAt"].replace("Z", "+00:00"))
    expires = datetime.fromisoformat(inner["ExpiresAt"].replace("Z", "+00:00"))
    assert expires - released == timedelta(seconds=3600)
    envelope = token_message["envelope"]
    assert envelope["Type"] == "Notification"
    assert envelope["TopicArn"] == CONFIG.topic_arn
    assert envelope["SignatureVersion"] == "2"


def test_envelope_signature_verifies_with_served_certificate(
    sandbox: Any,
    partner_iam: Any,
    owner_iam: Any,
    make_client: ClientMaker,
    partner: dict[str, str],
) -> None:
    """The cert URL's path is served by the sandbox, and the SNS signature checks out."""
    finalize(partner_iam, owner_iam)
    envelope = drain_notifications(make_client, partner)[0]["envelope"]
    path = "/" + envelope["SigningCertURL"].rsplit("/", 1)[1]
    pem = requests.get(sandbox.endpoint + path, timeout=5)
    assert pem.status_code == 200
    cert = x509.load_pem_x509_certificate(pem.content)
    fields = ("Message", "MessageId", "Timestamp", "TopicArn", "Type")
    string_to_sign = "".join(f"{name}\n{envelope[name]}\n" for name in fields)
    cert.public_key().verify(  # type: ignore[union-attr,call-arg]
        base64.b64decode(envelope["Signature"]),
        string_to_sign.encode("utf-8"),
        padding.PKCS1v15(),  # type: ignore[arg-type]
        hashes.SHA256(),  # type: ignore[arg-type]
    )


def test_finalized_messages_arrive_in_both_orders(
    partner_iam: Any, owner_iam: Any, make_client: ClientMaker, partner: dict[str, str]
) -> None:
    orders = set()
    for attempt in range(12):
        finalize(partner_iam, owner_iam, RequestorWorkflowId=f"wf-order-{attempt:02d}")
        finals = [
            m["inner"]["Type"]
            for m in drain_notifications(make_client, partner)
            if m["inner"]["State"] == "FINALIZED"
        ]
        orders.add(tuple(finals))
    assert orders == {("StateChange", "ExchangeToken"), ("ExchangeToken", "StateChange")}


def test_duplicate_notifications_setting(
    control: Any,
    partner_iam: Any,
    owner_iam: Any,
    make_client: ClientMaker,
    partner: dict[str, str],
) -> None:
    """Every message arrives twice, as an SNS redelivery would: the same MessageId, and the
    very same signed envelope (issue 11: the copies used to get different MessageIds)."""
    control.set_config(duplicate_notifications=True)
    finalize(partner_iam, owner_iam)
    messages = drain_notifications(make_client, partner)
    assert len(messages) == 8
    by_id: dict[str, list[dict[str, Any]]] = {}
    for message in messages:
        by_id.setdefault(message["envelope"]["MessageId"], []).append(message["envelope"])
    assert len(by_id) == 4
    for copies in by_id.values():
        assert len(copies) == 2
        assert copies[0] == copies[1]  # Signature, Timestamp and SigningCertURL included
    tokens = {m["inner"]["ExchangeToken"] for m in messages if "ExchangeToken" in m["inner"]}
    assert len(tokens) == 1


def test_no_publish_without_iam_grant_in_topic_policy(
    partner_iam: Any, owner_iam: Any, make_client: ClientMaker, partner: dict[str, str]
) -> None:
    sns = make_client("sns", partner)
    sns.set_topic_attributes(
        TopicArn=CONFIG.topic_arn,
        AttributeName="Policy",
        AttributeValue=json.dumps({"Version": "2012-10-17", "Statement": []}),
    )
    finalize(partner_iam, owner_iam)
    assert drain_notifications(make_client, partner) == []


def test_bootstrap_queue_has_dead_letter_queue(make_client: ClientMaker, partner: dict) -> None:
    sqs = make_client("sqs", partner)
    attributes = sqs.get_queue_attributes(QueueUrl=CONFIG.queue_url, AttributeNames=["All"])
    redrive = json.loads(attributes["Attributes"]["RedrivePolicy"])
    assert redrive["maxReceiveCount"] == 5
    assert redrive["deadLetterTargetArn"].endswith("vell-delegation-notifications-dlq")
    policy = json.loads(attributes["Attributes"]["Policy"])
    assert policy["Statement"][0]["Condition"]["ArnEquals"]["aws:SourceArn"] == CONFIG.topic_arn
