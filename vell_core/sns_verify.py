"""SNS message verification, shaped like AWS's Java v2 SnsMessageManager (checklist S1–S10).

Checks, in order, before anything is trusted: strict JSON (no duplicate keys, size cap); the
required fields of the message ``Type``, all strings; field formats that close the canonical-
string collision (UUID MessageId, strict ISO timestamp, no newlines); the topic allow-list;
freshness; the SignatureVersion; the exact signing-certificate URL (https, pinned host, exact
path, no userinfo/port/query/fragment) — all before any network I/O; then one strictly parsed
PEM certificate, valid now and issued to ``sns.amazonaws.com``; then the signature over the
byte-exact string to sign. Message bodies are never logged (they carry exchange tokens).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import logging
import re
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import requests
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.oid import NameOID
from requests.adapters import HTTPAdapter

from vell_core.clock import Clock
from vell_core.errors import VellError

log = logging.getLogger(__name__)

MAX_BODY_BYTES = 256 * 1024
UUID_RE = re.compile(
    r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"
)
TIMESTAMP_RE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,6})?Z$")
CERT_PATH_RE = re.compile(r"^/SimpleNotificationService-[0-9a-f]+\.pem$")
PEM_RE = re.compile(
    rb"^-----BEGIN CERTIFICATE-----\r?\n[A-Za-z0-9+/=\r\n]+-----END CERTIFICATE-----\r?\n?$"
)
REGION_RE = re.compile(r"^[a-z]{2}(-[a-z]+)+-\d$")

NOTIFICATION_FIELDS = (
    "Message",
    "MessageId",
    "Timestamp",
    "TopicArn",
    "Type",
    "Signature",
    "SignatureVersion",
    "SigningCertURL",
)
CONFIRMATION_FIELDS = (*NOTIFICATION_FIELDS, "SubscribeURL", "Token")
REQUIRED_BY_TYPE = {
    "Notification": NOTIFICATION_FIELDS,
    "SubscriptionConfirmation": CONFIRMATION_FIELDS,
    "UnsubscribeConfirmation": CONFIRMATION_FIELDS,
}
SIGNED_NOTIFICATION = ("Message", "MessageId", "Subject", "Timestamp", "TopicArn", "Type")
SIGNED_CONFIRMATION = (
    "Message",
    "MessageId",
    "SubscribeURL",
    "Timestamp",
    "Token",
    "TopicArn",
    "Type",
)
# Fields that take part in the string to sign and whose format we pin (checklist §1.4).
NO_NEWLINE_FIELDS = ("MessageId", "Type", "Timestamp", "TopicArn", "SignatureVersion")


class SnsVerificationError(VellError):
    """The message is not an authentic, fresh SNS message for an allowed topic."""

    default_message = "The notification could not be verified."

    def __init__(self, reason: str, detail: str = "") -> None:
        self.reason = reason
        super().__init__(f"SNS verification failed ({reason}){': ' + detail if detail else ''}")


@dataclass(frozen=True)
class VerifiedMessage:
    """An authenticated SNS message."""

    type: str
    message_id: str
    topic_arn: str
    message: str
    timestamp: datetime
    subject: str | None
    signature_sha256: str
    token: str | None = None

    def __repr__(self) -> str:  # the message can carry an exchange token: keep it out of repr
        return f"VerifiedMessage({self.type}, {self.message_id}, {self.topic_arn})"

    def inner(self) -> Any:
        """The ``Message`` field decoded as strict JSON."""
        return _strict_json(self.message)


CertificateFetcher = Callable[[str], bytes]


class SnsVerifier:
    """Verifies SNS envelopes for an allow-list of topics."""

    def __init__(
        self,
        *,
        region: str,
        allowed_topic_arns: frozenset[str],
        clock: Clock,
        fetch_certificate: CertificateFetcher,
        allow_signature_v1: bool = False,
        max_age_seconds: int = 3600,
        max_future_skew_seconds: int = 300,
        expected_common_name: str = "sns.amazonaws.com",
        cache_size: int = 10,
    ) -> None:
        if not REGION_RE.match(region):
            raise ValueError(f"not a region: {region!r}")
        self._host = f"sns.{region}.amazonaws.com"
        self._topics = allowed_topic_arns
        self._clock = clock
        self._fetch = fetch_certificate
        self._allow_v1 = allow_signature_v1
        self._max_age = timedelta(seconds=max_age_seconds)
        self._max_skew = timedelta(seconds=max_future_skew_seconds)
        self._common_name = expected_common_name
        self._cache: OrderedDict[str, x509.Certificate] = OrderedDict()
        self._cache_size = cache_size
        self._lock = threading.Lock()

    def verify(self, raw_body: str | bytes) -> VerifiedMessage:
        """Return the verified message or raise SnsVerificationError."""
        fields = _parse_envelope(raw_body)
        kind = _check_fields(fields)
        timestamp = self._check_semantics(fields)
        algorithm = self._algorithm(fields["SignatureVersion"])
        self._check_cert_url(fields["SigningCertURL"])
        signature = _decode_signature(fields["Signature"])
        certificate = self._certificate(fields["SigningCertURL"])
        _verify_signature(certificate, signature, string_to_sign(fields), algorithm)
        return VerifiedMessage(
            type=kind,
            message_id=fields["MessageId"],
            topic_arn=fields["TopicArn"],
            message=fields["Message"],
            timestamp=timestamp,
            subject=fields.get("Subject"),
            signature_sha256=hashlib.sha256(signature).hexdigest(),
            token=fields.get("Token"),
        )

    def _check_semantics(self, fields: dict[str, str]) -> datetime:
        for name in NO_NEWLINE_FIELDS:
            if "\n" in fields[name] or "\r" in fields[name]:
                raise SnsVerificationError("malformed", f"{name} contains a newline")
        if not UUID_RE.match(fields["MessageId"]):
            raise SnsVerificationError("malformed", "MessageId is not a UUID")
        if fields["TopicArn"] not in self._topics:
            log.warning("SNS message %s from a topic not on the allow-list", fields["MessageId"])
            raise SnsVerificationError("topic", "topic is not allowed")
        if not TIMESTAMP_RE.match(fields["Timestamp"]):
            raise SnsVerificationError("malformed", "Timestamp is not strict ISO-8601 UTC")
        timestamp = datetime.fromisoformat(fields["Timestamp"].replace("Z", "+00:00"))
        now = self._clock.now()
        if timestamp < now - self._max_age:
            raise SnsVerificationError("stale", "message is older than the retry window")
        if timestamp > now + self._max_skew:
            raise SnsVerificationError("future", "message is from the future")
        return timestamp.astimezone(UTC)

    def _algorithm(self, version: str) -> hashes.HashAlgorithm:
        if version == "2":
            return hashes.SHA256()
        if version == "1" and self._allow_v1:
            return hashes.SHA1()
        raise SnsVerificationError("bad_signature_version", f"SignatureVersion {version!r}")

    def _check_cert_url(self, url: str) -> None:
        """Only https://sns.<region>.amazonaws.com/SimpleNotificationService-<hex>.pem."""
        try:
            parts = urlsplit(url)
        except ValueError as exc:
            raise SnsVerificationError("cert_url", "unparsable URL") from exc
        if (
            parts.scheme != "https"
            or parts.netloc != self._host
            or parts.query
            or parts.fragment
            or ";" in parts.path
            or not CERT_PATH_RE.match(parts.path)
        ):
            raise SnsVerificationError("cert_url", "SigningCertURL is not the pinned SNS URL")

    def _certificate(self, url: str) -> x509.Certificate:
        with self._lock:
            cached = self._cache.get(url)
            if cached is not None:
                self._cache.move_to_end(url)
        certificate = cached or _parse_certificate(self._fetch(url))
        self._check_certificate(certificate)
        if cached is None:
            with self._lock:
                self._cache[url] = certificate
                while len(self._cache) > self._cache_size:
                    self._cache.popitem(last=False)
        return certificate

    def _check_certificate(self, certificate: x509.Certificate) -> None:
        now = self._clock.now()
        if not certificate.not_valid_before_utc <= now <= certificate.not_valid_after_utc:
            raise SnsVerificationError("certificate", "certificate is not valid now")
        if self._common_name not in _certificate_names(certificate):
            raise SnsVerificationError("certificate", "certificate is not issued to SNS")


def string_to_sign(fields: dict[str, str]) -> bytes:
    """The byte-exact canonical string: ``Key\\nValue\\n`` per signed field, in fixed order."""
    keys = SIGNED_NOTIFICATION if fields["Type"] == "Notification" else SIGNED_CONFIRMATION
    parts = []
    for key in keys:
        if key == "Subject" and "Subject" not in fields:
            continue
        parts.append(f"{key}\n{fields[key]}\n")
    return "".join(parts).encode("utf-8")


def _strict_json(text: str | bytes) -> Any:
    def no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        result: dict[str, Any] = {}
        for key, value in pairs:
            if key in result:
                raise SnsVerificationError("malformed", "duplicate JSON key")
            result[key] = value
        return result

    try:
        return json.loads(text, object_pairs_hook=no_duplicates)
    except SnsVerificationError:
        raise
    except (ValueError, TypeError, RecursionError) as exc:
        raise SnsVerificationError("malformed", "not JSON") from exc


def _parse_envelope(raw_body: str | bytes) -> dict[str, Any]:
    size = len(raw_body.encode("utf-8") if isinstance(raw_body, str) else raw_body)
    if size > MAX_BODY_BYTES:
        raise SnsVerificationError("malformed", "body too large")
    fields = _strict_json(raw_body)
    if not isinstance(fields, dict):
        raise SnsVerificationError("malformed", "envelope is not an object")
    return fields


def _check_fields(fields: dict[str, Any]) -> str:
    kind = fields.get("Type")
    if not isinstance(kind, str) or kind not in REQUIRED_BY_TYPE:
        raise SnsVerificationError("malformed", "unknown Type")
    for name in REQUIRED_BY_TYPE[kind]:
        if not isinstance(fields.get(name), str):
            raise SnsVerificationError("missing_field", name)
    if "Subject" in fields and not isinstance(fields["Subject"], str):
        raise SnsVerificationError("malformed", "Subject is not a string")
    return kind


def _decode_signature(value: str) -> bytes:
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise SnsVerificationError("signature", "signature is not base64") from exc


def _parse_certificate(body: bytes) -> x509.Certificate:
    if not PEM_RE.match(body) or body.count(b"-----BEGIN") != 1:
        raise SnsVerificationError("certificate", "not exactly one PEM certificate")
    try:
        return x509.load_pem_x509_certificate(body)
    except ValueError as exc:
        raise SnsVerificationError("certificate", "unparsable certificate") from exc


def _certificate_names(certificate: x509.Certificate) -> set[str]:
    names = {
        str(attribute.value)
        for attribute in certificate.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    }
    try:
        san = certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName)
        names.update(san.value.get_values_for_type(x509.DNSName))
    except x509.ExtensionNotFound:
        pass
    return names


def _verify_signature(
    certificate: x509.Certificate, signature: bytes, message: bytes, algorithm: hashes.HashAlgorithm
) -> None:
    public_key = certificate.public_key()
    if not isinstance(public_key, rsa.RSAPublicKey):
        raise SnsVerificationError("certificate", "not an RSA key")
    try:
        public_key.verify(signature, message, padding.PKCS1v15(), algorithm)
    except InvalidSignature as exc:
        raise SnsVerificationError("signature", "signature does not match") from exc


def requests_certificate_fetcher(
    session: requests.Session | None = None,
    *,
    timeout: tuple[float, float] = (10, 30),
    max_bytes: int = 16384,
) -> CertificateFetcher:
    """Fetch a certificate: no redirects, status 200, at most ``max_bytes``."""
    http = session or requests.Session()

    def fetch(url: str) -> bytes:
        try:
            response = http.get(url, timeout=timeout, allow_redirects=False, stream=True)
            if response.status_code != 200:
                raise SnsVerificationError("certificate", f"HTTP {response.status_code}")
            body = response.raw.read(max_bytes + 1, decode_content=True)
        except requests.RequestException as exc:
            raise SnsVerificationError("certificate", "could not fetch the certificate") from exc
        if len(body) > max_bytes:
            raise SnsVerificationError("certificate", "certificate body too large")
        return body

    return fetch


class _RoutingAdapter(HTTPAdapter):
    """Sends https://sns.<region>.amazonaws.com/<path> to the sandbox; refuses other hosts."""

    HOST_RE = re.compile(r"^https://sns\.[a-z0-9-]+\.amazonaws\.com(/[^?#]*)$")

    def __init__(self, route_to: str) -> None:
        super().__init__()
        self._route_to = route_to.rstrip("/")

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:
        match = self.HOST_RE.match(request.url or "")
        if match is None:
            raise requests.ConnectionError("the sandbox routes only SNS certificate URLs")
        request.url = self._route_to + match.group(1)
        return super().send(request, **kwargs)


def routed_session(route_to: str) -> requests.Session:
    """A session whose only reachable host is the sandbox, standing in for SNS's cert host."""
    session = requests.Session()
    session.mount("https://", _RoutingAdapter(route_to))
    session.mount("http://", _RoutingAdapter(route_to))
    return session


def confirm_subscription_args(message: VerifiedMessage) -> dict[str, str]:
    """Arguments for ``sns.confirm_subscription`` (SubscribeURL is never dereferenced)."""
    if message.type != "SubscriptionConfirmation" or not message.token:
        raise SnsVerificationError("malformed", "not a subscription confirmation")
    return {
        "TopicArn": message.topic_arn,
        "Token": message.token,
        "AuthenticateOnUnsubscribe": "true",
    }
