"""Opaque pagination tokens: base64 of ``{"o": offset, "h": filter hash}``.

The hash covers everything that decides the result set (account, filters, sort) but not the
page size, so a caller may change ``MaxResults`` between pages as AWS allows, yet a token
replayed with other filters is refused the way the real services refuse it.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from vell_core.sandbox.contract import SandboxServiceError

T = TypeVar("T")


class InvalidToken(ValueError):
    """The token is malformed or was issued for a different query."""


def fingerprint(query: Any) -> str:
    """A short stable hash of a JSON-able query description."""
    canonical = json.dumps(query, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:16]


def encode_token(offset: int, query_hash: str) -> str:
    """The token that resumes at ``offset`` for the query hashed as ``query_hash``."""
    raw = json.dumps({"o": offset, "h": query_hash}, separators=(",", ":")).encode("utf-8")
    return base64.b64encode(raw).decode("ascii")


def decode_token(token: str, query_hash: str) -> int:
    """The offset inside ``token``; ``InvalidToken`` when malformed or for another query."""
    try:
        payload = json.loads(base64.b64decode(token.encode("ascii"), validate=True))
        offset = int(payload["o"])
        token_hash = str(payload["h"])
    except (binascii.Error, ValueError, KeyError, TypeError, UnicodeError) as error:
        raise InvalidToken("malformed pagination token") from error
    if token_hash != query_hash or offset < 0:
        raise InvalidToken("pagination token does not belong to this request")
    return offset


@dataclass(frozen=True)
class Page:
    """One page of results and the token for the next, if any."""

    items: list[Any]
    next_token: str | None


def paginate(
    items: Sequence[T],
    *,
    token: str | None,
    limit: int,
    query_hash: str,
    on_invalid: Callable[[], SandboxServiceError],
) -> Page:
    """Slice ``items`` at the token's offset; raise ``on_invalid()`` for a bad token."""
    start = 0
    if token:
        try:
            start = decode_token(token, query_hash)
        except InvalidToken as error:
            raise on_invalid() from error
    end = start + limit
    next_token = encode_token(end, query_hash) if end < len(items) else None
    return Page(list(items[start:end]), next_token)
