"""STS ``GetDelegatedAccessToken``: trading an exchange token for delegated credentials.

Tokens are opaque bearer secrets that look like JWTs. Only their SHA-256 is stored. A token is
redeemable repeatedly by the partner account that created the request until ``ExpiresAt``
(release time + ``SessionDuration``); every set of credentials expires at that same instant.
Anything else (another account, malformed, unknown) is ``ValidationError`` "Invalid trade-in
token" (reference §8 Q8); a late trade is ``ExpiredTradeInTokenException``.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import threading
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from vell_core.sandbox.contract import SandboxCall, SandboxServiceError, ServiceBackend
from vell_core.sandbox.identity import IdentityRegistry

_TOKEN_HEADER = (
    base64.urlsafe_b64encode(
        json.dumps({"alg": "dir", "enc": "A256GCM", "typ": "JWT"}).encode("utf-8")
    )
    .decode("ascii")
    .rstrip("=")
)


@dataclass(frozen=True)
class TokenGrant:
    """What a released token stands for."""

    request_id: str
    requestor_account_id: str
    customer_account_id: str
    approver_arn: str
    session_policy: dict[str, Any]
    expires_at: datetime


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


class TokenVault:
    """Issued exchange tokens, stored by hash."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._grants: dict[str, TokenGrant] = {}

    def reset(self) -> None:
        """Forget every token."""
        with self._lock:
            self._grants.clear()

    def issue(self, grant: TokenGrant) -> str:
        """Mint a token for ``grant`` and remember its hash."""
        token = f"{_TOKEN_HEADER}.{secrets.token_urlsafe(48)}.{secrets.token_urlsafe(32)}"
        with self._lock:
            self._grants[_digest(token)] = grant
        return token

    def find(self, token: str) -> TokenGrant | None:
        """The grant behind ``token``, if it was issued."""
        with self._lock:
            return self._grants.get(_digest(token))


def _invalid_token() -> SandboxServiceError:
    return SandboxServiceError("ValidationError", "Invalid trade-in token", 400)


class DelegatedTokenExchange:
    """The STS backend: ``GetDelegatedAccessToken``."""

    def __init__(self, vault: TokenVault, identities: IdentityRegistry) -> None:
        self.vault = vault
        self.identities = identities

    def get_delegated_access_token(self, call: SandboxCall) -> dict[str, Any]:
        """Redeem a trade-in token for credentials acting as the approver."""
        token = str(call.params.get("TradeInToken", ""))
        grant = self.vault.find(token) if token.count(".") == 2 else None
        if grant is None or grant.requestor_account_id != call.caller.account_id:
            raise _invalid_token()
        if call.now >= grant.expires_at:
            raise SandboxServiceError(
                "ExpiredTradeInTokenException", "The trade-in token has expired.", 400
            )
        identity = self.identities.register_delegated(
            account_id=grant.customer_account_id,
            approver_arn=grant.approver_arn,
            session_policy=grant.session_policy,
            expires_at=grant.expires_at,
        )
        return {
            "Credentials": {**identity.credentials.to_api(), "Expiration": grant.expires_at},
            "AssumedPrincipal": grant.approver_arn,
        }


def build_sts_backend(exchange: DelegatedTokenExchange) -> ServiceBackend:
    """The ``ServiceBackend`` answering the STS operations moto lacks."""
    return ServiceBackend(
        service="sts",
        handlers={"GetDelegatedAccessToken": exchange.get_delegated_access_token},
    )
