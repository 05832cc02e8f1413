"""Signed, expiring tokens that keep the sandbox's local sign-in across a reload.

Streamlit forgets session state when the browser reloads (F5, a second tab), so the local
sign-in is also written to a cookie holding ``<staff id>.<expiry>.<nonce>.<HMAC>``. The key is
random per process (a restarted app signs everyone out), tokens expire after
``SESSION_HOURS``, and signing out revokes the token's nonce, so a copied cookie stops
working. Only the sandbox's local sign-in uses this; Vell SSO keeps Streamlit's own OIDC cookie.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
from dataclasses import dataclass
from datetime import datetime, timedelta

from vell_core.domain.clock import Clock

COOKIE_NAME = "vell_sandbox_session"
SESSION_HOURS = 8


@dataclass(frozen=True)
class SessionToken:
    """A verified token: who, until when."""

    staff_id: int
    expires_at: datetime
    nonce: str


class SessionTokens:
    """Issues, verifies and revokes local sign-in tokens (thread-safe, in memory)."""

    def __init__(self, clock: Clock, key: bytes | None = None) -> None:
        self._clock = clock
        self._key = key or secrets.token_bytes(32)
        self._revoked: set[str] = set()
        self._lock = threading.Lock()

    def issue(self, staff_id: int) -> str:
        """A token for ``staff_id``, valid for ``SESSION_HOURS``."""
        expires = int((self._clock.now() + timedelta(hours=SESSION_HOURS)).timestamp())
        body = f"{int(staff_id)}.{expires}.{secrets.token_hex(8)}"
        return f"{body}.{self._sign(body)}"

    def verify(self, token: str | None) -> SessionToken | None:
        """The token's content if it is ours, unexpired and not revoked; else None."""
        parts = (token or "").split(".")
        if len(parts) != 4 or not all(parts):
            return None
        body, signature = ".".join(parts[:3]), parts[3]
        if not hmac.compare_digest(signature, self._sign(body)):
            return None
        staff_id, expires, nonce = parts[:3]
        if not (staff_id.isdigit() and expires.isdigit()):
            return None
        expires_at = datetime.fromtimestamp(int(expires), tz=self._clock.now().tzinfo)
        with self._lock:
            revoked = nonce in self._revoked
        if revoked or expires_at <= self._clock.now():
            return None
        return SessionToken(int(staff_id), expires_at, nonce)

    def revoke(self, token: str | None) -> None:
        """Make ``token`` unusable from now on (sign-out)."""
        verified = self.verify(token)
        if verified is not None:
            with self._lock:
                self._revoked.add(verified.nonce)

    def _sign(self, body: str) -> str:
        return hmac.new(self._key, body.encode(), hashlib.sha256).hexdigest()
