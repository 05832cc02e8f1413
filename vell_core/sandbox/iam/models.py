"""Delegation request resources and the IAM delegation backend.

Behaviour follows the botocore model, the IAM user guide and the simulator choices of the
developer reference §8: states and transitions of §1.1/§1.2, state timers reset on every
transition (UNASSIGNED 1 day, every other state 7 days, Q2), EXPIRED requests retained 30 days
(Q4), state errors as ``InvalidInput`` except Accept's ``ConcurrentModification`` (Q5), the
partner may Get only while the request has no owner account (Q1).

``GetHumanReadableSummary`` follows Get's access rules (the model says they are identical) and
generates asynchronously on the sandbox clock: the first call for a locale starts the
generation and answers ``NOT_AVAILABLE``, calls from ``summary_seconds`` later answer
``AVAILABLE`` with the text of ``summary.py`` (or ``FAILED`` while the ``summary_failures``
knob is on when generation starts). An ARN of another entity type answers ``NOT_SUPPORTED``.

Where the sandbox differs from AWS: the "permission check" of Get always completes with
``ALLOWED`` for persona admins; the summary is templated text, not a language model's;
semantic refusals (a malformed ARN, an unsupported locale) answer ``InvalidInput`` (the
declared error), while model constraint violations are ``ValidationError`` (wire layer).
"""

from __future__ import annotations

import base64
import json
import re
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from vell_core.domain.clock import Clock
from vell_core.domain.policies import PolicyParameter, TemplateRenderError, render_template
from vell_core.domain.validation import is_account_id
from vell_core.sandbox import authz
from vell_core.sandbox.contract import Caller
from vell_core.sandbox.iam import exceptions as exc
from vell_core.sandbox.iam.summary import (
    DEFAULT_LOCALE,
    LOCALES,
    SummaryFacts,
    resolve_locale,
    summarize,
)
from vell_core.sandbox.notifications import Notifier
from vell_core.sandbox.sts_exchange import TokenGrant, TokenVault
from vell_core.sandbox.validation import input_violations, validation_message
from vell_core.sandbox.wire import iso8601

UNASSIGNED_TTL = timedelta(days=1)
STATE_TTL = timedelta(days=7)
EXPIRED_RETENTION = timedelta(days=30)
ROOT_MAX_SESSION = 14400
DEFAULT_MAX_OPEN = 100
DEEP_LINK = "https://us-east-1.console.aws.amazon.com/iam/account-access-requests/review/{id}"
SUMMARY_SECONDS = 3.0  # sandbox time a summary takes to generate (the summary_seconds knob)
# arn:partition:service:region:account:resource (the general ARN shape)
ARN_RE = re.compile(r"^arn:(aws|aws-cn|aws-us-gov):([a-z0-9-]+):([a-z0-9-]*):([^:]*):(.+)$")


class State(StrEnum):
    """The ``State`` enum, exact strings."""

    UNASSIGNED = "UNASSIGNED"
    ASSIGNED = "ASSIGNED"
    PENDING_APPROVAL = "PENDING_APPROVAL"
    ACCEPTED = "ACCEPTED"
    FINALIZED = "FINALIZED"
    REJECTED = "REJECTED"
    EXPIRED = "EXPIRED"


OPEN_STATES = {State.UNASSIGNED, State.ASSIGNED, State.PENDING_APPROVAL, State.ACCEPTED}


@dataclass
class DelegationRequest:
    """One delegation request as IAM stores it."""

    request_id: str
    requestor_id: str
    requestor_name: str
    workflow_id: str
    description: str
    permissions: dict[str, Any]
    permission_policy: str
    restriction_arns: list[str]
    notification_channel: str
    session_duration: int
    created: datetime
    state: State = State.UNASSIGNED
    updated: datetime | None = None
    state_expires: datetime | None = None
    owner_account_id: str | None = None
    owner_id: str | None = None
    approver_id: str | None = None
    request_message: str | None = None
    redirect_url: str | None = None
    only_send_by_owner: bool = False
    notes: str | None = None
    rejection_reason: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def enter(self, state: State, when: datetime) -> None:
        """Move to ``state`` at ``when`` and restart the state timer."""
        self.state = state
        self.updated = when
        if state is State.EXPIRED:
            self.state_expires = when + EXPIRED_RETENTION
        else:
            self.state_expires = when + (UNASSIGNED_TTL if state is State.UNASSIGNED else STATE_TTL)

    def notification_fields(self) -> dict[str, Any]:
        """Fields every notification carries (``OwnerAccountId`` omitted when unknown)."""
        return {
            "RequestId": self.request_id,
            "RequestorWorkflowId": self.workflow_id,
            "State": self.state.value,
            "OwnerAccountId": self.owner_account_id,
            "UpdatedAt": iso8601(self.updated or self.created),
        }

    def to_dict(self) -> dict[str, Any]:
        """The ``DelegationRequest`` output structure."""
        out: dict[str, Any] = {
            "DelegationRequestId": self.request_id,
            "OwnerAccountId": self.owner_account_id,
            "Description": self.description,
            "RequestMessage": self.request_message,
            "Permissions": self.permissions,
            "PermissionPolicy": self.permission_policy,
            "RolePermissionRestrictionArns": self.restriction_arns or None,
            "OwnerId": self.owner_id,
            "ApproverId": self.approver_id,
            "State": self.state.value,
            "ExpirationTime": self.state_expires,
            "RequestorId": self.requestor_id,
            "RequestorName": self.requestor_name,
            "CreateDate": self.created,
            "SessionDuration": self.session_duration,
            "RedirectUrl": self.redirect_url,
            "Notes": self.notes,
            "RejectionReason": self.rejection_reason,
            "OnlySendByOwner": self.only_send_by_owner,
            "UpdatedTime": self.updated,
        }
        return {k: v for k, v in out.items() if v is not None}


def request_arn(account_id: str, request_id: str) -> str:
    """The (SAR-derived) ARN of a delegation request."""
    return f"arn:aws:iam::{account_id}:delegation-request/{request_id}"


def _allows_create_role(policy: dict[str, Any]) -> bool:
    for statement in authz.as_list(policy.get("Statement")):
        if statement.get("Effect") != "Allow":
            continue
        for pattern in authz.as_list(statement.get("Action")):
            if authz.wildcard_match(pattern, "iam:CreateRole", case_sensitive=False):
                return True
    return False


class DelegationBackend:
    """IAM delegation requests: one method per operation, plus ``tick`` and ``reset``."""

    def __init__(
        self,
        *,
        partner_accounts: set[str],
        partner_name: str,
        templates: dict[str, dict[str, Any]],
        boundary_arn: str,
        clock: Clock,
        notifier: Notifier,
        vault: TokenVault,
        topic_exists: Any,
        max_open: int = DEFAULT_MAX_OPEN,
        summary_seconds: Callable[[], float] = lambda: SUMMARY_SECONDS,
        summary_failures: Callable[[], bool] = lambda: False,
    ) -> None:
        self.partner_accounts = partner_accounts
        self.partner_name = partner_name
        self.templates = templates
        self.boundary_arn = boundary_arn
        self.clock = clock
        self.notifier = notifier
        self.vault = vault
        self.topic_exists = topic_exists
        self.max_open = max_open
        self.summary_seconds = summary_seconds
        self.summary_failures = summary_failures
        self.requests: dict[str, DelegationRequest] = {}
        self._lock = threading.RLock()

    def reset(self) -> None:
        """Forget every request."""
        with self._lock:
            self.requests.clear()

    # -- timers -------------------------------------------------------------------------------

    def tick(self, now: datetime | None = None) -> None:
        """Apply every timer due by ``now``: expire stale requests, delete retained ones."""
        moment = now or self.clock.now()
        with self._lock:
            for request in list(self.requests.values()):
                self._apply_timers(request, moment)

    def _apply_timers(self, request: DelegationRequest, now: datetime) -> None:
        if request.state_expires is None or now < request.state_expires:
            return
        if request.state is State.EXPIRED:
            del self.requests[request.request_id]
            return
        request.enter(State.EXPIRED, request.state_expires)
        self._notify(request)
        self._apply_timers(request, now)

    def _notify(self, request: DelegationRequest) -> None:
        self.notifier.state_change(request.notification_channel, request.notification_fields())

    def _transition(self, request: DelegationRequest, state: State, now: datetime) -> None:
        request.enter(state, now)
        self._notify(request)

    # -- lookups ------------------------------------------------------------------------------

    def _find(self, request_id: Any, now: datetime, *, strict_id: bool) -> DelegationRequest:
        """The live request, applying timers first. Malformed ids are InvalidInput or missing."""
        text = str(request_id or "")
        problems = input_violations("iam", "GetDelegationRequest", {"DelegationRequestId": text})
        if problems:
            raise (
                exc.invalid_input(validation_message(problems))
                if strict_id
                else (exc.no_such_entity(text))
            )
        self.tick(now)
        request = self.requests.get(text)
        if request is None:
            raise exc.no_such_entity(text)
        return request

    def _require_owner_account(
        self, request: DelegationRequest, caller: Caller, action: str
    ) -> None:
        if request.owner_account_id is None or request.owner_account_id != caller.account_id:
            raise exc.access_denied(
                caller.arn, action, request_arn(caller.account_id, request.request_id)
            )

    def _validate(self, operation: str, params: dict[str, Any]) -> None:
        problems = input_violations("iam", operation, params)
        if problems:
            raise exc.invalid_input(validation_message(problems))

    # -- partner side -------------------------------------------------------------------------

    def create(self, caller: Caller, params: dict[str, Any], now: datetime) -> dict[str, Any]:
        """``CreateDelegationRequest``."""
        if caller.account_id not in self.partner_accounts:
            raise exc.access_denied(
                caller.arn, "iam:CreateDelegationRequest", f"arn:aws:iam::{caller.account_id}:*"
            )
        self._validate("CreateDelegationRequest", params)
        self._check_channel(str(params.get("NotificationChannel", "")), caller.account_id)
        permissions = dict(params.get("Permissions") or {})
        policy_text = self._render(permissions)
        with self._lock:
            self.tick(now)
            self._check_unique(caller.account_id, str(params["RequestorWorkflowId"]))
            self._check_quota(caller.account_id)
            request = self._new_request(caller, params, permissions, policy_text, now)
            self.requests[request.request_id] = request
        return {
            "DelegationRequestId": request.request_id,
            "ConsoleDeepLink": DEEP_LINK.format(id=request.request_id),
        }

    def _check_channel(self, channel: str, partner_account: str) -> None:
        parts = channel.split(":")
        if len(parts) != 6 or parts[:3] != ["arn", "aws", "sns"] or not parts[5]:
            raise exc.invalid_input("NotificationChannel must be an SNS topic ARN.")
        if parts[4] != partner_account:
            raise exc.invalid_input(
                "NotificationChannel must be an SNS topic in a registered partner account."
            )
        if not self.topic_exists(channel):
            raise exc.invalid_input(f"NotificationChannel topic {channel} does not exist.")

    def _render(self, permissions: dict[str, Any]) -> str:
        arn = permissions.get("PolicyTemplateArn")
        if not arn:
            raise exc.invalid_input("Permissions.PolicyTemplateArn is required.")
        template = self.templates.get(str(arn))
        if template is None:
            raise exc.invalid_input(
                f"Policy template {arn} is not registered for this partner account."
            )
        parameters = [PolicyParameter.from_api(p) for p in permissions.get("Parameters") or []]
        try:
            return render_template(template, parameters)
        except TemplateRenderError as error:
            raise exc.invalid_input(str(error)) from error

    def _check_unique(self, partner: str, workflow_id: str) -> None:
        for request in self.requests.values():
            if request.requestor_id == partner and request.workflow_id == workflow_id:
                raise exc.entity_already_exists(workflow_id)

    def _check_quota(self, partner: str) -> None:
        open_count = sum(
            1
            for r in self.requests.values()
            if r.requestor_id == partner and r.state in OPEN_STATES
        )
        if open_count >= self.max_open:
            raise exc.limit_exceeded(self.max_open)

    def _new_request(
        self,
        caller: Caller,
        params: dict[str, Any],
        permissions: dict[str, Any],
        policy_text: str,
        now: datetime,
    ) -> DelegationRequest:
        policy = json.loads(policy_text)
        request = DelegationRequest(
            request_id=uuid.uuid4().hex,
            requestor_id=caller.account_id,
            requestor_name=self.partner_name,
            workflow_id=str(params["RequestorWorkflowId"]),
            description=str(params["Description"]),
            permissions=permissions,
            permission_policy=policy_text,
            restriction_arns=[self.boundary_arn] if _allows_create_role(policy) else [],
            notification_channel=str(params["NotificationChannel"]),
            session_duration=int(params["SessionDuration"]),
            created=now,
            owner_account_id=params.get("OwnerAccountId"),
            request_message=params.get("RequestMessage"),
            redirect_url=params.get("RedirectUrl"),
            only_send_by_owner=bool(params.get("OnlySendByOwner", False)),
        )
        request.enter(State.UNASSIGNED, now)
        return request

    # -- reads --------------------------------------------------------------------------------

    def get(self, caller: Caller, params: dict[str, Any], now: datetime) -> dict[str, Any]:
        """``GetDelegationRequest``: anyone while unowned, else the owner account only."""
        with self._lock:
            request = self._find(params.get("DelegationRequestId"), now, strict_id=False)
            if request.owner_account_id is not None:
                self._require_owner_account(request, caller, "iam:GetDelegationRequest")
            out: dict[str, Any] = {"DelegationRequest": request.to_dict()}
        if params.get("DelegationPermissionCheck"):
            out["PermissionCheckStatus"] = "COMPLETE"
            out["PermissionCheckResult"] = "ALLOWED"
        return out

    def summary(self, caller: Caller, params: dict[str, Any], now: datetime) -> dict[str, Any]:
        """``GetHumanReadableSummary``: Get's access rules; generated asynchronously."""
        asked = params.get("Locale")
        locale = resolve_locale(asked)
        if locale is None:
            raise exc.invalid_input(
                f"Locale {asked} is not supported. Supported locales: {', '.join(LOCALES)}."
            )
        out: dict[str, Any] = {"SummaryContent": "", "Locale": asked or DEFAULT_LOCALE}
        entity = _entity(str(params.get("EntityArn", "")))
        if entity is None:
            return {**out, "SummaryState": "NOT_SUPPORTED"}
        account, request_id = entity
        with self._lock:
            request = self._find(request_id, now, strict_id=True)
            if account not in (request.requestor_id, request.owner_account_id):
                raise exc.no_such_entity(request_id)
            if request.owner_account_id is not None:
                self._require_owner_account(request, caller, "iam:GetHumanReadableSummary")
            state, content = self._generated(request, locale, now)
        return {**out, "SummaryState": state, "SummaryContent": content}

    def _generated(self, request: DelegationRequest, locale: str, now: datetime) -> tuple[str, str]:
        """(state, text) of the summary in ``locale``; the first ask starts the generation."""
        jobs: dict[str, dict[str, Any]] = request.extra.setdefault("summaries", {})
        job = jobs.get(locale)
        if job is None:
            ready_at = now + timedelta(seconds=max(0.0, float(self.summary_seconds())))
            jobs[locale] = {"ready_at": ready_at, "fails": bool(self.summary_failures())}
            return "NOT_AVAILABLE", ""
        if now < job["ready_at"]:
            return "NOT_AVAILABLE", ""
        if job["fails"]:
            return "FAILED", ""
        facts = SummaryFacts(
            requestor_name=request.requestor_name,
            requestor_account=request.requestor_id,
            session_duration=request.session_duration,
            permission_policy=request.permission_policy,
            boundary_arns=tuple(request.restriction_arns),
        )
        return "AVAILABLE", summarize(facts, locale)

    def list(self, caller: Caller, params: dict[str, Any], now: datetime) -> dict[str, Any]:
        """``ListDelegationRequests``: owned requests of the caller's account, paged."""
        self._validate("ListDelegationRequests", params)
        offset = _decode_marker(params.get("Marker"))
        limit = int(params.get("MaxItems") or 100)
        owner_filter = params.get("OwnerId")
        with self._lock:
            self.tick(now)
            mine = sorted(
                (
                    r
                    for r in self.requests.values()
                    if r.owner_id is not None
                    and r.owner_account_id == caller.account_id
                    and (owner_filter is None or r.owner_id == owner_filter)
                ),
                key=lambda r: (r.created, r.request_id),
            )
            page = [r.to_dict() for r in mine[offset : offset + limit]]
        truncated = offset + limit < len(mine)
        out: dict[str, Any] = {"DelegationRequests": page, "isTruncated": truncated}
        if truncated:
            out["Marker"] = _encode_marker(offset + limit)
        return out

    # -- customer side ------------------------------------------------------------------------

    def associate(self, caller: Caller, params: dict[str, Any], now: datetime) -> dict[str, Any]:
        """``AssociateDelegationRequest``: UNASSIGNED → ASSIGNED, the caller becomes owner."""
        with self._lock:
            request = self._find(params.get("DelegationRequestId"), now, strict_id=True)
            preset = request.owner_account_id
            if preset is not None and preset != caller.account_id:
                raise exc.access_denied(
                    caller.arn,
                    "iam:AssociateDelegationRequest",
                    request_arn(caller.account_id, request.request_id),
                )
            if request.state is not State.UNASSIGNED:
                raise exc.invalid_input(
                    f"Delegation request {request.request_id} is {request.state.value}, "
                    "not UNASSIGNED."
                )
            request.owner_account_id = caller.account_id
            request.owner_id = caller.arn
            self._transition(request, State.ASSIGNED, now)
        return {}

    def update(self, caller: Caller, params: dict[str, Any], now: datetime) -> dict[str, Any]:
        """``UpdateDelegationRequest``: the owner forwards to an admin (→ PENDING_APPROVAL)."""
        self._validate("UpdateDelegationRequest", params)
        with self._lock:
            request = self._find(params.get("DelegationRequestId"), now, strict_id=True)
            _refuse_unassigned(request, accept=False)
            self._require_owner(request, caller, "iam:UpdateDelegationRequest")
            if request.state is not State.ASSIGNED:
                raise exc.invalid_input(
                    f"Delegation request {request.request_id} is {request.state.value}; "
                    "only ASSIGNED requests can be forwarded for approval."
                )
            request.notes = params.get("Notes")
            self._transition(request, State.PENDING_APPROVAL, now)
        return {}

    def accept(self, caller: Caller, params: dict[str, Any], now: datetime) -> dict[str, Any]:
        """``AcceptDelegationRequest``: ASSIGNED/PENDING_APPROVAL → ACCEPTED."""
        with self._lock:
            request = self._find(params.get("DelegationRequestId"), now, strict_id=False)
            _refuse_unassigned(request, accept=True)
            self._require_owner_account(request, caller, "iam:AcceptDelegationRequest")
            if request.state not in (State.ASSIGNED, State.PENDING_APPROVAL):
                raise exc.concurrent_modification(
                    f"Delegation request {request.request_id} is {request.state.value} "
                    "and cannot be accepted."
                )
            if caller.kind == "root" and request.session_duration > ROOT_MAX_SESSION:
                raise exc.concurrent_modification(
                    "root users can approve requests of 4 hours or less; this request asks for "
                    f"{request.session_duration} seconds."
                )
            request.approver_id = caller.arn
            self._transition(request, State.ACCEPTED, now)
        return {}

    def send(self, caller: Caller, params: dict[str, Any], now: datetime) -> dict[str, Any]:
        """``SendDelegationToken``: ACCEPTED → FINALIZED; publishes the exchange token."""
        with self._lock:
            request = self._find(params.get("DelegationRequestId"), now, strict_id=True)
            _refuse_unassigned(request, accept=False)
            self._require_owner_account(request, caller, "iam:SendDelegationToken")
            allowed = (
                {request.owner_id}
                if request.only_send_by_owner
                else {
                    request.owner_id,
                    request.approver_id,
                }
            )
            if caller.arn not in allowed:
                raise exc.access_denied(
                    caller.arn,
                    "iam:SendDelegationToken",
                    request_arn(caller.account_id, request.request_id),
                )
            if request.state is not State.ACCEPTED:
                raise exc.invalid_input(
                    f"Delegation request {request.request_id} is {request.state.value}; "
                    "only ACCEPTED requests can be sent."
                )
            self._release(request, now)
        return {}

    def _release(self, request: DelegationRequest, now: datetime) -> None:
        request.enter(State.FINALIZED, now)
        expires_at = now + timedelta(seconds=request.session_duration)
        token = self.vault.issue(
            TokenGrant(
                request_id=request.request_id,
                requestor_account_id=request.requestor_id,
                customer_account_id=str(request.owner_account_id),
                approver_arn=str(request.approver_id),
                session_policy=json.loads(request.permission_policy),
                expires_at=expires_at,
            )
        )
        self.notifier.finalized(
            request.notification_channel, request.notification_fields(), token, expires_at
        )

    def reject(self, caller: Caller, params: dict[str, Any], now: datetime) -> dict[str, Any]:
        """``RejectDelegationRequest``: before the token is sent → REJECTED."""
        self._validate("RejectDelegationRequest", params)
        with self._lock:
            request = self._find(params.get("DelegationRequestId"), now, strict_id=True)
            _refuse_unassigned(request, accept=False)
            self._require_owner_account(request, caller, "iam:RejectDelegationRequest")
            if request.state not in (State.ASSIGNED, State.PENDING_APPROVAL, State.ACCEPTED):
                raise exc.invalid_input(
                    f"Delegation request {request.request_id} is {request.state.value} "
                    "and cannot be rejected."
                )
            request.rejection_reason = params.get("Notes")
            self._transition(request, State.REJECTED, now)
        return {}

    def _require_owner(self, request: DelegationRequest, caller: Caller, action: str) -> None:
        self._require_owner_account(request, caller, action)
        if request.owner_id != caller.arn:
            raise exc.access_denied(
                caller.arn, action, request_arn(caller.account_id, request.request_id)
            )


def _refuse_unassigned(request: DelegationRequest, *, accept: bool) -> None:
    """Customer actions need an associated request; say so in the operation's state error."""
    if request.state is not State.UNASSIGNED:
        return
    message = f"Delegation request {request.request_id} is UNASSIGNED; associate it first."
    raise exc.concurrent_modification(message) if accept else exc.invalid_input(message)


def _entity(arn: str) -> tuple[str, str] | None:
    """(account, request id) of a delegation-request ARN; None for another entity type.

    Anything that is not an IAM-shaped ARN at all is ``InvalidInput``.
    """
    found = ARN_RE.fullmatch(arn)
    if found is None:
        raise exc.invalid_input(f"EntityArn {arn} is not a valid ARN.")
    _partition, service, region, account, resource = found.groups()
    kind, _, request_id = resource.partition("/")
    if service != "iam" or kind != "delegation-request":
        return None
    if region or not is_account_id(account) or not request_id:
        raise exc.invalid_input(
            f"EntityArn {arn} is not a valid delegation request ARN "
            "(arn:aws:iam::<account>:delegation-request/<id>)."
        )
    return account, request_id


def _encode_marker(offset: int) -> str:
    return base64.urlsafe_b64encode(f"offset:{offset}".encode()).decode("ascii")


def _decode_marker(marker: Any) -> int:
    if not marker:
        return 0
    try:
        text = base64.urlsafe_b64decode(str(marker).encode("ascii")).decode("ascii")
        kind, _, value = text.partition(":")
        if kind != "offset":
            raise ValueError(text)
        return max(0, int(value))
    except (ValueError, UnicodeDecodeError) as error:
        raise exc.invalid_input("The Marker is not valid.") from error
