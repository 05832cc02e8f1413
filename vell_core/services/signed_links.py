"""Signed, expiring tokens for links Vell sends to people outside Vell (one signer for all).

A token is ``base64url(claims) "." base64url(HMAC-SHA256(key, base64url(claims)))``, where the
claims are compact, key-sorted JSON with an ``exp`` (unix seconds). :func:`verify` checks, in
this order: the shape (a strict alphabet and a length cap, before anything is decoded), the
signature (constant-time), the JSON, then the expiry; each failure has its own exception, so a
caller can word "changed or cut short" and "expired" differently. What the claims *mean*
(which link, which customer) is the caller's to check.

Keys: ``VELL_LINK_SIGNING_KEY`` is the master key (:func:`master_key`; the sandbox falls back to
a random per-process key, ``aws`` mode refuses to run without one). Each kind of link signs with
its own key, :func:`purpose_key` (HMAC of the master and the purpose), so a token issued for one
purpose never verifies as another. Customer demo links, the first kind, sign with the master key
itself, so the links already sent keep working.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import re
import secrets
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from vell_core.config.settings import Settings
from vell_core.domain.errors import ConfigurationError

MAX_TOKEN_CHARS = 1024  # refuse absurd input before decoding anything
MIN_KEY_CHARS = 32
_TOKEN_RE = re.compile(r"^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$")
_PROCESS_KEY = secrets.token_bytes(32)


class TokenInvalid(Exception):
    """The token is not one of ours: malformed, or its claims do not parse."""


class TokenTampered(TokenInvalid):
    """The token is well-formed but its signature does not match (changed or cut short)."""


class TokenExpired(TokenInvalid):
    """The token is genuine, but its ``exp`` has passed."""


def _b64encode(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _b64decode(text: str) -> bytes:
    padded = text + "=" * (-len(text) % 4)
    return base64.urlsafe_b64decode(padded.encode("ascii"))


def sign(claims: Mapping[str, Any], key: bytes) -> str:
    """Encode and sign ``claims`` (JSON values; must include ``exp`` in unix seconds)."""
    if not isinstance(claims.get("exp"), int):
        raise ValueError("a signed link needs an integer 'exp' claim")
    body = json.dumps(dict(claims), separators=(",", ":"), sort_keys=True).encode()
    encoded = _b64encode(body)
    return f"{encoded}.{_b64encode(_mac(key, encoded))}"


def verify(token: str, key: bytes, now: datetime) -> dict[str, Any]:
    """The claims of a genuine, unexpired token; raise a :class:`TokenInvalid` otherwise."""
    encoded, signature = _split(token)
    if not hmac.compare_digest(_mac(key, encoded), signature):
        raise TokenTampered()
    claims = _claims(encoded)
    if expires_at(claims) <= now:
        raise TokenExpired()
    return claims


def expires_at(claims: Mapping[str, Any]) -> datetime:
    """The ``exp`` claim as an aware UTC datetime."""
    try:
        return datetime.fromtimestamp(int(claims["exp"]), tz=UTC)
    except (KeyError, TypeError, ValueError, OverflowError, OSError):
        raise TokenInvalid() from None


def purpose_key(master: bytes, purpose: str) -> bytes:
    """The key one kind of link signs with, derived from the master key."""
    return hmac.new(master, f"vell-signed-link/{purpose}".encode(), hashlib.sha256).digest()


def master_key(settings: Settings) -> bytes:
    """The configured key; in the sandbox a random per-process key stands in for a missing one."""
    configured = settings.vell_link_signing_key
    if configured is not None and configured.get_secret_value().strip():
        value = configured.get_secret_value().strip()
        if len(value) < MIN_KEY_CHARS and not settings.is_sandbox:
            raise ConfigurationError(
                f"VELL_LINK_SIGNING_KEY must be at least {MIN_KEY_CHARS} characters."
            )
        return value.encode()
    if not settings.is_sandbox:
        raise ConfigurationError("Customer links need VELL_LINK_SIGNING_KEY in aws mode.")
    return _PROCESS_KEY


def _mac(key: bytes, encoded: str) -> bytes:
    return hmac.new(key, encoded.encode("ascii"), hashlib.sha256).digest()


def _split(token: str) -> tuple[str, bytes]:
    token = (token or "").strip()
    # Strict alphabet: base64 decoders skip stray characters, which would let many strings
    # stand for one token.
    if len(token) > MAX_TOKEN_CHARS or not _TOKEN_RE.match(token):
        raise TokenInvalid()
    encoded, text = token.split(".")
    try:
        signature = _b64decode(text)
    except (binascii.Error, ValueError, UnicodeEncodeError):
        raise TokenTampered() from None  # a signature of ours always decodes: it was cut
    # The last character's unused bits do not change what decodes: only our spelling is ours.
    if _b64encode(signature) != text:
        raise TokenTampered()
    return encoded, signature


def _claims(encoded: str) -> dict[str, Any]:
    """Decode claims whose signature already verified (so only our own bugs land here)."""
    try:
        raw: Any = json.loads(_b64decode(encoded))
    except (binascii.Error, ValueError):
        raise TokenInvalid() from None
    if not isinstance(raw, dict):
        raise TokenInvalid()
    return raw
