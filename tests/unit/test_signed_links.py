"""The one signer of links sent outside Vell: format, refusals, and one key per purpose."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from datetime import UTC, datetime, timedelta

import pytest

from vell_core.services import signed_links
from vell_core.services.demo_links import LinkPayload, sign_token

KEY = b"k" * 32
NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
EXP = int((NOW + timedelta(hours=1)).timestamp())


def test_claims_round_trip() -> None:
    claims = {"v": 1, "d": 92, "acct": "602341187520", "exp": EXP}
    assert signed_links.verify(signed_links.sign(claims, KEY), KEY, NOW) == claims


def test_the_format_is_the_one_demo_links_always_had() -> None:
    """Demo links already sent keep working: same bytes as base64url(json).base64url(hmac)."""
    payload = LinkPayload("a" * 32, "Acme", 7, NOW + timedelta(hours=1))
    body = json.dumps(
        {"co": "Acme", "exp": EXP, "lid": "a" * 32, "rep": 7, "v": 1}, separators=(",", ":")
    ).encode()
    encoded = base64.urlsafe_b64encode(body).rstrip(b"=").decode()
    mac = hmac.new(KEY, encoded.encode(), hashlib.sha256).digest()
    expected = f"{encoded}.{base64.urlsafe_b64encode(mac).rstrip(b'=').decode()}"
    assert sign_token(payload, KEY) == expected


def test_a_changed_or_cut_token_is_tampered() -> None:
    token = signed_links.sign({"d": 1, "exp": EXP}, KEY)
    signature = token.split(".")[1]
    forged = base64.urlsafe_b64encode(b'{"d":2,"exp":%d}' % EXP).rstrip(b"=").decode()
    with pytest.raises(signed_links.TokenTampered):
        signed_links.verify(f"{forged}.{signature}", KEY, NOW)
    for cut in (1, 2, 3):
        with pytest.raises(signed_links.TokenTampered):
            signed_links.verify(token[:-cut], KEY, NOW)
    with pytest.raises(signed_links.TokenTampered):
        signed_links.verify(token, b"z" * 32, NOW)


def test_only_our_spelling_of_a_signature_verifies() -> None:
    """43 base64 characters carry 258 bits for a 256-bit MAC: the last one's spare bits must
    not let a second string stand for the same link."""
    token = signed_links.sign({"exp": EXP}, KEY)
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    last = alphabet.index(token[-1])
    twin = token[:-1] + alphabet[last ^ 1]  # flips only a spare bit
    assert base64.urlsafe_b64decode(twin.split(".")[1] + "=") == base64.urlsafe_b64decode(
        token.split(".")[1] + "="
    )
    with pytest.raises(signed_links.TokenTampered):
        signed_links.verify(twin, KEY, NOW)


@pytest.mark.parametrize("token", ["", "abc", "a.b.c", "a" * 2000 + ".b", "ab.c!d", " . "])
def test_malformed_tokens_are_invalid_but_not_tampered(token: str) -> None:
    with pytest.raises(signed_links.TokenInvalid) as refused:
        signed_links.verify(token, KEY, NOW)
    assert not isinstance(refused.value, signed_links.TokenTampered)


def test_a_token_expires_at_its_exp() -> None:
    token = signed_links.sign({"exp": EXP}, KEY)
    signed_links.verify(token, KEY, NOW + timedelta(minutes=59))
    with pytest.raises(signed_links.TokenExpired):
        signed_links.verify(token, KEY, NOW + timedelta(hours=1))


def test_every_token_needs_an_expiry() -> None:
    with pytest.raises(ValueError, match="exp"):
        signed_links.sign({"d": 1}, KEY)


def test_each_purpose_has_its_own_key() -> None:
    """A token signed for one purpose never verifies for another (nor with the master key)."""
    record = signed_links.purpose_key(KEY, "access-record")
    assert record != KEY
    assert record != signed_links.purpose_key(KEY, "something-else")
    assert record == signed_links.purpose_key(KEY, "access-record")
    token = signed_links.sign({"exp": EXP}, record)
    with pytest.raises(signed_links.TokenTampered):
        signed_links.verify(token, KEY, NOW)
    with pytest.raises(signed_links.TokenTampered):
        signed_links.verify(signed_links.sign({"exp": EXP}, KEY), record, NOW)
