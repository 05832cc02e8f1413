"""The /_sandbox control plane and the customer_session helper."""

from __future__ import annotations

import dataclasses
from typing import Any

import boto3
import pytest
import requests

from tests.sandbox.conftest import CONFIG, CUSTOMER
from vell_core.sandbox.control import SandboxControl, customer_session
from vell_core.sandbox.server import start_sandbox


def test_health_clock_and_advance(control: SandboxControl) -> None:
    assert control.health()["status"] == "ok"
    before = control.now()
    after = control.advance(3600)
    assert after > before


def test_config_round_trip_and_unknown_knob(control: SandboxControl, sandbox: Any) -> None:
    assert control.set_config(latency_ms=5)["latency_ms"] == 5
    assert control.get_config()["latency_ms"] == 5
    response = requests.post(f"{sandbox.endpoint}/_sandbox/config", json={"bogus": 1}, timeout=5)
    assert response.status_code == 400


def test_personas_are_stable_and_validated(control: SandboxControl, sandbox: Any) -> None:
    first = control.personas(CUSTOMER)
    assert control.personas(CUSTOMER) == first
    assert set(first) == {"owner", "admin", "root"}
    assert first["root"]["arn"] == f"arn:aws:iam::{CUSTOMER}:root"
    bad = requests.post(
        f"{sandbox.endpoint}/_sandbox/personas", json={"account_id": "1"}, timeout=5
    )
    assert bad.status_code == 400


def test_reset_keeps_partner_credentials(control: SandboxControl) -> None:
    before = control.partner_credentials()
    control.reset()
    assert control.partner_credentials() == before
    assert before["account_id"] == CONFIG.partner_account_id


def test_unknown_control_path_is_404(sandbox: Any) -> None:
    assert requests.get(f"{sandbox.endpoint}/_sandbox/nope", timeout=5).status_code == 404


def test_customer_session_acts_as_persona(sandbox: Any) -> None:
    session = customer_session(sandbox.endpoint, CUSTOMER, "admin")
    identity = session.client("sts", endpoint_url=sandbox.endpoint).get_caller_identity()
    assert identity["Arn"] == f"arn:aws:iam::{CUSTOMER}:user/customer-admin"


def test_unsigned_requests_are_refused(sandbox: Any) -> None:
    response = requests.post(sandbox.endpoint + "/", data="Action=ListUsers", timeout=5)
    assert response.status_code == 403


@pytest.mark.parametrize("path", ["/SimpleNotificationService-deadbeef.pem"])
def test_unknown_certificate_is_404(sandbox: Any, path: str) -> None:
    assert requests.get(sandbox.endpoint + path, timeout=5).status_code == 404


def test_reset_of_one_sandbox_leaves_another_in_the_process_working(
    control: SandboxControl,
) -> None:
    """moto is process-global: a wipe must not leave a second sandbox without its topic."""
    other_topic = "arn:aws:sns:us-east-1:253265132499:vell-second-sandbox"
    other_queue = "https://sqs.us-east-1.amazonaws.com/253265132499/vell-second-sandbox"
    second = start_sandbox(
        dataclasses.replace(CONFIG, topic_arn=other_topic, queue_url=other_queue, port=0)
    )
    try:
        control.reset()
        creds = SandboxControl(second.endpoint).partner_credentials()
        sns = boto3.client(
            "sns",
            endpoint_url=second.endpoint,
            region_name="us-east-1",
            aws_access_key_id=creds["AccessKeyId"],
            aws_secret_access_key=creds["SecretAccessKey"],
        )
        assert sns.get_topic_attributes(TopicArn=other_topic)["Attributes"]["TopicArn"]
        sns.publish(TopicArn=other_topic, Message="still here")
    finally:
        second.stop()
