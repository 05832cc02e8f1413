"""SNS signature verification (checklist S1–S10, X1) with self-signed fixtures."""

from __future__ import annotations

import base64
import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.oid import NameOID
from hypothesis import given
from hypothesis import strategies as st

from vell_core.clock import FrozenClock
from vell_core.sns_verify import SnsVerificationError, SnsVerifier, string_to_sign

NOW = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)
TOPIC = "arn:aws:sns:us-east-1:253265132499:vell-delegation-notifications"
CERT_URL = "https://sns.us-east-1.amazonaws.com/SimpleNotificationService-0123abcdef.pem"
KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)


def certificate(
    common_name: str = "sns.amazonaws.com",
    not_before: datetime = NOW - timedelta(days=1),
    not_after: datetime = NOW + timedelta(days=365),
) -> bytes:
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(KEY.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .sign(KEY, hashes.SHA256())
    )
    return cert.public_bytes(serialization.Encoding.PEM)


class Fetcher:
    """Serves one certificate and counts how often it was asked."""

    def __init__(self, body: bytes | None = None) -> None:
        self.body = body if body is not None else certificate()
        self.calls: list[str] = []

    def __call__(self, url: str) -> bytes:
        self.calls.append(url)
        return self.body


def signed(version: str = "2", **overrides: Any) -> dict[str, Any]:
    """A validly signed Notification; ``overrides`` are applied before signing."""
    fields: dict[str, Any] = {
        "Type": "Notification",
        "MessageId": str(uuid.uuid4()),
        "TopicArn": TOPIC,
        "Message": json.dumps({"Type": "StateChange", "State": "ASSIGNED"}),
        "Timestamp": "2026-11-29T11:59:00.000Z",
        "SignatureVersion": version,
        "SigningCertURL": CERT_URL,
        "UnsubscribeURL": "https://sns.us-east-1.amazonaws.com/?Action=Unsubscribe",
    }
    fields.update(overrides)
    algorithm = hashes.SHA256() if version == "2" else hashes.SHA1()
    signature = KEY.sign(string_to_sign(fields), padding.PKCS1v15(), algorithm)
    fields["Signature"] = base64.b64encode(signature).decode()
    return fields


def verifier(fetcher: Fetcher | None = None, *, allow_v1: bool = False, clock=None) -> SnsVerifier:
    return SnsVerifier(
        region="us-east-1",
        allowed_topic_arns=frozenset({TOPIC}),
        clock=clock or FrozenClock(NOW),
        fetch_certificate=fetcher or Fetcher(),
        allow_signature_v1=allow_v1,
    )


def refused(message: dict[str, Any] | str, fetcher: Fetcher | None = None, **kw: Any) -> str:
    body = message if isinstance(message, str) else json.dumps(message)
    with pytest.raises(SnsVerificationError) as caught:
        verifier(fetcher, **kw).verify(body)
    return caught.value.reason


def test_a_valid_message_verifies() -> None:
    message = signed(Subject="hello")
    verified = verifier().verify(json.dumps(message))
    assert verified.message_id == message["MessageId"]
    assert verified.topic_arn == TOPIC
    assert verified.subject == "hello"
    assert verified.inner()["State"] == "ASSIGNED"


def test_string_to_sign_is_byte_exact() -> None:
    fields = {
        "Type": "Notification",
        "MessageId": "m",
        "TopicArn": "t",
        "Message": "a\nb é",
        "Timestamp": "ts",
        "Subject": "s",
    }
    assert (
        string_to_sign(fields)
        == (
            "Message\na\nb é\nMessageId\nm\nSubject\ns\nTimestamp\nts\n"
            "TopicArn\nt\nType\nNotification\n"
        ).encode()
    )
    del fields["Subject"]
    assert b"Subject" not in string_to_sign(fields)


@pytest.mark.parametrize(
    "field",
    [
        "Message",
        "MessageId",
        "Timestamp",
        "TopicArn",
        "Type",
        "Signature",
        "SignatureVersion",
        "SigningCertURL",
    ],
)
def test_each_required_field_is_required(field: str) -> None:
    message = signed()
    del message[field]
    fetcher = Fetcher()
    assert refused(message, fetcher) in ("missing_field", "malformed")
    assert fetcher.calls == []


def test_non_string_values_and_duplicate_keys_are_refused() -> None:
    assert refused(signed(Message={"nested": True})) in ("missing_field", "malformed")
    body = json.dumps(signed())[:-1] + ', "Type": "Notification"}'
    assert refused(body) == "malformed"


def test_unknown_keys_are_ignored_and_not_signed() -> None:
    message = signed()
    message["Extra"] = "whatever"
    assert verifier().verify(json.dumps(message))


def test_forged_signatures_are_refused() -> None:
    tampered = signed()
    tampered["Message"] = tampered["Message"].replace("ASSIGNED", "FINALIZED")
    assert refused(tampered) == "signature"
    other_id = signed()
    other_id["MessageId"] = str(uuid.uuid4())
    assert refused(other_id) == "signature"
    garbage = signed()
    garbage["Signature"] = base64.b64encode(b"x" * 256).decode()
    assert refused(garbage) == "signature"
    not_base64 = signed()
    not_base64["Signature"] = "%%%not base64"
    assert refused(not_base64) in ("signature", "malformed")


def test_the_subject_shift_collision_is_refused() -> None:
    original = signed(Subject="s")
    shifted = dict(original)
    del shifted["Subject"]
    shifted["MessageId"] = original["MessageId"] + "\nSubject\ns"
    assert refused(shifted) == "malformed"


def test_another_topic_is_refused_before_any_fetch() -> None:
    fetcher = Fetcher()
    other = signed(TopicArn="arn:aws:sns:us-east-1:999999999999:someone-elses-topic")
    assert refused(other, fetcher) == "topic"
    assert fetcher.calls == []


@pytest.mark.parametrize(
    "url",
    [
        "http://sns.us-east-1.amazonaws.com/SimpleNotificationService-0123abcdef.pem",
        "https://sns.us-east-1.amazonaws.com.evil.com/SimpleNotificationService-0123abcdef.pem",
        "https://evil.com@sns.us-east-1.amazonaws.com/SimpleNotificationService-0123abcdef.pem",
        "https://user:pw@sns.us-east-1.amazonaws.com/SimpleNotificationService-0123abcdef.pem",
        "https://sns.us-east-1.amazonaws.com:8443/SimpleNotificationService-0123abcdef.pem",
        "https://sns.us-east-1.amazonaws.com./SimpleNotificationService-0123abcdef.pem",
        "https://SNS.US-EAST-1.AMAZONAWS.COM/SimpleNotificationService-0123abcdef.pem",
        "https://s3.amazonaws.com/SimpleNotificationService-0123abcdef.pem",
        "https://sns.us-east-1.amazonaws.com/SimpleNotificationService-0123abcdef.pem?x=1",
        "https://sns.us-east-1.amazonaws.com/x.pem?Action=GetEndpointAttributes",
        "https://sns.us-east-1.amazonaws.com/certs/SimpleNotificationService-0123abcdef.pem",
        "https://sns.us-east-1.amazonaws.com/SimpleNotificationService-0123abcdef.pem#frag",
        "https://sns.eu-west-1.amazonaws.com/SimpleNotificationService-0123abcdef.pem",
    ],
)
def test_signing_cert_url_variants_are_refused_without_fetching(url: str) -> None:
    fetcher = Fetcher()
    assert refused(signed(SigningCertURL=url), fetcher) == "cert_url"
    assert fetcher.calls == []


@pytest.mark.parametrize(
    "body",
    [
        b"<Error><Message>" + certificate() + b"</Message></Error>",
        certificate() + certificate(),
        b"not a certificate at all",
    ],
    ids=["xml-wrapped", "two-certificates", "garbage"],
)
def test_the_certificate_body_must_be_exactly_one_pem(body: bytes) -> None:
    assert refused(signed(), Fetcher(body)) == "certificate"


@pytest.mark.parametrize(
    "cert",
    [
        certificate(not_after=NOW - timedelta(seconds=1)),
        certificate(not_before=NOW + timedelta(days=1)),
        certificate(common_name="evil.example.com"),
    ],
    ids=["expired", "not-yet-valid", "wrong-cn"],
)
def test_the_certificate_must_be_valid_now_and_issued_to_sns(cert: bytes) -> None:
    assert refused(signed(), Fetcher(cert)) == "certificate"


def test_freshness_window() -> None:
    assert verifier().verify(json.dumps(signed(Timestamp="2026-11-29T11:00:01.000Z")))
    assert refused(signed(Timestamp="2026-11-29T10:58:20.000Z")) == "stale"
    assert refused(signed(Timestamp="2026-11-29T12:10:00.000Z")) == "future"
    assert refused(signed(Timestamp="2026-11-29 11:59:00")) == "malformed"


def test_signature_version_one_only_where_allowed() -> None:
    assert refused(signed(version="1")) == "bad_signature_version"
    assert verifier(allow_v1=True).verify(json.dumps(signed(version="1")))
    for version in ("3", "2 ", ""):
        assert refused(signed(SignatureVersion=version)) in ("bad_signature_version", "malformed")


def test_certificates_are_cached_and_revalidated() -> None:
    fetcher = Fetcher()
    clock = FrozenClock(NOW)
    checker = verifier(fetcher, clock=clock)
    checker.verify(json.dumps(signed()))
    checker.verify(json.dumps(signed()))
    assert len(fetcher.calls) == 1
    clock.advance(timedelta(days=400))  # past the cached certificate's not_after
    late = signed(Timestamp=(NOW + timedelta(days=400)).strftime("%Y-%m-%dT%H:%M:%S.000Z"))
    with pytest.raises(SnsVerificationError):
        checker.verify(json.dumps(late))


@given(
    st.one_of(
        st.text(max_size=200),
        st.dictionaries(st.text(max_size=12), st.text(max_size=30), max_size=10),
    )
)
def test_arbitrary_input_only_ever_raises_verification_errors(value: Any) -> None:
    body = value if isinstance(value, str) else json.dumps(value)
    try:
        verifier().verify(body)
    except SnsVerificationError:
        pass


def test_moto_signed_delivery_verifies_through_the_sandbox(tmp_path) -> None:
    """The real path: sandbox SNS signs, SQS delivers, the verifier fetches the pinned URL."""
    import boto3

    from tests.conftest import private_channel
    from vell_core.clock import SystemClock
    from vell_core.sandbox.runtime import ensure_sandbox
    from vell_core.settings import load_settings
    from vell_core.sns_verify import requests_certificate_fetcher, routed_session

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
