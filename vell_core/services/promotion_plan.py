"""The promotion's plan and policy, without I/O: its steps, which remain, and what they build.

Everything here is a pure function of a run's recorded steps, the settings and what IAM
answered, so the rules (which steps a resumed run repeats, what the role must look like, what
a page shows) are read in one place and tested without AWS or a database.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any
from urllib.parse import unquote

from vell_core.config.settings import Settings
from vell_core.domain.errors import VellError
from vell_core.domain.iam_actions import (
    CONNECTOR_ROLE_NAME_PREFIX,
    CONNECTOR_ROLE_PATH,
    TAG_CONNECTION_ID,
    TAG_MANAGED_BY,
    TAG_MANAGED_BY_VALUE,
)
from vell_core.domain.models import AwsDelegationState, ExchangeState, PromotionRun, PromotionStatus
from vell_core.services.delegation import DelegationView

log = logging.getLogger(__name__)

ROLE_DESCRIPTION = (
    "Vell AWS Marketplace connector (read-only), created with your approved delegation."
)
ENDED_STATES = (AwsDelegationState.EXPIRED, AwsDelegationState.REJECTED)
Steps = dict[str, Any]  # the run's ``steps`` column: step value -> recorded entry


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


def notify(progress: Progress | None, outcome: StepOutcome) -> None:
    """Tell the caller (the page's status box) how a step stands, if it listens."""
    if progress is not None:
        progress(outcome)


# -- which steps remain -----------------------------------------------------------------------


def _done(steps: Steps | None, step: Step) -> bool:
    return bool((steps or {}).get(step.value, {}).get("state") == StepState.DONE)


def remaining(steps: Steps | None) -> tuple[Step, ...]:
    """The steps an attempt runs, in order: those not done yet.

    Delegated access is needed (and re-checked) only while a delegated step remains. A step's
    state changes only when it runs, so the plan made at the start holds for the attempt.
    """
    delegated_done = all(_done(steps, s) for s in DELEGATED_STEPS)

    def skipped(step: Step) -> bool:
        return delegated_done if step is Step.ONBOARDING_ACCESS else _done(steps, step)

    return tuple(step for step in Step if not skipped(step))


def following(plan: tuple[Step, ...], step: Step) -> Step | None:
    """The step the plan runs after ``step`` (None after the last)."""
    position = plan.index(step) + 1
    return plan[position] if position < len(plan) else None


def with_entry(
    steps: Steps | None, step: Step, state: StepState, detail: str, at: datetime, rows: Any
) -> Steps:
    """``steps`` with ``step``'s outcome recorded (a new dict; the probe keeps its rows)."""
    entry: dict[str, Any] = {"state": state.value, "detail": detail[:500], "at": at.isoformat()}
    if rows is not None:
        entry["rows"] = rows
    return {**(steps or {}), step.value: entry}


# -- what a page shows ------------------------------------------------------------------------


def outcome(steps: Steps | None, step: Step) -> StepOutcome:
    """One step's recorded outcome (pending when it never ran)."""
    entry = (steps or {}).get(step.value, {})
    at = entry.get("at")
    return StepOutcome(
        step=step,
        label=STEP_LABELS[step],
        state=StepState(entry.get("state", StepState.PENDING.value)),
        detail=str(entry.get("detail", "")),
        at=datetime.fromisoformat(at) if at else None,
        rows=tuple(entry.get("rows", ())),
    )


def view_of(row: PromotionRun, external_id: str, waiting_link: str | None) -> PromotionView:
    """The run as pages show it."""
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
        external_id=external_id,
        steps=tuple(outcome(row.steps, step) for step in Step),
        last_error=row.last_error,
        waiting_link=waiting_link,
        created_at=row.created_at,
        finished_at=row.finished_at,
    )


# -- the onboarding request doing the work ----------------------------------------------------


def access_ended(view: DelegationView, now: datetime) -> bool:
    """Whether a delegation's access is over for good (it can do no more for the promotion)."""
    if view.credentials_live(now):
        return False
    # Rejected or expired, or exchanged and since run out: this request can do no more.
    return view.aws_state in ENDED_STATES or view.exchange_state is ExchangeState.DONE


# -- the role Vell creates --------------------------------------------------------------------


def create_role_request(settings: Settings, name: str, trust_policy: str) -> dict[str, Any]:
    """The ``CreateRole`` arguments: our path, the registered boundary, our trust policy."""
    if settings.vell_role_path != CONNECTOR_ROLE_PATH:
        log.warning("vell_role_path differs from the path the onboarding template allows")
    return {
        "RoleName": name,
        "Path": settings.vell_role_path,
        "AssumeRolePolicyDocument": trust_policy,
        "PermissionsBoundary": str(settings.aws_delegation_permission_boundary_arn),
        "Description": ROLE_DESCRIPTION,
        "MaxSessionDuration": 3600,
    }


def connector_tags(connection_id: int) -> list[dict[str, str]]:
    """The tags that mark the role as Vell's, for this connection."""
    return [
        {"Key": TAG_MANAGED_BY, "Value": TAG_MANAGED_BY_VALUE},
        {"Key": TAG_CONNECTION_ID, "Value": str(connection_id)},
    ]


def role_differences(settings: Settings, role: dict[str, Any], trust_policy: str) -> list[str]:
    """What differs between ``role`` as IAM returned it and the role Vell creates."""
    boundary = (role.get("PermissionsBoundary") or {}).get("PermissionsBoundaryArn")
    trust = role.get("AssumeRolePolicyDocument")
    if isinstance(trust, str):  # IAM returns it URL-encoded; boto3 usually decodes it
        trust = json.loads(unquote(trust))
    problems = []
    if role.get("Path") != settings.vell_role_path:
        problems.append("path")
    if boundary != settings.aws_delegation_permission_boundary_arn:
        problems.append("permission boundary")
    if trust != json.loads(trust_policy):
        problems.append("trust policy")
    return problems


def is_connector_role_name(name: str) -> bool:
    """Whether ``name`` has the shape promotion gives roles (prefix + 16 hex, ≤ 64)."""
    suffix = name.removeprefix(CONNECTOR_ROLE_NAME_PREFIX)
    return (
        name.startswith(CONNECTOR_ROLE_NAME_PREFIX)
        and len(name) <= 64
        and len(suffix) == 16
        and all(c in "0123456789abcdef" for c in suffix)
    )
