"""Self-signed SNS fixtures (checklist §6.2): our own RSA key and certificate, signed envelopes.

The string to sign is written out here independently of ``vell_core.aws.sns_verify`` so a bug in
the verifier's canonicalisation cannot make the tests agree with it by construction.
"""

from __future__ import annotations

import base64
import functools
import json
import uuid
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.oid import NameOID

from vell_core.aws.sns_verify import SnsVerifier
from vell_core.domain.clock import FrozenClock

REGION = "us-east-1"
NOW = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)
TOPIC = "arn:aws:sns:us-east-1:253265132499:vell-delegation-notifications"
OTHER_TOPIC = "arn:aws:sns:us-east-1:999999999999:someone-elses-topic"
CERT_URL = "https://sns.us-east-1.amazonaws.com/SimpleNotificationService-0123456789abcdef.pem"
SNS_NAME = "sns.amazonaws.com"
INNER = {
    "Type": "ExchangeToken",
    "RequestId": "dr-1234567890abcdef0123",
    "State": "FINALIZED",
    "ExchangeToken": "eyJSENTINEL-exchange-token",
}

NOTIFICATION_ORDER = ("Message", "MessageId", "Subject", "Timestamp", "TopicArn", "Type")
CONFIRMATION_ORDER = (
    "Message",
    "MessageId",
    "SubscribeURL",
    "Timestamp",
    "Token",
    "TopicArn",
    "Type",
)


@functools.cache
def signing_key(name: str = "sns") -> rsa.RSAPrivateKey:
    """A 2048-bit RSA key per name, generated once per test session."""
    del name  # only the cache key
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def make_certificate(
    key: rsa.RSAPrivateKey | None = None,
    *,
    common_name: str | None = SNS_NAME,
    san_dns: Iterable[str] = (),
    not_before: datetime = NOW - timedelta(days=1),
    not_after: datetime = NOW + timedelta(days=365),
) -> x509.Certificate:
    """A self-signed certificate; pass ``common_name=None`` for a subject without CN."""
    key = key or signing_key()
    attributes = [x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Amazon")]
    if common_name is not None:
        attributes.append(x509.NameAttribute(NameOID.COMMON_NAME, common_name))
    name = x509.Name(attributes)
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
    )
    dns = [x509.DNSName(value) for value in san_dns]
    if dns:
        builder = builder.add_extension(x509.SubjectAlternativeName(dns), critical=False)
    return builder.sign(key, hashes.SHA256())


def pem(certificate: x509.Certificate) -> bytes:
    """PEM encoding of ``certificate``."""
    return certificate.public_bytes(serialization.Encoding.PEM)


def der(certificate: x509.Certificate) -> bytes:
    """DER encoding of ``certificate``."""
    return certificate.public_bytes(serialization.Encoding.DER)


def sns_time(when: datetime) -> str:
    """SNS's timestamp format: milliseconds and a ``Z``."""
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def canonical(fields: dict[str, Any]) -> bytes:
    """Independent string to sign (AWS docs §1.1)."""
    order = NOTIFICATION_ORDER if fields["Type"] == "Notification" else CONFIRMATION_ORDER
    return "".join(f"{k}\n{fields[k]}\n" for k in order if k in fields).encode("utf-8")


def sign(
    fields: dict[str, Any],
    key: rsa.RSAPrivateKey | None = None,
    *,
    version: str = "2",
    payload: bytes | None = None,
) -> dict[str, Any]:
    """Return ``fields`` plus Signature/SignatureVersion over ``payload`` (default canonical)."""
    algorithm = hashes.SHA1() if version == "1" else hashes.SHA256()
    signature = (key or signing_key()).sign(
        payload if payload is not None else canonical(fields), padding.PKCS1v15(), algorithm
    )
    return {
        **fields,
        "SignatureVersion": version,
        "Signature": base64.b64encode(signature).decode("ascii"),
    }


def notification(
    *,
    when: datetime = NOW,
    subject: str | None = None,
    message: str | None = None,
    topic: str = TOPIC,
    cert_url: str = CERT_URL,
    version: str = "2",
    key: rsa.RSAPrivateKey | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """A signed Notification envelope (extra keys are added unsigned)."""
    fields: dict[str, Any] = {
        "Type": "Notification",
        "MessageId": str(uuid.uuid4()),
        "TopicArn": topic,
        "Message": json.dumps(INNER) if message is None else message,
        "Timestamp": sns_time(when),
        "SigningCertURL": cert_url,
        "UnsubscribeURL": f"https://sns.us-east-1.amazonaws.com/?Action=Unsubscribe&x={topic}",
    }
    if subject is not None:
        fields["Subject"] = subject
    return {**sign(fields, key, version=version), **extra}


def confirmation(
    kind: str = "SubscriptionConfirmation",
    *,
    when: datetime = NOW,
    topic: str = TOPIC,
    subscribe_url: str = "https://sns.us-east-1.amazonaws.com/?Action=ConfirmSubscription&T=x",
    token: str = "2336412f37fb687f5d51e6e2425SENTINEL",
    key: rsa.RSAPrivateKey | None = None,
) -> dict[str, Any]:
    """A signed SubscriptionConfirmation or UnsubscribeConfirmation envelope."""
    fields: dict[str, Any] = {
        "Type": kind,
        "MessageId": str(uuid.uuid4()),
        "Token": token,
        "TopicArn": topic,
        "Message": f"You have chosen to subscribe to the topic {topic}.",
        "SubscribeURL": subscribe_url,
        "Timestamp": sns_time(when),
        "SigningCertURL": CERT_URL,
    }
    return sign(fields, key)


def body(envelope: dict[str, Any]) -> str:
    """The SQS body for ``envelope``."""
    return json.dumps(envelope)


class CountingFetcher:
    """Serves certificate bodies by exact URL and records every call."""

    def __init__(self, bodies: dict[str, bytes] | None = None) -> None:
        self.bodies = dict(bodies) if bodies is not None else {CERT_URL: pem(make_certificate())}
        self.calls: list[str] = []

    def __call__(self, url: str) -> bytes:
        self.calls.append(url)
        return self.bodies[url]


def make_verifier(
    fetcher: Callable[[str], bytes] | None = None,
    clock: FrozenClock | None = None,
    **options: Any,
) -> SnsVerifier:
    """A verifier pinned to us-east-1 and TOPIC, on a frozen clock at NOW."""
    options.setdefault("allowed_topic_arns", frozenset({TOPIC}))
    return SnsVerifier(
        region=REGION,
        clock=clock or FrozenClock(NOW),
        fetch_certificate=fetcher if fetcher is not None else CountingFetcher(),
        **options,
    )
