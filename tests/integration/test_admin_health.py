"""Admin → AWS setup: ARN checks, topic/queue/DLQ health (moto), workers, quarantine, onboarding."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import pytest
from sqlalchemy import text
from sqlalchemy.engine import Engine

from tests.conftest import isolated_mock_aws
from vell_core.aws.clients import ClientFactory
from vell_core.config.settings import SANDBOX_DEFAULTS, load_settings
from vell_core.domain.clock import FrozenClock
from vell_core.domain.errors import ValidationFailed
from vell_core.domain.models import (
    InboxStatus,
    NotificationInbox,
    StaffRole,
    StaffUser,
    WorkerHeartbeat,
)
from vell_core.domain.roles import StaffMember
from vell_core.sandbox.sns_topic_attributes import report_real_topic_attributes
from vell_core.services.aws_health import (
    AwsHealthService,
    check_arn,
    check_settings,
    dlq_url_for,
)
from vell_core.services.partner_onboarding import (
    PartnerOnboardingService,
    render_questionnaire,
)
from vell_core.services.staff import StaffDirectory
from vell_core.store.engine import session_scope
from vell_core.store.health import HealthStore
from vell_core.store.onboarding import OnboardingStore
from vell_core.store.staff import StaffStore

NOW = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)
TOPIC_ARN = SANDBOX_DEFAULTS["aws_delegation_sns_topic_arn"]
QUEUE_URL = SANDBOX_DEFAULTS["vell_delegation_queue_url"]


# --- pure checks -----------------------------------------------------------------------------


def test_sandbox_defaults_look_valid() -> None:
    assert all(check.valid for check in check_settings(load_settings()))


@pytest.mark.parametrize(
    ("kind", "value"),
    [
        ("sns_topic", "arn:aws:sns:us-east-1:12345:topic"),
        ("sns_topic", "arn:aws:sqs:us-east-1:253265132499:topic"),
        ("sns_topic", "arn:aws:sns:us-east-1:253265132499:topic\nx"),
        ("delegation_template", "arn:aws:iam::253265132499:role/Foo"),
        ("permission_boundary", "arn:aws:iam::partner:policy/vell.ai/Boundary"),
        ("permission_boundary", "arn:aws:iam::*:policy/x/B_20251206"),
        ("sqs_queue_url", "http://sqs.us-east-1.amazonaws.com/253265132499/q"),
        ("sqs_queue_url", "https://sqs.us-east-1.amazonaws.com.evil.com/253265132499/q"),
        ("https_url", "ftp://example.com/x.yaml"),
        ("sns_topic", ""),
    ],
)
def test_malformed_values_are_flagged(kind: str, value: str) -> None:
    assert not check_arn(kind, value)


@pytest.mark.parametrize(
    ("kind", "value"),
    [
        ("sns_topic", "arn:aws-us-gov:sns:us-gov-west-1:253265132499:vell-notify"),
        ("delegation_template", "arn:aws:iam:::delegation-template/partner_delegation_template"),
        ("permission_boundary", "arn:aws:iam::partner:policy/partner.com/SQSBoundary_20250115"),
        (
            "permission_boundary",
            "arn:aws:iam::partner:policy/permissions-boundary/vell.ai/B_2025_12_06",
        ),
        ("sqs_queue_url", "https://sqs.eu-west-1.amazonaws.com/253265132499/vell.fifo"),
    ],
)
def test_documented_shapes_are_accepted(kind: str, value: str) -> None:
    assert check_arn(kind, value)


def test_dlq_url_from_redrive_policy() -> None:
    policy = json.dumps({"deadLetterTargetArn": "arn:aws:sqs:us-east-1:253265132499:q-dlq"})
    assert (
        dlq_url_for(policy, QUEUE_URL) == "https://sqs.us-east-1.amazonaws.com/253265132499/q-dlq"
    )
    assert dlq_url_for(None, QUEUE_URL) is None
    assert dlq_url_for("not json", QUEUE_URL) is None


def test_questionnaire_renders_settings_and_placeholders() -> None:
    questionnaire = render_questionnaire(load_settings(), {"partner_id": "P-12345678"})
    assert questionnaire.to == "aws-iam-partner-onboarding@amazon.com"
    assert questionnaire.subject == "IAM Temporary Delegation Onboarding Request - Vell"
    assert "- Production: 253265132499" in questionnaire.body
    assert "Partner Name: Vell" in questionnaire.body
    assert "Requestor Domain: vell.ai" in questionnaire.body
    assert "Partner ID: P-12345678" in questionnaire.body
    assert "[From AWS Marketplace - format: prod-XXXXXXXX]" in questionnaire.body
    assert "Partner ID" not in questionnaire.missing
    assert "AWS Marketplace Product ID" in questionnaire.missing


# --- the service against moto ----------------------------------------------------------------


@pytest.fixture
def admin_member(engine: Engine) -> StaffMember:
    with session_scope(engine) as session:
        session.add(
            StaffUser(
                name="Sam Patel", email="sam.patel@vell.ai", role=StaffRole.ADMIN, created_at=NOW
            )
        )
    member = StaffDirectory(StaffStore(engine)).by_email("sam.patel@vell.ai")
    assert member is not None
    return member


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Any:
    """Moto with Vell's topic, queue and dead-letter queue as onboarding leaves them."""
    monkeypatch.setenv("MOTO_ACCOUNT_ID", "253265132499")  # the partner account in the ARNs
    report_real_topic_attributes()  # as the sandbox does: moto omits SignatureVersion
    with isolated_mock_aws():
        sns = boto3.client("sns", region_name="us-east-1")
        sqs = boto3.client("sqs", region_name="us-east-1")
        topic = sns.create_topic(Name="vell-delegation-notifications")["TopicArn"]
        sns.set_topic_attributes(
            TopicArn=topic, AttributeName="SignatureVersion", AttributeValue="2"
        )
        sns.set_topic_attributes(
            TopicArn=topic,
            AttributeName="Policy",
            AttributeValue=json.dumps(
                {
                    "Version": "2012-10-17",
                    "Statement": [
                        {
                            "Effect": "Allow",
                            "Principal": {"Service": "iam.amazonaws.com"},
                            "Action": "SNS:Publish",
                            "Resource": topic,
                        }
                    ],
                }
            ),
        )
        dlq_url = sqs.create_queue(QueueName="vell-delegation-notifications-dlq")["QueueUrl"]
        dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])[
            "Attributes"
        ]["QueueArn"]
        queue_url = sqs.create_queue(
            QueueName="vell-delegation-notifications",
            Attributes={
                "RedrivePolicy": json.dumps(
                    {"deadLetterTargetArn": dlq_arn, "maxReceiveCount": "5"}
                )
            },
        )["QueueUrl"]
        queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])[
            "Attributes"
        ]["QueueArn"]
        sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue_arn)
        yield {"sns": sns, "sqs": sqs, "queue_url": queue_url, "dlq_url": dlq_url, "topic": topic}


def _service(engine: Engine, clock: FrozenClock) -> AwsHealthService:
    return AwsHealthService(
        settings=load_settings(vell_delegation_queue_url=QUEUE_URL),
        store=HealthStore(engine),
        clock=clock,
        aws=ClientFactory(region="us-east-1"),
        staff=StaffDirectory(StaffStore(engine)),
    )


def _onboarding(
    engine: Engine, clock: FrozenClock, policies_dir: Path | None = None
) -> PartnerOnboardingService:
    kwargs: dict[str, Any] = {} if policies_dir is None else {"policies_dir": policies_dir}
    return PartnerOnboardingService(
        settings=load_settings(vell_delegation_queue_url=QUEUE_URL),
        store=OnboardingStore(engine),
        clock=clock,
        staff=StaffDirectory(StaffStore(engine)),
        **kwargs,
    )


def _heartbeat(engine: Engine, worker_id: str, seen: datetime) -> None:
    with session_scope(engine) as session:
        session.add(WorkerHeartbeat(worker_id=worker_id, last_seen_at=seen, messages_processed=3))


def _inbox(engine: Engine, message_id: str, status: InboxStatus, received: datetime) -> None:
    with session_scope(engine) as session:
        session.add(
            NotificationInbox(
                message_id=message_id,
                signature_sha256="0" * 64,
                topic_arn=TOPIC_ARN,
                status=status,
                error="unknown DelegationRequestId" if status is InboxStatus.QUARANTINED else None,
                received_at=received,
            )
        )


def test_healthy_when_queue_dlq_and_worker_are_fine(
    engine: Engine, admin_member: StaffMember, aws: dict[str, Any]
) -> None:
    clock = FrozenClock(NOW)
    _heartbeat(engine, "worker-a", NOW - timedelta(seconds=30))
    _inbox(engine, "m-1", InboxStatus.APPLIED, NOW - timedelta(minutes=5))
    health = _service(engine, clock).health(admin_member)
    assert health.reasons == ()
    assert health.verdict_ok
    assert health.topic.ok
    assert health.topic.iam_may_publish
    assert health.topic.signature_version_ok
    assert health.topic.subscriptions_confirmed == 1
    assert (health.queue.depth, health.queue.in_flight, health.queue.dlq_depth) == (0, 0, 0)
    assert health.queue.dlq_url is not None
    assert health.last_notification_at == NOW - timedelta(minutes=5)
    assert health.notifications_24h == 1
    assert health.mode == "sandbox"


def test_reports_depth_dlq_stale_worker_and_quarantine_without_consuming(
    engine: Engine, admin_member: StaffMember, aws: dict[str, Any]
) -> None:
    sqs = aws["sqs"]
    for body in ("a", "b"):
        sqs.send_message(QueueUrl=aws["queue_url"], MessageBody=body)
    sqs.send_message(QueueUrl=aws["dlq_url"], MessageBody="dead")
    clock = FrozenClock(NOW)
    _heartbeat(engine, "worker-old", NOW - timedelta(minutes=3))
    _inbox(engine, "m-q", InboxStatus.QUARANTINED, NOW - timedelta(hours=1))
    _inbox(engine, "m-f", InboxStatus.FAILED, NOW - timedelta(hours=2))

    service = _service(engine, clock)
    health = service.health(admin_member)
    assert health.queue.depth == 2
    assert health.queue.dlq_depth == 1
    assert [w.stale for w in health.workers] == [True]
    assert {p.message_id for p in health.problems} == {"m-q", "m-f"}
    assert not health.verdict_ok
    assert any("dead-letter" in reason for reason in health.reasons)
    assert any("heartbeat" in reason for reason in health.reasons)
    assert any("quarantined" in reason for reason in health.reasons)

    # Reading health twice must not hide or consume anything.
    again = service.health(admin_member)
    assert (again.queue.depth, again.queue.in_flight) == (2, 0)


def test_signature_version_one_and_no_subscription_are_problems(
    engine: Engine, admin_member: StaffMember, aws: dict[str, Any]
) -> None:
    sns = aws["sns"]
    sns.set_topic_attributes(
        TopicArn=aws["topic"], AttributeName="SignatureVersion", AttributeValue="1"
    )
    for subscription in sns.list_subscriptions_by_topic(TopicArn=aws["topic"])["Subscriptions"]:
        sns.unsubscribe(SubscriptionArn=subscription["SubscriptionArn"])
    _heartbeat(engine, "worker-a", NOW - timedelta(seconds=30))
    health = _service(engine, FrozenClock(NOW)).health(admin_member)
    assert not health.topic.signature_version_ok
    assert health.topic.signature_version_text == "signature version 1: Vell requires 2"
    assert health.topic.subscriptions_confirmed == 0
    assert any("SignatureVersion 1" in reason for reason in health.reasons)
    assert any("no confirmed subscription" in reason for reason in health.reasons)
    assert not health.verdict_ok


def test_missing_queue_and_topic_are_reported_not_raised(
    engine: Engine, admin_member: StaffMember
) -> None:
    with isolated_mock_aws():  # nothing created
        health = _service(engine, FrozenClock(NOW)).health(admin_member)
    assert not health.topic.ok
    assert health.topic.error
    assert not health.queue.ok
    assert health.queue.error
    assert not health.verdict_ok


def test_checklist_defaults_from_the_guide_and_persists(
    engine: Engine, admin_member: StaffMember
) -> None:
    service = _onboarding(engine, FrozenClock(NOW))
    entries = {e.key: e for e in service.checklist(admin_member)}
    assert set(entries) == {"isva", "marketplace_listing", "deployed_on_aws", "partner_central"}
    assert entries["marketplace_listing"].done
    assert not entries["isva"].done
    service.set_checklist_item(admin_member, "isva", done=True, note="Enrolled 2026-11-20")
    entries = {e.key: e for e in service.checklist(admin_member)}
    assert entries["isva"].done
    assert entries["isva"].note == "Enrolled 2026-11-20"
    assert entries["isva"].updated_by == "Sam Patel"
    with pytest.raises(ValidationFailed):
        service.set_checklist_item(admin_member, "nope", done=True, note="")


def test_profile_answers_are_validated_and_fill_the_questionnaire(
    engine: Engine, admin_member: StaffMember
) -> None:
    service = _onboarding(engine, FrozenClock(NOW))
    with pytest.raises(ValidationFailed):
        service.set_profile(admin_member, {"partner_id": "12345"})
    service.set_profile(
        admin_member, {"partner_id": "P-ABCD1234", "staging_account_id": "111122223333"}
    )
    questionnaire = service.questionnaire(admin_member)
    assert "Partner ID: P-ABCD1234" in questionnaire.body
    assert "- Staging: 111122223333" in questionnaire.body
    assert "Contact Emails: sam.patel@vell.ai" in questionnaire.body  # admins until set
    service.set_profile(admin_member, {"partner_id": ""})
    assert "Partner ID" in service.questionnaire(admin_member).missing


def test_policy_files_are_read_lazily_and_missing_ones_flagged(
    engine: Engine, admin_member: StaffMember, tmp_path: Path
) -> None:
    (tmp_path / "templates").mkdir()
    (tmp_path / "templates" / "read-only.json").write_text('{"Version": "2012-10-17"}')
    (tmp_path / "trust-policy.json").write_text("{}")
    files = _onboarding(engine, FrozenClock(NOW), tmp_path).policy_files(admin_member)
    by_path = {f.relative_path: f for f in files}
    assert by_path["templates/read-only.json"].data == b'{"Version": "2012-10-17"}'
    assert by_path["boundary.json"].missing
    assert by_path["trust-policy.json"].mime == "application/json"
    empty = _onboarding(engine, FrozenClock(NOW), tmp_path / "absent").policy_files(admin_member)
    assert all(f.missing for f in empty)


def _delegation(engine: Engine, user_id: int, index: int, exchange_state: str, **values: Any):
    """A finalized request whose exchange is in ``exchange_state``."""
    with engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO delegation_requests (user_id, company, aws_account_id, "
                "requestor_workflow_id, type, status, aws_state, expires_at, "
                "create_persistent_role, session_duration, template_name, template_arn, "
                "exchange_state, exchange_error_code, exchange_token_expires_at, "
                "exchange_attempts, created_at, updated_at) VALUES (:u, :c, '602341187520', "
                ":wf, 'demo', 'approved', 'FINALIZED', :exp, false, 14400, 'read-only', 'arn', "
                ":s, :code, :tok, 2, :t, :t)"
            ),
            {
                "u": user_id,
                "c": f"Company {index}",
                "wf": f"vell-{index:032d}",
                "exp": NOW + timedelta(hours=4),
                "s": exchange_state,
                "code": values.get("code"),
                "tok": values.get("token_expires_at", NOW + timedelta(hours=4)),
                "t": values.get("at", NOW - timedelta(hours=1)),
            },
        )


def test_final_exchange_failures_are_counted_and_turn_the_verdict(
    engine: Engine, admin_member: StaffMember, aws: dict[str, Any]
) -> None:
    clock = FrozenClock(NOW)
    _heartbeat(engine, "worker-a", NOW - timedelta(seconds=30))
    _delegation(engine, admin_member.id, 1, "failed", code="ExpiredTradeInTokenException")
    _delegation(engine, admin_member.id, 2, "retrying", code="ServiceUnavailable")
    # Still "retrying", but its token expired: no retry can succeed any more.
    _delegation(engine, admin_member.id, 3, "retrying", token_expires_at=NOW - timedelta(1))
    _delegation(engine, admin_member.id, 4, "failed", at=NOW - timedelta(days=8))  # too old
    _delegation(engine, admin_member.id, 5, "done")
    health = _service(engine, clock).health(admin_member)
    assert (health.exchanges.failed_7d, health.exchanges.retrying) == (2, 1)
    assert {f.company for f in health.exchanges.failures} == {"Company 1", "Company 3"}
    assert all(f.message.startswith("AWS would not exchange") for f in health.exchanges.failures)
    assert not health.verdict_ok
    assert any("2 token exchange(s) failed for good" in r for r in health.reasons)
