"""Trials desk (customer success): live demos and trials by time left, and what to do next.

Time left is the credential countdown while the customer's access is live, else the time until
AWS expires the request in its current state (1 day unassigned, 7 days otherwise). Actions:
renew (a new request with the same parameters), promote (hybrid or CloudFormation), record that
the "Ready for production?" prompt was sent (an audit row, read back for the table), and the
offboarding checklist of a converted customer.

The desk's own reads are ``vell_core.store.trials``'; the services it acts through (delegations,
promotion, CloudFormation setup, connections) are wired by the composition root
(``vell_core.app.build_production_services``) and handed in. Each call reads the signed-in
member once, however many of those services it goes through (``StaffDirectory.one_read``).
"""

from __future__ import annotations

import builtins  # the services define a `list` method, which hides the builtin in annotations
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from vell_core.domain.clock import Clock
from vell_core.domain.errors import NotFound
from vell_core.domain.models import (
    AwsDelegationState,
    DelegationPath,
    DelegationStatus,
    StaffRole,
)
from vell_core.domain.roles import StaffMember
from vell_core.services.audit import AuditRecorder
from vell_core.services.cloudformation import ProductionSetupService, SetupView
from vell_core.services.connections import ConnectionService, OffboardingChecklist
from vell_core.services.delegation import (
    DelegationFilter,
    DelegationService,
    DelegationView,
    LaunchRequest,
)
from vell_core.services.promotion import Progress, PromotionService, PromotionView
from vell_core.services.staff import StaffDirectory
from vell_core.store.trials import TrialsStore
from vell_core.views.formatting import MISSING, seconds_left, when_minute

PROMPT_ACTION = "trial.prompt_sent"
RENEW_ACTION = "trial.renewed"
LIVE_STATUSES = (DelegationStatus.PENDING, DelegationStatus.APPROVED)
DESK_PATHS = (DelegationPath.DEMO, DelegationPath.TRIAL)


@dataclass(frozen=True)
class TrialFilter:
    """Filters of the trials desk."""

    rep_ids: tuple[int, ...] = ()
    company_contains: str = ""
    include_ended: bool = False


@dataclass(frozen=True)
class TrialRow:
    """One demo or trial with its clocks."""

    delegation: DelegationView
    credentials_left_seconds: float | None
    state_left_seconds: float | None
    prompt_sent_at: datetime | None
    promotion_status: str | None

    @property
    def time_left_seconds(self) -> float | None:
        """Credential countdown while access is live, else the AWS state expiry."""
        if self.credentials_left_seconds is not None and self.credentials_left_seconds > 0:
            return self.credentials_left_seconds
        return self.state_left_seconds

    def record(self) -> dict[str, Any]:
        """A flat row for the table and the CSV: human headers, the request number last."""
        d = self.delegation
        return {
            "Company": d.company,
            "Account": d.aws_account_id,
            "Path": d.path.value,
            "Rep": d.rep_name,
            "Status": d.status.value,
            "AWS state": d.aws_state.value if d.aws_state else MISSING,
            "Time left": seconds_left(self.time_left_seconds),
            "Access ends in": seconds_left(self.credentials_left_seconds),
            "Request expires in": seconds_left(self.state_left_seconds),
            "Prompt sent": when_minute(self.prompt_sent_at),
            "Promotion": self.promotion_status or MISSING,
            "Request #": d.id,
        }


class TrialsDeskService:
    """Queries and actions of the trials desk."""

    def __init__(
        self,
        *,
        store: TrialsStore,
        clock: Clock,
        staff: StaffDirectory,
        audit: AuditRecorder,
        delegations: DelegationService,
        promotion: PromotionService,
        setup: ProductionSetupService,
        connections: ConnectionService,
    ) -> None:
        self._store = store
        self._clock = clock
        self._staff = staff
        self._audit = audit
        self._delegations = delegations
        self._promotion = promotion
        self._setup = setup
        self._connections = connections

    # -- queries ------------------------------------------------------------------------------

    def list(self, member: StaffMember, filters: TrialFilter) -> list[TrialRow]:
        """Demos and trials, least time left first (ended ones last)."""
        with self._staff.one_read():
            member = self._staff.require(member, "promotion.run")
            views = self._delegations.list(
                member,
                DelegationFilter(
                    statuses=() if filters.include_ended else LIVE_STATUSES,
                    paths=DESK_PATHS,
                    rep_ids=filters.rep_ids,
                    company_contains=filters.company_contains,
                ),
            )
        self._audit.flush()  # a prompt just recorded may still be queued for the writer
        notes = self._store.notes([v.id for v in views], PROMPT_ACTION)
        now = self._clock.now()
        rows = [_row(v, now, notes.prompts.get(v.id), notes.promotions.get(v.id)) for v in views]
        return sorted(rows, key=_sort_key)

    def reps(self, member: StaffMember) -> builtins.list[StaffMember]:
        """Staff who launch delegations (for the rep filter)."""
        self._staff.require(member, "promotion.run")
        return [m for m in self._staff.list_active() if m.role in (StaffRole.SALES, StaffRole.CS)]

    # -- actions ------------------------------------------------------------------------------

    def renew(self, member: StaffMember, delegation_id: int, launch_token: str) -> DelegationView:
        """A new request with the same parameters (idempotent per ``launch_token``)."""
        with self._staff.one_read():
            member = self._staff.require(member, "promotion.run")
            old = self._delegations.get(member, delegation_id)
            new = self._delegations.launch(
                member,
                LaunchRequest(
                    company=old.company,
                    aws_account_id=old.aws_account_id,
                    path=old.path,
                    launch_token=launch_token,
                    session_duration=old.session_duration,
                    wizard_session_id=old.wizard_session_id,
                ),
            )
        # Not in the launch's transaction: the launch commits its row before it calls AWS, and
        # the renewal's audit row follows through the recorder's queue.
        self._audit.record(
            action=RENEW_ACTION,
            outcome="ok",
            staff_user_id=member.id,
            customer_account_id=old.aws_account_id,
            delegation_id=old.id,
            detail=f"renewed as request #{new.id}",
        )
        return new

    def record_prompt_sent(
        self, member: StaffMember, delegation_id: int, note: str = ""
    ) -> datetime:
        """Record that the customer got the "Ready for production?" prompt."""
        with self._staff.one_read():
            member = self._staff.require(member, "promotion.run")
            view = self._delegations.get(member, delegation_id)
        self._audit.record(
            action=PROMPT_ACTION,
            outcome="ok",
            staff_user_id=member.id,
            customer_account_id=view.aws_account_id,
            delegation_id=view.id,
            detail=note.strip()[:500] or None,
        )
        return self._clock.now()

    def promote_hybrid(
        self, member: StaffMember, delegation_id: int, progress: Progress | None = None
    ) -> PromotionView:
        """Start or resume the hybrid promotion."""
        return self._promotion.run(member, delegation_id, progress)

    def promote_cloudformation(self, member: StaffMember, delegation_id: int) -> SetupView:
        """Start (or reuse) the CloudFormation setup for this delegation's customer."""
        with self._staff.one_read():
            member = self._staff.require(member, "promotion.run")
            view = self._delegations.get(member, delegation_id)
            return self._setup.start(
                member,
                company=view.company,
                aws_account_id=view.aws_account_id,
                source_delegation_id=view.id,
            )

    def offboarding(self, member: StaffMember, delegation_id: int) -> OffboardingChecklist:
        """The offboarding checklist of the connection this delegation was converted to."""
        with self._staff.one_read():
            member = self._staff.require(member, "promotion.run")
            view = self._delegations.get(member, delegation_id)
            connection_id = self._store.connection_of(view.id)
            if connection_id is None:
                raise NotFound("This customer has no permanent connection to offboard.")
            return self._connections.offboarding_checklist(member, connection_id)


def _row(
    view: DelegationView, now: datetime, prompt: datetime | None, promotion: str | None
) -> TrialRow:
    credentials = (
        (view.credentials_expire_at - now).total_seconds() if view.credentials_expire_at else None
    )
    state_left = None
    if view.aws_state_expires_at and view.aws_state is not AwsDelegationState.EXPIRED:
        state_left = (view.aws_state_expires_at - now).total_seconds()
    return TrialRow(view, credentials, state_left, prompt, promotion)


def _sort_key(row: TrialRow) -> tuple[int, float]:
    left = row.time_left_seconds
    if left is None or left <= 0:
        return (1, -(left or 0))
    return (0, left)
