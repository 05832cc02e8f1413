"""Make moto's ``sns:GetTopicAttributes`` report what real SNS reports.

moto leaves out ``SignatureVersion`` (real SNS always returns it: ``"1"`` unless set to ``"2"``)
and reports ``SubscriptionsConfirmed`` as a constant 0, so the admin health page could not tell
a correctly configured sandbox topic from a broken one. This wraps moto's response handler once,
process-wide (moto's backends are process-wide too), adding both from moto's own state.
"""

from __future__ import annotations

from typing import Any

from moto.sns.responses import SNSResponse

_PATCHED = "_vell_reports_signature_version"


def report_real_topic_attributes() -> None:
    """Install the wrapper (idempotent)."""
    original = SNSResponse.get_topic_attributes
    if getattr(original, _PATCHED, False):
        return

    def get_topic_attributes(self: SNSResponse) -> Any:
        result: Any = original(self)
        topic = self.backend.get_topic(self._get_param("TopicArn"))
        attributes = result.result["Attributes"]
        subscriptions = [s for s in self.backend.subscriptions.values() if s.topic.arn == topic.arn]
        # SQS and Lambda subscriptions are confirmed at once in real SNS; moto records the
        # others' confirmation on the subscription.
        confirmed = [s for s in subscriptions if s.confirmed or s.protocol in ("sqs", "lambda")]
        attributes["SignatureVersion"] = str(getattr(topic, "signature_version", "1") or "1")
        attributes["SubscriptionsConfirmed"] = str(len(confirmed))
        attributes["SubscriptionsPending"] = str(len(subscriptions) - len(confirmed))
        return result

    setattr(get_topic_attributes, _PATCHED, True)
    SNSResponse.get_topic_attributes = get_topic_attributes  # type: ignore[method-assign]  # patching moto: the point of this module
