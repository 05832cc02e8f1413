"""Delegation rows: launches, the lifecycle's compare-and-set moves, the exchange lease, reads.

``DelegationRows`` works inside one open transaction (a unit of work that may also write the
inbox, the funnel, audit rows and sealed credentials); ``DelegationStore`` opens those
transactions and answers the delegation pages' reads on read-only snapshots. Every state move
and lease change is a compare-and-set (``UPDATE … WHERE`` the expected value): the caller is
told whether it won, and decides what losing means.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import datetime
from typing import Any

from sqlalchemy import and_, func, not_, or_, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from vell_core.domain.models import (
    AwsDelegationState,
    Customer,
    DelegationEvent,
    DelegationPath,
    DelegationRequest,
    DelegationStatus,
    ExchangeState,
    StaffUser,
)
from vell_core.store.engine import read_session, rows_affected, savepoint, session_scope
from vell_core.store.funnel import FunnelRecorder
from vell_core.store.production import in_production

# Exchange states a worker may claim without a lease to wait for (UNKNOWN: rows from before
# retries existed; the token can be redeemed again, so they are simply retried).
CLAIMABLE = (ExchangeState.NONE, ExchangeState.RETRYING, ExchangeState.UNKNOWN)

TimelineRow = tuple[DelegationRequest, StaffUser | None, Sequence[DelegationEvent]]


class DelegationRows:
    """Delegation rows inside the caller's open transaction (nothing here commits)."""

    def __init__(self, session: Session, funnel: FunnelRecorder) -> None:
        self._session = session
        self._funnel = funnel

    # --- reading inside the unit of work ---------------------------------------------------

    def get(self, row_id: int) -> DelegationRequest | None:
        """The row with this id, as this transaction sees it."""
        return self._session.get(DelegationRequest, row_id)

    def id_for_workflow(self, workflow_id: str) -> int | None:
        """The row launched with this ``RequestorWorkflowId``, if any."""
        return self._session.exec(
            select(DelegationRequest.id).where(
                DelegationRequest.requestor_workflow_id == workflow_id
            )
        ).first()

    def by_request_id(self, request_id: str) -> DelegationRequest | None:
        """The row AWS knows as ``request_id``."""
        return self._session.exec(
            select(DelegationRequest).where(DelegationRequest.delegation_request_id == request_id)
        ).first()

    def exchange_state(self, row_id: int) -> ExchangeState:
        """Where the row's token exchange stands now."""
        state = self._session.exec(
            select(DelegationRequest.exchange_state).where(DelegationRequest.id == row_id)
        ).one()
        return ExchangeState(state)

    # --- launching -------------------------------------------------------------------------

    def ensure_customer(self, company: str, account: str, owner_user_id: int, now: datetime) -> int:
        """The customer row of ``account``, created (owned by the launching rep) if new."""
        customer = self._session.exec(
            select(Customer).where(Customer.aws_account_id == account)
        ).first()
        if customer is None:
            customer = Customer(
                company=company, aws_account_id=account, owner_user_id=owner_user_id, created_at=now
            )
            self._session.add(customer)
            self._session.flush()
        return customer.id or 0

    def insert_once(self, row: DelegationRequest) -> int:
        """Insert ``row``; if a concurrent launch with its workflow id won, that row's id."""
        try:
            with savepoint(self._session):
                self._session.add(row)
                self._session.flush()
                return row.id or 0
        except IntegrityError:
            # A concurrent retry with the same launch token inserted it first: use that row.
            existing = self.id_for_workflow(row.requestor_workflow_id)
            if existing is None:
                raise
            return existing

    # --- the lifecycle ---------------------------------------------------------------------

    def adopt(self, row: DelegationRequest, request_id: str, console_link: str) -> None:
        """A row whose create response was lost learns its AWS id (from a notification)."""
        row.delegation_request_id = request_id
        row.console_deep_link = console_link
        row.last_error = None
        self._session.add(row)

    def unadopted_by_workflow(self, workflow_id: str) -> DelegationRequest | None:
        """The row launched as ``workflow_id`` whose AWS request id we never learnt."""
        return self._session.exec(
            select(DelegationRequest).where(
                DelegationRequest.requestor_workflow_id == workflow_id,
                col(DelegationRequest.delegation_request_id).is_(None),
            )
        ).first()

    def record_state_event(
        self,
        delegation_id: int,
        state: AwsDelegationState,
        occurred_at: datetime,
        source: str,
        detail: str | None = None,
    ) -> bool:
        """Record a timeline state once; concurrent writers race safely (ON CONFLICT DO NOTHING)."""
        dialect = self._session.get_bind().dialect.name
        insert = sqlite_insert if dialect == "sqlite" else postgresql_insert
        statement = (
            insert(DelegationEvent)
            .values(
                delegation_id=delegation_id,
                aws_state=state,
                occurred_at=occurred_at,
                recorded_at=occurred_at,
                source=source,
                detail=detail,
            )
            .on_conflict_do_nothing(index_elements=["delegation_id", "aws_state"])
        )
        return rows_affected(self._session.execute(statement)) == 1

    def move_state(
        self, row_id: int, expected: AwsDelegationState | None, values: Mapping[str, Any]
    ) -> bool:
        """Write ``values`` if the row's AWS state is still ``expected``; False if it moved."""
        column = col(DelegationRequest.aws_state)
        still = column.is_(None) if expected is None else column == expected
        result = self._session.execute(
            update(DelegationRequest)
            .where(col(DelegationRequest.id) == row_id, still)
            .values(**values)
        )
        return rows_affected(result) == 1

    def record_created(
        self,
        row_id: int,
        request_id: str,
        console_link: str,
        now: datetime,
        state_expires: datetime,
    ) -> DelegationRequest:
        """AWS created the request: its id and link, UNASSIGNED on the row and the timeline."""
        row = self._session.get(DelegationRequest, row_id)
        assert row is not None
        row.delegation_request_id = request_id
        row.console_deep_link = console_link
        if row.aws_state is None:
            row.aws_state = AwsDelegationState.UNASSIGNED
            row.aws_state_expires_at = state_expires
        row.last_error = None
        row.updated_at = now
        self._session.add(row)
        self.record_state_event(row_id, AwsDelegationState.UNASSIGNED, now, "api")
        return row

    def record_funnel(self, **fields: Any) -> bool:
        """A funnel step, committed with this transaction's state change (``record_in``)."""
        return self._funnel.record_in(self._session, **fields)

    # --- the exchange lease ----------------------------------------------------------------

    def claim_exchange(
        self,
        row_id: int,
        claim_id: str,
        now: datetime,
        lease_until: datetime,
        token_expires_at: datetime | None,
    ) -> bool:
        """Take the lease if nobody holds it or the holder's ran out (counts one attempt)."""
        state = col(DelegationRequest.exchange_state)
        lease = col(DelegationRequest.exchange_lease_until)
        taken = self._session.execute(
            update(DelegationRequest)
            .where(
                col(DelegationRequest.id) == row_id,
                or_(
                    state.in_(CLAIMABLE),
                    and_(state == ExchangeState.CLAIMED, or_(lease.is_(None), lease <= now)),
                ),
            )
            .values(
                exchange_state=ExchangeState.CLAIMED,
                exchange_claim_id=claim_id,
                exchange_claimed_at=now,
                exchange_lease_until=lease_until,
                exchange_attempts=col(DelegationRequest.exchange_attempts) + 1,
                exchange_token_expires_at=token_expires_at,
                updated_at=now,
            )
        )
        return rows_affected(taken) == 1

    def renew_lease(
        self, row_id: int, claim_id: str, now: datetime, lease_until: datetime, *, count: bool
    ) -> bool:
        """Extend the lease (and count an attempt) if this claim still holds it."""
        values: dict[str, Any] = {"exchange_lease_until": lease_until, "updated_at": now}
        if count:
            values["exchange_attempts"] = col(DelegationRequest.exchange_attempts) + 1
        return self.update_held(row_id, claim_id, values)

    def update_held(self, row_id: int, claim_id: str, values: Mapping[str, Any]) -> bool:
        """Write ``values`` only while ``claim_id`` still holds the row's exchange lease."""
        result = self._session.execute(
            update(DelegationRequest)
            .where(
                col(DelegationRequest.id) == row_id,
                col(DelegationRequest.exchange_state) == ExchangeState.CLAIMED,
                col(DelegationRequest.exchange_claim_id) == claim_id,
            )
            .values(**values)
        )
        return rows_affected(result) == 1


class DelegationStore:
    """``delegation_requests`` for the delegation service: units of work and snapshot reads."""

    def __init__(self, engine: Engine, funnel: FunnelRecorder) -> None:
        self._engine = engine
        self._funnel = funnel

    @contextmanager
    def transaction(self) -> Iterator[DelegationRows]:
        """One transaction: everything written through the rows commits or rolls back together."""
        with session_scope(self._engine) as session:
            yield DelegationRows(session, self._funnel)

    def id_for_workflow(self, workflow_id: str) -> int | None:
        """The row launched with this ``RequestorWorkflowId``, if any (a snapshot read)."""
        with read_session(self._engine) as session:
            return DelegationRows(session, self._funnel).id_for_workflow(workflow_id)

    def row(self, row_id: int) -> DelegationRequest | None:
        """One row, or None."""
        with read_session(self._engine) as session:
            return session.get(DelegationRequest, row_id)

    def with_timeline(self, row_id: int) -> TimelineRow | None:
        """One row with its rep and its timeline events, from one snapshot."""
        with read_session(self._engine) as session:
            row = session.get(DelegationRequest, row_id)
            if row is None:
                return None
            events = session.exec(
                select(DelegationEvent).where(DelegationEvent.delegation_id == row_id)
            ).all()
            return row, session.get(StaffUser, row.user_id), events

    def with_rep(self, row_id: int) -> tuple[DelegationRequest, StaffUser | None] | None:
        """One row and the rep who launched it."""
        with read_session(self._engine) as session:
            row = session.get(DelegationRequest, row_id)
            if row is None:
                return None
            return row, session.get(StaffUser, row.user_id)

    def with_event_marks(self, row_id: int) -> tuple[DelegationRequest, int, int | None] | None:
        """One row with its timeline's event count and latest event id, in one query."""
        mine = col(DelegationEvent.delegation_id) == row_id
        count = select(func.count(col(DelegationEvent.id))).where(mine).scalar_subquery()
        last = select(func.max(col(DelegationEvent.id))).where(mine).scalar_subquery()
        query = select(DelegationRequest, count, last).where(col(DelegationRequest.id) == row_id)
        with read_session(self._engine) as session:
            found = session.exec(query).first()
        if found is None:
            return None
        row, events, latest = found
        return row, int(events or 0), latest

    def matching(
        self,
        *,
        now: datetime,
        user_id: int | None,
        statuses: Sequence[DelegationStatus],
        paths: Sequence[DelegationPath],
        rep_ids: Sequence[int],
        company_contains: str,
        limit: int,
    ) -> list[tuple[DelegationRequest, StaffUser]]:
        """Rows (with their rep) matching the filters, newest first; ``user_id`` limits to one
        rep's own."""
        query = select(DelegationRequest, StaffUser).join(
            StaffUser, col(StaffUser.id) == col(DelegationRequest.user_id)
        )
        if user_id is not None:
            query = query.where(DelegationRequest.user_id == user_id)
        if statuses:
            query = query.where(or_(*(_status_clause(status, now) for status in statuses)))
        if paths:
            query = query.where(col(DelegationRequest.type).in_(paths))
        if rep_ids:
            query = query.where(col(DelegationRequest.user_id).in_(rep_ids))
        if company_contains.strip():
            pattern = f"%{company_contains.strip().lower()}%"
            query = query.where(col(DelegationRequest.company).ilike(pattern))
        query = query.order_by(col(DelegationRequest.created_at).desc()).limit(limit)
        with read_session(self._engine) as session:
            return [(row, rep) for row, rep in session.exec(query).all()]

    def keep_meta(self, row_id: int, key: str, value: Any) -> None:
        """Store ``value`` under ``key`` in the row's metadata (a new dict: JSON columns)."""
        with session_scope(self._engine) as session:
            row = session.get(DelegationRequest, row_id)
            if row is None:
                return
            row.meta = {**(row.meta or {}), key: value}
            session.add(row)

    def mark_already_created(
        self, row_id: int, now: datetime, state_expires: datetime, message: str
    ) -> None:
        """AWS already had this workflow id: UNASSIGNED (if nothing yet) and why, on the row."""
        with session_scope(self._engine) as session:
            row = session.get(DelegationRequest, row_id)
            assert row is not None
            if row.aws_state is None:
                row.aws_state = AwsDelegationState.UNASSIGNED
                row.aws_state_expires_at = state_expires
            row.last_error = message
            row.updated_at = now
            session.add(row)

    def record_error(self, row_id: int, message: str, now: datetime) -> None:
        """The last AWS error for the rep to read on the row."""
        with session_scope(self._engine) as session:
            row = session.get(DelegationRequest, row_id)
            if row is not None:
                row.last_error = message[:500]
                row.updated_at = now
                session.add(row)

    def in_production(self, account: str) -> bool:
        """Whether ``account`` already has an active connection (``store.production``)."""
        return in_production(self._engine, account)


def _status_clause(status: DelegationStatus, now: datetime) -> Any:
    """SQL for "shows as ``status`` now" (``lifecycle.effective_status`` as a query)."""
    stored = col(DelegationRequest.status)
    access_ended = col(DelegationRequest.credentials_expire_at) <= now
    state_ended = col(DelegationRequest.aws_state_expires_at) <= now
    if status is DelegationStatus.EXPIRED:
        return or_(
            stored == DelegationStatus.EXPIRED,
            and_(stored == DelegationStatus.APPROVED, access_ended),
            and_(stored == DelegationStatus.PENDING, state_ended),
        )
    if status is DelegationStatus.APPROVED:
        return and_(stored == status, not_(func.coalesce(access_ended, False)))
    if status is DelegationStatus.PENDING:
        return and_(stored == status, not_(func.coalesce(state_ended, False)))
    return stored == status


def mark_first_sync(engine: Engine, delegation_id: int, when: datetime) -> bool:
    """Set ``first_sync_at`` unless already set; True only for the call that set it."""
    statement = (
        update(DelegationRequest)
        .where(col(DelegationRequest.id) == delegation_id)
        .where(col(DelegationRequest.first_sync_at).is_(None))
        .values(first_sync_at=when)
    )
    with session_scope(engine) as session:
        return bool(rows_affected(session.execute(statement)))


class FirstSyncMarks:
    """``mark_first_sync`` bound to the engine, for a service that is handed its store."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def mark(self, delegation_id: int, when: datetime) -> bool:
        """Set ``first_sync_at`` unless already set; True only for the call that set it."""
        return mark_first_sync(self._engine, delegation_id, when)
