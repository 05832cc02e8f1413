"""Who is calling: the sandbox's registry of access keys.

AWS resolves a SigV4 access key to a principal. The sandbox does the same from five sources:

- **personas** of a customer account: IAM users ``customer-owner`` and ``customer-admin``
  created in moto with real access keys, plus a minted key that stands for the account's root;
- **the partner key**: IAM user ``vell-desk`` in Vell's partner account (the app's credentials);
- **delegated credentials** minted by ``sts:GetDelegatedAccessToken``;
- **assumed-role sessions** minted by ``sts:AssumeRole`` (recorded by the server's interceptor);
- any other key moto issued to an IAM user (scripts may create their own users).

Every key is a *real* moto key in the right account, so requests moto serves with it land in
that account's backends (moto maps keys to accounts by scanning its IAM backends).
"""

from __future__ import annotations

import logging
import secrets
import threading
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from moto.iam.models import AccessKey, IAMBackend, iam_backends

from vell_core.sandbox.contract import Caller

logger = logging.getLogger(__name__)

PARTITION = "aws"
OWNER_USER = "customer-owner"
ADMIN_USER = "customer-admin"
PARTNER_USER = "vell-desk"
PERSONAS = ("owner", "admin", "root")


@dataclass(frozen=True)
class Credentials:
    """An access key pair plus optional session token (never logged)."""

    access_key_id: str
    secret_access_key: str
    session_token: str | None = None

    def to_api(self) -> dict[str, str]:
        """The dict shape AWS uses (``AccessKeyId``, ``SecretAccessKey``, ``SessionToken``)."""
        out = {"AccessKeyId": self.access_key_id, "SecretAccessKey": self.secret_access_key}
        if self.session_token:
            out["SessionToken"] = self.session_token
        return out


@dataclass(frozen=True)
class Identity:
    """A registered key: the caller it stands for and, for role sessions, the role ARN."""

    caller: Caller
    credentials: Credentials
    role_arn: str | None = None


def iam_backend(account_id: str) -> IAMBackend:
    """moto's IAM backend for ``account_id``."""
    return iam_backends[account_id][PARTITION]


def mint_temp_key(account_id: str) -> AccessKey:
    """A moto temporary (``ASIA…``) key owned by ``account_id``."""
    return iam_backend(account_id).create_temp_access_key()


def session_token() -> str:
    """An opaque session token in the shape STS hands out."""
    return "IQoJb3JpZ2luX2VjE" + secrets.token_urlsafe(96)


class IdentityRegistry:
    """Thread-safe map from access key id to the principal behind it."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._by_key: dict[str, Identity] = {}
        self._personas: dict[str, dict[str, Identity]] = {}

    def reset(self) -> None:
        """Forget every key (moto's backends are reset alongside)."""
        with self._lock:
            self._by_key.clear()
            self._personas.clear()

    def register(self, identity: Identity) -> None:
        """Remember a key."""
        with self._lock:
            self._by_key[identity.credentials.access_key_id] = identity

    def lookup(self, access_key_id: str) -> Identity | None:
        """The registered identity for a key, else a moto IAM user key, else None."""
        with self._lock:
            found = self._by_key.get(access_key_id)
        return found if found is not None else _moto_user_identity(access_key_id)

    def caller(self, access_key_id: str) -> Caller | None:
        """The caller behind a key, or None when AWS would not recognise it."""
        identity = self.lookup(access_key_id)
        return identity.caller if identity else None

    # -- sources ---------------------------------------------------------------------------

    def ensure_user_key(
        self, account_id: str, user_name: str, pinned: Credentials | None = None
    ) -> Identity:
        """Create (once) an IAM user with an access key and register it as a plain user."""
        backend = iam_backend(account_id)
        if user_name not in backend.users:
            backend.create_user(region_name="us-east-1", user_name=user_name)
        user = backend.get_user(user_name)
        key = _reusable_key(user, pinned)
        if key is None:
            # moto is process-global and caps users at two keys: several sandboxes in one
            # process (tests) share the user, so make room instead of failing.
            if len(user.access_keys) >= 2:
                backend.delete_access_key(user.access_keys[0].access_key_id, user_name)
            key = backend.create_access_key(user_name=user_name)
            if pinned is not None:
                _pin_key(backend, key, pinned)
        identity = Identity(
            caller=Caller(account_id, user.arn, "user", key.access_key_id),
            credentials=Credentials(key.access_key_id, key.secret_access_key),
        )
        self.register(identity)
        return identity

    def personas(self, account_id: str) -> dict[str, Identity]:
        """Owner, admin and root identities of a customer account (created on first use)."""
        with self._lock:
            existing = self._personas.get(account_id)
        if existing is not None:
            return existing
        created = {
            "owner": self.ensure_user_key(account_id, OWNER_USER),
            "admin": self.ensure_user_key(account_id, ADMIN_USER),
            "root": self._root_identity(account_id),
        }
        with self._lock:
            return self._personas.setdefault(account_id, created)

    def persona_accounts(self) -> list[str]:
        """Customer accounts whose personas exist (the sandbox console offers them)."""
        with self._lock:
            return sorted(self._personas)

    def _root_identity(self, account_id: str) -> Identity:
        key = mint_temp_key(account_id)
        identity = Identity(
            caller=Caller(account_id, f"arn:aws:iam::{account_id}:root", "root", key.access_key_id),
            credentials=Credentials(key.access_key_id, key.secret_access_key),
        )
        self.register(identity)
        return identity

    def register_delegated(
        self,
        *,
        account_id: str,
        approver_arn: str,
        session_policy: dict[str, Any],
        expires_at: datetime,
    ) -> Identity:
        """Mint delegated credentials acting in the customer account as the approver."""
        key = mint_temp_key(account_id)
        identity = Identity(
            caller=Caller(
                account_id=account_id,
                arn=approver_arn,
                kind="delegated",
                access_key_id=key.access_key_id,
                session_policy=session_policy,
                expires_at=expires_at,
            ),
            credentials=Credentials(key.access_key_id, key.secret_access_key, session_token()),
        )
        self.register(identity)
        return identity

    def register_assumed_role(
        self,
        *,
        credentials: Credentials,
        account_id: str,
        session_arn: str,
        role_arn: str,
        boundary_policy: dict[str, Any] | None,
        expires_at: datetime,
    ) -> Identity:
        """Record a session moto minted for ``sts:AssumeRole``."""
        identity = Identity(
            caller=Caller(
                account_id=account_id,
                arn=session_arn,
                kind="assumed-role",
                access_key_id=credentials.access_key_id,
                boundary_policy=boundary_policy,
                expires_at=expires_at,
            ),
            credentials=credentials,
            role_arn=role_arn,
        )
        self.register(identity)
        return identity


def _reusable_key(user: Any, pinned: Credentials | None) -> AccessKey | None:
    """The user's existing key to reuse: the pinned one, or any key when none is pinned."""
    for key in user.access_keys:
        if pinned is None or key.access_key_id == pinned.access_key_id:
            return key
    return None


def _pin_key(backend: IAMBackend, key: AccessKey, pinned: Credentials) -> None:
    """Give a fresh moto key fixed values, so the app's credentials survive a sandbox reset."""
    backend.access_keys.pop(key.physical_resource_id, None)
    key.access_key_id = pinned.access_key_id
    key.secret_access_key = pinned.secret_access_key
    backend.access_keys[key.physical_resource_id] = key


def _moto_user_identity(access_key_id: str) -> Identity | None:
    """A key moto issued to some IAM user (for example one a script created)."""
    for account_id, account in list(iam_backends.items()):
        backend = account[PARTITION]
        key = backend.access_keys.get(access_key_id)
        if key is None or key.user_name is None:
            continue
        user = backend.users.get(key.user_name)
        if user is None:
            continue
        return Identity(
            caller=Caller(account_id, user.arn, "user", access_key_id),
            credentials=Credentials(access_key_id, key.secret_access_key),
        )
    return None


def with_expiry(identity: Identity, expires_at: datetime) -> Identity:
    """A copy of ``identity`` expiring at ``expires_at``."""
    return replace(identity, caller=replace(identity.caller, expires_at=expires_at))
