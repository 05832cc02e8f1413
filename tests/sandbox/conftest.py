"""Sandbox fixtures: one loopback sandbox per session, reset before every test.

Tests talk to the sandbox exactly as the app and scripts do: plain boto3 clients with
``endpoint_url`` and credentials from the control plane. Policy templates and the boundary are
passed explicitly so these tests do not depend on the files under ``policies/``.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import boto3
import pytest

from vell_core.config.settings import load_settings
from vell_core.sandbox.control import SandboxControl
from vell_core.sandbox.server import RunningSandbox, SandboxConfig, start_sandbox

CUSTOMER = "602341187520"
OTHER_CUSTOMER = "418295730164"
OTHER_PARTNER = "111122223333"

ClientMaker = Callable[..., Any]


def _config() -> SandboxConfig:
    config = SandboxConfig.from_settings(load_settings())
    config.host, config.port = "127.0.0.1", 0
    config.throttling = False
    return config


CONFIG = _config()
READ_ONLY_ARN = CONFIG.template_arns["read-only"]
FULL_ACCESS_ARN = CONFIG.template_arns["full-access"]
ONBOARDING_ARN = CONFIG.template_arns["onboarding"]

READ_ONLY_TEMPLATE = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Action": ["iam:GetRole", "iam:ListRoles", "aws-marketplace:ListEntities"],
            "Resource": "*",
        }
    ],
}
FULL_ACCESS_TEMPLATE = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Action": ["aws-marketplace:DescribeEntity", "aws-marketplace:ListEntities"],
            "Resource": "arn:aws:aws-marketplace:us-east-1:@{AccountId}:AWSMarketplace/@{Product}",
        },
        {
            "@Enabled": "AllowChanges",
            "Effect": "Allow",
            "Action": "aws-marketplace:StartChangeSet",
            "Resource": "*",
        },
    ],
}
ONBOARDING_TEMPLATE = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Action": ["iam:CreateRole", "iam:PutRolePolicy"],
            "Resource": "arn:aws:iam::@{AccountId}:role/vell.ai/*",
            "Condition": {"StringEquals": {"iam:PermissionsBoundary": CONFIG.boundary_arn}},
        },
        {"Effect": "Allow", "Action": ["iam:GetRole"], "Resource": "*"},
    ],
}
BOUNDARY = {
    "Version": "2012-10-17",
    "Statement": [
        {"Effect": "Allow", "Action": ["aws-marketplace:*", "iam:GetRole"], "Resource": "*"},
        {"Effect": "Deny", "Action": "iam:CreateUser", "Resource": "*"},
    ],
}
TEMPLATES = {
    READ_ONLY_ARN: READ_ONLY_TEMPLATE,
    FULL_ACCESS_ARN: FULL_ACCESS_TEMPLATE,
    ONBOARDING_ARN: ONBOARDING_TEMPLATE,
}


@pytest.fixture(scope="session")
def sandbox() -> Iterator[RunningSandbox]:
    """The sandbox serving on a free loopback port."""
    running = start_sandbox(CONFIG, templates=TEMPLATES, boundary_document=BOUNDARY)
    yield running
    running.stop()


@pytest.fixture(scope="session")
def control(sandbox: RunningSandbox) -> SandboxControl:
    """Control-plane client."""
    return SandboxControl(sandbox.endpoint)


@pytest.fixture(autouse=True)
def _fresh_sandbox(request: pytest.FixtureRequest) -> Iterator[None]:
    """Every sandbox test starts from a freshly bootstrapped sandbox with default knobs."""
    if "sandbox" in request.fixturenames or "control" in request.fixturenames:
        control = request.getfixturevalue("control")
        control.reset()
        control.set_config(
            duplicate_notifications=False,
            latency_ms=0,
            throttling=False,
            summary_seconds=CONFIG.summary_seconds,
            summary_failures=False,
        )
    return


@pytest.fixture
def make_client(sandbox: RunningSandbox) -> ClientMaker:
    """``make_client(service, creds)`` → a plain boto3 client on the sandbox."""

    def make(service: str, creds: dict[str, Any], region: str = "us-east-1") -> Any:
        return boto3.client(
            service,
            endpoint_url=sandbox.endpoint,
            region_name=region,
            aws_access_key_id=creds["AccessKeyId"],
            aws_secret_access_key=creds["SecretAccessKey"],
            aws_session_token=creds.get("SessionToken"),
        )

    return make


@pytest.fixture
def partner(control: SandboxControl) -> dict[str, str]:
    """Vell's partner credentials."""
    return control.partner_credentials()


@pytest.fixture
def personas(control: SandboxControl) -> dict[str, dict[str, str]]:
    """Owner/admin/root of the main test customer."""
    return control.personas(CUSTOMER)


@pytest.fixture
def partner_iam(make_client: ClientMaker, partner: dict[str, str]) -> Any:
    """IAM client as the partner."""
    return make_client("iam", partner)


@pytest.fixture
def owner_iam(make_client: ClientMaker, personas: dict[str, dict[str, str]]) -> Any:
    """IAM client as the customer owner."""
    return make_client("iam", personas["owner"])


@pytest.fixture
def admin_iam(make_client: ClientMaker, personas: dict[str, dict[str, str]]) -> Any:
    """IAM client as the customer admin."""
    return make_client("iam", personas["admin"])


@pytest.fixture
def root_iam(make_client: ClientMaker, personas: dict[str, dict[str, str]]) -> Any:
    """IAM client as the customer account's root."""
    return make_client("iam", personas["root"])


def create_kwargs(**overrides: Any) -> dict[str, Any]:
    """A valid CreateDelegationRequest call (read-only template) with overrides."""
    kwargs: dict[str, Any] = {
        "Description": "Vell reads your Marketplace listings to build the renewal dashboard.",
        "Permissions": {"PolicyTemplateArn": READ_ONLY_ARN},
        "RequestorWorkflowId": "wf-test-0001",
        "NotificationChannel": CONFIG.topic_arn,
        "SessionDuration": 3600,
        "RequestMessage": "Acme workspace ws-42, attempt 1",
    }
    kwargs.update(overrides)
    return {k: v for k, v in kwargs.items() if v is not None}


def drain_notifications(make_client: ClientMaker, partner: dict[str, str]) -> list[dict[str, Any]]:
    """Every delegation message waiting on the partner queue, envelope and inner JSON."""
    sqs = make_client("sqs", partner)
    found: list[dict[str, Any]] = []
    while True:
        batch = sqs.receive_message(
            QueueUrl=CONFIG.queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=0
        ).get("Messages", [])
        if not batch:
            return found
        for message in batch:
            envelope = json.loads(message["Body"])
            found.append({"envelope": envelope, "inner": json.loads(envelope["Message"])})
            sqs.delete_message(QueueUrl=CONFIG.queue_url, ReceiptHandle=message["ReceiptHandle"])


def finalize(partner_iam: Any, owner_iam: Any, **overrides: Any) -> str:
    """Create, associate, accept and send a request; return its id."""
    request_id = partner_iam.create_delegation_request(**create_kwargs(**overrides))[
        "DelegationRequestId"
    ]
    owner_iam.associate_delegation_request(DelegationRequestId=request_id)
    owner_iam.accept_delegation_request(DelegationRequestId=request_id)
    owner_iam.send_delegation_token(DelegationRequestId=request_id)
    return str(request_id)


def exchange_token(make_client: ClientMaker, partner: dict[str, str]) -> str:
    """The ExchangeToken from the partner queue."""
    for message in drain_notifications(make_client, partner):
        if message["inner"]["Type"] == "ExchangeToken":
            return str(message["inner"]["ExchangeToken"])
    raise AssertionError("no ExchangeToken message on the queue")
