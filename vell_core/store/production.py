"""One rule, read everywhere: an AWS account with an active connection is in production.

The Trials desk, the wizard, the delegation service, the CloudFormation setup and the promotion
all ask here, so a promoted customer is shown as in production on every page and never gets a
second onboarding request or a second connection.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy.engine import Engine
from sqlmodel import col, select

from vell_core.domain.models import CloudConnection, ConnectionStatus
from vell_core.store.engine import read_session

IN_PRODUCTION_MESSAGE = (
    "AWS account {account} is already in production: it has an active Vell connection. "
    "Re-validate that connection on Connections instead of sending another onboarding request."
)


def _active(column: Any, accounts: list[str]) -> Any:
    """``column`` of the active connections of ``accounts`` (the rule, written once)."""
    return (
        select(column)
        .where(col(CloudConnection.aws_account_id).in_(accounts))
        .where(CloudConnection.status == ConnectionStatus.ACTIVE)
    )


def accounts_in_production(engine: Engine, accounts: Iterable[str]) -> set[str]:
    """Which of ``accounts`` have an active connection (one query for a whole page)."""
    wanted = sorted(set(accounts))
    if not wanted:
        return set()
    with read_session(engine) as session:
        rows = session.exec(_active(CloudConnection.aws_account_id, wanted)).all()
    return set(rows)


def in_production(engine: Engine, account: str) -> bool:
    """Whether ``account`` has an active connection."""
    return account in accounts_in_production(engine, [account])


def active_connection_id(engine: Engine, account: str) -> int | None:
    """The id of ``account``'s active connection, if it has one."""
    with read_session(engine) as session:
        found: int | None = session.exec(_active(CloudConnection.id, [account])).first()
    return found
