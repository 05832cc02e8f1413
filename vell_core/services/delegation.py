"""Delegation service: preview and launch requests, read them back with their timeline.

Identical for sandbox and real AWS: it calls ``iam.create_delegation_request`` with the real
parameters through the injected client factory. A retried launch (same launch token) never
creates a second AWS request: the row and its ``RequestorWorkflowId`` are created once, and
``EntityAlreadyExists`` from AWS is treated as "already created" rather than as a failure.
"""

from __future__ import annotations

import json
import logging
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from botocore.exceptions import ClientError

from vell_core.aws.clients import ClientFactory, aws_errors, error_code
from vell_core.aws.exchange import ExchangeFacts, ExchangeNotice, exchange_notice
from vell_core.aws.request_summary import (
    META_KEY,
    AwsSummary,
    SummaryStatus,
    delegation_request_arn,
    fetch_summary,
    from_meta,
)
from vell_core.config.settings import Settings
from vell_core.domain import validation
from vell_core.domain.clock import Clock
from vell_core.domain.errors import NotFound, PermissionDenied, ValidationFailed
from vell_core.domain.lifecycle import STATE_LABELS, TIMELINE_ORDER, effective_status
from vell_core.domain.models import (
    AwsDelegationState,
    DelegationPath,
    DelegationRequest,
    DelegationStatus,
    ExchangeState,
    FunnelStep,
    StaffUser,
)
from vell_core.domain.policies import (
    PolicyParameter,
    TemplateRenderError,
    load_template,
    render_template,
)
from vell_core.domain.roles import StaffMember, can
from vell_core.services.action_limits import ActionLimiter
from vell_core.services.staff import StaffDirectory
from vell_core.store.delegations import DelegationRows, DelegationStore
from vell_core.store.funnel import FunnelRecorder
from vell_core.store.production import IN_PRODUCTION_MESSAGE
from vell_core.views.formatting import MISSING, countdown, when_minute

log = logging.getLogger(__name__)

# What the customer reads in the IAM console: each path says what it really grants.
DESCRIPTIONS = {
    DelegationPath.DEMO: (
        "Vell (vell.ai) asks for read-only access to your AWS Marketplace seller account to "
        "show your listings, offers and agreements during a guided demo. Nothing can be "
        "changed. Access is temporary, limited to the permissions shown here, and every call "
        "appears in your CloudTrail."
    ),
    DelegationPath.TRIAL: (
        "Vell (vell.ai) asks for temporary access to your AWS Marketplace seller account for "
        "a hands-on trial: it reads your listings, offers and agreements and may update your "
        "listings (short description, highlights) through Marketplace change sets. It cannot "
        "delete or restrict products. Every call appears in your CloudTrail."
    ),
    DelegationPath.ONBOARDING: (
        "Vell (vell.ai) asks for short-lived access to set up its permanent connection: it may "
        "create one IAM role in your account (read-only Marketplace permissions, capped by a "
        "permission boundary, trusted only by Vell with an external ID) and check that it "
        "works. Nothing else is created or changed. Every call appears in your CloudTrail."
    ),
}
PATH_LABELS = {
    DelegationPath.DEMO: "Quick Start Demo",
    DelegationPath.TRIAL: "Extended Trial",
    DelegationPath.ONBOARDING: "Automated production setup",
}
RENEWABLE_PATHS = frozenset({DelegationPath.DEMO, DelegationPath.TRIAL})
TEMPLATE_FOR_PATH = {
    DelegationPath.DEMO: "read-only",
    DelegationPath.TRIAL: "full-access",
    DelegationPath.ONBOARDING: "onboarding",
}


@dataclass(frozen=True)
class LaunchRequest:
    """What the rep asked for in the wizard."""

    company: str
    aws_account_id: str
    path: DelegationPath
    launch_token: str
    session_duration: int | None = None
    wizard_session_id: str | None = None


@dataclass(frozen=True)
class LaunchPreview:
    """Exactly what will be sent to AWS and shown to the customer."""

    company: str
    aws_account_id: str
    path: DelegationPath
    template_name: str
    template_arn: str
    parameters: tuple[PolicyParameter, ...]
    rendered_policy: str
    session_duration: int
    description: str
    request_message: str
    redirect_url: str
    warnings: tuple[str, ...] = ()

    @property
    def policy_pretty(self) -> str:
        """The rendered policy, indented for reading."""
        return json.dumps(json.loads(self.rendered_policy), indent=2)

    @property
    def policy_chars(self) -> int:
        """Rendered length as IAM counts it (minified)."""
        return len(self.rendered_policy)


@dataclass(frozen=True)
class TimelineEntry:
    """One AWS state reached, for the live timeline."""

    state: AwsDelegationState
    label: str
    occurred_at: datetime
    detail: str | None = None


@dataclass(frozen=True)
class DelegationView:
    """A delegation request as pages may render it (no secrets, plain values)."""

    id: int
    company: str
    aws_account_id: str
    path: DelegationPath
    status: DelegationStatus
    aws_state: AwsDelegationState | None
    aws_state_expires_at: datetime | None
    delegation_request_id: str | None
    console_deep_link: str | None
    session_duration: int
    created_at: datetime
    approved_at: datetime | None
    credentials_expire_at: datetime | None
    expires_at: datetime
    owner_id: str | None
    approver_id: str | None
    rejection_reason: str | None
    notes: str | None
    exchange_state: ExchangeState
    rep_id: int
    rep_name: str
    request_message: str | None
    wizard_session_id: str | None
    last_error: str | None
    timeline: tuple[TimelineEntry, ...] = field(default=())
    exchange_attempts: int = 0
    exchange_error_code: str | None = None
    exchange_token_expires_at: datetime | None = None
    aws_summary: AwsSummary | None = None

    @property
    def root_approved(self) -> bool:
        """Approved by the account's root user: AWS gives the customer no way to revoke it."""
        return bool(self.approver_id) and str(self.approver_id).endswith(":root")

    @property
    def needs_non_root_approver(self) -> bool:
        """Longer than a root user may approve (4 hours): an IAM user or role must approve."""
        return self.session_duration > validation.ROOT_APPROVER_MAX_SECONDS

    def credentials_live(self, now: datetime) -> bool:
        """True while the delegated credentials are valid."""
        return (
            self.exchange_state is ExchangeState.DONE
            and self.credentials_expire_at is not None
            and self.credentials_expire_at > now
        )

    def exchange_notice(self, now: datetime) -> ExchangeNotice | None:
        """What the rep should read about the credentials now (retrying, failed, or nothing)."""
        return exchange_notice(
            ExchangeFacts(
                company=self.company,
                approved=self.aws_state is AwsDelegationState.FINALIZED,
                state=self.exchange_state.value,
                attempts=self.exchange_attempts,
                error_code=self.exchange_error_code,
                token_expires_at=self.exchange_token_expires_at,
            ),
            now,
        )

    def display_status(self, now: datetime) -> DelegationStatus:
        """The status to show now (an approved demo whose access has ended reads expired)."""
        return self._effective(now)[0]

    def ended_at(self, now: datetime) -> datetime | None:
        """When the request or its access ended, if it has expired by ``now``."""
        return self._effective(now)[1]

    def record(self, now: datetime) -> dict[str, Any]:
        """A flat row for the table and the CSV: what a rep reads first, ids last."""
        return {
            "Company": self.company,
            "Account": self.aws_account_id,
            "Path": self.path.value,
            "Status": self.display_status(now).value,
            "Access ends in": countdown(self.credentials_expire_at, now)
            if self.credentials_expire_at
            else MISSING,
            "Rep": self.rep_name,
            "Created": when_minute(self.created_at),
            "Ended": when_minute(self.ended_at(now)),
            "AWS state": self.aws_state.value if self.aws_state else MISSING,
            "Credentials": self.exchange_state.value,
            "Root-approved": "yes (cannot be revoked)" if self.root_approved else "",
            "Request #": self.id,
        }

    @property
    def renewable(self) -> bool:
        """Demos and trials can be renewed (a new request, same customer and path)."""
        return self.path in RENEWABLE_PATHS

    def _effective(self, now: datetime) -> tuple[DelegationStatus, datetime | None]:
        return effective_status(
            self.status,
            credentials_expire_at=self.credentials_expire_at,
            state_expires_at=self.aws_state_expires_at,
            now=now,
        )


@dataclass(frozen=True)
class SentRequest:
    """What was sent to AWS for one request: exactly what the customer approves."""

    policy_pretty: str
    request_message: str
    description: str
    session_duration: int
    owner_account_pinned: bool


@dataclass(frozen=True)
class RenewalDraft:
    """What the wizard is prefilled with to renew a delegation."""

    source_id: int
    company: str
    aws_account_id: str
    path: DelegationPath
    hours: int


@dataclass(frozen=True)
class DelegationFilter:
    """Filters of the Delegations page."""

    statuses: tuple[DelegationStatus, ...] = ()
    paths: tuple[DelegationPath, ...] = ()
    rep_ids: tuple[int, ...] = ()
    company_contains: str = ""
    limit: int = 500


class DelegationService:
    """Launches delegation requests and reads them back."""

    def __init__(
        self,
        *,
        settings: Settings,
        store: DelegationStore,
        clock: Clock,
        aws: ClientFactory,
        staff: StaffDirectory,
        funnel: FunnelRecorder,
        rate_limiter: ActionLimiter | None = None,
    ) -> None:
        self._rate_limiter = rate_limiter
        self._settings = settings
        self._store = store
        self._clock = clock
        self._aws = aws
        self._staff = staff
        self._funnel = funnel

    # --- preview and launch --------------------------------------------------------------

    def preview(self, member: StaffMember, request: LaunchRequest) -> LaunchPreview:
        """Validate the request and render exactly what AWS will be asked for."""
        if not self._settings.aws_delegation_enabled:
            raise ValidationFailed("Temporary delegation is switched off (AWS_DELEGATION_ENABLED).")
        company = validation.company(request.company)
        account = validation.account_id(request.aws_account_id)
        path = DelegationPath(request.path)
        if path is DelegationPath.ONBOARDING and self._store.in_production(account):
            raise ValidationFailed(IN_PRODUCTION_MESSAGE.format(account=account))
        duration = self._duration_for(path, request.session_duration)
        template_name = TEMPLATE_FOR_PATH[path]
        parameters = _parameters_for(path, account)
        try:
            rendered = render_template(load_template(template_name), list(parameters))
        except TemplateRenderError as exc:
            # Validation above should make this unreachable; a page must still never see it raw.
            log.warning("policy template %s refused its parameters: %s", template_name, exc)
            raise ValidationFailed("The request could not be prepared from this input.") from None
        message = request_message(path, company, account, member.name, request.launch_token)
        return LaunchPreview(
            company=company,
            aws_account_id=account,
            path=path,
            template_name=template_name,
            template_arn=self._settings.template_arns[template_name],
            parameters=parameters,
            rendered_policy=rendered,
            session_duration=duration,
            description=DESCRIPTIONS[path],
            request_message=message,
            redirect_url=self._redirect_url(request.launch_token),
            warnings=_warnings(path, duration),
        )

    def launch(self, member: StaffMember, request: LaunchRequest) -> DelegationView:
        """Create (once) the row and the AWS request; safe to call again with the same token.

        Two transactions: the row (and its customer) before the AWS call, the created request
        (its id, the timeline, the funnel step) after it.
        """
        member = self._staff.require(member, "delegation.create")
        preview = self.preview(member, request)
        earlier = self._store.id_for_workflow(workflow_id_for(request.launch_token))
        if earlier is not None:
            row = self._load(earlier)  # a retry: nothing to write unless AWS still lacks it
        else:
            if self._rate_limiter is not None:  # only new launches count, never their retries
                self._rate_limiter.check(member.id, "delegation.create")
            row = self._ensure_row(member, request, preview)
        if row.delegation_request_id is None and row.aws_state is None:
            self._create_in_aws(row, preview)
        return self.get(member, row.id or 0)

    def _ensure_row(
        self, member: StaffMember, request: LaunchRequest, preview: LaunchPreview
    ) -> DelegationRequest:
        """Insert the row for this launch token, or return the one a previous try inserted."""
        workflow_id = workflow_id_for(request.launch_token)
        with self._store.transaction() as rows:
            existing = rows.id_for_workflow(workflow_id)
            row_id = (
                existing if existing is not None else self._insert(rows, member, preview, request)
            )
            row = rows.get(row_id)
            assert row is not None
            return row

    def _insert(
        self,
        rows: DelegationRows,
        member: StaffMember,
        preview: LaunchPreview,
        request: LaunchRequest,
    ) -> int:
        """The new row (and the customer, if new), inside the launch's first transaction."""
        now = self._clock.now()
        customer_id = rows.ensure_customer(preview.company, preview.aws_account_id, member.id, now)
        row = DelegationRequest(
            user_id=member.id,
            customer_id=customer_id,
            company=preview.company,
            aws_account_id=preview.aws_account_id,
            requestor_workflow_id=workflow_id_for(request.launch_token),
            type=preview.path,
            status=DelegationStatus.PENDING,
            expires_at=now + timedelta(days=1),
            create_persistent_role=preview.path is DelegationPath.ONBOARDING,
            session_duration=preview.session_duration,
            template_name=preview.template_name,
            template_arn=preview.template_arn,
            request_message=preview.request_message,
            wizard_session_id=request.wizard_session_id,
            meta={
                "parameters": [p.to_api() for p in preview.parameters],
                "owner_account_pinned": self._settings.vell_pin_owner_account,
            },
            created_at=now,
            updated_at=now,
        )
        return rows.insert_once(row)

    def _create_in_aws(self, row: DelegationRequest, preview: LaunchPreview) -> None:
        iam = self._aws.client("iam")
        kwargs = create_request_kwargs(
            preview,
            row.requestor_workflow_id,
            self._topic_arn(),
            pin_owner_account=self._settings.vell_pin_owner_account,
        )
        try:
            with aws_errors("iam.CreateDelegationRequest"):
                try:
                    response = iam.create_delegation_request(**kwargs)
                except ClientError as exc:
                    if error_code(exc) != "EntityAlreadyExists":
                        raise
                    self._mark_already_created(row.id or 0)
                    return
        except Exception as exc:
            self._record_error(row.id or 0, getattr(exc, "message", "AWS call failed"))
            raise
        self._record_created(row.id or 0, response)

    def _record_created(self, row_id: int, response: dict[str, Any]) -> None:
        """One transaction: the AWS id and link, UNASSIGNED on the timeline, the funnel step."""
        now = self._clock.now()
        with self._store.transaction() as rows:
            row = rows.record_created(
                row_id,
                response["DelegationRequestId"],
                response["ConsoleDeepLink"],
                now,
                now + timedelta(days=1),
            )
            rows.record_funnel(
                session_id=row.wizard_session_id or row.requestor_workflow_id,
                step=FunnelStep.REQUEST_SENT,
                customer=row.aws_account_id,
                company=row.company,
                path=row.type.value,
                actor_user_id=row.user_id,
                delegation_id=row_id,
            )

    def _mark_already_created(self, row_id: int) -> None:
        """AWS already has this workflow id: a previous try created it; never create another."""
        log.warning("CreateDelegationRequest for row %s already existed in AWS", row_id)
        now = self._clock.now()
        self._store.mark_already_created(
            row_id,
            now,
            now + timedelta(days=1),
            "AWS already had this request (an earlier attempt created it); its id will be "
            "filled in from the first notification.",
        )

    def _record_error(self, row_id: int, message: str) -> None:
        self._store.record_error(row_id, message, self._clock.now())

    def record_step(
        self,
        member: StaffMember,
        *,
        session_id: str,
        step: FunnelStep,
        aws_account_id: str = "",
        company: str | None = None,
        path: str | None = None,
        delegation_id: int | None = None,
    ) -> bool:
        """Record a wizard step for the funnel (once per wizard session and step)."""
        member = self._staff.require(member, "delegation.create")
        return self._funnel.record(
            session_id=session_id,
            step=step,
            customer=aws_account_id,
            company=company,
            path=path,
            actor_user_id=member.id,
            delegation_id=delegation_id,
        )

    def validate_account_info(self, company: str, aws_account_id: str) -> tuple[str, str]:
        """Check the wizard's account step before anything else happens."""
        return validation.company(company), validation.account_id(aws_account_id)

    # --- reading ---------------------------------------------------------------------------

    def get(self, member: StaffMember, row_id: int) -> DelegationView:
        """One request with its timeline (reps see only their own unless allowed more)."""
        member = self._staff.require(member, "delegation.read_own")
        found = self._store.with_timeline(row_id)
        if found is None or not _visible_to(member, found[0]):
            raise NotFound("No such delegation request.")
        row, rep, events = found
        return _view(row, rep, events)

    def get_for_signed_link(self, row_id: int) -> DelegationView:
        """One request (no timeline) without a staff check: for a customer's signed link.

        Only for a link whose signature was verified and which names this very request
        (``access_record``); nothing a staff member reaches calls it.
        """
        found = self._store.with_rep(row_id)
        if found is None:
            raise NotFound("No such delegation request.")
        return _view(found[0], found[1], ())

    def change_token(self, member: StaffMember, row_id: int) -> tuple[object, ...]:
        """A fingerprint of what ``get`` shows, in one small query: live views compare it and
        skip the full read (row, timeline, rep) when nothing changed.

        The same access rule as ``get``; the token itself carries no customer data.
        """
        member = self._staff.require(member, "delegation.read_own")
        found = self._store.with_event_marks(row_id)
        if found is None or not _visible_to(member, found[0]):
            raise NotFound("No such delegation request.")
        row, count, last = found
        return (*row.model_dump().values(), count, last)

    def list(self, member: StaffMember, filters: DelegationFilter) -> list[DelegationView]:
        """Requests matching ``filters``, newest first, limited to what ``member`` may see."""
        member = self._staff.require(member, "delegation.read_own")
        rows = self._store.matching(
            now=self._clock.now(),
            user_id=None if can(member, "delegation.read_all") else member.id,
            statuses=filters.statuses,
            paths=filters.paths,
            rep_ids=filters.rep_ids,
            company_contains=filters.company_contains,
            limit=filters.limit,
        )
        return [_view(row, rep, ()) for row, rep in rows]

    def in_production(self, aws_account_id: str) -> bool:
        """Whether the account already has an active connection (``production_status``)."""
        return self._store.in_production(aws_account_id)

    def renewal(self, member: StaffMember, row_id: int) -> RenewalDraft:
        """The wizard's prefill to renew ``row_id``: same customer and path, a new request.

        Only the rep who launched it renews it (or someone who may read every request), and
        only demos and trials: onboarding is a one-off step of a promotion.
        """
        member = self._staff.require(member, "delegation.create")
        view = self.get(member, row_id)
        if not view.renewable:
            raise ValidationFailed(
                f"A {PATH_LABELS[view.path]} request cannot be renewed; start a new one."
            )
        return RenewalDraft(
            source_id=view.id,
            company=view.company,
            aws_account_id=view.aws_account_id,
            path=view.path,
            hours=max(1, round(view.session_duration / 3600)),
        )

    def timeline(self, member: StaffMember, row_id: int) -> tuple[TimelineEntry, ...]:
        """Just the timeline of one request."""
        return self.get(member, row_id).timeline

    def sent_request(self, member: StaffMember, row_id: int) -> SentRequest:
        """The policy, message and description sent to AWS for ``row_id`` (rendered again
        from the stored template and parameters: rendering is deterministic)."""
        row = self._visible_row(member, row_id)
        meta = row.meta or {}
        parameters = [PolicyParameter.from_api(p) for p in meta.get("parameters") or []]
        rendered = render_template(load_template(row.template_name), parameters)
        return SentRequest(
            policy_pretty=json.dumps(json.loads(rendered), indent=2),
            request_message=row.request_message or "",
            description=DESCRIPTIONS[DelegationPath(row.type)],
            session_duration=row.session_duration,
            owner_account_pinned=bool(meta.get("owner_account_pinned", True)),
        )

    def aws_summary(self, member: StaffMember, row_id: int) -> AwsSummary:
        """AWS's plain-language summary of the request (``GetHumanReadableSummary``).

        A final answer is kept on the row and returned without calling AWS again; until then
        each call asks AWS once (the page polls while AWS is still writing it).
        """
        row = self._visible_row(member, row_id)
        kept = from_meta(row.meta)
        if kept is not None and kept.final:
            return kept
        if row.delegation_request_id is None:
            return AwsSummary(SummaryStatus.CREATING)
        arn = delegation_request_arn(
            self._settings.vell_partner_account_id, row.delegation_request_id
        )
        answer = fetch_summary(self._aws.client("iam"), arn, self._clock.now())
        if answer.final:
            self._keep_summary(row_id, answer)
        return answer

    def _keep_summary(self, row_id: int, summary: AwsSummary) -> None:
        self._store.keep_meta(row_id, META_KEY, summary.to_meta())

    def _visible_row(self, member: StaffMember, row_id: int) -> DelegationRequest:
        member = self._staff.require(member, "delegation.read_own")
        row = self._load(row_id)
        if not _visible_to(member, row):
            raise NotFound("No such delegation request.")
        return row

    def owner_of(self, row_id: int) -> int:
        """The staff id that launched ``row_id`` (for authorisation elsewhere)."""
        return self._load(row_id).user_id

    def assert_can_use(self, member: StaffMember, row_id: int, action: str) -> StaffMember:
        """Re-check ``member`` may act on this request's customer data."""
        member = self._staff.require(member, action)
        row = self._load(row_id)
        if not _visible_to(member, row):
            raise PermissionDenied("This delegation belongs to another rep.")
        return member

    # --- helpers ---------------------------------------------------------------------------

    def _duration_for(self, path: DelegationPath, requested: int | None) -> int:
        if path is DelegationPath.DEMO:
            return validation.session_duration(self._settings.aws_delegation_demo_duration_seconds)
        default = self._settings.aws_delegation_trial_duration_seconds
        return validation.session_duration(requested or default)

    def _redirect_url(self, launch_token: str) -> str:
        base = self._settings.vell_app_base_url.rstrip("/")
        return validation.redirect_url(f"{base}/delegations?wf={workflow_id_for(launch_token)}")

    def _topic_arn(self) -> str:
        return str(self._settings.aws_delegation_sns_topic_arn)

    def _load(self, row_id: int) -> DelegationRequest:
        row = self._store.row(row_id)
        if row is None:
            raise NotFound("No such delegation request.")
        return row


def workflow_id_for(launch_token: str) -> str:
    """Our ``RequestorWorkflowId``: stable per launch, unique, safe in a RedirectUrl query."""
    token = uuid.UUID(launch_token).hex  # refuses anything but a UUID
    return f"vell-{token}"


def new_launch_token() -> str:
    """A fresh idempotency token for one launch attempt in the wizard."""
    return str(uuid.uuid4())


def request_message(
    path: DelegationPath, company: str, account: str, rep_name: str, launch_token: str
) -> str:
    """A ≤200-character note the customer recognises: who, which account, which attempt."""
    reference = uuid.UUID(launch_token).hex[:8]
    rep_first = rep_name.split()[0][:20] if rep_name else "Vell"
    fixed = f"Vell {PATH_LABELS[path]} for  (AWS account {account}), set up with {rep_first}. "
    fixed += f"Ref {reference}."
    room = validation.REQUEST_MESSAGE_MAX - len(fixed)
    shown = company if len(company) <= room else company[: max(room - 1, 1)] + "…"
    message = (
        f"Vell {PATH_LABELS[path]} for {shown} (AWS account {account}), set up with "
        f"{rep_first}. Ref {reference}."
    )
    return validation.iam_text("RequestMessage", message, validation.REQUEST_MESSAGE_MAX)


def create_request_kwargs(
    preview: LaunchPreview, workflow_id: str, topic_arn: str, *, pin_owner_account: bool = True
) -> dict[str, Any]:
    """The exact ``CreateDelegationRequest`` parameters (the real API's names).

    ``pin_owner_account`` sets ``OwnerAccountId``: only that account may then open the request,
    and AWS lets only that account read its summary (``request_summary``). Without it the first
    account to open the link owns the request; the desk refuses (quarantines) notifications
    from any account but the customer's, so no other account's credentials are ever exchanged.
    """
    pinned = {"OwnerAccountId": preview.aws_account_id} if pin_owner_account else {}
    return {
        **pinned,
        "Description": validation.iam_text(
            "Description", preview.description, validation.DESCRIPTION_MAX
        ),
        "Permissions": {
            "PolicyTemplateArn": preview.template_arn,
            "Parameters": [parameter.to_api() for parameter in preview.parameters],
        },
        "RequestMessage": preview.request_message,
        "RequestorWorkflowId": workflow_id,
        "RedirectUrl": preview.redirect_url,
        "NotificationChannel": topic_arn,
        "SessionDuration": preview.session_duration,
    }


def _parameters_for(path: DelegationPath, account: str) -> tuple[PolicyParameter, ...]:
    parameters = [PolicyParameter("AccountId", (account,))]
    if path is DelegationPath.ONBOARDING:
        parameters.append(PolicyParameter("IncludeMarketplaceRead", ("True",)))
    return tuple(parameters)


def _warnings(path: DelegationPath, duration: int) -> tuple[str, ...]:
    if duration > validation.ROOT_APPROVER_MAX_SECONDS:
        hours = duration / 3600
        return (
            f"This request lasts {hours:g} hours: a root user can approve at most 4 hours, so "
            "the customer needs an IAM user or role with iam:AcceptDelegationRequest.",
        )
    return ()


def _visible_to(member: StaffMember, row: DelegationRequest) -> bool:
    return row.user_id == member.id or can(member, "delegation.read_all")


def _view(row: DelegationRequest, rep: StaffUser | None, events: Any) -> DelegationView:
    order = {state: index for index, state in enumerate(TIMELINE_ORDER)}
    timeline = tuple(
        TimelineEntry(
            state=AwsDelegationState(event.aws_state),
            label=STATE_LABELS[AwsDelegationState(event.aws_state)],
            occurred_at=event.occurred_at,
            detail=event.detail,
        )
        for event in sorted(events, key=lambda e: (e.occurred_at, order[e.aws_state]))
    )
    return DelegationView(
        id=row.id or 0,
        company=row.company,
        aws_account_id=row.aws_account_id,
        path=DelegationPath(row.type),
        status=DelegationStatus(row.status),
        aws_state=AwsDelegationState(row.aws_state) if row.aws_state else None,
        aws_state_expires_at=row.aws_state_expires_at,
        delegation_request_id=row.delegation_request_id,
        console_deep_link=row.console_deep_link,
        session_duration=row.session_duration,
        created_at=row.created_at,
        approved_at=row.approved_at,
        credentials_expire_at=row.credentials_expire_at,
        expires_at=row.expires_at,
        owner_id=row.owner_id,
        approver_id=row.approver_id,
        rejection_reason=row.rejection_reason,
        notes=row.notes,
        exchange_state=ExchangeState(row.exchange_state),
        rep_id=row.user_id,
        rep_name=rep.name if rep else "—",
        request_message=row.request_message,
        wizard_session_id=row.wizard_session_id,
        last_error=row.last_error,
        timeline=timeline,
        exchange_attempts=row.exchange_attempts,
        exchange_error_code=row.exchange_error_code,
        exchange_token_expires_at=row.exchange_token_expires_at,
        aws_summary=from_meta(row.meta),
    )
