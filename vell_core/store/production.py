"""One rule, read everywhere: an AWS account with an active connection is in production.

The Trials desk, the wizard and the delegation service all ask here, so a promoted customer is
shown as in production on every page and never gets a second onboarding request.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy.engine import Engine
from sqlmodel import col, select

from vell_core.domain.models import CloudConnection, ConnectionStatus
from vell_core.store.engine import session_scope

IN_PRODUCTION_MESSAGE = (
    "AWS account {account} is already in production: it has an active Vell connection. "
    "Re-validate that connection on Connections instead of sending another onboarding request."
)


def accounts_in_production(engine: Engine, accounts: Iterable[str]) -> set[str]:
    """Which of ``accounts`` have an active connection (one query for a whole page)."""
    wanted = sorted(set(accounts))
    if not wanted:
        return set()
    with session_scope(engine) as session:
        rows = session.exec(
            select(CloudConnection.aws_account_id)
            .where(col(CloudConnection.aws_account_id).in_(wanted))
            .where(CloudConnection.status == ConnectionStatus.ACTIVE)
        ).all()
    return set(rows)


def in_production(engine: Engine, account: str) -> bool:
    """Whether ``account`` has an active connection."""
    return account in accounts_in_production(engine, [account])
