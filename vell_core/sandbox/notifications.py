"""IAM's SNS notifications for delegation requests, published through moto's SNS in-process.

Publishing through moto's own SNS backend (not a hand-built SQS message) means moto signs the
envelope like real SNS and delivers it to every subscription of the partner's topic, so the
app's SQS worker and signature check run unchanged. As AWS does, IAM publishes only when the
topic policy lets ``iam.amazonaws.com`` call ``SNS:Publish``; otherwise messages are dropped
silently (the evaluator in ``topic_policy.py`` also guards every ``Publish`` over HTTP). The two
FINALIZED messages go out in a random (seeded) order, and each message can be published twice
to exercise at-least-once delivery (``duplicate_notifications``).
"""

from __future__ import annotations

import json
import logging
import random
import threading
import uuid
from collections.abc import Callable
from datetime import datetime
from typing import Any

from moto.sns.models import sns_backends
from moto.sqs.models import sqs_backends

from vell_core.sandbox.topic_policy import IAM_SERVICE_PRINCIPAL, Publisher, decide_publish
from vell_core.sandbox.wire import iso8601

logger = logging.getLogger(__name__)


class Notifier:
    """Publishes StateChange and ExchangeToken messages to a request's notification channel."""

    def __init__(self, *, seed: int, duplicates: Callable[[], bool]) -> None:
        self._rng = random.Random(seed)
        self._duplicates = duplicates
        self._lock = threading.Lock()

    def reseed(self, seed: int) -> None:
        """Restart the order RNG (sandbox reset)."""
        with self._lock:
            self._rng = random.Random(seed)

    def state_change(self, topic_arn: str, fields: dict[str, Any]) -> None:
        """Publish one ``StateChange`` message."""
        self._publish_all(topic_arn, [_message("StateChange", fields)])

    def finalized(
        self, topic_arn: str, fields: dict[str, Any], token: str, expires_at: datetime
    ) -> None:
        """Publish the FINALIZED StateChange and the ExchangeToken, in a random order."""
        token_fields = {**fields, "ExchangeToken": token, "ExpiresAt": iso8601(expires_at)}
        messages = [_message("StateChange", fields), _message("ExchangeToken", token_fields)]
        with self._lock:
            if self._rng.random() < 0.5:
                messages.reverse()
        self._publish_all(topic_arn, messages)

    def _publish_all(self, topic_arn: str, messages: list[str]) -> None:
        copies = 2 if self._duplicates() else 1
        for message in messages:
            publish(topic_arn, message, copies=copies)


def _message(kind: str, fields: dict[str, Any]) -> str:
    body = {"Type": kind, **{k: v for k, v in fields.items() if v is not None}}
    return json.dumps(body, separators=(",", ":"))


def publish(topic_arn: str, message: str, *, copies: int = 1) -> bool:
    """Publish as ``iam.amazonaws.com``; False (and nothing sent) when the topic refuses IAM.

    IAM is held to the topic policy like any publisher (``topic_policy.decide_publish``), as
    the service principal, with the partner's account as ``aws:SourceAccount``.
    """
    parts = topic_arn.split(":")
    if len(parts) != 6 or parts[2] != "sns":
        return False
    region, account = parts[3], parts[4]
    backend = sns_backends[account][region]
    topic = backend.topics.get(topic_arn)
    if topic is None:
        logger.warning("Delegation notification dropped: topic %s does not exist", topic_arn)
        return False
    iam = Publisher.of_service(IAM_SERVICE_PRINCIPAL, **{"aws:SourceAccount": account})
    if not decide_publish(json.loads(topic.policy), iam, topic_arn).allowed:
        logger.warning("Delegation notification dropped: %s does not allow IAM", topic_arn)
        return False
    if copies == 1:
        backend.publish(message=message, arn=topic_arn)
    else:
        _redeliver(backend, topic, message, copies)
    return True


def _redeliver(backend: Any, topic: Any, message: str, copies: int) -> None:
    """One publish delivered ``copies`` times, as SNS's at-least-once redelivery does.

    A redelivery is the same notification again: same ``MessageId`` and the very same signed
    envelope. moto's ``Topic.publish`` signs afresh per delivery (new id, timestamp and
    certificate), so the SQS envelope is built once here with moto's own ``get_post_data`` and
    sent ``copies`` times, exactly as moto's SQS delivery would send it. Other subscriptions
    (raw delivery, filter policies, HTTP) get moto's delivery ``copies`` times with one id.
    """
    message_id = str(uuid.uuid4())
    subscriptions, _ = backend.list_subscriptions_by_topic(topic_arn=topic.arn)
    for subscription in subscriptions:
        envelope_to_sqs = (
            subscription.protocol == "sqs"
            and not subscription.attributes.get("RawMessageDelivery")
            and getattr(subscription, "_filter_policy_matcher", None) is None
        )
        if not envelope_to_sqs:
            for _ in range(copies):
                subscription.publish(message, message_id)
            continue
        envelope = subscription.get_post_data(message, message_id, None)
        # moto's own layout of the SQS body, so both copies are byte-identical to a delivery.
        body = json.dumps(envelope, sort_keys=True, indent=2, separators=(",", ": "))
        _, _, _, region, _, queue_name = subscription.endpoint.split(":")
        for _ in range(copies):
            sqs_backends[subscription.account_id][region].send_message(queue_name, body)
    topic.sent_notifications.append((message_id, message, None, None, None))
