"""The real verification path: sandbox SNS signs, SQS delivers, the verifier fetches the
pinned certificate URL through the session routed to the sandbox."""

from __future__ import annotations

import boto3

from tests.conftest import private_channel
from vell_core.aws.sns_verify import SnsVerifier, requests_certificate_fetcher, routed_session
from vell_core.config.settings import load_settings
from vell_core.domain.clock import SystemClock
from vell_core.sandbox.runtime import ensure_sandbox


def test_moto_signed_delivery_verifies_through_the_sandbox(tmp_path) -> None:
    """A message published in the sandbox verifies exactly as on real AWS."""
    channel = private_channel()
    settings = load_settings(vell_sandbox_port=0, **channel)
    sandbox = ensure_sandbox(settings)
    try:
        creds = sandbox.partner_credentials()
        kwargs = {
            "endpoint_url": sandbox.endpoint,
            "region_name": "us-east-1",
            "aws_access_key_id": creds["AccessKeyId"],
            "aws_secret_access_key": creds["SecretAccessKey"],
        }
        boto3.client("sns", **kwargs).publish(
            TopicArn=channel["aws_delegation_sns_topic_arn"], Message="hello"
        )
        messages = boto3.client("sqs", **kwargs).receive_message(
            QueueUrl=channel["vell_delegation_queue_url"], WaitTimeSeconds=1
        )["Messages"]
        checker = SnsVerifier(
            region="us-east-1",
            allowed_topic_arns=frozenset({channel["aws_delegation_sns_topic_arn"]}),
            clock=SystemClock(),
            fetch_certificate=requests_certificate_fetcher(routed_session(sandbox.endpoint)),
        )
        assert checker.verify(messages[0]["Body"]).message == "hello"
    finally:
        sandbox.stop()
