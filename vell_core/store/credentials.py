"""Sealed-credential rows: the vault's hand-off copy of exchanged credentials, ciphertext only.

The vault (``vell_core.aws.vault``) encrypts and decrypts; this module only stores, reads and
deletes the rows. A row is replaced whole (one per delegation), either in its own transaction
or inside the caller's (the token exchange seals credentials in the transaction that records
the exchange as done).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.engine import Engine
from sqlmodel import Session, col, delete

from vell_core.domain.models import SealedCredential
from vell_core.store.engine import read_session, session_scope


def replace_in(session: Session, row: SealedCredential) -> None:
    """Store ``row`` as its delegation's only sealed copy, inside the caller's transaction."""
    existing = session.get(SealedCredential, row.delegation_id)
    if existing is not None:
        session.delete(existing)
        session.flush()  # the old row goes before the new one takes its primary key
    session.add(row)


class CredentialStore:
    """``sealed_credentials``: one ciphertext row per delegation."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def replace(self, row: SealedCredential) -> None:
        """Store ``row`` (replacing any earlier seal) in one transaction."""
        with session_scope(self._engine) as session:
            replace_in(session, row)

    def ciphertext(self, delegation_id: int) -> str | None:
        """The sealed copy for ``delegation_id``, or None (read on a snapshot)."""
        with read_session(self._engine) as session:
            sealed = session.get(SealedCredential, delegation_id)
            return sealed.ciphertext if sealed is not None else None

    def delete(self, delegation_id: int) -> None:
        """Forget the sealed copy of ``delegation_id`` (if any)."""
        with session_scope(self._engine) as session:
            session.execute(
                delete(SealedCredential).where(col(SealedCredential.delegation_id) == delegation_id)
            )

    def delete_expired(self, now: datetime) -> None:
        """Forget every sealed copy whose credentials expired by ``now``."""
        with session_scope(self._engine) as session:
            session.execute(delete(SealedCredential).where(col(SealedCredential.expires_at) <= now))
