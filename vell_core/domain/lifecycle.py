"""The delegation state machine: AWS states, their order, and the guide's coarse statuses.

Pure functions only. Notifications may arrive twice or out of order; ``is_forward`` decides
whether a reported state moves a request on, so a state never goes backwards and terminal
states are sticky.
"""

from __future__ import annotations

from datetime import datetime

from vell_core.domain.models import AwsDelegationState as S
from vell_core.domain.models import DelegationStatus

# Which states each state may be reached from (IAM lifecycle §1.2; EXPIRED from any live one).
PREDECESSORS: dict[S, frozenset[S | None]] = {
    S.UNASSIGNED: frozenset({None}),
    S.ASSIGNED: frozenset({None, S.UNASSIGNED}),
    S.PENDING_APPROVAL: frozenset({None, S.UNASSIGNED, S.ASSIGNED}),
    S.ACCEPTED: frozenset({None, S.UNASSIGNED, S.ASSIGNED, S.PENDING_APPROVAL}),
    S.FINALIZED: frozenset({None, S.UNASSIGNED, S.ASSIGNED, S.PENDING_APPROVAL, S.ACCEPTED}),
    S.REJECTED: frozenset({None, S.UNASSIGNED, S.ASSIGNED, S.PENDING_APPROVAL, S.ACCEPTED}),
    S.EXPIRED: frozenset(
        {None, S.UNASSIGNED, S.ASSIGNED, S.PENDING_APPROVAL, S.ACCEPTED, S.FINALIZED, S.REJECTED}
    ),
}

# Order in which the timeline is shown.
TIMELINE_ORDER: tuple[S, ...] = (
    S.UNASSIGNED,
    S.ASSIGNED,
    S.PENDING_APPROVAL,
    S.ACCEPTED,
    S.FINALIZED,
    S.REJECTED,
    S.EXPIRED,
)

STATE_LABELS: dict[S, str] = {
    S.UNASSIGNED: "Created — waiting for the customer to open the link",
    S.ASSIGNED: "Opened by the customer — under review",
    S.PENDING_APPROVAL: "Waiting for the customer's admin",
    S.ACCEPTED: "Approved — access not released yet",
    S.FINALIZED: "Access released to Vell",
    S.REJECTED: "Rejected by the customer",
    S.EXPIRED: "Expired",
}

# Every state but EXPIRED times out: UNASSIGNED after 1 day, the others after 7 days.
STATE_TIMEOUT_DAYS: dict[S, int] = {
    S.UNASSIGNED: 1,
    S.ASSIGNED: 7,
    S.PENDING_APPROVAL: 7,
    S.ACCEPTED: 7,
    S.FINALIZED: 7,
    S.REJECTED: 7,
}


def is_forward(current: S | None, reported: S) -> bool:
    """True when ``reported`` is a legal next state after ``current``."""
    return current in PREDECESSORS[reported]


def status_for(state: S | None, current: DelegationStatus | None = None) -> DelegationStatus:
    """The guide's status for an AWS state; ``converted`` is sticky once reached."""
    if current is DelegationStatus.CONVERTED:
        return DelegationStatus.CONVERTED
    if state is S.FINALIZED:
        return DelegationStatus.APPROVED
    if state is S.REJECTED:
        return DelegationStatus.REJECTED
    if state is S.EXPIRED:
        return DelegationStatus.EXPIRED
    return DelegationStatus.PENDING


def is_waiting(state: S | None) -> bool:
    """Still waiting on the customer (the wizard's live view keeps refreshing)."""
    return state in (None, S.UNASSIGNED, S.ASSIGNED, S.PENDING_APPROVAL, S.ACCEPTED)


def effective_status(
    status: DelegationStatus,
    *,
    credentials_expire_at: datetime | None,
    state_expires_at: datetime | None,
    now: datetime,
) -> tuple[DelegationStatus, datetime | None]:
    """The status a person should read now, and when the request ended (if it has).

    AWS reports EXPIRED only when a request's *state* times out (days later); the delegated
    access itself ends with the credentials. So an approved request whose credentials have
    ended, or a pending one whose state has timed out, reads as expired from that moment.
    """
    if status is DelegationStatus.APPROVED and _passed(credentials_expire_at, now):
        return DelegationStatus.EXPIRED, credentials_expire_at
    if status is DelegationStatus.PENDING and _passed(state_expires_at, now):
        return DelegationStatus.EXPIRED, state_expires_at
    if status is DelegationStatus.EXPIRED:
        ended = [
            t
            for t in (credentials_expire_at, state_expires_at)
            if t is not None and _passed(t, now)
        ]
        return status, min(ended) if ended else None
    return status, None


def _passed(moment: datetime | None, now: datetime) -> bool:
    return moment is not None and moment <= now
