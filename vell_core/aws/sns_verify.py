"""SNS message verification, shaped like AWS's Java v2 SnsMessageManager (checklist S1–S10).

Checks, in order, before anything is trusted:

1. strict JSON: UTF-8, size cap, one object, no duplicate keys, no NaN/Infinity;
2. the required fields of the message ``Type``, all strings (unknown keys are ignored and
   never signed);
3. field formats that close the canonical-string collision (§1.4): UUID MessageId, strict
   ISO-8601 ``Z`` Timestamp, no newline in MessageId/Type/Timestamp/TopicArn/Subject;
4. the TopicArn allow-list, freshness, and the SignatureVersion;
5. the exact signing-certificate URL (https, pinned host, exact path, no userinfo, port,
   query, fragment or params);

all before any network I/O. Then one strictly parsed PEM certificate, valid now and issued to
``sns.amazonaws.com`` (cached per exact URL, validity re-checked on each use), and the
PKCS#1 v1.5 signature over the byte-exact string to sign.

There is no chain validation, exactly like Java v2: trust rests on fetching the certificate
over verified TLS from the one pinned SNS host. Message bodies are never logged (they carry
exchange tokens); logs name only the validated MessageId, an allowed TopicArn and the reason.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import logging
import re
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlparse

import requests
import urllib3
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.oid import NameOID
from requests.adapters import HTTPAdapter

from vell_core.domain.clock import Clock, ensure_utc
from vell_core.domain.errors import VellError

log = logging.getLogger(__name__)

MAX_BODY_BYTES = 256 * 1024
MIN_RSA_BITS = 2048
# ASCII classes on purpose: ``\d`` would also accept other scripts' digits.
UUID_RE = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
TIMESTAMP_RE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{3})?Z")
CERT_PATH_RE = re.compile(r"/SimpleNotificationService-[0-9a-f]+\.pem")
# Exactly one certificate and nothing around it: the Discourse bypass hid a PEM inside XML.
PEM_RE = re.compile(
    rb"-----BEGIN CERTIFICATE-----\r?\n"
    rb"(?:[A-Za-z0-9+/=]+\r?\n)+"
    rb"-----END CERTIFICATE-----(?:\r?\n)?"
)
REGION_RE = re.compile(r"[a-z]{2}(-[a-z]+)+-[0-9]")

NOTIFICATION = "Notification"
SUBSCRIPTION_CONFIRMATION = "SubscriptionConfirmation"
UNSUBSCRIBE_CONFIRMATION = "UnsubscribeConfirmation"
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
    NOTIFICATION: NOTIFICATION_FIELDS,
    SUBSCRIPTION_CONFIRMATION: CONFIRMATION_FIELDS,
    UNSUBSCRIBE_CONFIRMATION: CONFIRMATION_FIELDS,
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
# Pinned fields of the string to sign: a newline in any of them could shift a signed line into
# another field and still verify (§1.4). SNS itself refuses line breaks in a Subject.
NO_NEWLINE_FIELDS = ("MessageId", "Type", "Timestamp", "TopicArn", "SignatureVersion", "Subject")


class SnsVerificationError(VellError):
    """The message is not an authentic, fresh SNS message for an allowed topic.

    ``reason`` is a short code for logs and branching: ``malformed``, ``missing_field``,
    ``topic``, ``stale``, ``future``, ``bad_signature_version``, ``cert_url``,
    ``certificate``, ``certificate_fetch``, ``signature`` or ``header_mismatch``.
    """

    default_message = "The notification could not be verified."

    def __init__(self, reason: str, detail: str = "") -> None:
        self.reason = reason
        # Details may echo attacker input: keep them short so they cannot flood a log line.
        suffix = f": {detail[:120]}" if detail else ""
        super().__init__(f"SNS verification failed ({reason}){suffix}")


@dataclass(frozen=True)
class VerifiedMessage:
    """An authenticated SNS message (only signed fields, already validated)."""

    type: str
    message_id: str
    topic_arn: str
    message: str
    timestamp: datetime
    subject: str | None
    signature_sha256: str
    token: str | None = None

    def __repr__(self) -> str:
        # The message (and a confirmation token) can carry secrets: keep them out of repr.
        return f"VerifiedMessage({self.type}, {self.message_id}, {self.topic_arn})"

    def inner(self) -> Any:
        """The ``Message`` field decoded as strict JSON (SnsVerificationError otherwise)."""
        return _strict_json(self.message)


CertificateFetcher = Callable[[str], bytes]


@dataclass(frozen=True)
class _CachedKey:
    """A parsed public key plus the validity window that must be re-checked on each use."""

    public_key: rsa.RSAPublicKey
    not_before: datetime
    not_after: datetime


class SnsVerifier:
    """Verifies SNS envelopes for an allow-list of topics in one pinned region."""

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
        if not REGION_RE.fullmatch(region):
            raise ValueError(f"not a region: {region!r}")
        self._host = f"sns.{region}.amazonaws.com"
        self._topics = frozenset(allowed_topic_arns)
        self._clock = clock
        self._fetch = fetch_certificate
        self._allow_v1 = allow_signature_v1
        self._max_age = timedelta(seconds=max_age_seconds)
        self._max_skew = timedelta(seconds=max_future_skew_seconds)
        self._common_name = expected_common_name
        self._cache: OrderedDict[str, _CachedKey] = OrderedDict()
        self._cache_size = cache_size
        self._lock = threading.Lock()

    def verify(
        self, raw_body: str | bytes, *, message_type_header: str | None = None
    ) -> VerifiedMessage:
        """Return the verified message or raise SnsVerificationError.

        ``message_type_header`` is the unsigned ``x-amz-sns-message-type`` header of an HTTP
        delivery, if any: it never drives logic, but a disagreement with the signed Type is
        refused (S10).
        """
        known: dict[str, str] = {}  # validated identifiers only: safe to log
        try:
            message = self._verify(raw_body, known)
            if message_type_header is not None and message_type_header != message.type:
                raise SnsVerificationError("header_mismatch", "header Type differs from body")
        except SnsVerificationError as exc:
            log.warning(
                "Rejected SNS message %s (topic %s): %s",
                known.get("message_id", "-"),
                known.get("topic_arn", "-"),
                exc.reason,
            )
            raise
        return message

    def _verify(self, raw_body: str | bytes, known: dict[str, str]) -> VerifiedMessage:
        fields = _parse_envelope(raw_body)
        kind = _check_fields(fields)
        _check_formats(fields)
        known["message_id"] = fields["MessageId"]
        self._check_topic(fields["TopicArn"])
        known["topic_arn"] = fields["TopicArn"]
        timestamp = self._check_freshness(fields["Timestamp"])
        algorithm = self._algorithm(fields["SignatureVersion"])
        self._check_cert_url(fields["SigningCertURL"])
        signature = _decode_signature(fields["Signature"])
        payload = string_to_sign(fields)  # built before the fetch: it can still refuse
        public_key = self._public_key(fields["SigningCertURL"])
        _verify_signature(public_key, signature, payload, algorithm)
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

    def _check_topic(self, topic_arn: str) -> None:
        if topic_arn not in self._topics:
            raise SnsVerificationError("topic", "topic is not allowed")

    def _check_freshness(self, value: str) -> datetime:
        """Within the SNS retry horizon (retries keep the original Timestamp), small skew."""
        timestamp = _parse_timestamp(value)
        now = ensure_utc(self._clock.now())
        if timestamp < now - self._max_age:
            raise SnsVerificationError("stale", "message is older than the retry window")
        if timestamp > now + self._max_skew:
            raise SnsVerificationError("future", "message is from the future")
        return timestamp

    def _algorithm(self, version: str) -> hashes.HashAlgorithm:
        if version == "2":
            return hashes.SHA256()
        if version == "1" and self._allow_v1:
            return hashes.SHA1()
        raise SnsVerificationError("bad_signature_version", f"SignatureVersion {version!r}")

    def _check_cert_url(self, url: str) -> None:
        """Only ``https://sns.<region>.amazonaws.com/SimpleNotificationService-<hex>.pem``."""
        try:
            parts = urlparse(url)
            port = parts.port
        except ValueError as exc:
            raise SnsVerificationError("cert_url", "unparsable URL") from exc
        pinned = (
            parts.scheme == "https"
            and parts.username is None
            and parts.password is None
            and port is None
            and parts.netloc == self._host  # raw netloc: case, trailing dot and suffixes fail
            and CERT_PATH_RE.fullmatch(parts.path) is not None
            and not parts.params
            and not parts.query
            and not parts.fragment
            # urlparse drops tabs/newlines and leading blanks, and forgets an empty "?" or "#":
            # the raw string must be exactly the pinned URL we just took apart.
            and url == f"https://{self._host}{parts.path}"
        )
        if not pinned:
            raise SnsVerificationError("cert_url", "SigningCertURL is not the pinned SNS URL")

    def _public_key(self, url: str) -> rsa.RSAPublicKey:
        """The key for ``url`` from the LRU, or fetched and checked once, then cached."""
        with self._lock:
            cached = self._cache.get(url)
            if cached is not None:
                self._cache.move_to_end(url)
        if cached is None:
            cached = self._load_key(self._fetch(url))
            with self._lock:
                self._cache[url] = cached
                while len(self._cache) > self._cache_size:
                    self._cache.popitem(last=False)
        now = ensure_utc(self._clock.now())
        if not cached.not_before <= now <= cached.not_after:
            raise SnsVerificationError("certificate", "certificate is not valid now")
        return cached.public_key

    def _load_key(self, body: bytes) -> _CachedKey:
        certificate = _parse_certificate(body)
        if self._common_name not in _certificate_names(certificate):
            raise SnsVerificationError("certificate", "certificate is not issued to SNS")
        public_key = certificate.public_key()
        if not isinstance(public_key, rsa.RSAPublicKey) or public_key.key_size < MIN_RSA_BITS:
            raise SnsVerificationError("certificate", "not an RSA key of at least 2048 bits")
        return _CachedKey(
            public_key, certificate.not_valid_before_utc, certificate.not_valid_after_utc
        )


def string_to_sign(fields: dict[str, str]) -> bytes:
    """The byte-exact canonical string: ``Key\\nValue\\n`` per signed field, in fixed order.

    Notification: Message, MessageId, Subject (only if present), Timestamp, TopicArn, Type.
    Confirmations: Message, MessageId, SubscribeURL, Timestamp, Token, TopicArn, Type.
    """
    keys = SIGNED_NOTIFICATION if fields["Type"] == NOTIFICATION else SIGNED_CONFIRMATION
    text = "".join(f"{key}\n{fields[key]}\n" for key in keys if key in fields)
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError as exc:  # a lone surrogate from a JSON "\ud800" escape
        raise SnsVerificationError("malformed", "field is not valid Unicode") from exc


def _strict_json(text: str | bytes) -> Any:
    """json.loads that refuses duplicate keys and NaN/Infinity, raising only our error."""

    def no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        result: dict[str, Any] = {}
        for key, value in pairs:
            if key in result:
                raise SnsVerificationError("malformed", "duplicate JSON key")
            result[key] = value
        return result

    def no_constants(name: str) -> Any:
        raise SnsVerificationError("malformed", f"non-standard JSON constant {name}")

    try:
        return json.loads(text, object_pairs_hook=no_duplicates, parse_constant=no_constants)
    except SnsVerificationError:
        raise
    except (ValueError, TypeError, RecursionError) as exc:
        raise SnsVerificationError("malformed", "not JSON") from exc


def _parse_envelope(raw_body: str | bytes) -> dict[str, Any]:
    if isinstance(raw_body, bytes | bytearray):
        data = bytes(raw_body)
    elif isinstance(raw_body, str):
        try:
            data = raw_body.encode("utf-8")
        except UnicodeEncodeError as exc:  # lone surrogates
            raise SnsVerificationError("malformed", "body is not UTF-8 text") from exc
    else:
        raise SnsVerificationError("malformed", "body is not text")
    if len(data) > MAX_BODY_BYTES:
        raise SnsVerificationError("malformed", "body too large")
    try:
        text = data.decode("utf-8")  # json.loads would also guess UTF-16/32 from bytes
    except UnicodeDecodeError as exc:
        raise SnsVerificationError("malformed", "body is not UTF-8") from exc
    fields = _strict_json(text)
    if not isinstance(fields, dict):
        raise SnsVerificationError("malformed", "envelope is not an object")
    return fields


def _check_fields(fields: dict[str, Any]) -> str:
    """Required fields of the Type are present and strings; returns the Type."""
    kind = fields.get("Type")
    if kind is None:
        raise SnsVerificationError("missing_field", "Type")
    if not isinstance(kind, str) or kind not in REQUIRED_BY_TYPE:
        raise SnsVerificationError("malformed", "unknown Type")
    for name in REQUIRED_BY_TYPE[kind]:
        if name not in fields:
            raise SnsVerificationError("missing_field", name)
        if not isinstance(fields[name], str):
            raise SnsVerificationError("malformed", f"{name} is not a string")
    if "Subject" in fields and not isinstance(fields["Subject"], str):
        raise SnsVerificationError("malformed", "Subject is not a string")
    return kind


def _check_formats(fields: dict[str, str]) -> None:
    """Pin the formats that make the string to sign unambiguous (§1.4)."""
    for name in NO_NEWLINE_FIELDS:
        value = fields.get(name)
        if value is not None and ("\n" in value or "\r" in value):
            raise SnsVerificationError("malformed", f"{name} contains a line break")
    if not UUID_RE.fullmatch(fields["MessageId"]):
        raise SnsVerificationError("malformed", "MessageId is not a UUID")


def _parse_timestamp(value: str) -> datetime:
    if not TIMESTAMP_RE.fullmatch(value):
        raise SnsVerificationError("malformed", "Timestamp is not strict ISO-8601 UTC")
    try:
        return datetime.fromisoformat(value[:-1] + "+00:00").astimezone(UTC)
    except ValueError as exc:  # the right shape but no such date, e.g. month 13
        raise SnsVerificationError("malformed", "Timestamp is not a real date") from exc


def _decode_signature(value: str) -> bytes:
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise SnsVerificationError("signature", "signature is not base64") from exc


def _parse_certificate(body: bytes) -> x509.Certificate:
    if not isinstance(body, bytes) or not PEM_RE.fullmatch(body):
        raise SnsVerificationError("certificate", "not exactly one PEM certificate")
    try:
        return x509.load_pem_x509_certificate(body)
    except ValueError as exc:
        raise SnsVerificationError("certificate", "unparsable certificate") from exc


def _certificate_names(certificate: x509.Certificate) -> set[str]:
    """Subject CN values plus SAN DNS names."""
    names = {
        str(attribute.value)
        for attribute in certificate.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    }
    try:
        san = certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName)
    except x509.ExtensionNotFound:
        return names
    names.update(san.value.get_values_for_type(x509.DNSName))
    return names


def _verify_signature(
    public_key: rsa.RSAPublicKey,
    signature: bytes,
    payload: bytes,
    algorithm: hashes.HashAlgorithm,
) -> None:
    try:
        public_key.verify(signature, payload, padding.PKCS1v15(), algorithm)
    except InvalidSignature as exc:
        raise SnsVerificationError("signature", "signature does not match") from exc


def requests_certificate_fetcher(
    session: requests.Session | None = None,
    *,
    timeout: tuple[float, float] = (10, 30),
    max_bytes: int = 16384,
) -> CertificateFetcher:
    """A certificate fetcher over ``requests``: no redirects, status 200, at most ``max_bytes``.

    Timeouts follow Java v2 (10 s connect, 30 s read); the whole download also has a
    wall-clock deadline of their sum so a slow drip cannot hold a worker. Failures raise
    ``SnsVerificationError("certificate_fetch")``; the worker leaves the message queued.
    """
    http = session or requests.Session()
    deadline_seconds = sum(timeout)

    def fetch(url: str) -> bytes:
        deadline = time.monotonic() + deadline_seconds
        try:
            with http.get(
                url,
                timeout=timeout,
                allow_redirects=False,
                stream=True,
                headers={"Accept-Encoding": "identity"},  # the cap applies to real bytes
            ) as response:
                if response.status_code != 200:
                    raise SnsVerificationError("certificate_fetch", f"HTTP {response.status_code}")
                return _read_capped(response, max_bytes, deadline)
        except requests.RequestException as exc:
            raise SnsVerificationError("certificate_fetch", type(exc).__name__) from exc

    return fetch


def _read_capped(response: requests.Response, max_bytes: int, deadline: float) -> bytes:
    declared = response.headers.get("Content-Length", "")
    if declared.isdigit() and int(declared) > max_bytes:
        raise SnsVerificationError("certificate_fetch", "certificate body too large")
    body = bytearray()
    try:
        # read1 returns whatever one socket read gives, so the deadline is checked between
        # reads; iter_content(n) would block until n bytes arrive from a slow drip.
        while chunk := response.raw.read1(4096):
            body += chunk
            if len(body) > max_bytes:
                raise SnsVerificationError("certificate_fetch", "certificate body too large")
            if time.monotonic() > deadline:
                raise SnsVerificationError("certificate_fetch", "certificate download too slow")
    except (urllib3.exceptions.HTTPError, OSError) as exc:
        raise SnsVerificationError("certificate_fetch", type(exc).__name__) from exc
    return bytes(body)


class _RoutingAdapter(HTTPAdapter):
    """Sends ``https://sns.<region>.amazonaws.com/<path>`` to the sandbox; refuses the rest."""

    URL_RE = re.compile(r"https://sns\.[a-z0-9-]+\.amazonaws\.com(/[^?#]*)")

    def __init__(self, route_to: str) -> None:
        super().__init__()
        self._route_to = route_to.rstrip("/")

    def send(  # type: ignore[override]  # forwards every keyword unchanged to HTTPAdapter.send
        self, request: requests.PreparedRequest, **kwargs: Any
    ) -> requests.Response:
        """Rewrite the SNS certificate host to the sandbox endpoint, or refuse."""
        match = self.URL_RE.fullmatch(request.url or "")
        if match is None:
            raise requests.ConnectionError("the sandbox routes only SNS certificate URLs")
        request.url = self._route_to + match.group(1)
        return super().send(request, **kwargs)


def routed_session(route_to: str) -> requests.Session:
    """A session whose only reachable host is the sandbox, standing in for SNS's cert host.

    The verifier is unchanged: it still pins and checks the real SNS URL; only the transport
    underneath is redirected. Plain http and every other host are refused.
    """
    session = requests.Session()
    session.mount("https://", _RoutingAdapter(route_to))
    session.mount("http://", _RoutingAdapter(route_to))
    return session


def confirm_subscription_args(message: VerifiedMessage) -> dict[str, str]:
    """Keyword arguments for ``sns.confirm_subscription``; SubscribeURL is never dereferenced.

    With ``AuthenticateOnUnsubscribe="true"`` only the topic or subscription owner can
    unsubscribe, so the UnsubscribeURL in every message stops being a kill switch.
    """
    if message.type != SUBSCRIPTION_CONFIRMATION or not message.token:
        raise SnsVerificationError("malformed", "not a subscription confirmation")
    return {
        "TopicArn": message.topic_arn,
        "Token": message.token,
        "AuthenticateOnUnsubscribe": "true",
    }
