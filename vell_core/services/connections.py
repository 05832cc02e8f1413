"""Permanent cloud connections: assume, validate, health, disconnect and offboarding.

Vell reaches a customer's permanent role only from its own partner account with
``sts:AssumeRole``, passing the external ID stored on *that* connection's row (never one from a
request parameter, security checklist §2.1). The role session name carries the staff member's
id (and ``SourceIdentity`` too when the trust policy allows setting it), so the customer's
CloudTrail shows who at Vell acted. Each ``AssumeRole`` and each call made with the role's
credentials is written to the audit log.

Health is the time of the last *successful* validation (assume + permission probe), read from
the audit log, so a failing re-validation never hides when the connection last worked.
"""

from __future__ import annotations

import builtins  # the services define a `list` method, which hides the builtin in annotations
import logging
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from vell_core.aws.clients import ACCESS_DENIED_CODES, ClientFactory, StaticCredentials, error_code
from vell_core.aws.probe import PermissionProbe, ProbeReport
from vell_core.config.settings import Settings
from vell_core.domain.clock import Clock
from vell_core.domain.errors import (
    AwsAccessDenied,
    AwsError,
    InvalidTransition,
    NotFound,
    ValidationFailed,
)
from vell_core.domain.iam_actions import CONNECTOR_POLICY_NAME
from vell_core.domain.models import CloudConnection, ConnectionStatus, ConnectionVia
from vell_core.domain.roles import StaffMember
from vell_core.services.audit import AuditRecorder
from vell_core.services.connection_identity import (
    ROLE_ARN_MISSING,
    Explanation,
    explain_assume_failure,
    explain_probe,
    explain_role_arn,
    new_external_id,
    parse_role_arn,
    trust_allows_source_identity,
)
from vell_core.services.staff import StaffDirectory
from vell_core.store.connections import Added, ConnectionStore
from vell_core.views.formatting import MISSING, when_minute

log = logging.getLogger(__name__)

ROLE_SESSION_SECONDS = 900  # the shortest AssumeRole allows: validation and probes are quick
VALIDATE_ACTION = "connection.validate"
ASSUME_ACTION = "sts.AssumeRole"
DISCONNECT_ACTION = "connection.disconnect"
ACCESS_GONE_ACTION = "connection.access_gone_confirmed"


# -- Assuming the role -------------------------------------------------------------------------


@dataclass(frozen=True)
class RoleTarget:
    """What ``AssumeRole`` needs from a connection row (the external ID comes from the DB)."""

    connection_id: int
    aws_account_id: str
    role_arn: str
    external_id: str


class AssumeRoleDenied(AwsAccessDenied):
    """``AssumeRole`` was refused; ``explanations`` say why in plain language."""

    def __init__(self, explanations: tuple[Explanation, ...], code: str = "AccessDenied") -> None:
        self.explanations = explanations
        super().__init__(
            "Vell could not assume the customer's role: " + explanations[0].title,
            code=code,
            operation="sts.AssumeRole",
        )


class RoleAssumer:
    """Partner-side ``sts:AssumeRole`` into customer roles, audited."""

    def __init__(self, *, settings: Settings, aws: ClientFactory, audit: AuditRecorder) -> None:
        self._settings = settings
        self._aws = aws
        self._audit = audit

    def credentials(
        self, target: RoleTarget, member: StaffMember, purpose: str
    ) -> StaticCredentials:
        """Temporary credentials of the customer's role (raises AssumeRoleDenied)."""
        kwargs = self._kwargs(target, member, purpose)
        try:
            answer = self._aws.client("sts").assume_role(**kwargs)
        except ClientError as exc:
            self._record(target, member, error_code(exc) or "error", None)
            raise self._denied(target, exc) from None
        except BotoCoreError:
            self._record(target, member, "transport error", None)
            raise AwsError("Could not reach AWS STS; please try again.", code="Transport") from None
        request_id = answer.get("ResponseMetadata", {}).get("RequestId")
        self._record(target, member, "ok", request_id)
        creds = answer["Credentials"]
        return StaticCredentials(
            creds["AccessKeyId"],
            creds["SecretAccessKey"],
            creds["SessionToken"],
            creds["Expiration"],
        )

    def factory(self, target: RoleTarget, member: StaffMember, purpose: str) -> ClientFactory:
        """Audited clients acting as the customer's role."""
        creds = self.credentials(target, member, purpose)
        return self._aws.with_credentials(
            creds,
            client_hook=lambda client: self._audit.attach(
                client,
                staff_user_id=member.id,
                customer_account_id=target.aws_account_id,
                connection_id=target.connection_id,
            ),
        )

    def _kwargs(self, target: RoleTarget, member: StaffMember, purpose: str) -> dict[str, Any]:
        kwargs: dict[str, Any] = {
            "RoleArn": target.role_arn,
            "RoleSessionName": f"vell-{purpose}-staff-{member.id}"[:64],
            "ExternalId": target.external_id,
            "DurationSeconds": ROLE_SESSION_SECONDS,
        }
        if trust_allows_source_identity():
            kwargs["SourceIdentity"] = f"vell-staff-{member.id}"
        return kwargs

    def _record(
        self, target: RoleTarget, member: StaffMember, outcome: str, request_id: str | None
    ) -> None:
        self._audit.record(
            action=ASSUME_ACTION,
            outcome=outcome,
            staff_user_id=member.id,
            customer_account_id=target.aws_account_id,
            connection_id=target.connection_id,
            aws_request_id=request_id,
        )

    def _denied(self, target: RoleTarget, exc: ClientError) -> AwsError:
        code = error_code(exc)
        if code in ("InvalidClientTokenId", "ExpiredToken", "UnrecognizedClientException"):
            # Vell's own partner credentials are the problem, not the customer's role.
            return AwsError("Vell's own AWS access is misconfigured; tell an admin.", code=code)
        if code not in ACCESS_DENIED_CODES:
            return AwsError(f"AWS refused AssumeRole ({code}).", code=code)
        return AssumeRoleDenied(
            explain_assume_failure(
                target.role_arn, target.external_id, self._settings.vell_partner_account_id
            ),
            code=code,
        )


# -- Views -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ValidationReport:
    """Outcome of assume + probe for one connection."""

    connection_id: int
    role_arn: str | None
    assumed: bool
    probe: ProbeReport | None
    explanations: tuple[Explanation, ...]
    checked_at: datetime

    @property
    def ok(self) -> bool:
        """Assumed, and no connector action denied."""
        return self.assumed and self.probe is not None and self.probe.ok


@dataclass(frozen=True)
class ConnectionView:
    """A permanent connection as pages render it (the external ID is not a secret)."""

    id: int
    company: str
    aws_account_id: str
    role_arn: str | None
    status: ConnectionStatus
    created_via: ConnectionVia
    stack_name: str | None
    external_id: str
    created_at: datetime
    last_validated_at: datetime | None
    last_validation_ok: bool | None
    last_success_at: datetime | None

    @property
    def role_name(self) -> str | None:
        """The role's name, from its ARN."""
        parsed = parse_role_arn(self.role_arn or "")
        return parsed[2] if parsed else None

    def health(self, now: datetime) -> str:
        """Plain-language health: when did validation last succeed."""
        if self.status is ConnectionStatus.DISCONNECTED:
            return "Disconnected"
        if self.last_success_at is None:
            return "Never validated" if self.last_validated_at is None else "Failing (never worked)"
        hours = (now - self.last_success_at).total_seconds() / 3600
        age = f"{hours:.0f} h ago" if hours < 48 else f"{hours / 24:.0f} days ago"
        if self.last_validation_ok is False:
            return f"Failing — last worked {age}"
        return f"Healthy — validated {age}"

    def record(self, now: datetime) -> dict[str, Any]:
        """A flat row for the table and the CSV: what a person reads first, ids last."""
        return {
            "Company": self.company,
            "Account": self.aws_account_id,
            "Set up via": "CloudFormation"
            if self.created_via is ConnectionVia.CLOUDFORMATION
            else "Delegation",
            "Status": self.status.value,
            "Health": self.health(now),
            "Last validated OK": when_minute(self.last_success_at),
            "Role": self.role_name or MISSING,
            "External ID": self.external_id,
            "Role ARN": self.role_arn or MISSING,
            "Connection #": self.id,
        }


@dataclass(frozen=True)
class ChecklistItem:
    """One offboarding step."""

    label: str
    detail: str
    done: bool


@dataclass(frozen=True)
class OffboardingChecklist:
    """What has to happen before a customer's access is really gone."""

    connection_id: int
    items: tuple[ChecklistItem, ...] = field(default=())

    @property
    def complete(self) -> bool:
        """Every step done."""
        return all(item.done for item in self.items)


@dataclass(frozen=True)
class AccessCheck:
    """Result of trying to assume a role that should be gone."""

    gone: bool
    message: str


# -- The service -------------------------------------------------------------------------------


class ConnectionService:
    """Lists, validates, disconnects and offboards permanent connections."""

    def __init__(
        self,
        *,
        settings: Settings,
        store: ConnectionStore,
        clock: Clock,
        aws: ClientFactory,
        staff: StaffDirectory,
        audit: AuditRecorder,
        probe: PermissionProbe | None = None,
    ) -> None:
        self._settings = settings
        self._store = store
        self._clock = clock
        self._staff = staff
        self._audit = audit
        self._probe = probe or PermissionProbe()
        self.assumer = RoleAssumer(settings=settings, aws=aws, audit=audit)

    # -- reading ------------------------------------------------------------------------------

    def list(
        self, member: StaffMember, *, company_contains: str = "", include_disconnected: bool = True
    ) -> list[ConnectionView]:
        """Every connection (pending ones too), company then newest first."""
        self._staff.require(member, "connection.manage")
        rows = self._store.search(
            company_contains.strip(), include_disconnected=include_disconnected
        )
        successes = self._last_successes([row.id or 0 for row in rows])
        return [_view(row, successes.get(row.id or 0)) for row in rows]

    def get(self, member: StaffMember, connection_id: int) -> ConnectionView:
        """One connection."""
        self._staff.require(member, "connection.manage")
        row = self._load(connection_id)
        return _view(row, self._last_successes([connection_id]).get(connection_id))

    def for_account(
        self, member: StaffMember, aws_account_id: str
    ) -> builtins.list[ConnectionView]:
        """The connections of one customer account."""
        return [c for c in self.list(member) if c.aws_account_id == aws_account_id]

    # -- creating (used by the promotion) -----------------------------------------------------

    def new_pending_row(
        self,
        member: StaffMember,
        *,
        company: str,
        aws_account_id: str,
        via: ConnectionVia,
        stack_name: str | None = None,
    ) -> CloudConnection:
        """An unsaved pending connection holding a freshly generated external ID.

        The caller inserts it (the promotion does so in the same transaction as its run row, so
        a failed insert never leaves an orphan connection).
        """
        now = self._clock.now()
        return CloudConnection(
            customer_id=self._store.customer_id(aws_account_id),
            aws_account_id=aws_account_id,
            company=company,
            external_id=new_external_id(),
            status=ConnectionStatus.PENDING,
            created_via=via,
            stack_name=stack_name,
            created_by_user_id=member.id,
            created_at=now,
            updated_at=now,
        )

    def create_pending(
        self,
        member: StaffMember,
        *,
        company: str,
        aws_account_id: str,
        via: ConnectionVia,
        stack_name: str | None = None,
    ) -> CloudConnection:
        """Insert a pending connection with a new, unique external ID."""
        for _ in range(3):  # 128 random bits: a collision means a bug, but never reuse an ID
            row = self.new_pending_row(
                member,
                company=company,
                aws_account_id=aws_account_id,
                via=via,
                stack_name=stack_name,
            )
            added = self._store.add(row)
            if added is Added.ADDED:
                return row
            if added is Added.REFUSED:
                # Another constraint refused the row (e.g. the account-id check): retrying
                # with a new external ID cannot help, and blaming the ID would mislead.
                raise ValidationFailed(
                    "The connection could not be stored; check the AWS account id "
                    "(12 digits, 0-9) and the company name."
                )
        raise ValidationFailed("Could not generate a unique external ID; try again.")

    def active_for_account(self, aws_account_id: str) -> int | None:
        """The id of the account's active connection, if it has one."""
        return self._store.active_for_account(aws_account_id)

    def activate(self, member: StaffMember, connection_id: int, role_arn: str) -> None:
        """Mark a verified connection active (the promotion's probe already passed)."""
        row = self._load(connection_id)
        now = self._clock.now()
        self._store_outcome(connection_id, role_arn, True, now)
        self._audit.record(
            action=VALIDATE_ACTION,
            outcome="ok",
            staff_user_id=member.id,
            customer_account_id=row.aws_account_id,
            connection_id=connection_id,
            detail="verified by the promotion (AssumeRole + permission probe)",
        )

    def target(self, connection_id: int, role_arn: str | None = None) -> RoleTarget:
        """What AssumeRole needs, with the external ID read from the connection's row."""
        row = self._load(connection_id)
        arn = role_arn or row.role_arn
        if not arn:
            raise ValidationFailed("This connection has no role ARN yet.")
        return RoleTarget(row.id or 0, row.aws_account_id, arn, row.external_id)

    def target_external_id(self, connection_id: int) -> str:
        """The external ID stored on a connection (the only source of it for AssumeRole)."""
        return self._load(connection_id).external_id

    def role_factory(
        self, member: StaffMember, connection_id: int, purpose: str, role_arn: str | None = None
    ) -> ClientFactory:
        """Audited clients acting as the connection's role (raises AssumeRoleDenied)."""
        self._staff.require(member, "connection.manage")
        return self.assumer.factory(self.target(connection_id, role_arn), member, purpose)

    def probe(self, factory: ClientFactory) -> ProbeReport:
        """The permission probe with the given credentials."""
        return self._probe.run(factory)

    # -- validation ---------------------------------------------------------------------------

    def validate(
        self, member: StaffMember, connection_id: int, role_arn: str | None = None
    ) -> ValidationReport:
        """Assume the role with the stored external ID, probe it, and record the outcome."""
        member = self._staff.require(member, "connection.manage")
        row = self._load(connection_id)
        if row.status is ConnectionStatus.DISCONNECTED:
            raise InvalidTransition("This connection is disconnected; set it up again instead.")
        arn = (role_arn or row.role_arn or "").strip()
        problems = explain_role_arn(arn, row.aws_account_id)
        if problems and problems[0].code == ROLE_ARN_MISSING:
            # Nothing was tried: no AWS call, no failed validation on the connection's record.
            return ValidationReport(row.id or 0, None, False, None, problems, self._clock.now())
        if problems:
            return self._finish(member, row, None, None, problems)
        try:
            factory = self.assumer.factory(self.target(connection_id, arn), member, "validate")
        except AssumeRoleDenied as denied:
            return self._finish(member, row, arn, None, denied.explanations, assumed=False)
        report = self._probe.run(factory)
        return self._finish(member, row, arn, report, explain_probe(report), assumed=True)

    def record_validation(
        self, member: StaffMember, connection_id: int, role_arn: str, report: ProbeReport
    ) -> ValidationReport:
        """Record a probe the caller ran after assuming the role itself (the promotion)."""
        row = self._load(connection_id)
        return self._finish(member, row, role_arn, report, explain_probe(report), assumed=True)

    def _finish(
        self,
        member: StaffMember,
        row: CloudConnection,
        role_arn: str | None,
        report: ProbeReport | None,
        explanations: tuple[Explanation, ...],
        *,
        assumed: bool = False,
    ) -> ValidationReport:
        now = self._clock.now()
        result = ValidationReport(row.id or 0, role_arn, assumed, report, explanations, now)
        self._store_outcome(row.id or 0, role_arn if assumed else None, result.ok, now)
        self._audit.record(
            action=VALIDATE_ACTION,
            outcome="ok" if result.ok else "failed",
            staff_user_id=member.id,
            customer_account_id=row.aws_account_id,
            connection_id=row.id,
            detail=(
                report.summary() if report else explanations[0].title if explanations else None
            ),
        )
        return result

    def _store_outcome(
        self, connection_id: int, role_arn: str | None, ok: bool, now: datetime
    ) -> None:
        stored = self._store.record_validation(
            connection_id,
            role_arn=role_arn,
            ok=ok,
            now=now,
            status_after=lambda current: _next_status(current, ok),
        )
        if not stored:
            raise ValidationFailed(
                "That role is already used by another Vell connection for this account."
            )

    # -- conversion, disconnect, offboarding ---------------------------------------------------

    def mark_converted(
        self, delegation_ids: tuple[int, ...], role_arn: str, connection_id: int
    ) -> None:
        """Mark delegations converted (sticky), pointing at the permanent role and connection."""
        self._store.mark_converted(delegation_ids, role_arn, connection_id, self._clock.now())

    def disconnect(self, member: StaffMember, connection_id: int) -> OffboardingChecklist:
        """Stop using the connection in Vell; returns the offboarding checklist."""
        member = self._staff.require(member, "connection.manage")
        account = self._store.disconnect(connection_id, self._clock.now())
        if account is None:
            raise NotFound("No such connection.")
        self._audit.record(
            action=DISCONNECT_ACTION,
            outcome="ok",
            staff_user_id=member.id,
            customer_account_id=account,
            connection_id=connection_id,
        )
        return self.offboarding_checklist(member, connection_id)

    def offboarding_checklist(
        self, member: StaffMember, connection_id: int
    ) -> OffboardingChecklist:
        """Disconnect in Vell → customer removes the role or stack → a failing AssumeRole."""
        self._staff.require(member, "connection.manage")
        row = self._load(connection_id)
        gone = self._audited(connection_id, ACCESS_GONE_ACTION)
        items = (
            ChecklistItem(
                "Disconnect in Vell",
                "Vell stops syncing and never assumes the role again.",
                row.status is ConnectionStatus.DISCONNECTED,
            ),
            ChecklistItem(*_removal_step(row), gone),
            ChecklistItem(
                "Vell confirms access is gone",
                "Press 'Confirm access is gone': Vell tries AssumeRole once; it must fail.",
                gone,
            ),
        )
        return OffboardingChecklist(connection_id, items)

    def confirm_access_gone(self, member: StaffMember, connection_id: int) -> AccessCheck:
        """Try AssumeRole once; a refusal proves the customer removed Vell's access."""
        member = self._staff.require(member, "connection.manage")
        row = self._load(connection_id)
        if row.status is not ConnectionStatus.DISCONNECTED:
            raise InvalidTransition("Disconnect the connection in Vell first.")
        if not row.role_arn:
            return self._gone(member, row, "No role was ever connected.")
        try:
            self.assumer.credentials(self.target(connection_id), member, "offboard-check")
        except AssumeRoleDenied:
            return self._gone(member, row, "AssumeRole failed: Vell no longer has access.")
        return AccessCheck(
            False,
            "Vell can still assume the role. Ask the customer to delete the "
            + ("CloudFormation stack." if row.stack_name else "role."),
        )

    def _gone(self, member: StaffMember, row: CloudConnection, message: str) -> AccessCheck:
        self._audit.record(
            action=ACCESS_GONE_ACTION,
            outcome="ok",
            staff_user_id=member.id,
            customer_account_id=row.aws_account_id,
            connection_id=row.id,
            detail=message,
        )
        return AccessCheck(True, message)

    # -- helpers ------------------------------------------------------------------------------

    def _load(self, connection_id: int) -> CloudConnection:
        row = self._store.get(connection_id)
        if row is None:
            raise NotFound("No such connection.")
        return row

    def _audited(self, connection_id: int, action: str) -> bool:
        self._audit.flush()  # the row may still be queued
        return self._store.audited(connection_id, action)

    def _last_successes(self, connection_ids: builtins.list[int]) -> dict[int, datetime]:
        if not connection_ids:
            return {}
        self._audit.flush()
        return self._store.last_successes(connection_ids, VALIDATE_ACTION)


def _next_status(current: ConnectionStatus, ok: bool) -> ConnectionStatus:
    """Success activates; a failure marks a working connection failed, a new one stays pending."""
    if ok:
        return ConnectionStatus.ACTIVE
    if current is ConnectionStatus.PENDING:
        return ConnectionStatus.PENDING
    return ConnectionStatus.FAILED


def _removal_step(row: CloudConnection) -> tuple[str, str]:
    if row.created_via is ConnectionVia.CLOUDFORMATION:
        return (
            "Customer deletes the CloudFormation stack",
            f"CloudFormation console → Stacks → {row.stack_name or 'VellMarketplaceConnector'} → "
            "Delete (this removes the role and its policy).",
        )
    parsed = parse_role_arn(row.role_arn or "")
    name = parsed[2] if parsed else "the Vell role"
    return (
        "Customer deletes the role",
        f"IAM console → Roles → {name} → Delete, or: aws iam delete-role-policy --role-name "
        f"{name} --policy-name {CONNECTOR_POLICY_NAME} && aws iam delete-role --role-name {name}",
    )


def _view(row: CloudConnection, last_success: datetime | None) -> ConnectionView:
    return ConnectionView(
        id=row.id or 0,
        company=row.company,
        aws_account_id=row.aws_account_id,
        role_arn=row.role_arn,
        status=ConnectionStatus(row.status),
        created_via=ConnectionVia(row.created_via),
        stack_name=row.stack_name,
        external_id=row.external_id,
        created_at=row.created_at,
        last_validated_at=row.last_validated_at,
        last_validation_ok=row.last_validation_ok,
        last_success_at=last_success,
    )
