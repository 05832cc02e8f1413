"""The promotion's steps, each safe to repeat, and the onboarding request that does the work.

Each step takes the attempt's :class:`RunContext` and returns a short detail for the page, or
raises ``VellError`` to fail (``WaitingForCustomer`` to wait). What a step learns (the role's
ARN, the onboarding request doing the work) is noted on the context and written with the step's
outcome, in one transaction. Only what must be durable *before* an AWS call is written at once
(write-ahead): the role name before ``CreateRole`` and the launch token before the onboarding
request is launched, so a retry after a crash reuses them instead of creating a second one.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

from vell_core.aws.probe import ProbeReport
from vell_core.config.settings import Settings
from vell_core.domain.clock import Clock
from vell_core.domain.errors import CredentialsUnavailable, ValidationFailed, VellError
from vell_core.domain.iam_actions import CONNECTOR_POLICY_NAME
from vell_core.domain.models import DelegationPath, FunnelStep, PromotionRun
from vell_core.domain.roles import StaffMember
from vell_core.services.connection_identity import new_role_name, render_trust_policy
from vell_core.services.connections import AssumeRoleDenied, ConnectionService
from vell_core.services.customer_access import CustomerAccess, CustomerClients
from vell_core.services.delegation import DelegationService, DelegationView, LaunchRequest
from vell_core.services.promotion_iam import ConnectorRoleIam
from vell_core.services.promotion_plan import WaitingForCustomer, access_ended
from vell_core.store.funnel import FunnelRecorder
from vell_core.store.promotions import PromotionStore


@dataclass
class RunContext:
    """What the steps share during one attempt."""

    member: StaffMember
    row: PromotionRun
    source: DelegationView
    external_id: str
    customer: CustomerClients | None = None
    role_factory: Any = None
    probe: ProbeReport | None = None
    notes: dict[str, Any] = field(default_factory=dict)
    unsaved: dict[str, Any] = field(default_factory=dict)  # learned, written with the outcome
    leased: bool = True  # the attempt still holds the run's lease

    @property
    def run_id(self) -> int:
        """The run's id."""
        return self.row.id or 0

    def apply(self, values: dict[str, Any]) -> None:
        """Keep the attempt's copy of the row as written."""
        for key, value in values.items():
            setattr(self.row, key, value)

    def learn(self, **values: Any) -> None:
        """Note run values on the row; the next write of the run stores them."""
        self.apply(values)
        self.unsaved.update(values)

    def take_unsaved(self) -> dict[str, Any]:
        """The values learned since the last write (and forget them: they are being written)."""
        values, self.unsaved = self.unsaved, {}
        return values


class OnboardingAccess:
    """The onboarding request whose delegated credentials create the role."""

    def __init__(
        self,
        *,
        store: PromotionStore,
        clock: Clock,
        delegations: DelegationService,
        customer_access: CustomerAccess,
    ) -> None:
        self._store = store
        self._clock = clock
        self._delegations = delegations
        self._customer_access = customer_access

    def clients(self, ctx: RunContext) -> str:
        """Live delegated clients of the working request (launching one if needed)."""
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

    def _work_delegation(self, ctx: RunContext) -> int:
        """An onboarding source does the work itself; demos and trials launch one."""
        if ctx.source.path is DelegationPath.ONBOARDING:
            ctx.learn(work_delegation_id=ctx.source.id)
            return ctx.source.id
        work_id = ctx.row.work_delegation_id
        if work_id is not None and not self._ended(ctx.member, work_id):
            return work_id
        return self._launch(ctx, renew=work_id is not None)

    def _launch(self, ctx: RunContext, *, renew: bool) -> int:
        token = ctx.row.onboarding_launch_token
        if token is None or renew:
            # Stored before launching: a retried launch reuses it, so AWS gets one request.
            token = str(uuid.uuid4())
            ctx.learn(onboarding_launch_token=token)
            self._store.update(ctx.run_id, self._clock.now(), **ctx.take_unsaved())
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
        ctx.learn(work_delegation_id=view.id)  # a lost write relaunches with the same token
        return view.id

    def _ended(self, member: StaffMember, delegation_id: int) -> bool:
        return access_ended(self._delegations.get(member, delegation_id), self._clock.now())

    def _not_ready(self, ctx: RunContext, work_id: int) -> VellError:
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


class PromotionSteps:
    """One method per ``Step`` (named by its value), each safe to run again after a failure."""

    def __init__(
        self,
        *,
        settings: Settings,
        store: PromotionStore,
        clock: Clock,
        access: OnboardingAccess,
        connections: ConnectionService,
        funnel: FunnelRecorder,
    ) -> None:
        self._settings = settings
        self._store = store
        self._clock = clock
        self._access = access
        self._iam = ConnectorRoleIam(settings)
        self._connections = connections
        self._funnel = funnel

    def onboarding_access(self, ctx: RunContext) -> str:
        """Live delegated credentials from an onboarding request (launching one if needed)."""
        return self._access.clients(ctx)

    def create_role(self, ctx: RunContext) -> str:
        """CreateRole under the recorded name (recorded first), adopting our earlier one."""
        name = self._role_name(ctx)
        role = self._iam.create(self._customer_iam(ctx), name, self._trust_policy(ctx))
        ctx.learn(role_arn=role["Arn"])
        return str(role["Arn"])

    def put_policy(self, ctx: RunContext) -> str:
        """The read-only connector policy, inline."""
        self._iam.put_policy(self._customer_iam(ctx), str(ctx.row.role_name))
        return f"Inline policy {CONNECTOR_POLICY_NAME}"

    def tag_role(self, ctx: RunContext) -> str:
        """The managed-by and connection tags."""
        tags = self._iam.tag(self._customer_iam(ctx), str(ctx.row.role_name), ctx.row.connection_id)
        return ", ".join(f"{t['Key']}={t['Value']}" for t in tags)

    def read_back(self, ctx: RunContext) -> str:
        """The role as IAM stored it is exactly ours."""
        self._iam.read_back(
            self._customer_iam(ctx), str(ctx.row.role_name), self._trust_policy(ctx)
        )
        return "Boundary, path and trust policy as expected."

    def assume_role(self, ctx: RunContext) -> str:
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

    def probe(self, ctx: RunContext) -> str:
        """Every connector action with the role's own credentials."""
        if ctx.role_factory is None:
            self.assume_role(ctx)
        report = self._connections.probe(ctx.role_factory)
        ctx.probe = report
        ctx.notes["rows"] = report.rows()
        if not report.ok:
            denied = ", ".join(c.action for c in report.denied) or report.summary()
            hint = report.denied[0].fix_hint if report.denied else ""
            raise ValidationFailed(f"The role cannot perform: {denied}. {hint}".strip())
        return report.summary()

    def activate_connection(self, ctx: RunContext) -> str:
        """The pending connection (holding the external ID) becomes active."""
        self._connections.activate(ctx.member, ctx.row.connection_id, str(ctx.row.role_arn))
        return f"Connection #{ctx.row.connection_id} active (created via delegation)."

    def convert(self, ctx: RunContext) -> str:
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

    # -- helpers ------------------------------------------------------------------------------

    def _customer_iam(self, ctx: RunContext) -> Any:
        """The delegated IAM client (resumed runs get their access back first)."""
        if ctx.customer is None:
            self.onboarding_access(ctx)
        assert ctx.customer is not None
        return ctx.customer.client("iam")

    def _role_name(self, ctx: RunContext) -> str:
        """The recorded role name, or a new one written *before* CreateRole is called."""
        if ctx.row.role_name:
            return ctx.row.role_name
        ctx.learn(role_name=new_role_name())
        self._store.update(ctx.run_id, self._clock.now(), **ctx.take_unsaved())
        return str(ctx.row.role_name)

    def _trust_policy(self, ctx: RunContext) -> str:
        return render_trust_policy(ctx.external_id, self._settings.vell_partner_account_id)
