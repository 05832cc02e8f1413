"""AWS's own plain-language summary of a delegation request (IAM ``GetHumanReadableSummary``).

What AWS allows decides the order: the summary is of an *existing* request (``EntityArn``), and
Vell (the partner) may read it only while the request has no owner account. So the desk asks
for it right after ``CreateDelegationRequest`` and shows it to the rep beside the exact policy
and message *before* the rep sends the console link; once the customer opens the link, AWS
answers Vell ``AccessDenied``. A request created with ``OwnerAccountId`` (the setting
``VELL_PIN_OWNER_ACCOUNT``) has an owner account from the start, so AWS never shows its
summary to Vell at all; the desk says so instead of failing.

AWS generates the summary asynchronously: ``NOT_AVAILABLE`` until it is ready, then
``AVAILABLE`` (or ``FAILED``; ``NOT_SUPPORTED`` for an entity AWS cannot summarise). Final
answers are kept on the request row (``metadata["aws_summary"]``), so reading them again costs
no AWS call, and the text stays readable after AWS stops answering Vell.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from vell_core.aws.clients import aws_errors
from vell_core.domain.errors import AwsAccessDenied, AwsError

SUMMARY_LOCALE = "en-US"  # the reps' language; AWS accepts the console's locales
META_KEY = "aws_summary"


class SummaryStatus(StrEnum):
    """Where AWS's summary of one request stands, for the desk."""

    CREATING = "creating"  # the AWS request does not exist yet
    GENERATING = "generating"  # AWS: NOT_AVAILABLE (asynchronous generation in progress)
    AVAILABLE = "available"  # AWS: AVAILABLE
    NOT_SUPPORTED = "not_supported"  # AWS: NOT_SUPPORTED
    FAILED = "failed"  # AWS: FAILED
    OUT_OF_REACH = "out_of_reach"  # AWS answers only the customer's account now
    UNREACHABLE = "unreachable"  # the call failed (throttled, network); try again


FINAL = frozenset(
    {
        SummaryStatus.AVAILABLE,
        SummaryStatus.NOT_SUPPORTED,
        SummaryStatus.FAILED,
        SummaryStatus.OUT_OF_REACH,
    }
)
FROM_AWS = {
    "AVAILABLE": SummaryStatus.AVAILABLE,
    "NOT_AVAILABLE": SummaryStatus.GENERATING,
    "NOT_SUPPORTED": SummaryStatus.NOT_SUPPORTED,
    "FAILED": SummaryStatus.FAILED,
}
# What the rep reads when there is no text to show (the policy and message are always shown).
NOTICES = {
    SummaryStatus.CREATING: "The request is being created in AWS; its summary follows.",
    SummaryStatus.GENERATING: "AWS is writing its summary of this request…",
    SummaryStatus.NOT_SUPPORTED: "AWS has no summary for this kind of request.",
    SummaryStatus.FAILED: (
        "AWS could not write a summary of this request. The policy and message beside it are "
        "exactly what the customer approves, so you can still send the link."
    ),
    SummaryStatus.OUT_OF_REACH: (
        "AWS shows its summary of this request only to the customer's account now (AWS lets "
        "Vell read it only while the request has no owner account). The customer sees it on "
        "the review page; the policy and message beside it are exactly what they approve."
    ),
    SummaryStatus.UNREACHABLE: "AWS did not answer just now; trying again.",
}


@dataclass(frozen=True)
class AwsSummary:
    """AWS's summary of a request as the desk knows it."""

    status: SummaryStatus
    content: str = ""
    locale: str = SUMMARY_LOCALE
    checked_at: datetime | None = None

    @property
    def final(self) -> bool:
        """Nothing more will come from AWS: stop asking."""
        return self.status in FINAL

    @property
    def notice(self) -> str | None:
        """The sentence to show instead of (or with) the text."""
        return NOTICES.get(self.status)

    def to_meta(self) -> dict[str, Any]:
        """JSON for the row's metadata."""
        return {
            "status": self.status.value,
            "content": self.content,
            "locale": self.locale,
            "checked_at": self.checked_at.isoformat() if self.checked_at else None,
        }


def from_meta(meta: dict[str, Any] | None) -> AwsSummary | None:
    """The summary kept on a row, if any (unknown shapes are ignored, not trusted)."""
    kept = (meta or {}).get(META_KEY)
    if not isinstance(kept, dict):
        return None
    try:
        checked = kept.get("checked_at")
        return AwsSummary(
            status=SummaryStatus(kept["status"]),
            content=str(kept.get("content") or ""),
            locale=str(kept.get("locale") or SUMMARY_LOCALE),
            checked_at=datetime.fromisoformat(checked) if checked else None,
        )
    except (KeyError, ValueError, TypeError):
        return None


def delegation_request_arn(account_id: str, request_id: str) -> str:
    """The ``EntityArn`` of a delegation request Vell created (in Vell's account)."""
    return f"arn:aws:iam::{account_id}:delegation-request/{request_id}"


def fetch_summary(iam: Any, entity_arn: str, now: datetime) -> AwsSummary:
    """Ask AWS once (``GetHumanReadableSummary``) and say where the summary stands."""
    try:
        with aws_errors("iam.GetHumanReadableSummary"):
            answer = iam.get_human_readable_summary(EntityArn=entity_arn, Locale=SUMMARY_LOCALE)
    except AwsAccessDenied:
        return AwsSummary(SummaryStatus.OUT_OF_REACH, checked_at=now)
    except AwsError as error:
        # NoSuchEntity: AWS has deleted the request (retention ended); nothing will come.
        gone = error.code == "NoSuchEntity"
        status = SummaryStatus.OUT_OF_REACH if gone else SummaryStatus.UNREACHABLE
        return AwsSummary(status, checked_at=now)
    status = FROM_AWS.get(str(answer.get("SummaryState")), SummaryStatus.UNREACHABLE)
    content = str(answer.get("SummaryContent") or "") if status is SummaryStatus.AVAILABLE else ""
    locale = str(answer.get("Locale") or SUMMARY_LOCALE)
    return AwsSummary(status, content=content, locale=locale, checked_at=now)
