"""Admin → AWS setup, health: are notifications flowing, and are exchanges succeeding?

``AwsHealthService.health`` answers at a glance: the configured ARNs and whether they look
right, the SNS topic and SQS queue (depth, in flight, dead-letter depth), the last notification
the worker recorded, worker heartbeats, quarantined notifications and failed exchanges. Every
AWS call goes through the partner ``ClientFactory`` and only reads: the queue is never received
from here, because receiving would hide messages from the worker.

SQS reports no "age of oldest message" through its API (that is the CloudWatch metric
``ApproximateAgeOfOldestMessage``), so the page shows what can be known honestly: queue depth,
in-flight count, dead-letter depth, and the time since the last notification was received.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlparse

from vell_core.aws.clients import ClientFactory, aws_errors
from vell_core.aws.exchange import ExchangeFacts, exchange_notice
from vell_core.config.settings import ENV_NAMES, Settings
from vell_core.domain.clock import Clock
from vell_core.domain.errors import VellError
from vell_core.domain.models import (
    AwsDelegationState,
    DelegationRequest,
    ExchangeState,
    InboxStatus,
    NotificationInbox,
    WorkerHeartbeat,
)
from vell_core.domain.roles import StaffMember
from vell_core.domain.validation import ACCOUNT_ID_PATTERN
from vell_core.services.staff import StaffDirectory
from vell_core.store.health import HealthStore, HealthWindows

log = logging.getLogger(__name__)


HEARTBEAT_STALE = timedelta(minutes=2)


QUARANTINE_WINDOW = timedelta(days=7)


# Inbox statuses the page lists as problems, and exchange states that have not settled yet.
PROBLEM_STATUSES = (InboxStatus.QUARANTINED, InboxStatus.FAILED)
UNSETTLED_EXCHANGES = (
    ExchangeState.FAILED,
    ExchangeState.UNKNOWN,
    ExchangeState.RETRYING,
    ExchangeState.CLAIMED,
)


_PARTITION = r"arn:aws(?:-[a-z]+)*"


_REGION = r"[a-z]{2}(?:-[a-z]+)+-\d+"


# One regex per kind of configured value (ASCII: AWS identifiers never use other scripts). AWS
# hands back the template and boundary ARNs at onboarding and documents their paths
# inconsistently, so those two only check the shape.
ARN_PATTERNS: dict[str, re.Pattern[str]] = {
    "sns_topic": re.compile(
        rf"^{_PARTITION}:sns:{_REGION}:[0-9]{{12}}:[A-Za-z0-9_-]{{1,256}}$", re.ASCII
    ),
    "delegation_template": re.compile(
        rf"^{_PARTITION}:iam::(?:[0-9]{{12}}|partner)?:delegation-template/[\w+=,.@/-]{{1,512}}$",
        re.ASCII,
    ),
    "permission_boundary": re.compile(
        rf"^{_PARTITION}:iam::(?:[0-9]{{12}}|partner):policy/[\w+=,.@/-]{{1,512}}_\d{{4}}_?\d{{2}}_?\d{{2}}$",
        re.ASCII,
    ),
    "sqs_queue_url": re.compile(
        rf"^https://sqs\.[a-z0-9-]+\.amazonaws\.com(?:\.cn)?/{ACCOUNT_ID_PATTERN}/[A-Za-z0-9_-]{{1,80}}(?:\.fifo)?$",
        re.ASCII,
    ),
    "https_url": re.compile(r"^https://[A-Za-z0-9.-]+(?::\d+)?/\S+$", re.ASCII),
}


SETTING_KINDS: dict[str, str] = {
    "aws_delegation_sns_topic_arn": "sns_topic",
    "aws_delegation_read_only_template_arn": "delegation_template",
    "aws_delegation_full_access_template_arn": "delegation_template",
    "aws_delegation_onboarding_template_arn": "delegation_template",
    "aws_delegation_permission_boundary_arn": "permission_boundary",
    "vell_delegation_queue_url": "sqs_queue_url",
    "vell_cfn_template_url": "https_url",
}


KIND_HINTS: dict[str, str] = {
    "sns_topic": "arn:aws:sns:<region>:<12-digit account>:<topic name>",
    "delegation_template": "arn:aws:iam::<account or empty>:delegation-template/<path>",
    "permission_boundary": "arn:aws:iam::partner:policy/<path>/<Name>_<YYYYMMDD>",
    "sqs_queue_url": "https://sqs.<region>.amazonaws.com/<12-digit account>/<queue name>",
    "https_url": "https://<host>/<path>",
}


@dataclass(frozen=True)
class ArnCheck:
    """One configured value and whether it looks like what AWS expects."""

    setting: str
    env_name: str
    value: str
    kind: str
    valid: bool
    hint: str


DEFAULT_SIGNATURE_VERSION = "1"  # what SNS signs with unless the topic says otherwise


REQUIRED_SIGNATURE_VERSION = "2"


@dataclass(frozen=True)
class TopicHealth:
    """What ``sns:GetTopicAttributes`` says about the notification topic."""

    ok: bool
    error: str | None = None
    subscriptions_confirmed: int | None = None
    subscriptions_pending: int | None = None
    signature_version: str | None = None
    iam_may_publish: bool | None = None

    @property
    def signature_version_ok(self) -> bool:
        """Vell verifies SignatureVersion 2 (SHA256) only; AWS's default is 1 (SHA1)."""
        return (self.signature_version or DEFAULT_SIGNATURE_VERSION) == REQUIRED_SIGNATURE_VERSION

    @property
    def signature_version_text(self) -> str:
        """What the page says about the topic's signature version."""
        shown = self.signature_version or f"{DEFAULT_SIGNATURE_VERSION} (AWS default)"
        if self.signature_version_ok:
            return f"signature version {shown}"
        return f"signature version {shown}: Vell requires {REQUIRED_SIGNATURE_VERSION}"


@dataclass(frozen=True)
class QueueHealth:
    """What ``sqs:GetQueueAttributes`` says about the queue and its dead-letter queue."""

    ok: bool
    error: str | None = None
    depth: int | None = None
    in_flight: int | None = None
    delayed: int | None = None
    dlq_url: str | None = None
    dlq_depth: int | None = None
    dlq_error: str | None = None


@dataclass(frozen=True)
class WorkerStatus:
    """One worker's last heartbeat."""

    worker_id: str
    last_seen_at: datetime
    age_seconds: float
    stale: bool
    messages_processed: int
    last_error: str | None


@dataclass(frozen=True)
class InboxProblem:
    """A quarantined or failed notification (never includes the message body)."""

    message_id: str
    status: str
    request_id: str | None
    state: str | None
    error: str | None
    received_at: datetime


@dataclass(frozen=True)
class ExchangeFailure:
    """A token exchange that ended without credentials (the reason in plain words)."""

    delegation_id: int
    company: str
    aws_account_id: str
    code: str
    message: str
    at: datetime


@dataclass(frozen=True)
class ExchangeHealth:
    """Token exchanges of the last 7 days that failed for good, or are still retrying."""

    failed_7d: int = 0
    retrying: int = 0
    failures: tuple[ExchangeFailure, ...] = ()


@dataclass(frozen=True)
class AwsHealth:
    """Everything on the health half of the AWS setup page."""

    mode: str
    region: str
    endpoint: str | None
    checked_at: datetime
    arns: tuple[ArnCheck, ...]
    topic: TopicHealth
    queue: QueueHealth
    workers: tuple[WorkerStatus, ...]
    last_notification_at: datetime | None
    notifications_24h: int
    problems: tuple[InboxProblem, ...]
    problems_7d: int
    verdict_ok: bool
    reasons: tuple[str, ...] = field(default=())
    exchanges: ExchangeHealth = field(default_factory=ExchangeHealth)


def check_arn(kind: str, value: str | None) -> bool:
    """Whether ``value`` has the shape of a ``kind`` ARN or URL."""
    pattern = ARN_PATTERNS[kind]
    return bool(value) and pattern.match(str(value)) is not None


def check_settings(settings: Settings) -> tuple[ArnCheck, ...]:
    """Every configured AWS value with its validity."""
    checks = []
    for name, kind in SETTING_KINDS.items():
        value = str(getattr(settings, name) or "")
        checks.append(
            ArnCheck(
                setting=name,
                env_name=ENV_NAMES[name],
                value=value,
                kind=kind,
                valid=check_arn(kind, value),
                hint=KIND_HINTS[kind],
            )
        )
    return tuple(checks)


def dlq_url_for(redrive_policy: str | None, queue_url: str) -> str | None:
    """The dead-letter queue's URL from a RedrivePolicy (same host as the source queue)."""
    if not redrive_policy:
        return None
    try:
        arn = json.loads(redrive_policy)["deadLetterTargetArn"]
        _, _, _, _region, account, name = str(arn).split(":")
    except (ValueError, KeyError, TypeError):
        return None
    parsed = urlparse(queue_url)
    return f"{parsed.scheme}://{parsed.netloc}/{account}/{name}"


def _iam_may_publish(policy_text: str | None) -> bool:
    """Whether the topic policy lets iam.amazonaws.com publish (IAM's delegation channel)."""
    try:
        statements = json.loads(policy_text or "{}").get("Statement", [])
    except ValueError:
        return False
    if isinstance(statements, dict):
        statements = [statements]
    for statement in statements:
        principal = statement.get("Principal", {})
        services = principal.get("Service", []) if isinstance(principal, dict) else []
        services = [services] if isinstance(services, str) else services
        actions = statement.get("Action", [])
        actions = [actions] if isinstance(actions, str) else actions
        publishes = any(a.lower() in ("sns:publish", "sns:*") for a in actions)
        if statement.get("Effect") == "Allow" and "iam.amazonaws.com" in services and publishes:
            return True
    return False


def _int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _aws_safely(operation: str, call: Callable[[], Any]) -> tuple[Any, str | None]:
    """Run a read-only AWS call; a failure becomes a message so the rest of the page renders."""
    try:
        with aws_errors(operation):
            return call(), None
    except VellError as exc:
        return None, exc.message


class AwsHealthService:
    """Health of the AWS side, for admins."""

    def __init__(
        self,
        *,
        settings: Settings,
        store: HealthStore,
        clock: Clock,
        aws: ClientFactory,
        staff: StaffDirectory,
    ) -> None:
        self._settings = settings
        self._store = store
        self._clock = clock
        self._aws = aws
        self._staff = staff

    def health(self, member: StaffMember) -> AwsHealth:
        """The AWS side at a glance (reads only)."""
        self._staff.require(member, "settings.read")
        now = self._clock.now()
        topic = self._topic_health()
        queue = self._queue_health()
        rows = self._store.snapshot(_windows(now))
        workers = _workers(rows.heartbeats, now)
        problems = tuple(_problem(row) for row in rows.problems)
        problems_7d = rows.problems_recent
        exchanges = _exchanges(rows.unsettled_exchanges, now)
        reasons = _reasons(topic, queue, workers, problems_7d) + _exchange_reasons(exchanges)
        return AwsHealth(
            mode=self._settings.vell_aws_mode.value,
            region=self._settings.vell_aws_region,
            endpoint=self._aws.endpoint_url,
            checked_at=now,
            arns=check_settings(self._settings),
            topic=topic,
            queue=queue,
            workers=workers,
            last_notification_at=rows.last_notification_at,
            notifications_24h=rows.notifications_recent,
            problems=problems,
            problems_7d=problems_7d,
            verdict_ok=not reasons,
            reasons=reasons,
            exchanges=exchanges,
        )

    def _topic_health(self) -> TopicHealth:
        arn = str(self._settings.aws_delegation_sns_topic_arn)
        sns = self._aws.client("sns")
        response, error = _aws_safely(
            "sns.GetTopicAttributes", lambda: sns.get_topic_attributes(TopicArn=arn)
        )
        if error is not None:
            return TopicHealth(ok=False, error=error)
        attributes = response.get("Attributes", {})
        return TopicHealth(
            ok=True,
            subscriptions_confirmed=_int(attributes.get("SubscriptionsConfirmed")),
            subscriptions_pending=_int(attributes.get("SubscriptionsPending")),
            signature_version=attributes.get("SignatureVersion"),
            iam_may_publish=_iam_may_publish(attributes.get("Policy")),
        )

    def _queue_health(self) -> QueueHealth:
        url = str(self._settings.vell_delegation_queue_url)
        names = [
            "ApproximateNumberOfMessages",
            "ApproximateNumberOfMessagesNotVisible",
            "ApproximateNumberOfMessagesDelayed",
            "RedrivePolicy",
        ]
        sqs = self._aws.client("sqs")
        response, error = _aws_safely(
            "sqs.GetQueueAttributes",
            lambda: sqs.get_queue_attributes(QueueUrl=url, AttributeNames=names),
        )
        if error is not None:
            return QueueHealth(ok=False, error=error)
        attributes = response.get("Attributes", {})
        dlq_url = dlq_url_for(attributes.get("RedrivePolicy"), url)
        dlq_depth, dlq_error = self._dlq_depth(dlq_url)
        return QueueHealth(
            ok=True,
            depth=_int(attributes.get("ApproximateNumberOfMessages")),
            in_flight=_int(attributes.get("ApproximateNumberOfMessagesNotVisible")),
            delayed=_int(attributes.get("ApproximateNumberOfMessagesDelayed")),
            dlq_url=dlq_url,
            dlq_depth=dlq_depth,
            dlq_error=dlq_error
            if dlq_url
            else "The queue has no dead-letter queue (RedrivePolicy).",
        )

    def _dlq_depth(self, dlq_url: str | None) -> tuple[int | None, str | None]:
        if dlq_url is None:
            return None, None
        sqs = self._aws.client("sqs")
        response, error = _aws_safely(
            "sqs.GetQueueAttributes",
            lambda: sqs.get_queue_attributes(
                QueueUrl=dlq_url, AttributeNames=["ApproximateNumberOfMessages"]
            ),
        )
        if error is not None:
            return None, error
        return _int(response.get("Attributes", {}).get("ApproximateNumberOfMessages")), None


def _windows(now: datetime) -> HealthWindows:
    """What the page counts: notifications of the last 24 hours, trouble of the last 7 days."""
    return HealthWindows(
        notifications_since=now - timedelta(hours=24),
        problems_since=now - QUARANTINE_WINDOW,
        exchanges_since=now - QUARANTINE_WINDOW,
        problem_statuses=PROBLEM_STATUSES,
        exchange_states=UNSETTLED_EXCHANGES,
    )


def _workers(rows: list[WorkerHeartbeat], now: datetime) -> tuple[WorkerStatus, ...]:
    """Each worker's heartbeat, with its age and whether it has gone quiet."""
    return tuple(
        WorkerStatus(
            worker_id=row.worker_id,
            last_seen_at=row.last_seen_at,
            age_seconds=(now - row.last_seen_at).total_seconds(),
            stale=now - row.last_seen_at > HEARTBEAT_STALE,
            messages_processed=row.messages_processed,
            last_error=row.last_error,
        )
        for row in rows
    )


def _problem(row: NotificationInbox) -> InboxProblem:
    """A quarantined or failed notification, without its body."""
    return InboxProblem(
        message_id=row.message_id,
        status=InboxStatus(row.status).value,
        request_id=row.request_id,
        state=row.state,
        error=row.error,
        received_at=row.received_at,
    )


def _exchanges(rows: list[DelegationRequest], now: datetime) -> ExchangeHealth:
    """Classified exactly as the rep sees it (``exchange_notice``): failed or retrying."""
    failures, retrying = [], 0
    for row in rows:
        notice = exchange_notice(_exchange_facts(row), now)
        if notice is None:
            continue
        if not notice.final:
            retrying += 1
            continue
        failures.append(
            ExchangeFailure(
                delegation_id=row.id or 0,
                company=row.company,
                aws_account_id=row.aws_account_id,
                code=row.exchange_error_code or "—",
                message=notice.message,
                at=row.updated_at,
            )
        )
    return ExchangeHealth(failed_7d=len(failures), retrying=retrying, failures=tuple(failures[:50]))


def _reasons(
    topic: TopicHealth, queue: QueueHealth, workers: tuple[WorkerStatus, ...], problems_7d: int
) -> tuple[str, ...]:
    """Why notifications might not be flowing (empty: all good)."""
    reasons = []
    if not topic.ok:
        reasons.append("The SNS topic cannot be read.")
    else:
        if topic.iam_may_publish is False:
            reasons.append("The topic policy does not let iam.amazonaws.com publish.")
        if not topic.signature_version_ok:
            reasons.append(
                f"The topic signs with SignatureVersion {topic.signature_version or '1'}; Vell "
                "verifies version 2 only (set the topic attribute SignatureVersion to 2)."
            )
        if topic.subscriptions_confirmed == 0:
            reasons.append("The topic has no confirmed subscription: notifications reach nobody.")
    if not queue.ok:
        reasons.append("The SQS queue cannot be read.")
    if queue.dlq_depth:
        reasons.append(f"{queue.dlq_depth} message(s) in the dead-letter queue.")
    if not any(not worker.stale for worker in workers):
        reasons.append("No worker has sent a heartbeat in the last 2 minutes.")
    if problems_7d:
        reasons.append(f"{problems_7d} quarantined or failed notification(s) in the last 7 days.")
    return tuple(reasons)


def _exchange_facts(row: DelegationRequest) -> ExchangeFacts:
    return ExchangeFacts(
        company=row.company,
        approved=row.aws_state is AwsDelegationState.FINALIZED,
        state=ExchangeState(row.exchange_state).value,
        attempts=row.exchange_attempts,
        error_code=row.exchange_error_code,
        token_expires_at=row.exchange_token_expires_at,
    )


def _exchange_reasons(exchanges: ExchangeHealth) -> tuple[str, ...]:
    """A final exchange failure means a customer approved and Vell got no access."""
    if not exchanges.failed_7d:
        return ()
    return (
        f"{exchanges.failed_7d} token exchange(s) failed for good in the last 7 days: those "
        "customers approved but Vell got no credentials (each needs a new request).",
    )
