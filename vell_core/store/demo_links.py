"""Demo-link rows: issued links (``demo_links``) and their one use (``demo_link_uses``).

The single use is the unique ``link_id`` of ``demo_link_uses``: :meth:`DemoLinkStore.claim`
takes it, so two customers (or two tabs) racing on one link get one demo between them. Staff
actions write their audit row in the same transaction as the change it records.
"""

from __future__ import annotations

from datetime import datetime
from enum import Enum

from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from vell_core.domain.models import AuditLog, DemoLink, DemoLinkUse
from vell_core.store.engine import read_session, session_scope


class Claim(Enum):
    """How taking a link's single use went."""

    TAKEN = "taken"  # this caller holds the use now (first claim, or a retry after a failure)
    USED = "used"  # someone else holds it, or it was used for another account
    REFUSED = "refused"  # the row broke another constraint (not a second claim)


class DemoLinkStore:
    """Issued demo links and their uses."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def add(self, link: DemoLink, audit: AuditLog) -> None:
        """Store a newly issued link and its audit row, in one transaction."""
        with session_scope(self._engine) as session:
            session.add(link)
            session.add(audit)

    def issued(self, rep_id: int | None, limit: int) -> list[tuple[DemoLink, DemoLinkUse | None]]:
        """Links issued by ``rep_id`` (None: everyone's) with their use, newest first."""
        query = select(DemoLink, DemoLinkUse).join(
            DemoLinkUse, col(DemoLinkUse.link_id) == col(DemoLink.id), isouter=True
        )
        if rep_id is not None:
            query = query.where(DemoLink.rep_user_id == rep_id)
        query = query.order_by(col(DemoLink.created_at).desc()).limit(limit)
        with read_session(self._engine) as session:
            return [(link, use) for link, use in session.exec(query).all()]

    def revoke(
        self, link_id: str, when: datetime, *, owner_id: int | None, audit: AuditLog
    ) -> bool:
        """Revoke the link (kept revoked at its first time) and audit it, in one transaction.

        False, and nothing written, when there is no such link or ``owner_id`` (None: anyone's,
        for admins) did not issue it.
        """
        with session_scope(self._engine) as session:
            link = session.get(DemoLink, link_id)
            if link is None or (owner_id is not None and link.rep_user_id != owner_id):
                return False
            link.revoked_at = link.revoked_at or when
            session.add(link)
            session.add(audit)
            return True

    def link_and_use(self, link_id: str) -> tuple[DemoLink | None, DemoLinkUse | None]:
        """The issued link and its use, if any, from one snapshot."""
        with read_session(self._engine) as session:
            return session.get(DemoLink, link_id), _use(session, link_id)

    def claim(self, link_id: str, account: str, when: datetime) -> Claim:
        """Take the link's single use; a failed launch may be retried for the same account.

        One transaction: the insert runs in a savepoint, so when the unique ``link_id`` refuses
        it the transaction goes on to read the use that holds it (committed by then: the unique
        index waits for the other writer) and re-takes it only after a failed launch.
        """
        with session_scope(self._engine) as session:
            try:
                with session.begin_nested():
                    session.add(DemoLinkUse(link_id=link_id, aws_account_id=account, used_at=when))
                return Claim.TAKEN
            except IntegrityError:
                pass  # already claimed: only a failed launch for this very account may retry
            use = _use(session, link_id)
            if use is None:
                return Claim.REFUSED
            if use.outcome != "failed" or use.aws_account_id != account:
                return Claim.USED
            use.outcome = "claimed"
            session.add(use)
            return Claim.TAKEN

    def finish(
        self,
        link_id: str,
        delegation_id: int | None,
        outcome: str,
        audit: AuditLog | None = None,
    ) -> None:
        """Record how the claimed use ended (and its audit row), in one transaction."""
        with session_scope(self._engine) as session:
            use = session.exec(select(DemoLinkUse).where(DemoLinkUse.link_id == link_id)).one()
            use.delegation_id = delegation_id
            use.outcome = outcome
            session.add(use)
            if audit is not None:
                session.add(audit)


def _use(session: Session, link_id: str) -> DemoLinkUse | None:
    return session.exec(select(DemoLinkUse).where(DemoLinkUse.link_id == link_id)).first()
