"""The sandbox SNS enforces the topic policy for Publish, as real SNS does (issue 11 item 4).

Vell's topic allows only IAM's service principal to publish. A customer persona publishing a
forged notification must be refused with SNS's own error, and nothing must reach the queue.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.sandbox.conftest import (
    CONFIG,
    CUSTOMER,
    ClientMaker,
    drain_notifications,
    finalize,
)
from vell_core.sandbox.topic_policy import Publisher, decide_publish

TOPIC = CONFIG.topic_arn
FORGED = json.dumps({"Type": "StateChange", "RequestId": "x", "State": "REJECTED"})


def _raw_answers(client: Any) -> list[Any]:
    """Record every raw HTTP response the client receives."""
    seen: list[Any] = []
    client.meta.events.register("after-call", lambda http_response, **_: seen.append(http_response))
    return seen


def _set_policy(make_client: ClientMaker, partner: dict[str, str], policy: dict[str, Any]) -> None:
    sns = make_client("sns", partner)
    sns.set_topic_attributes(
        TopicArn=TOPIC, AttributeName="Policy", AttributeValue=json.dumps(policy)
    )


def test_a_customer_cannot_publish_to_vells_topic(
    make_client: ClientMaker, partner: dict[str, str], personas: dict[str, dict[str, str]]
) -> None:
    """AuthorizationError 403 in SNS's XML and wording; the forged message is not delivered."""
    sns = make_client("sns", personas["owner"])
    raw = _raw_answers(sns)
    with pytest.raises(ClientError) as caught:
        sns.publish(TopicArn=TOPIC, Message=FORGED)
    error = caught.value.response
    assert error["Error"]["Code"] == "AuthorizationError"
    assert error["ResponseMetadata"]["HTTPStatusCode"] == 403
    assert error["Error"]["Message"].startswith(
        f"User: arn:aws:iam::{CUSTOMER}:user/customer-owner is not authorized to perform: "
        f"SNS:Publish on resource: {TOPIC}"
    )
    body = raw[-1].content.decode()
    assert body.startswith("<ErrorResponse")
    assert "<Type>Sender</Type>" in body
    assert drain_notifications(make_client, partner) == []


def test_publish_batch_is_refused_too(
    make_client: ClientMaker, partner: dict[str, str], personas: dict[str, dict[str, str]]
) -> None:
    """PublishBatch needs the same SNS:Publish permission."""
    sns = make_client("sns", personas["admin"])
    with pytest.raises(ClientError) as caught:
        sns.publish_batch(
            TopicArn=TOPIC, PublishBatchRequestEntries=[{"Id": "1", "Message": FORGED}]
        )
    assert caught.value.response["Error"]["Code"] == "AuthorizationError"
    assert drain_notifications(make_client, partner) == []


def test_iam_notifications_still_arrive_signed(
    make_client: ClientMaker, partner: dict[str, str], partner_iam: Any, owner_iam: Any
) -> None:
    """IAM publishes as iam.amazonaws.com, which the policy allows."""
    finalize(partner_iam, owner_iam)
    kinds = {m["inner"]["Type"] for m in drain_notifications(make_client, partner)}
    assert kinds == {"StateChange", "ExchangeToken"}


def test_a_policy_granting_the_customer_account_lets_it_publish(
    make_client: ClientMaker, partner: dict[str, str], personas: dict[str, dict[str, str]]
) -> None:
    """Cross-account publishing works once the policy names the account."""
    statement = {"Effect": "Allow", "Action": "sns:Publish", "Resource": TOPIC}
    _set_policy(
        make_client,
        partner,
        {"Statement": [{**statement, "Principal": {"AWS": f"arn:aws:iam::{CUSTOMER}:root"}}]},
    )
    make_client("sns", personas["owner"]).publish(TopicArn=TOPIC, Message=FORGED)
    assert [m["inner"]["State"] for m in drain_notifications(make_client, partner)] == ["REJECTED"]


def test_an_explicit_deny_refuses_even_the_topic_owner(
    make_client: ClientMaker, partner: dict[str, str]
) -> None:
    """A Deny statement wins over the owner account's own permissions."""
    deny = {"Effect": "Deny", "Principal": "*", "Action": "SNS:Publish", "Resource": TOPIC}
    _set_policy(make_client, partner, {"Statement": [deny]})
    with pytest.raises(ClientError) as caught:
        make_client("sns", partner).publish(TopicArn=TOPIC, Message=FORGED)
    assert caught.value.response["Error"]["Code"] == "AuthorizationError"
    assert "with an explicit deny in a resource-based policy" in str(caught.value)


def test_iam_is_silenced_by_a_policy_that_denies_it(
    make_client: ClientMaker, partner: dict[str, str], partner_iam: Any, owner_iam: Any
) -> None:
    """IAM is held to the topic policy as a service principal: a Deny drops its messages."""
    _set_policy(
        make_client,
        partner,
        {
            "Statement": [
                {"Effect": "Allow", "Principal": "*", "Action": "SNS:Publish", "Resource": TOPIC},
                {
                    "Effect": "Deny",
                    "Principal": {"Service": "iam.amazonaws.com"},
                    "Action": "SNS:Publish",
                    "Resource": TOPIC,
                },
            ]
        },
    )
    finalize(partner_iam, owner_iam)
    assert drain_notifications(make_client, partner) == []


def test_the_confused_deputy_condition_holds_for_vells_account() -> None:
    """S13: ``aws:SourceAccount`` conditions see the partner account as IAM's source."""
    policy = {
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": "iam.amazonaws.com"},
                "Action": "SNS:Publish",
                "Resource": TOPIC,
                "Condition": {"StringEquals": {"aws:SourceAccount": CONFIG.partner_account_id}},
            }
        ]
    }
    ours = Publisher.of_service("iam.amazonaws.com", **{"aws:SourceAccount": "253265132499"})
    theirs = Publisher.of_service("iam.amazonaws.com", **{"aws:SourceAccount": "111122223333"})
    assert decide_publish(policy, ours, TOPIC).allowed
    assert not decide_publish(policy, theirs, TOPIC).allowed
