"""Credential vault: delegated credentials live in server memory only, until they expire.

Each process keeps exchanged credentials in a dict keyed by delegation id, with their expiry.
So that another process of the same deployment (a second app replica, or the app when a
separate ``vell worker`` did the exchange) can use them, the exchanging process also writes a
*sealed* copy: Fernet ciphertext whose key comes from settings and never from the database.
Plaintext never reaches the database, logs, ``st.cache_data`` or the page; ``repr`` is redacted;
entries and seals are dropped when the credentials expire.
"""

from __future__ import annotations

import json
import logging
import threading
from dataclasses import dataclass
from datetime import datetime

from cryptography.fernet import Fernet, InvalidToken

from vell_core.aws.clients import StaticCredentials
from vell_core.config.logs import forget_secret, register_secret
from vell_core.domain.clock import Clock
from vell_core.domain.models import SealedCredential
from vell_core.store.credentials import CredentialStore

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class DelegatedCredentials:
    """Temporary credentials acting in a customer's account as the approver."""

    access_key_id: str
    secret_access_key: str
    session_token: str
    expiration: datetime
    assumed_principal: str

    def __repr__(self) -> str:
        return (
            f"DelegatedCredentials(principal={self.assumed_principal!r}, "
            f"expires={self.expiration.isoformat()}, secret=***)"
        )

    __str__ = __repr__

    def as_static(self) -> StaticCredentials:
        """For the client factory."""
        return StaticCredentials(
            self.access_key_id, self.secret_access_key, self.session_token, self.expiration
        )

    def secrets(self) -> tuple[str, ...]:
        """Every secret string, for log redaction."""
        return (self.access_key_id, self.secret_access_key, self.session_token)


class CredentialVault:
    """In-memory store of live delegated credentials, with sealed hand-off between processes."""

    def __init__(self, *, store: CredentialStore, clock: Clock, key: bytes | None = None) -> None:
        self._store = store
        self._clock = clock
        self._fernet = Fernet(key or Fernet.generate_key())
        self._lock = threading.Lock()
        self._entries: dict[int, DelegatedCredentials] = {}

    def __repr__(self) -> str:
        return f"CredentialVault(entries={len(self._entries)})"

    def put(self, delegation_id: int, credentials: DelegatedCredentials) -> None:
        """Keep ``credentials`` until they expire, and seal a copy for other processes."""
        self.remember(delegation_id, credentials)
        self._store.replace(self.sealed(delegation_id, credentials))

    def remember(self, delegation_id: int, credentials: DelegatedCredentials) -> None:
        """Keep ``credentials`` in this process's memory only (after their seal committed)."""
        for secret in credentials.secrets():
            register_secret(secret)
        with self._lock:
            self._entries[delegation_id] = credentials

    def sealed(self, delegation_id: int, credentials: DelegatedCredentials) -> SealedCredential:
        """The sealed copy as a row, not yet stored: the caller writes it in its transaction.

        The token exchange records its outcome in the same transaction, so the credentials
        are stored exactly when the exchange is recorded as done, and never otherwise.
        """
        for secret in credentials.secrets():
            register_secret(secret)
        payload = json.dumps(
            {
                "a": credentials.access_key_id,
                "s": credentials.secret_access_key,
                "t": credentials.session_token,
                "e": credentials.expiration.isoformat(),
                "p": credentials.assumed_principal,
            }
        ).encode()
        return SealedCredential(
            delegation_id=delegation_id,
            ciphertext=self._fernet.encrypt(payload).decode(),
            expires_at=credentials.expiration,
            assumed_principal=credentials.assumed_principal,
        )

    def get(self, delegation_id: int) -> DelegatedCredentials | None:
        """Live credentials for this delegation, or None (expired, or never exchanged)."""
        now = self._clock.now()
        with self._lock:
            entry = self._entries.get(delegation_id)
        if entry is None:
            entry = self._unseal(delegation_id)
        if entry is None:
            return None  # never exchanged, or sealed under another key: not ours to delete
        if entry.expiration <= now:
            self.drop(delegation_id)
            return None
        return entry

    def drop(self, delegation_id: int) -> None:
        """Forget credentials (expiry, or the delegation was converted or revoked)."""
        with self._lock:
            entry = self._entries.pop(delegation_id, None)
        if entry is not None:
            for secret in entry.secrets():
                forget_secret(secret)
        self._store.delete(delegation_id)

    def purge_expired(self) -> int:
        """Drop every expired entry and seal; return how many were in memory."""
        now = self._clock.now()
        with self._lock:
            expired = [key for key, entry in self._entries.items() if entry.expiration <= now]
        for key in expired:
            self.drop(key)
        self._store.delete_expired(now)
        return len(expired)

    def _unseal(self, delegation_id: int) -> DelegatedCredentials | None:
        ciphertext = self._store.ciphertext(delegation_id)
        if ciphertext is None:
            return None
        try:
            data = json.loads(self._fernet.decrypt(ciphertext.encode()))
        except InvalidToken:
            # Sealed by a process with another key: those credentials are not ours to use.
            log.info("Sealed credentials for delegation %s use another key", delegation_id)
            return None
        credentials = DelegatedCredentials(
            access_key_id=data["a"],
            secret_access_key=data["s"],
            session_token=data["t"],
            expiration=datetime.fromisoformat(data["e"]),
            assumed_principal=data["p"],
        )
        for secret in credentials.secrets():
            register_secret(secret)
        with self._lock:
            self._entries[delegation_id] = credentials
        return credentials
