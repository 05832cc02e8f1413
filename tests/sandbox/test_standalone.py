"""The sandbox run alone, in its own process, serves every AWS API the app uses.

Both documented commands (``python -m vell_core.sandbox`` and ``vell sandbox``) are launched as
real subprocesses and called with plain boto3, as a script or a second app process would.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest

from tests.sandbox.processes import SANDBOX_COMMANDS, sandbox_process
from vell_core.config.settings import SANDBOX_DEFAULTS
from vell_core.sandbox.control import SandboxControl

CUSTOMER = "602341187520"


@pytest.fixture(scope="module", params=sorted(SANDBOX_COMMANDS))
def endpoint(request: pytest.FixtureRequest) -> Iterator[str]:
    """A sandbox served alone by one of the two commands."""
    with sandbox_process(request.param) as url:
        yield url


def _client(endpoint: str, service: str, creds: dict[str, str]) -> Any:
    return boto3.client(
        service,
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id=creds["AccessKeyId"],
        aws_secret_access_key=creds["SecretAccessKey"],
    )


def test_partner_apis_answer(endpoint: str) -> None:
    """IAM, STS, SNS and SQS answer the partner, on the bootstrapped topic and queue."""
    partner = SandboxControl(endpoint).partner_credentials()
    iam = _client(endpoint, "iam", partner)
    assert "DelegationRequests" in iam.list_delegation_requests()
    assert iam.get_user()["User"]["UserName"] == "vell-desk"
    identity = _client(endpoint, "sts", partner).get_caller_identity()
    assert identity["Account"] == partner["account_id"]
    topic = SANDBOX_DEFAULTS["aws_delegation_sns_topic_arn"]
    attributes = _client(endpoint, "sns", partner).get_topic_attributes(TopicArn=topic)
    assert attributes["Attributes"]["TopicArn"] == topic
    queue = SANDBOX_DEFAULTS["vell_delegation_queue_url"]
    sqs = _client(endpoint, "sqs", partner)
    assert (
        "RedrivePolicy"
        in sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["All"])["Attributes"]
    )


def test_marketplace_catalog_answers(endpoint: str) -> None:
    """Marketplace Catalog lists the customer's products (it was UnknownOperation before)."""
    owner = SandboxControl(endpoint).personas(CUSTOMER)["owner"]
    catalog = _client(endpoint, "marketplace-catalog", owner)
    listed = catalog.list_entities(Catalog="AWSMarketplace", EntityType="SaaSProduct")
    assert listed["EntitySummaryList"], "the sample seller has SaaS products"


def test_marketplace_agreement_answers(endpoint: str) -> None:
    """Marketplace Agreement searches the customer's agreements."""
    owner = SandboxControl(endpoint).personas(CUSTOMER)["owner"]
    agreement = _client(endpoint, "marketplace-agreement", owner)
    found = agreement.search_agreements(
        catalog="AWSMarketplace",
        filters=[
            {"name": "PartyType", "values": ["Proposer"]},
            {"name": "AgreementType", "values": ["PurchaseAgreement"]},
        ],
    )
    assert "agreementViewSummaries" in found


def test_the_control_plane_answers(endpoint: str) -> None:
    """Health, clock and knobs answer over HTTP."""
    control = SandboxControl(endpoint)
    assert control.health()["status"] == "ok"
    assert control.now() < control.advance(60)
    assert set(control.get_config()) >= {"duplicate_notifications", "throttling"}
