"""Hybrid promotion: turn a delegation into a permanent, boundary-capped role (resumable).

With the delegated credentials of an *onboarding* request we create, in the customer's account,
the role ``/vell.ai/VellMarketplaceConnector-<random>`` with the registered permission boundary
and a trust policy admitting only Vell's account with this customer's external ID; put the
connector policy; tag it; read it back; assume it from Vell's account; probe every connector
action with the role's credentials; activate the connection; and mark the delegation converted.

A demo or trial cannot do this itself: their templates grant no ``iam:*`` (the full-access
template denies it). So promoting one first launches an onboarding request for the same
customer, and the run *waits* until the customer approves it; running again then continues.

Resumable: the run row records every step. The role name is stored before ``CreateRole`` is
called and never regenerated, ``EntityAlreadyExists`` for that name means "an earlier attempt
created it", and every later step is idempotent (put/tag overwrite, activation and conversion
are updates). A lease on the run keeps two staff members from driving it at the same time.
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any
from urllib.parse import unquote

from botocore.exceptions import ClientError
from sqlalchemy import or_, update
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select

from vell_core.aws.clients import aws_errors, error_code
from vell_core.aws.probe import ProbeReport
from vell_core.config.settings import Settings
from vell_core.domain.clock import Clock
from vell_core.domain.errors import (
    CredentialsUnavailable,
    InvalidTransition,
    NotFound,
    ValidationFailed,
    VellError,
)
from vell_core.domain.iam_actions import (
    CONNECTOR_POLICY_NAME,
    CONNECTOR_ROLE_NAME_PREFIX,
    CONNECTOR_ROLE_PATH,
    TAG_CONNECTION_ID,
    TAG_MANAGED_BY,
    TAG_MANAGED_BY_VALUE,
    requires,
)
from vell_core.domain.models import (
    AwsDelegationState,
    ConnectionVia,
    DelegationPath,
    DelegationStatus,
    ExchangeState,
    FunnelStep,
    PromotionRun,
    PromotionStatus,
)
from vell_core.domain.policies import load_policy_file, minified
from vell_core.domain.roles import StaffMember
from vell_core.services.audit import AuditRecorder
from vell_core.services.connection_identity import new_role_name, render_trust_policy
from vell_core.services.connections import AssumeRoleDenied, ConnectionService
from vell_core.services.customer_access import CustomerAccess, CustomerClients
from vell_core.services.delegation import DelegationService, DelegationView, LaunchRequest
from vell_core.services.staff import StaffDirectory
from vell_core.store.engine import session_scope
from vell_core.store.funnel import FunnelRecorder

log = logging.getLogger(__name__)

LEASE = timedelta(minutes=5)
ROLE_DESCRIPTION = (
    "Vell AWS Marketplace connector (read-only), created with your approved delegation."
)
ENDED_STATES = (AwsDelegationState.EXPIRED, AwsDelegationState.REJECTED)


class Step(StrEnum):
    """The promotion's steps, in order."""

    ONBOARDING_ACCESS = "onboarding_access"
    CREATE_ROLE = "create_role"
    PUT_POLICY = "put_policy"
    TAG_ROLE = "tag_role"
    READ_BACK = "read_back"
    ASSUME_ROLE = "assume_role"
    PROBE = "probe"
    ACTIVATE_CONNECTION = "activate_connection"
    CONVERT = "convert"


STEP_LABELS: dict[Step, str] = {
    Step.ONBOARDING_ACCESS: "Delegated access with the onboarding template",
    Step.CREATE_ROLE: "Create the bounded role in the customer's account",
    Step.PUT_POLICY: "Put the read-only connector policy",
    Step.TAG_ROLE: "Tag the role",
    Step.READ_BACK: "Read the role back (boundary, path, trust policy)",
    Step.ASSUME_ROLE: "Assume the role from Vell's account with the external ID",
    Step.PROBE: "Permission probe with the role's credentials",
    Step.ACTIVATE_CONNECTION: "Activate the cloud connection",
    Step.CONVERT: "Mark the delegation converted",
}
# Steps that act with the customer's delegated credentials (they need live access).
DELEGATED_STEPS = (Step.CREATE_ROLE, Step.PUT_POLICY, Step.TAG_ROLE, Step.READ_BACK)


class StepState(StrEnum):
    """Outcome of one step."""

    PENDING = "pending"
    DONE = "done"
    WAITING = "waiting"
    FAILED = "failed"


@dataclass(frozen=True)
class StepOutcome:
    """One step as the page shows it."""

    step: Step
    label: str
    state: StepState
    detail: str = ""
    at: datetime | None = None
    rows: tuple[dict[str, str], ...] = ()


@dataclass(frozen=True)
class PromotionView:
    """A promotion run and each step's outcome."""

    id: int
    source_delegation_id: int
    work_delegation_id: int | None
    connection_id: int
    company: str
    aws_account_id: str
    status: PromotionStatus
    role_name: str | None
    role_arn: str | None
    external_id: str
    steps: tuple[StepOutcome, ...]
    last_error: str | None
    waiting_link: str | None
    created_at: datetime
    finished_at: datetime | None

    @property
    def done(self) -> bool:
        """The customer now has a working permanent connection."""
        return self.status is PromotionStatus.DONE


class WaitingForCustomer(VellError):
    """The customer has not approved the onboarding request yet (not a failure)."""

    def __init__(self, message: str, link: str | None = None) -> None:
        self.link = link
        super().__init__(message)


Progress = Callable[[StepOutcome], None]


@dataclass
class _Run:
    """What the steps share during one attempt."""

    member: StaffMember
    row: PromotionRun
    source: DelegationView
    external_id: str
    customer: CustomerClients | None = None
    role_factory: Any = None
    probe: ProbeReport | None = None
    notes: dict[str, Any] = field(default_factory=dict)


class PromotionService:
    """Runs (and resumes) promotions to a permanent role."""

    def __init__(
        self,
        *,
        settings: Settings,
        engine: Engine,
        clock: Clock,
        staff: StaffDirectory,
        delegations: DelegationService,
        customer_access: CustomerAccess,
        connections: ConnectionService,
        funnel: FunnelRecorder,
        audit: AuditRecorder,
    ) -> None:
        self._settings = settings
        self._engine = engine
        self._clock = clock
        self._staff = staff
        self._delegations = delegations
        self._customer_access = customer_access
        self._connections = connections
        self._funnel = funnel
        self._audit = audit

    # -- public -------------------------------------------------------------------------------

    def run(
        self, member: StaffMember, delegation_id: int, progress: Progress | None = None
    ) -> PromotionView:
        """Start or resume the promotion of ``delegation_id``; returns where it stands."""
        member = self._staff.require(member, "promotion.run")
        source = self._delegations.get(member, delegation_id)
        run_id = self._ensure_run(member, source)
        self._claim(run_id)
        try:
            self._drive(
                _Run(member, self._load(run_id), source, self._external_id(run_id)), progress
            )
        finally:
            self._release(run_id)
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
        with session_scope(self._engine) as session:
            row = session.exec(
                select(PromotionRun).where(PromotionRun.source_delegation_id == delegation_id)
            ).first()
        return self._view(member, row) if row is not None else None

    def list(self, member: StaffMember) -> list[PromotionView]:
        """Every run, newest first."""
        self._staff.require(member, "promotion.run")
        with session_scope(self._engine) as session:
            rows = session.exec(
                select(PromotionRun).order_by(col(PromotionRun.created_at).desc())
            ).all()
        return [self._view(member, row) for row in rows]

    # -- driving the steps -------------------------------------------------------------------

    def _drive(self, ctx: _Run, progress: Progress | None) -> None:
        self._set_run(ctx.row.id or 0, status=PromotionStatus.RUNNING, last_error=None)
        for step in Step:
            if self._skip(ctx, step):
                _notify(progress, self._outcome(ctx.row, step))
                continue
            self._set_run(ctx.row.id or 0, current_step=step.value)
            try:
                detail = getattr(self, f"_step_{step.value}")(ctx)
            except WaitingForCustomer as waiting:
                self._record(ctx, step, StepState.WAITING, waiting.message, progress)
                self._set_run(ctx.row.id or 0, status=PromotionStatus.WAITING)
                return
            except VellError as exc:
                self._fail(ctx, step, exc.message, progress)
                return
            except Exception:
                self._fail(ctx, step, "Unexpected error; see the logs.", progress)
                raise
            self._record(ctx, step, StepState.DONE, detail or "", progress)
        self._finish(ctx)

    def _skip(self, ctx: _Run, step: Step) -> bool:
        """Done steps are skipped; delegated access is re-checked while delegated steps remain."""
        steps = ctx.row.steps or {}
        if step is Step.ONBOARDING_ACCESS:
            return all(
                steps.get(s.value, {}).get("state") == StepState.DONE for s in DELEGATED_STEPS
            )
        return steps.get(step.value, {}).get("state") == StepState.DONE

    def _fail(self, ctx: _Run, step: Step, message: str, progress: Progress | None) -> None:
        self._record(ctx, step, StepState.FAILED, message, progress)
        self._set_run(ctx.row.id or 0, status=PromotionStatus.FAILED, last_error=message[:500])
        self._audit_run(ctx, "promotion.step_failed", f"{step.value}: {message}")

    def _finish(self, ctx: _Run) -> None:
        now = self._clock.now()
        self._set_run(
            ctx.row.id or 0,
            status=PromotionStatus.DONE,
            current_step=None,
            last_error=None,
            finished_at=now,
        )
        self._audit_run(ctx, "promotion.completed", ctx.row.role_arn)

    # -- steps (each returns a short detail, raises VellError to fail) -----------------------

    def _step_onboarding_access(self, ctx: _Run) -> str:
        """Live delegated credentials from an onboarding request (launching one if needed)."""
        work_id = self._work_delegation(ctx)
        try:
            ctx.customer = self._customer_access.for_delegation(
                ctx.member, work_id, "promotion.run"
            )
        except CredentialsUnavailable:
            raise self._not_ready(ctx, work_id) from None
        return (
            f"Using onboarding request #{work_id} (approved by {ctx.customer.assumed_principal})."
        )

    @requires("promotion.create_role", "promotion.read_role")
    def _step_create_role(self, ctx: _Run) -> str:
        """CreateRole with the boundary; an existing role of *our recorded name* is ours."""
        name = self._role_name(ctx)
        iam = self._customer(ctx).client("iam")
        with aws_errors("iam.CreateRole"):
            try:
                role = iam.create_role(**self._create_role_kwargs(ctx, name))["Role"]
            except ClientError as exc:
                if error_code(exc) != "EntityAlreadyExists":
                    raise
                # Our recorded name: an earlier attempt created it before failing.
                role = iam.get_role(RoleName=name)["Role"]
                self._check_is_ours(ctx, role)
        self._set_run(ctx.row.id or 0, role_arn=role["Arn"])
        ctx.row.role_arn = role["Arn"]
        return str(role["Arn"])

    @requires("promotion.put_connector_policy")
    def _step_put_policy(self, ctx: _Run) -> str:
        """PutRolePolicy overwrites, so a repeat is harmless."""
        document = minified(load_policy_file("connector-policy.json"))
        with aws_errors("iam.PutRolePolicy"):
            self._customer(ctx).client("iam").put_role_policy(
                RoleName=ctx.row.role_name,
                PolicyName=CONNECTOR_POLICY_NAME,
                PolicyDocument=document,
            )
        return f"Inline policy {CONNECTOR_POLICY_NAME}"

    @requires("promotion.tag_role")
    def _step_tag_role(self, ctx: _Run) -> str:
        """Tags in their own call: iam:TagRole has its own statement in the template."""
        tags = [
            {"Key": TAG_MANAGED_BY, "Value": TAG_MANAGED_BY_VALUE},
            {"Key": TAG_CONNECTION_ID, "Value": str(ctx.row.connection_id)},
        ]
        with aws_errors("iam.TagRole"):
            self._customer(ctx).client("iam").tag_role(RoleName=ctx.row.role_name, Tags=tags)
        return ", ".join(f"{t['Key']}={t['Value']}" for t in tags)

    @requires("promotion.read_role")
    def _step_read_back(self, ctx: _Run) -> str:
        """The role as IAM stored it: our path, our boundary, our trust policy, our policy."""
        iam = self._customer(ctx).client("iam")
        with aws_errors("iam.GetRole"):
            role = iam.get_role(RoleName=ctx.row.role_name)["Role"]
            iam.get_role_policy(RoleName=ctx.row.role_name, PolicyName=CONNECTOR_POLICY_NAME)
        self._check_is_ours(ctx, role)
        return "Boundary, path and trust policy as expected."

    def _step_assume_role(self, ctx: _Run) -> str:
        """Vell's partner account assumes the new role with the external ID."""
        try:
            ctx.role_factory = self._connections.role_factory(
                ctx.member, ctx.row.connection_id, "promote", role_arn=ctx.row.role_arn
            )
        except AssumeRoleDenied as denied:
            # IAM is eventually consistent: a brand-new role can need seconds to be assumable.
            raise ValidationFailed(
                "AssumeRole was refused. A new role can take a few seconds to become assumable: "
                "resume in a moment. If it keeps failing: " + denied.explanations[0].fix
            ) from None
        return f"Assumed with external ID {ctx.external_id[:9]}…"

    def _step_probe(self, ctx: _Run) -> str:
        """Every connector action with the role's own credentials."""
        if ctx.role_factory is None:
            self._step_assume_role(ctx)
        report = self._connections.probe(ctx.role_factory)
        ctx.probe = report
        ctx.notes["rows"] = report.rows()
        if not report.ok:
            denied = ", ".join(c.action for c in report.denied) or report.summary()
            hint = report.denied[0].fix_hint if report.denied else ""
            raise ValidationFailed(f"The role cannot perform: {denied}. {hint}".strip())
        return report.summary()

    def _step_activate_connection(self, ctx: _Run) -> str:
        """The pending connection (holding the external ID) becomes active."""
        self._connections.activate(ctx.member, ctx.row.connection_id, str(ctx.row.role_arn))
        return f"Connection #{ctx.row.connection_id} active (created via delegation)."

    def _step_convert(self, ctx: _Run) -> str:
        """Converted is sticky; the delegated credentials are simply left to expire."""
        ids = tuple({ctx.row.source_delegation_id, ctx.row.work_delegation_id or 0} - {0})
        self._connections.mark_converted(ids, str(ctx.row.role_arn), ctx.row.connection_id)
        self._funnel.record(
            session_id=ctx.source.wizard_session_id or f"promotion-{ctx.row.id}",
            step=FunnelStep.PRODUCTION,
            customer=ctx.row.aws_account_id,
            company=ctx.row.company,
            path=ctx.source.path.value,
            actor_user_id=ctx.member.id,
            delegation_id=ctx.row.source_delegation_id,
        )
        return "Delegation(s) " + ", ".join(f"#{i}" for i in sorted(ids)) + " converted."

    # -- step helpers -------------------------------------------------------------------------

    def _work_delegation(self, ctx: _Run) -> int:
        """The onboarding request whose credentials do the work (launched for demos/trials)."""
        if ctx.source.path is DelegationPath.ONBOARDING:
            self._set_run(ctx.row.id or 0, work_delegation_id=ctx.source.id)
            ctx.row.work_delegation_id = ctx.source.id
            return ctx.source.id
        work_id = ctx.row.work_delegation_id
        if work_id is not None and not self._ended(ctx.member, work_id):
            return work_id
        return self._launch_onboarding(ctx, renew=work_id is not None)

    def _launch_onboarding(self, ctx: _Run, *, renew: bool) -> int:
        token = ctx.row.onboarding_launch_token
        if token is None or renew:
            # Stored before launching: a retried launch reuses it, so AWS gets one request.
            token = str(uuid.uuid4())
            self._set_run(ctx.row.id or 0, onboarding_launch_token=token)
        view = self._delegations.launch(
            ctx.member,
            LaunchRequest(
                company=ctx.source.company,
                aws_account_id=ctx.source.aws_account_id,
                path=DelegationPath.ONBOARDING,
                launch_token=token,
                wizard_session_id=ctx.source.wizard_session_id,
            ),
        )
        self._set_run(ctx.row.id or 0, work_delegation_id=view.id)
        ctx.row.work_delegation_id = view.id
        return view.id

    def _ended(self, member: StaffMember, delegation_id: int) -> bool:
        view = self._delegations.get(member, delegation_id)
        if view.credentials_live(self._clock.now()):
            return False
        # Rejected or expired, or exchanged and since run out: this request can do no more.
        return view.aws_state in ENDED_STATES or view.exchange_state is ExchangeState.DONE

    def _not_ready(self, ctx: _Run, work_id: int) -> VellError:
        view = self._delegations.get(ctx.member, work_id)
        if ctx.source.path is DelegationPath.ONBOARDING and self._ended(ctx.member, work_id):
            return ValidationFailed(
                "The onboarding request's access has ended. Start the promotion from a trial, "
                "or launch a new onboarding request and promote that one."
            )
        return WaitingForCustomer(
            f"Waiting for {view.company} to approve onboarding request #{work_id} (it lets Vell "
            "create one bounded, read-only role). Send them the approval link, then resume.",
            link=view.console_deep_link,
        )

    def _customer(self, ctx: _Run) -> CustomerClients:
        if ctx.customer is None:
            self._step_onboarding_access(ctx)
        assert ctx.customer is not None
        return ctx.customer

    def _role_name(self, ctx: _Run) -> str:
        """The recorded role name, or a new one recorded *before* CreateRole is called."""
        if ctx.row.role_name:
            return ctx.row.role_name
        name = new_role_name()
        self._set_run(ctx.row.id or 0, role_name=name)
        ctx.row.role_name = name
        return name

    def _create_role_kwargs(self, ctx: _Run, name: str) -> dict[str, Any]:
        if self._settings.vell_role_path != CONNECTOR_ROLE_PATH:
            log.warning("vell_role_path differs from the path the onboarding template allows")
        return {
            "RoleName": name,
            "Path": self._settings.vell_role_path,
            "AssumeRolePolicyDocument": self._trust_policy(ctx),
            "PermissionsBoundary": str(self._settings.aws_delegation_permission_boundary_arn),
            "Description": ROLE_DESCRIPTION,
            "MaxSessionDuration": 3600,
        }

    def _trust_policy(self, ctx: _Run) -> str:
        return render_trust_policy(ctx.external_id, self._settings.vell_partner_account_id)

    def _check_is_ours(self, ctx: _Run, role: dict[str, Any]) -> None:
        """Refuse to adopt a role that is not exactly the one we meant to create."""
        boundary = (role.get("PermissionsBoundary") or {}).get("PermissionsBoundaryArn")
        trust = role.get("AssumeRolePolicyDocument")
        if isinstance(trust, str):  # IAM returns it URL-encoded; boto3 usually decodes it
            trust = json.loads(unquote(trust))
        problems = []
        if role.get("Path") != self._settings.vell_role_path:
            problems.append("path")
        if boundary != self._settings.aws_delegation_permission_boundary_arn:
            problems.append("permission boundary")
        if trust != json.loads(self._trust_policy(ctx)):
            problems.append("trust policy")
        if problems:
            raise ValidationFailed(
                f"Role {role.get('RoleName')} exists but its {', '.join(problems)} differ from "
                "what Vell creates; ask the customer to delete it, then resume."
            )

    # -- persistence --------------------------------------------------------------------------

    def _ensure_run(self, member: StaffMember, source: DelegationView) -> int:
        existing = self._run_id_for(source.id)
        if existing is not None:
            return existing
        if source.status is DelegationStatus.CONVERTED:
            raise InvalidTransition(
                "This delegation is already converted to a permanent connection."
            )
        if self._connections.active_for_account(source.aws_account_id) is not None:
            raise InvalidTransition(
                "This AWS account already has an active connection; re-validate it instead."
            )
        return self._insert_run(member, source)

    def _insert_run(self, member: StaffMember, source: DelegationView) -> int:
        connection = self._connections.new_pending_row(
            member,
            company=source.company,
            aws_account_id=source.aws_account_id,
            via=ConnectionVia.DELEGATION,
        )
        now = self._clock.now()
        try:
            with session_scope(self._engine) as session:
                session.add(connection)
                session.flush()  # the connection and its run commit together, or neither does
                run = PromotionRun(
                    source_delegation_id=source.id,
                    connection_id=connection.id or 0,
                    aws_account_id=source.aws_account_id,
                    company=source.company,
                    status=PromotionStatus.RUNNING,
                    steps={},
                    started_by_user_id=member.id,
                    created_at=now,
                    updated_at=now,
                )
                session.add(run)
                session.flush()
                run_id = run.id or 0
        except IntegrityError:
            existing = self._run_id_for(source.id)  # a concurrent click created it first
            if existing is None:
                raise
            return existing
        self._audit.record(
            action="promotion.started",
            outcome="ok",
            staff_user_id=member.id,
            customer_account_id=source.aws_account_id,
            delegation_id=source.id,
            connection_id=connection.id,
        )
        return run_id

    def _claim(self, run_id: int) -> None:
        now = self._clock.now()
        with session_scope(self._engine) as session:
            claimed = session.exec(
                update(PromotionRun)
                .where(col(PromotionRun.id) == run_id)
                .where(
                    or_(
                        col(PromotionRun.lease_expires_at).is_(None),
                        col(PromotionRun.lease_expires_at) < now,
                    )
                )
                .values(lease_expires_at=now + LEASE)
            ).rowcount
        if claimed != 1:
            raise InvalidTransition("This promotion is running right now; refresh in a moment.")

    def _release(self, run_id: int) -> None:
        self._set_run(run_id, lease_expires_at=None)

    def _set_run(self, run_id: int, **values: Any) -> None:
        with session_scope(self._engine) as session:
            row = session.get(PromotionRun, run_id)
            assert row is not None
            for key, value in values.items():
                setattr(row, key, value)
            row.updated_at = self._clock.now()
            session.add(row)

    def _record(
        self, ctx: _Run, step: Step, state: StepState, detail: str, progress: Progress | None
    ) -> None:
        entry: dict[str, Any] = {
            "state": state.value,
            "detail": detail[:500],
            "at": self._clock.now().isoformat(),
        }
        if step is Step.PROBE and "rows" in ctx.notes:
            entry["rows"] = ctx.notes["rows"]
        steps = dict(ctx.row.steps or {})
        steps[step.value] = entry
        ctx.row.steps = steps
        self._set_run(ctx.row.id or 0, steps=steps)
        _notify(progress, self._outcome(ctx.row, step))

    def _audit_run(self, ctx: _Run, action: str, detail: str | None) -> None:
        self._audit.record(
            action=action,
            outcome="ok" if action == "promotion.completed" else "failed",
            staff_user_id=ctx.member.id,
            customer_account_id=ctx.row.aws_account_id,
            delegation_id=ctx.row.source_delegation_id,
            connection_id=ctx.row.connection_id,
            detail=detail,
        )

    def _run_id_for(self, delegation_id: int) -> int | None:
        with session_scope(self._engine) as session:
            return session.exec(
                select(PromotionRun.id).where(PromotionRun.source_delegation_id == delegation_id)
            ).first()

    def _load(self, run_id: int) -> PromotionRun:
        with session_scope(self._engine) as session:
            row = session.get(PromotionRun, run_id)
        if row is None:
            raise NotFound("No such promotion.")
        return row

    def _external_id(self, run_id: int) -> str:
        row = self._load(run_id)
        return self._connections.target_external_id(row.connection_id)

    # -- views --------------------------------------------------------------------------------

    def _outcome(self, row: PromotionRun, step: Step) -> StepOutcome:
        entry = (row.steps or {}).get(step.value, {})
        at = entry.get("at")
        return StepOutcome(
            step=step,
            label=STEP_LABELS[step],
            state=StepState(entry.get("state", StepState.PENDING.value)),
            detail=str(entry.get("detail", "")),
            at=datetime.fromisoformat(at) if at else None,
            rows=tuple(entry.get("rows", ())),
        )

    def _view(self, member: StaffMember, row: PromotionRun) -> PromotionView:
        link = None
        if row.status is PromotionStatus.WAITING and row.work_delegation_id:
            link = self._delegations.get(member, row.work_delegation_id).console_deep_link
        return PromotionView(
            id=row.id or 0,
            source_delegation_id=row.source_delegation_id,
            work_delegation_id=row.work_delegation_id,
            connection_id=row.connection_id,
            company=row.company,
            aws_account_id=row.aws_account_id,
            status=PromotionStatus(row.status),
            role_name=row.role_name,
            role_arn=row.role_arn,
            external_id=self._connections.target_external_id(row.connection_id),
            steps=tuple(self._outcome(row, step) for step in Step),
            last_error=row.last_error,
            waiting_link=link,
            created_at=row.created_at,
            finished_at=row.finished_at,
        )


def _notify(progress: Progress | None, outcome: StepOutcome) -> None:
    if progress is not None:
        progress(outcome)


def is_connector_role_name(name: str) -> bool:
    """Whether ``name`` has the shape promotion gives roles (prefix + 16 hex, ≤ 64)."""
    suffix = name.removeprefix(CONNECTOR_ROLE_NAME_PREFIX)
    return (
        name.startswith(CONNECTOR_ROLE_NAME_PREFIX)
        and len(name) <= 64
        and len(suffix) == 16
        and all(c in "0123456789abcdef" for c in suffix)
    )
