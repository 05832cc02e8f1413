"""Hybrid promotion: turn a delegation into a permanent, boundary-capped role (resumable).

With the delegated credentials of an *onboarding* request we create, in the customer's account,
the role ``/vell.ai/VellMarketplaceConnector-<random>`` with the registered permission boundary
and a trust policy admitting only Vell's account with this customer's external ID; put the
connector policy; tag it; read it back; assume it from Vell's account; probe every connector
action with the role's credentials; activate the connection; and mark the delegation converted.

A demo or trial cannot do this itself: their templates grant no ``iam:*`` (the full-access
template denies it). So promoting one first launches an onboarding request for the same
customer, and the run *waits* until the customer approves it; running again then continues.

Resumable: the run row (``vell_core.store.promotions``) records every step. The role name is
stored before ``CreateRole`` is called and never regenerated, ``EntityAlreadyExists`` for that
name means "an earlier attempt created it", and every later step is idempotent (put/tag
overwrite, activation and conversion are updates). A lease on the run keeps two staff members
from driving it at the same time.

This module drives the run; the steps are ``promotion_steps``, their IAM calls
``promotion_iam``, and the rules (which steps remain, what the role must look like)
``promotion_plan``. One transaction per step: each step's outcome is written together with
what it learned and the next step's name, before the next step's AWS call; the run starts
with one write (the insert, or the lease claim) and ends in its last outcome's write.
"""

from __future__ import annotations

import builtins  # the service defines a `list` method, which hides the builtin in annotations
from datetime import timedelta
from typing import Any

from vell_core.domain.clock import Clock
from vell_core.domain.errors import InvalidTransition, NotFound, VellError
from vell_core.domain.models import (
    ConnectionVia,
    DelegationStatus,
    PromotionRun,
    PromotionStatus,
)
from vell_core.domain.roles import StaffMember
from vell_core.services.audit import AuditRecorder
from vell_core.services.connections import ConnectionService
from vell_core.services.delegation import DelegationService, DelegationView
from vell_core.services.promotion_plan import (
    Progress,
    PromotionView,
    Step,
    StepOutcome,
    StepState,
    WaitingForCustomer,
    following,
    is_connector_role_name,
    notify,
    outcome,
    remaining,
    view_of,
    with_entry,
)
from vell_core.services.promotion_steps import PromotionSteps, RunContext
from vell_core.services.staff import StaffDirectory
from vell_core.store.promotions import PromotionStore

__all__ = [  # the names pages and tests import from here
    "LEASE",
    "Progress",
    "PromotionService",
    "PromotionView",
    "Step",
    "StepOutcome",
    "StepState",
    "is_connector_role_name",
]

LEASE = timedelta(minutes=5)


class PromotionService:
    """Runs (and resumes) promotions to a permanent role."""

    def __init__(
        self,
        *,
        store: PromotionStore,
        clock: Clock,
        staff: StaffDirectory,
        delegations: DelegationService,
        connections: ConnectionService,
        audit: AuditRecorder,
        steps: PromotionSteps,
    ) -> None:
        self._store = store
        self._clock = clock
        self._staff = staff
        self._delegations = delegations
        self._connections = connections
        self._audit = audit
        self.steps = steps  # public: fault tests replace one step
        self._starter = RunStarter(store=store, clock=clock, connections=connections, audit=audit)

    # -- public -------------------------------------------------------------------------------

    def run(
        self, member: StaffMember, delegation_id: int, progress: Progress | None = None
    ) -> PromotionView:
        """Start or resume the promotion of ``delegation_id``; returns where it stands."""
        member = self._staff.require(member, "promotion.run")
        source = self._delegations.get(member, delegation_id)
        row = self._starter.start(member, source)
        ctx: RunContext | None = None
        try:
            external_id = self._connections.target_external_id(row.connection_id)
            ctx = RunContext(member, row, source, external_id)
            self._drive(ctx, progress)
        finally:
            if ctx is None or ctx.leased:
                self._store.update(row.id or 0, self._clock.now(), lease_expires_at=None)
        return self.get(member, delegation_id)

    def get(self, member: StaffMember, delegation_id: int) -> PromotionView:
        """The run of ``delegation_id`` (raises NotFound when it was never promoted)."""
        view = self.find(member, delegation_id)
        if view is None:
            raise NotFound("This delegation has not been promoted.")
        return view

    def find(self, member: StaffMember, delegation_id: int) -> PromotionView | None:
        """The run of ``delegation_id`` if there is one."""
        self._staff.require(member, "promotion.run")
        row = self._store.for_source(delegation_id)
        return self._view(member, row) if row is not None else None

    def list(self, member: StaffMember) -> builtins.list[PromotionView]:
        """Every run, newest first."""
        self._staff.require(member, "promotion.run")
        return [self._view(member, row) for row in self._store.newest_first()]

    # -- driving the steps: one write per step ----------------------------------------------

    def _drive(self, ctx: RunContext, progress: Progress | None) -> None:
        plan = remaining(ctx.row.steps)
        for step in Step:
            if step not in plan:
                notify(progress, outcome(ctx.row.steps, step))
            elif not self._attempt(ctx, step, following(plan, step), progress):
                return
        if not plan:  # nothing left: the finishing write has no step outcome to ride on
            self._write(ctx, **self._finished())
        self._audit_run(ctx, "promotion.completed", ctx.row.role_arn)

    def _attempt(
        self, ctx: RunContext, step: Step, then: Step | None, progress: Progress | None
    ) -> bool:
        """Run one step and record its outcome; False when the run stops here."""
        try:
            detail = getattr(self.steps, step.value)(ctx)
        except WaitingForCustomer as waiting:
            stop = {"status": PromotionStatus.WAITING, "lease_expires_at": None}
            self._record(ctx, step, StepState.WAITING, waiting.message, progress, stop)
            return False
        except VellError as exc:
            self._fail(ctx, step, exc.message, progress)
            return False
        except Exception:
            self._fail(ctx, step, "Unexpected error; see the logs.", progress)
            raise
        after = {"current_step": then.value} if then is not None else self._finished()
        self._record(ctx, step, StepState.DONE, detail or "", progress, after)
        return True

    def _fail(self, ctx: RunContext, step: Step, message: str, progress: Progress | None) -> None:
        stop = {
            "status": PromotionStatus.FAILED,
            "last_error": message[:500],
            "lease_expires_at": None,
        }
        self._record(ctx, step, StepState.FAILED, message, progress, stop)
        self._audit_run(ctx, "promotion.step_failed", f"{step.value}: {message}")

    def _finished(self) -> dict[str, Any]:
        return {
            "status": PromotionStatus.DONE,
            "current_step": None,
            "last_error": None,
            "finished_at": self._clock.now(),
            "lease_expires_at": None,
        }

    def _record(
        self,
        ctx: RunContext,
        step: Step,
        state: StepState,
        detail: str,
        progress: Progress | None,
        values: dict[str, Any],
    ) -> None:
        """The step's outcome, what it learned and ``values``, in one write; then notify."""
        rows = ctx.notes.get("rows") if step is Step.PROBE else None
        steps = with_entry(ctx.row.steps, step, state, detail, self._clock.now(), rows)
        self._write(ctx, steps=steps, **values)
        notify(progress, outcome(ctx.row.steps, step))

    def _write(self, ctx: RunContext, **values: Any) -> None:
        values = {**ctx.take_unsaved(), **values}
        self._store.update(ctx.run_id, self._clock.now(), **values)
        ctx.apply(values)
        if "lease_expires_at" in values:
            ctx.leased = False

    def _audit_run(self, ctx: RunContext, action: str, detail: str | None) -> None:
        self._audit.record(
            action=action,
            outcome="ok" if action == "promotion.completed" else "failed",
            staff_user_id=ctx.member.id,
            customer_account_id=ctx.row.aws_account_id,
            delegation_id=ctx.row.source_delegation_id,
            connection_id=ctx.row.connection_id,
            detail=detail,
        )

    # -- views --------------------------------------------------------------------------------

    def _view(self, member: StaffMember, row: PromotionRun) -> PromotionView:
        link = None
        if row.status is PromotionStatus.WAITING and row.work_delegation_id:
            link = self._delegations.get(member, row.work_delegation_id).console_deep_link
        return view_of(row, self._connections.target_external_id(row.connection_id), link)


class RunStarter:
    """Starts an attempt with one write: a new run's insert, or an existing run's lease claim."""

    def __init__(
        self,
        *,
        store: PromotionStore,
        clock: Clock,
        connections: ConnectionService,
        audit: AuditRecorder,
    ) -> None:
        self._store = store
        self._clock = clock
        self._connections = connections
        self._audit = audit

    def start(self, member: StaffMember, source: DelegationView) -> PromotionRun:
        """The source's run, leased to this attempt: inserted when new, else claimed."""
        existing = self._store.for_source(source.id)
        if existing is None:
            created = self._create(member, source)
            if created is not None:
                return created
            existing = self._store.for_source(source.id)  # a concurrent click created it first
            assert existing is not None
        now = self._clock.now()
        claimed = self._store.claim(
            existing.id or 0, now, now + LEASE, lambda row: _starting(row.steps)
        )
        if claimed is None:
            raise InvalidTransition("This promotion is running right now; refresh in a moment.")
        return claimed

    def _create(self, member: StaffMember, source: DelegationView) -> PromotionRun | None:
        """A new run and its pending connection, inserted with the lease already taken."""
        if source.status is DelegationStatus.CONVERTED:
            raise InvalidTransition(
                "This delegation is already converted to a permanent connection."
            )
        if self._connections.active_for_account(source.aws_account_id) is not None:
            raise InvalidTransition(
                "This AWS account already has an active connection; re-validate it instead."
            )
        connection = self._connections.new_pending_row(
            member,
            company=source.company,
            aws_account_id=source.aws_account_id,
            via=ConnectionVia.DELEGATION,
        )
        now = self._clock.now()
        run = PromotionRun(
            source_delegation_id=source.id,
            connection_id=0,  # the store sets it once the connection has its id
            aws_account_id=source.aws_account_id,
            company=source.company,
            steps={},
            started_by_user_id=member.id,
            created_at=now,
            updated_at=now,
            lease_expires_at=now + LEASE,
            **_starting({}),
        )
        created = self._store.create(connection, run)
        if created is not None:
            self._audit.record(
                action="promotion.started",
                outcome="ok",
                staff_user_id=member.id,
                customer_account_id=source.aws_account_id,
                delegation_id=source.id,
                connection_id=connection.id,
            )
        return created


def _starting(steps: dict[str, Any] | None) -> dict[str, Any]:
    """What an attempt starts with: running, no error, and the first step it will run."""
    first = next(iter(remaining(steps)), None)
    return {
        "status": PromotionStatus.RUNNING,
        "last_error": None,
        "current_step": first.value if first is not None else None,
    }
