"""Sandbox customer console: act as the customer's owner, admin or root user.

This is what a customer does in the IAM console (open the link, forward to an admin, allow,
share access, deny), performed through plain boto3 IAM calls with the persona's credentials
against the sandbox. It exists only in sandbox mode; on real AWS the customer uses AWS's console.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from botocore import xform_name

from vell_core.aws.clients import ClientFactory, StaticCredentials, aws_errors
from vell_core.domain.errors import PermissionDenied, ValidationFailed
from vell_core.domain.lifecycle import is_waiting
from vell_core.domain.roles import StaffMember
from vell_core.domain.validation import NOTES_MAX, delegation_request_id, iam_text
from vell_core.services.delegation import DelegationFilter, DelegationService, DelegationView
from vell_core.services.staff import StaffDirectory


class Persona(StrEnum):
    """Who in the customer's account is acting."""

    OWNER = "owner"
    ADMIN = "admin"
    ROOT = "root"


class ConsoleAction(StrEnum):
    """What the customer can do with a request."""

    ASSOCIATE = "associate"
    FORWARD = "forward"
    ACCEPT = "accept"
    SEND = "send"
    APPROVE = "approve"  # the console's "Allow access": accept, then share (send)
    REJECT = "reject"


@dataclass(frozen=True)
class CustomerRequestView:
    """The request as the customer's console shows it."""

    request_id: str
    state: str
    requestor_name: str
    requestor_account: str
    description: str
    request_message: str
    permission_policy: str
    session_duration: int
    expiration_time: datetime | None
    owner_id: str | None
    approver_id: str | None
    notes: str | None
    rejection_reason: str | None
    boundary_arns: tuple[str, ...]

    @property
    def policy_pretty(self) -> str:
        """The rendered policy, indented."""
        try:
            return json.dumps(json.loads(self.permission_policy), indent=2)
        except ValueError:
            return self.permission_policy


class CustomerConsoleService:
    """Customer-side IAM calls with sandbox persona credentials."""

    def __init__(
        self,
        *,
        sandbox: Any,
        aws: ClientFactory,
        staff: StaffDirectory,
        delegations: DelegationService,
    ) -> None:
        self._sandbox = sandbox
        self._aws = aws
        self._staff = staff
        self._delegations = delegations

    def view(
        self, member: StaffMember, account_id: str, request_id: str, persona: Persona
    ) -> CustomerRequestView:
        """What the customer sees on the review page."""
        self._staff.require(member, "sandbox.customer_console")
        iam = self._iam(account_id, persona)
        with aws_errors("iam.GetDelegationRequest"):
            response = iam.get_delegation_request(
                DelegationRequestId=delegation_request_id(request_id)
            )
        return _view(response["DelegationRequest"])

    def act(
        self,
        member: StaffMember,
        account_id: str,
        request_id: str,
        persona: Persona,
        action: ConsoleAction,
        notes: str = "",
    ) -> CustomerRequestView:
        """Perform ``action`` as ``persona``; return the request afterwards."""
        self._staff.require(member, "sandbox.customer_console")
        request_id = delegation_request_id(request_id)
        iam = self._iam(account_id, persona)
        for operation, kwargs in _calls(action, request_id, notes):
            with aws_errors(f"iam.{operation}"):
                getattr(iam, xform_name(operation))(**kwargs)
        return self.view(member, account_id, request_id, Persona.OWNER)

    def waiting_requests(self, member: StaffMember) -> list[DelegationView]:
        """Requests still waiting for the customer that this sandbox knows about.

        Rows older than the running sandbox (seeded history, or requests from an earlier run)
        never existed in it, so the customer could not open them.
        """
        self._staff.require(member, "sandbox.customer_console")
        since = getattr(self._sandbox, "started_at", None)
        return [
            view
            for view in self._delegations.list(member, DelegationFilter(limit=200))
            if is_waiting(view.aws_state)
            and view.delegation_request_id
            and (since is None or view.created_at >= since)
        ]

    def advance_time(self, member: StaffMember, seconds: int) -> datetime:
        """Move sandbox time forward (AWS timers fire as they would); return the new now."""
        self._staff.require(member, "sandbox.customer_console")
        if self._sandbox is None:
            raise PermissionDenied("Time travel exists only in the sandbox.")
        if not 0 < seconds <= 30 * 86400:
            raise ValidationFailed(fields={"Advance": "between 1 second and 30 days"})
        return self._sandbox.advance(seconds)

    def _iam(self, account_id: str, persona: Persona) -> Any:
        if self._sandbox is None:
            raise PermissionDenied("The customer console exists only in the sandbox.")
        creds = self._sandbox.persona_credentials(account_id, persona.value)
        factory = self._aws.with_credentials(
            StaticCredentials(creds["AccessKeyId"], creds["SecretAccessKey"])
        )
        return factory.client("iam")


def _calls(action: ConsoleAction, request_id: str, notes: str) -> list[tuple[str, dict[str, Any]]]:
    ident = {"DelegationRequestId": request_id}
    if action is ConsoleAction.ASSOCIATE:
        return [("AssociateDelegationRequest", ident)]
    if action is ConsoleAction.FORWARD:
        return [("UpdateDelegationRequest", {**ident, "Notes": _notes(notes, required=True)})]
    if action is ConsoleAction.ACCEPT:
        return [("AcceptDelegationRequest", ident)]
    if action is ConsoleAction.SEND:
        return [("SendDelegationToken", ident)]
    if action is ConsoleAction.APPROVE:
        return [("AcceptDelegationRequest", ident), ("SendDelegationToken", ident)]
    return [("RejectDelegationRequest", {**ident, "Notes": _notes(notes, required=False)})]


def _notes(notes: str, *, required: bool) -> str:
    notes = notes.strip()
    if required and not notes:
        raise ValidationFailed(fields={"Note": "tell the admin why this access is needed"})
    return iam_text("Note", notes, NOTES_MAX)


def _view(raw: dict[str, Any]) -> CustomerRequestView:
    return CustomerRequestView(
        request_id=raw.get("DelegationRequestId", ""),
        state=raw.get("State", ""),
        requestor_name=raw.get("RequestorName", ""),
        requestor_account=raw.get("RequestorId", ""),
        description=raw.get("Description", ""),
        request_message=raw.get("RequestMessage", ""),
        permission_policy=raw.get("PermissionPolicy", ""),
        session_duration=int(raw.get("SessionDuration", 0)),
        expiration_time=raw.get("ExpirationTime"),
        owner_id=raw.get("OwnerId"),
        approver_id=raw.get("ApproverId"),
        notes=raw.get("Notes"),
        rejection_reason=raw.get("RejectionReason"),
        boundary_arns=tuple(raw.get("RolePermissionRestrictionArns", []) or []),
    )
