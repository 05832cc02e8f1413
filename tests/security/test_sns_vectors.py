"""Known SNS-validator bypasses as regression tests (checklist X1, vectors of §1.3, §1.4, §6.2).

Every vector must be refused, and the ones that are decidable from the message alone must be
refused with zero certificate fetches.
"""

from __future__ import annotations

import base64
import json
from datetime import timedelta
from typing import Any

import pytest

from tests.security.sns_fixtures import (
    CERT_URL,
    INNER,
    NOW,
    OTHER_TOPIC,
    SNS_NAME,
    CountingFetcher,
    body,
    canonical,
    der,
    make_certificate,
    make_verifier,
    notification,
    pem,
    sign,
    signing_key,
)
from vell_core.aws.sns_verify import MAX_BODY_BYTES, SnsVerificationError
from vell_core.domain.clock import FrozenClock

GOOD_PATH = "/SimpleNotificationService-0123456789abcdef.pem"

BAD_CERT_URLS = {
    "plain http": "http://sns.us-east-1.amazonaws.com" + GOOD_PATH,
    "look-alike suffix": "https://sns.us-east-1.amazonaws.com.evil.com" + GOOD_PATH,
    "userinfo then evil host": "https://sns.us-east-1.amazonaws.com@evil.com" + GOOD_PATH,
    "userinfo on the real host": "https://user:pw@sns.us-east-1.amazonaws.com" + GOOD_PATH,
    "explicit port": "https://sns.us-east-1.amazonaws.com:443" + GOOD_PATH,
    "odd port": "https://sns.us-east-1.amazonaws.com:8443" + GOOD_PATH,
    "trailing dot": "https://sns.us-east-1.amazonaws.com." + GOOD_PATH,
    "uppercase host": "https://SNS.us-east-1.amazonaws.com" + GOOD_PATH,
    "uppercase scheme": "HTTPS://sns.us-east-1.amazonaws.com" + GOOD_PATH,
    "other region": "https://sns.eu-west-1.amazonaws.com" + GOOD_PATH,
    "s3 bucket (novu)": "https://s3.amazonaws.com/bucket" + GOOD_PATH,
    "s3 virtual host": "https://evil.s3.amazonaws.com" + GOOD_PATH,
    "china partition": "https://sns.us-east-1.amazonaws.com.cn" + GOOD_PATH,
    "query string": "https://sns.us-east-1.amazonaws.com" + GOOD_PATH + "?a=b",
    "empty query": "https://sns.us-east-1.amazonaws.com" + GOOD_PATH + "?",
    "discourse x.pem": (
        "https://sns.us-east-1.amazonaws.com/x.pem?Action=GetEndpointAttributes"
        "&EndpointArn=arn:aws:sns:us-east-1:1:endpoint/GCM/a/b&X-Amz-Signature=abc"
    ),
    "discourse on the good path": (
        "https://sns.us-east-1.amazonaws.com" + GOOD_PATH + "?Action=GetEndpointAttributes"
    ),
    "fragment": "https://sns.us-east-1.amazonaws.com" + GOOD_PATH + "#frag",
    "empty fragment": "https://sns.us-east-1.amazonaws.com" + GOOD_PATH + "#",
    "path params": "https://sns.us-east-1.amazonaws.com" + GOOD_PATH + ";p=1",
    "wrong path": "https://sns.us-east-1.amazonaws.com/SimpleNotificationService.pem",
    "nested path": "https://sns.us-east-1.amazonaws.com/x" + GOOD_PATH,
    "uppercase hex": "https://sns.us-east-1.amazonaws.com/SimpleNotificationService-ABCDEF.pem",
    "not .pem": "https://sns.us-east-1.amazonaws.com/SimpleNotificationService-0123.pem.txt",
    "dot-dot path": "https://sns.us-east-1.amazonaws.com/a/.." + GOOD_PATH,
    "encoded slash": "https://sns.us-east-1.amazonaws.com/%2F" + GOOD_PATH[1:],
    "tab inside (urlparse strips it)": (
        "https://sns.us-east-1.amazonaws.com/SimpleNotification\tService-01.pem"
    ),
    "leading space": " https://sns.us-east-1.amazonaws.com" + GOOD_PATH,
    "backslash host trick": "https://evil.com\\@sns.us-east-1.amazonaws.com" + GOOD_PATH,
    "ipv6 junk": "https://[sns.us-east-1.amazonaws.com" + GOOD_PATH,
    "protocol-relative": "//sns.us-east-1.amazonaws.com" + GOOD_PATH,
    "file scheme": "file:///etc/passwd",
    "empty": "",
}


@pytest.mark.parametrize("url", BAD_CERT_URLS.values(), ids=BAD_CERT_URLS.keys())
def test_signing_cert_url_not_pinned_is_refused_without_fetching(url: str) -> None:
    fetcher = CountingFetcher({url: pem(make_certificate())})  # would "work" if ever fetched
    verifier = make_verifier(fetcher)
    with pytest.raises(SnsVerificationError) as refused:
        verifier.verify(body(notification(cert_url=url)))
    assert refused.value.reason == "cert_url"
    assert fetcher.calls == []


def _cert_body_variants() -> dict[str, bytes]:
    good = pem(make_certificate())
    other = pem(make_certificate(signing_key("other")))
    return {
        "xml-wrapped pem (discourse)": (
            b'<?xml version="1.0"?><GetEndpointAttributesResponse><Attributes><entry>'
            b"<key>CustomUserData</key><value>" + good + b"</value></entry></Attributes>"
            b"</GetEndpointAttributesResponse>"
        ),
        "text before pem": b"hello\n" + good,
        "text after pem": good + b"trailer\n",
        "two certificates": good + other,
        "der": der(make_certificate()),
        "base64 der without armour": base64.b64encode(der(make_certificate())),
        "private key instead": b"-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n",
        "armour around junk": b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
        "empty": b"",
    }


CERT_BODIES = _cert_body_variants()


@pytest.mark.parametrize("cert_body", CERT_BODIES.values(), ids=CERT_BODIES.keys())
def test_certificate_body_must_be_exactly_one_pem_certificate(cert_body: bytes) -> None:
    verifier = make_verifier(CountingFetcher({CERT_URL: cert_body}))
    with pytest.raises(SnsVerificationError) as refused:
        verifier.verify(body(notification()))
    assert refused.value.reason == "certificate"


CERTIFICATES = {
    "expired": {"not_before": NOW - timedelta(days=400), "not_after": NOW - timedelta(days=35)},
    "not yet valid": {"not_before": NOW + timedelta(days=1), "not_after": NOW + timedelta(500)},
    "wrong CN": {"common_name": "sns.amazonaws.com.evil.com"},
    "CN of the API host": {"common_name": "sns.us-east-1.amazonaws.com"},
    "no CN, wrong SAN": {"common_name": None, "san_dns": ["evil.com"]},
    "wrong CN, SAN as a wildcard": {"common_name": "x", "san_dns": ["*.amazonaws.com"]},
}


@pytest.mark.parametrize("options", CERTIFICATES.values(), ids=CERTIFICATES.keys())
def test_certificate_must_be_valid_now_and_issued_to_sns(options: dict[str, Any]) -> None:
    """Validly signed by the certificate's own key, but the certificate itself is wrong."""
    certificate = make_certificate(**options)
    verifier = make_verifier(CountingFetcher({CERT_URL: pem(certificate)}))
    with pytest.raises(SnsVerificationError) as refused:
        verifier.verify(body(notification()))
    assert refused.value.reason == "certificate"


def test_san_dns_name_is_an_accepted_alternative_to_the_cn() -> None:
    certificate = make_certificate(common_name="Amazon RSA 2048 M01", san_dns=[SNS_NAME])
    verifier = make_verifier(CountingFetcher({CERT_URL: pem(certificate)}))
    assert verifier.verify(body(notification())).topic_arn


def test_small_rsa_key_is_refused() -> None:
    from cryptography.hazmat.primitives.asymmetric import rsa

    weak = rsa.generate_private_key(public_exponent=65537, key_size=1024)
    verifier = make_verifier(CountingFetcher({CERT_URL: pem(make_certificate(weak))}))
    with pytest.raises(SnsVerificationError) as refused:
        verifier.verify(body(notification(key=weak)))
    assert refused.value.reason == "certificate"


def test_validly_signed_message_from_another_topic_is_refused_before_fetch() -> None:
    fetcher = CountingFetcher()
    with pytest.raises(SnsVerificationError) as refused:
        make_verifier(fetcher).verify(body(notification(topic=OTHER_TOPIC)))
    assert refused.value.reason == "topic"
    assert fetcher.calls == []


def test_topic_allow_list_is_exact_not_prefix_or_case_insensitive() -> None:
    verifier = make_verifier()
    for topic in (
        OTHER_TOPIC,
        "arn:aws:sns:us-east-1:253265132499:vell-delegation-notifications-2",
        "ARN:aws:sns:us-east-1:253265132499:vell-delegation-notifications",
        "arn:aws:sns:us-east-1:253265132499:vell-delegation-notifications ",
    ):
        with pytest.raises(SnsVerificationError) as refused:
            verifier.verify(body(notification(topic=topic)))
        assert refused.value.reason == "topic"


TAMPERED = {
    "Message": json.dumps({**INNER, "ExchangeToken": "eyJforged"}),
    "MessageId": "00000000-0000-4000-8000-000000000000",
    "Timestamp": "2026-11-29T11:59:59.000Z",
    "Subject": "Delegation updatE",
}


@pytest.mark.parametrize(("field", "value"), TAMPERED.items(), ids=TAMPERED.keys())
def test_tampered_signed_field_is_refused(field: str, value: str) -> None:
    envelope = {**notification(subject="Delegation update"), field: value}
    with pytest.raises(SnsVerificationError) as refused:
        make_verifier().verify(body(envelope))
    assert refused.value.reason == "signature"


def test_dropping_the_subject_breaks_the_signature() -> None:
    envelope = notification(subject="Delegation update")
    del envelope["Subject"]
    with pytest.raises(SnsVerificationError) as refused:
        make_verifier().verify(body(envelope))
    assert refused.value.reason == "signature"


def test_tampered_signature_bytes_are_refused() -> None:
    envelope = notification()
    raw = bytearray(base64.b64decode(envelope["Signature"]))
    raw[10] ^= 0x01
    envelope["Signature"] = base64.b64encode(bytes(raw)).decode()
    with pytest.raises(SnsVerificationError) as refused:
        make_verifier().verify(body(envelope))
    assert refused.value.reason == "signature"


def test_signature_by_another_key_is_refused() -> None:
    """A forger's key, with the real (fetched) certificate: the attacker cannot sign."""
    with pytest.raises(SnsVerificationError) as refused:
        make_verifier().verify(body(notification(key=signing_key("attacker"))))
    assert refused.value.reason == "signature"


@pytest.mark.parametrize(
    "signature",
    ["", "not base64!", "QUJD", "QUJD=", "QU JD", "QUJDRA", "\u00e9\u00e9\u00e9\u00e9"],
)
def test_non_strict_base64_signature_is_refused(signature: str) -> None:
    envelope = {**notification(), "Signature": signature}
    with pytest.raises(SnsVerificationError) as refused:
        make_verifier().verify(body(envelope))
    assert refused.value.reason == "signature"


@pytest.mark.parametrize("junk", ["\n", " ", "!", "=="])
def test_valid_signature_with_junk_characters_is_refused(junk: str) -> None:
    """A lenient decoder would skip the junk and still verify; the dedup hash then lies."""
    envelope = notification()
    signature = envelope["Signature"]
    envelope["Signature"] = signature[:40] + junk + signature[40:]
    with pytest.raises(SnsVerificationError) as refused:
        make_verifier().verify(body(envelope))
    assert refused.value.reason == "signature"


def test_subject_shift_collision_is_refused() -> None:
    """§1.4: move Subject into MessageId; the string to sign stays byte-identical."""
    original = notification(subject="Delegation update")
    shifted = dict(original)
    del shifted["Subject"]
    shifted["MessageId"] = f"{original['MessageId']}\nSubject\n{original['Subject']}"
    assert canonical(shifted) == canonical(original)  # the collision is real
    fetcher = CountingFetcher()
    verifier = make_verifier(fetcher)
    assert verifier.verify(body(original)).subject == "Delegation update"
    with pytest.raises(SnsVerificationError) as refused:
        verifier.verify(body(shifted))
    assert refused.value.reason == "malformed"
    assert fetcher.calls == [CERT_URL]  # only the genuine message needed the certificate


def test_newline_shift_into_topic_arn_is_refused() -> None:
    """The same trick on the other pinned fields: Timestamp/TopicArn/Type carry no newline."""
    original = notification()
    shifted = {**original, "TopicArn": original["TopicArn"] + "\nType\nNotification"}
    with pytest.raises(SnsVerificationError) as refused:
        make_verifier(allowed_topic_arns=frozenset({shifted["TopicArn"]})).verify(body(shifted))
    assert refused.value.reason == "malformed"


@pytest.mark.parametrize(
    "raw",
    [
        '{"Type":"Notification","Type":"Notification"}',
        '{"Message":"a","Message":"b"}',
        '{"Type":"Notification","x":{"k":1,"k":2}}',
    ],
)
def test_duplicate_json_keys_are_refused(raw: str) -> None:
    with pytest.raises(SnsVerificationError) as refused:
        make_verifier().verify(raw)
    assert refused.value.reason == "malformed"


def test_duplicate_key_smuggling_a_second_message_is_refused() -> None:
    """A parser that keeps the first value and one that keeps the last would disagree."""
    envelope = notification()
    raw = body(envelope)[:-1] + ', "Message": "{\\"Type\\": \\"ExchangeToken\\"}"}'
    with pytest.raises(SnsVerificationError) as refused:
        make_verifier().verify(raw)
    assert refused.value.reason == "malformed"


def test_oversized_body_is_refused_before_parsing() -> None:
    envelope = notification(message="x" * MAX_BODY_BYTES)
    fetcher = CountingFetcher()
    with pytest.raises(SnsVerificationError) as refused:
        make_verifier(fetcher).verify(body(envelope))
    assert refused.value.reason == "malformed"
    assert fetcher.calls == []


def test_replay_within_window_has_a_stable_dedup_key() -> None:
    """A redelivery verifies again with the same MessageId and signature hash (one effect)."""
    clock = FrozenClock(NOW)
    verifier = make_verifier(clock=clock)
    raw = body(notification())
    first = verifier.verify(raw)
    clock.advance(timedelta(minutes=30))
    second = verifier.verify(raw)
    assert first.message_id == second.message_id
    assert first.signature_sha256 == second.signature_sha256


def test_replay_after_window_is_refused() -> None:
    clock = FrozenClock(NOW)
    verifier = make_verifier(clock=clock)
    raw = body(notification())
    verifier.verify(raw)
    clock.advance(timedelta(seconds=3601))
    with pytest.raises(SnsVerificationError) as refused:
        verifier.verify(raw)
    assert refused.value.reason == "stale"


def test_v1_downgrade_of_a_v2_message_is_refused_by_default() -> None:
    """Relabelling a message as v1 (SHA1) must not open a weaker path in production."""
    envelope = notification(version="1")
    fetcher = CountingFetcher()
    with pytest.raises(SnsVerificationError) as refused:
        make_verifier(fetcher).verify(body(envelope))
    assert refused.value.reason == "bad_signature_version"
    assert fetcher.calls == []


def test_header_type_disagreeing_with_signed_type_is_refused() -> None:
    raw = body(notification())
    with pytest.raises(SnsVerificationError) as refused:
        make_verifier().verify(raw, message_type_header="SubscriptionConfirmation")
    assert refused.value.reason == "header_mismatch"


def test_signed_payload_is_only_the_canonical_string_not_the_json() -> None:
    """Signing the JSON text instead of the canonical string must not verify."""
    envelope = notification()
    fields = {k: v for k, v in envelope.items() if k not in ("Signature", "SignatureVersion")}
    resigned = sign(fields, payload=json.dumps(fields).encode())
    with pytest.raises(SnsVerificationError) as refused:
        make_verifier().verify(body(resigned))
    assert refused.value.reason == "signature"
