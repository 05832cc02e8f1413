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
from collections.abc import Callable
from datetime import datetime
from typing import Any

from moto.sns.models import sns_backends

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
            for _ in range(copies):
                publish(topic_arn, message)


def _message(kind: str, fields: dict[str, Any]) -> str:
    body = {"Type": kind, **{k: v for k, v in fields.items() if v is not None}}
    return json.dumps(body, separators=(",", ":"))


def publish(topic_arn: str, message: str) -> bool:
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
    backend.publish(message=message, arn=topic_arn)
    return True
