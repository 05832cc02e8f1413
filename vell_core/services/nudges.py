"""A desk that nudges: state changes announced on every page, and requests that wait too long.

Three rules, all about a rep's *own* requests:

* **State changes.** A new AWS state on one of the rep's requests (a timeline event the rep did
  not cause: notifications, not the rep's own create) is announced on whatever page the rep is
  on (``ui_bridge`` hooks it once for every page).
* **Longer than usual.** A request waiting on the customer (UNASSIGNED, ASSIGNED,
  PENDING_APPROVAL, ACCEPTED) longer than usual in its state gets a nudge with the next action:
  resend the link; ask for an admin (the owner may lack permission to approve); expect expiry at
  AWS's deadline; ask the customer to share access. "Usual" is per state: the setting
  ``VELL_NUDGE_AFTER_SECONDS`` (JSON, state → seconds) where given, else the median time
  requests in the store's history spent in that state before moving on (the seeded history in
  the sandbox), never under ``NUDGE_FLOOR``; a state the history never left uses
  ``FALLBACK_USUAL``.
* **Root approvers** (``DelegationView.needs_non_root_approver`` / ``root_approved``): a
  request over 4 hours cannot be approved by a root user, and a root-approved request cannot be
  revoked by the customer (AWS's console offers no Revoke for it).

Cheap when nothing happens: every page polls ``DeskNudges.poll`` every couple of seconds, which
compares a process-wide watermark (the newest timeline event id, read at most once per refresh
interval per process, shared by every session) and the next moment a request will become
overdue with what this session saw last, and touches the store only when one of them moved.
"""

from __future__ import annotations

import statistics
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from itertools import pairwise

from vell_core.domain.clock import Clock
from vell_core.domain.lifecycle import STATE_LABELS, TIMELINE_ORDER
from vell_core.domain.models import AwsDelegationState, DelegationPath
from vell_core.domain.roles import StaffMember, can
from vell_core.domain.validation import ROOT_APPROVER_MAX_SECONDS
from vell_core.services.staff import StaffDirectory
from vell_core.store.nudges import NudgesStore
from vell_core.views.formatting import when

S = AwsDelegationState
WAITING_STATES: tuple[S, ...] = (S.UNASSIGNED, S.ASSIGNED, S.PENDING_APPROVAL, S.ACCEPTED)
NUDGE_FLOOR = timedelta(minutes=1)  # notifications take seconds; sooner would be noise
FALLBACK_USUAL = timedelta(hours=1)
MEDIANS_TTL = timedelta(hours=1)
MAX_CHANGES = 20  # per poll; more than that at once is a flood, not news
OWN_ACTIONS = frozenset({"api"})  # event sources that are the rep's own doing (the create)
ROOT_LIMIT_TEXT = (
    "This request lasts longer than 4 hours, so a root user cannot approve it: tell the "
    "customer that an IAM user or role with iam:AcceptDelegationRequest must approve."
)
ROOT_APPROVED_TEXT = (
    "Approved by the account's root user: AWS gives the customer no way to revoke a "
    "root-approved request, so this access runs until it ends on its own."
)


@dataclass(frozen=True)
class StateChange:
    """A new AWS state on one of the rep's requests."""

    event_id: int
    delegation_id: int
    company: str
    path: DelegationPath
    state: S
    occurred_at: datetime

    @property
    def label(self) -> str:
        """What the state means, in the timeline's words."""
        return STATE_LABELS[self.state]


@dataclass(frozen=True)
class Nudge:
    """A request waiting longer than usual, and what the rep should do about it."""

    delegation_id: int
    company: str
    path: DelegationPath
    state: S
    since: datetime
    waited: timedelta
    usual: timedelta
    deadline: datetime | None
    action: str

    @property
    def key(self) -> tuple[int, str]:
        """Once per request and state."""
        return (self.delegation_id, self.state.value)

    @property
    def headline(self) -> str:
        """ "In AWS state X for 2 h 05 min (usually 1 min 00 s)"."""
        return f"{self.state.value} for {about(self.waited)} (usually {about(self.usual)})"


@dataclass(frozen=True)
class WaitingRequest:
    """The facts a nudge is decided on (one waiting request)."""

    delegation_id: int
    company: str
    path: DelegationPath
    state: S
    since: datetime
    deadline: datetime | None
    session_duration: int


@dataclass(frozen=True)
class NudgeReport:
    """The rep's overdue requests now, and when the next one will become overdue."""

    nudges: tuple[Nudge, ...]
    next_due: datetime | None


@dataclass(frozen=True)
class Seen:
    """What one browser session has already been told (plain values, kept in session state)."""

    watermark: int
    next_due: datetime | None
    nudged: frozenset[tuple[int, str]] = field(default_factory=frozenset)


@dataclass(frozen=True)
class DeskNotice:
    """One thing to tell the rep now (a toast)."""

    text: str  # untrusted parts (company names) are not escaped here: pages use ``plain``
    icon: str
    delegation_id: int


# --- pure rules ---------------------------------------------------------------------------------


def about(span: timedelta) -> str:
    """A wait as people say it: ``45 s``, ``8 min``, ``2 h 05 min``, ``3 d 4 h``."""
    seconds = int(max(span.total_seconds(), 0))
    if seconds < 60:
        return f"{seconds} s"
    minutes = seconds // 60
    if minutes < 60:
        return f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    if hours < 24:
        return f"{hours} h {minutes:02d} min"
    days, hours = divmod(hours, 24)
    return f"{days} d {hours} h"


def dwell_medians(events: Iterable[tuple[int, S, datetime]]) -> dict[S, timedelta]:
    """Median time spent in each state before the next one, over stays that ended.

    ``events`` are (delegation id, state, occurred at) in any order; a request's timeline is
    ordered by time, then by the lifecycle order (a seeded ACCEPTED and FINALIZED may share a
    second).
    """
    order = {state: index for index, state in enumerate(TIMELINE_ORDER)}
    by_request: dict[int, list[tuple[datetime, int, S]]] = {}
    for delegation_id, state, occurred in events:
        by_request.setdefault(delegation_id, []).append((occurred, order[state], state))
    stays: dict[S, list[float]] = {}
    for timeline in by_request.values():
        timeline.sort()
        for (start, _, state), (end, _, _) in pairwise(timeline):
            stays.setdefault(state, []).append((end - start).total_seconds())
    return {state: timedelta(seconds=statistics.median(s)) for state, s in stays.items() if s}


def usual_waits(medians: dict[S, timedelta], overrides: dict[str, int]) -> dict[S, timedelta]:
    """The "usual" wait per waiting state: the setting, else the history's median (floored)."""
    usual: dict[S, timedelta] = {}
    for state in WAITING_STATES:
        if state.value in overrides:
            usual[state] = timedelta(seconds=overrides[state.value])
        else:
            usual[state] = max(medians.get(state, FALLBACK_USUAL), NUDGE_FLOOR)
    return usual


def next_action(state: S, deadline: datetime | None, session_duration: int) -> str:
    """What the rep should do about a request stuck in ``state``."""
    expiry = f"AWS expires it at {when(deadline)}" if deadline else "AWS expires it"
    if state is S.UNASSIGNED:
        return f"The customer has not opened the link yet: resend it ({expiry} if nobody does)."
    if state is S.ASSIGNED:
        text = (
            "The customer opened it but has not approved: the person who opened it may lack "
            "permission to approve (iam:AcceptDelegationRequest). Ask them to forward it to an "
            "admin (Request approval) or to bring their admin in."
        )
        if session_duration > ROOT_APPROVER_MAX_SECONDS:
            text += " A root user cannot approve it (over 4 hours)."
        return text
    if state is S.PENDING_APPROVAL:
        return (
            "Forwarded to the customer's admin, who has not approved yet. Nothing to resend: "
            f"expect expiry at the AWS deadline ({expiry} unless the admin approves)."
        )
    return f"Approved but not shared yet: ask the customer to press Share access ({expiry})."


def nudge_for(
    request: WaitingRequest, usual: dict[S, timedelta], now: datetime
) -> tuple[Nudge | None, datetime | None]:
    """(The nudge if ``request`` is overdue now, else None; when it will be, if not yet)."""
    limit = usual.get(request.state)
    if limit is None:
        return None, None
    overdue_at = request.since + limit
    if now < overdue_at:
        return None, overdue_at
    nudge = Nudge(
        delegation_id=request.delegation_id,
        company=request.company,
        path=request.path,
        state=request.state,
        since=request.since,
        waited=now - request.since,
        usual=limit,
        deadline=request.deadline,
        action=next_action(request.state, request.deadline, request.session_duration),
    )
    return nudge, None


def report_for(
    requests: Iterable[WaitingRequest], usual: dict[S, timedelta], now: datetime
) -> NudgeReport:
    """Every overdue request (longest wait first) and the next moment another one will be."""
    nudges: list[Nudge] = []
    due: list[datetime] = []
    for request in requests:
        if request.deadline is not None and request.deadline <= now:
            continue  # already expired, whatever the store says: nothing to nudge
        nudge, overdue_at = nudge_for(request, usual, now)
        if nudge is not None:
            nudges.append(nudge)
        elif overdue_at is not None:
            due.append(overdue_at)
    nudges.sort(key=lambda n: n.waited, reverse=True)
    return NudgeReport(tuple(nudges), min(due) if due else None)


def change_notice(change: StateChange) -> DeskNotice:
    """The toast for a state change."""
    return DeskNotice(
        text=f"{change.company} ({change.path.value}): {change.label}.",
        icon=":material/notifications:",
        delegation_id=change.delegation_id,
    )


def nudge_notice(nudge: Nudge) -> DeskNotice:
    """The toast for an overdue request."""
    return DeskNotice(
        text=f"{nudge.company} ({nudge.path.value}) has been {nudge.headline}. {nudge.action}",
        icon=":material/schedule:",
        delegation_id=nudge.delegation_id,
    )


# --- the service ----------------------------------------------------------------------------


class DeskNudges:
    """State-change and overdue notices for a rep's own requests."""

    def __init__(
        self,
        *,
        store: NudgesStore,
        clock: Clock,
        staff: StaffDirectory,
        overrides: dict[str, int],
        refresh: timedelta,
    ) -> None:
        self._store = store
        self._clock = clock
        self._staff = staff
        self._overrides = dict(overrides)
        self._refresh = refresh
        self._lock = threading.Lock()
        self._watermark: tuple[datetime, int] | None = None
        self._medians: tuple[datetime, dict[S, timedelta]] | None = None

    # --- the per-page poll ---------------------------------------------------------------

    def poll(self, member: StaffMember, seen: Seen | None) -> tuple[Seen, list[DeskNotice]]:
        """What to tell ``member`` now, given what this session was told before.

        The first poll of a session announces nothing old, only requests already overdue.
        When neither the watermark nor the next due moment moved, no store work is done.
        """
        if not can(member, "delegation.create"):
            return seen or Seen(0, None), []
        mark, now = self.watermark(), self._clock.now()
        if seen is not None and mark == seen.watermark and not _due(seen.next_due, now):
            return seen, []
        notices: list[DeskNotice] = []
        with self._staff.one_read():  # one poll, one read of the member for both queries
            if seen is not None and mark != seen.watermark:
                notices += [change_notice(c) for c in self.changes_since(member, seen.watermark)]
            report = self.report(member)
        nudged = seen.nudged if seen is not None else frozenset()
        fresh = [n for n in report.nudges if n.key not in nudged]
        fresh.sort(key=lambda n: n.since + n.usual, reverse=True)  # the newest news first
        notices += [nudge_notice(n) for n in fresh]
        keys = frozenset(n.key for n in report.nudges)
        return Seen(mark, report.next_due, nudged | keys), notices

    def watermark(self) -> int:
        """The newest timeline event id (one tiny query per refresh interval per process)."""
        now = self._clock.now()
        with self._lock:
            kept = self._watermark
            if kept is not None and now - kept[0] < self._refresh:
                return kept[1]
        value = self._store.newest_event_id()
        with self._lock:
            self._watermark = (now, value)
        return value

    # --- reads ---------------------------------------------------------------------------

    def changes_since(self, member: StaffMember, after: int) -> list[StateChange]:
        """New states on ``member``'s own requests after event id ``after`` (oldest first)."""
        member = self._staff.require(member, "delegation.read_own")
        rows = self._store.events_after(
            member.id, after, skip_sources=OWN_ACTIONS, limit=MAX_CHANGES
        )
        return [
            StateChange(
                event_id=event.id or 0,
                delegation_id=row.id or 0,
                company=row.company,
                path=DelegationPath(row.type),
                state=S(event.aws_state),
                occurred_at=event.occurred_at,
            )
            for event, row in rows
        ]

    def report(self, member: StaffMember) -> NudgeReport:
        """``member``'s overdue requests now (longest first) and when the next one will be."""
        return report_for(self.waiting(member), self.usual(), self._clock.now())

    def waiting(self, member: StaffMember) -> list[WaitingRequest]:
        """``member``'s own requests still waiting on the customer, with their state's start."""
        member = self._staff.require(member, "delegation.read_own")
        rows = self._store.waiting(member.id, WAITING_STATES)
        return [
            WaitingRequest(
                delegation_id=row.id or 0,
                company=row.company,
                path=DelegationPath(row.type),
                state=S(str(row.aws_state)),  # the query keeps waiting states only
                since=occurred or row.updated_at,
                deadline=row.aws_state_expires_at,
                session_duration=row.session_duration,
            )
            for row, occurred in rows
        ]

    def for_request(
        self, state: S | None, since: datetime | None, deadline: datetime | None, duration: int
    ) -> Nudge | None:
        """The nudge for one request the page already has (no store work)."""
        if state not in WAITING_STATES or since is None:
            return None
        request = WaitingRequest(0, "", DelegationPath.DEMO, state, since, deadline, duration)
        nudge, _ = nudge_for(request, self.usual(), self._clock.now())
        return nudge

    def usual(self) -> dict[S, timedelta]:
        """The usual wait per state (settings, else the history's medians, cached an hour)."""
        now = self._clock.now()
        with self._lock:
            kept = self._medians
        if kept is None or now - kept[0] >= MEDIANS_TTL:
            medians = dwell_medians(self._store.state_history())
            kept = (now, medians)
            with self._lock:
                self._medians = kept
        return usual_waits(kept[1], self._overrides)


def _due(moment: datetime | None, now: datetime) -> bool:
    return moment is not None and now >= moment
