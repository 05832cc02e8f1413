"""Hybrid promotion end to end in the sandbox, and resumption after a failure at every step.

Only what the promotion needs is built (no full service graph): a sandbox on a free port, a
migrated temp SQLite store with three staff members, and the services on a partner
``ClientFactory``. The customer acts with plain boto3 as its sandbox personas; the exchange
token is captured from the sandbox's notifier in-process, so no other test's worker can take it
off the shared queue.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from sqlmodel import select

from vell_core.app import Services, build_services
from vell_core.aws.clients import ClientFactory
from vell_core.aws.vault import CredentialVault, DelegatedCredentials
from vell_core.config.settings import Settings, load_settings
from vell_core.domain.errors import AwsError
from vell_core.domain.iam_actions import CONNECTOR_POLICY_NAME, TAG_MANAGED_BY
from vell_core.domain.models import (
    AuditLog,
    AwsDelegationState,
    CloudConnection,
    ConnectionStatus,
    ConnectionVia,
    DelegationPath,
    DelegationRequest,
    DelegationStatus,
    ExchangeState,
    FunnelEvent,
    FunnelStep,
    PromotionStatus,
    StaffRole,
    StaffUser,
)
from vell_core.domain.roles import StaffMember
from vell_core.sandbox.runtime import LocalSandbox, ensure_sandbox
from vell_core.services.audit import flush_all
from vell_core.services.delegation import DelegationService, LaunchRequest, new_launch_token
from vell_core.services.promotion import Step, StepState, is_connector_role_name
from vell_core.services.staff import StaffDirectory
from vell_core.store import migrate
from vell_core.store.engine import make_engine, session_scope

STAFF = (
    ("Lena Fischer", "lena.fischer@vell.ai", StaffRole.CS),
    ("Sam Patel", "sam.patel@vell.ai", StaffRole.ADMIN),
    ("Maya Chen", "maya.chen@vell.ai", StaffRole.SALES),
)
_accounts = itertools.count(1)


@dataclass
class Harness:
    """The pieces a promotion test touches."""

    settings: Settings
    sandbox: LocalSandbox
    engine: Any
    aws: ClientFactory
    staff: StaffDirectory
    vault: CredentialVault
    delegations: DelegationService
    prod: Services  # the promotion, connections, trials desk and CloudFormation services
    account: str
    tokens: dict[str, str]

    def member(self, email: str = "lena.fischer@vell.ai") -> StaffMember:
        """A seeded staff member."""
        found = self.staff.by_email(email)
        assert found is not None
        return found

    def customer(self, service: str, persona: str = "owner") -> Any:
        """A plain boto3 client acting as a customer persona."""
        creds = self.sandbox.persona_credentials(self.account, persona)
        return boto3.client(
            service,
            endpoint_url=self.sandbox.endpoint,
            region_name="us-east-1",
            aws_access_key_id=creds["AccessKeyId"],
            aws_secret_access_key=creds["SecretAccessKey"],
        )

    def partner(self, service: str) -> Any:
        """A client as Vell's partner account."""
        return self.aws.client(service)

    def launch(self, path: DelegationPath, company: str = "Acme Analytics") -> int:
        """Launch a request as the CS member."""
        request = LaunchRequest(
            company=company,
            aws_account_id=self.account,
            path=path,
            launch_token=new_launch_token(),
            wizard_session_id=f"wiz-{path.value}-{self.account}",
        )
        return self.delegations.launch(self.member(), request).id

    def approve(self, delegation_id: int) -> None:
        """The customer associates, accepts and sends; Vell exchanges the token."""
        row = self.row(delegation_id)
        request_id = row.delegation_request_id
        self.customer("iam", "owner").associate_delegation_request(DelegationRequestId=request_id)
        self.customer("iam", "admin").accept_delegation_request(DelegationRequestId=request_id)
        self.customer("iam", "owner").send_delegation_token(DelegationRequestId=request_id)
        answer = self.partner("sts").get_delegated_access_token(
            TradeInToken=self.tokens[request_id]
        )
        creds = answer["Credentials"]
        expires = creds["Expiration"].astimezone(UTC)
        self.vault.put(
            delegation_id,
            DelegatedCredentials(
                creds["AccessKeyId"],
                creds["SecretAccessKey"],
                creds["SessionToken"],
                expires,
                answer["AssumedPrincipal"],
            ),
        )
        self._mark_finalized(delegation_id, expires)

    def _mark_finalized(self, delegation_id: int, expires: datetime) -> None:
        """What the notification processor records after the exchange."""
        with session_scope(self.engine) as session:
            row = session.get(DelegationRequest, delegation_id)
            assert row is not None
            row.aws_state = AwsDelegationState.FINALIZED
            row.aws_state_expires_at = expires + timedelta(days=7)
            row.status = DelegationStatus.APPROVED
            row.exchange_state = ExchangeState.DONE
            row.credentials_expire_at = expires
            session.add(row)

    def row(self, delegation_id: int) -> DelegationRequest:
        """The delegation row."""
        with session_scope(self.engine) as session:
            found = session.get(DelegationRequest, delegation_id)
            assert found is not None
            return found

    def vell_roles(self) -> list[dict[str, Any]]:
        """Roles under Vell's path in the customer account, as the customer sees them."""
        roles = self.customer("iam").list_roles(PathPrefix="/vell.ai/")["Roles"]
        return [r for r in roles if r["Path"] == "/vell.ai/"]

    def connections(self) -> list[CloudConnection]:
        """Connection rows of the test account."""
        with session_scope(self.engine) as session:
            return list(
                session.exec(
                    select(CloudConnection).where(CloudConnection.aws_account_id == self.account)
                ).all()
            )


@pytest.fixture(scope="module")
def sandbox() -> Iterator[LocalSandbox]:
    """One sandbox for the module (tests use distinct customer accounts)."""
    running = ensure_sandbox(load_settings(vell_sandbox_port=0))
    assert isinstance(running, LocalSandbox)
    yield running
    running.stop()


@pytest.fixture
def harness(
    sandbox: LocalSandbox, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Harness]:
    """Services on a fresh store, a fresh customer account, and token capture."""
    url = f"sqlite:///{tmp_path / 'promotion.db'}"
    migrate.upgrade(url)
    settings = load_settings(vell_database_url=url, vell_sandbox_port=0)
    engine = make_engine(url)
    _seed_staff(engine)
    tokens = _capture_tokens(sandbox, monkeypatch)
    harness, services = _build(settings, sandbox, engine, tokens)
    yield harness
    services.close()


def _build(
    settings: Settings, sandbox: LocalSandbox, engine: Any, tokens: dict[str, str]
) -> tuple[Harness, Services]:
    """The app's own graph (the composition root) on this store and the module's sandbox."""
    services = build_services(settings, engine=engine, start_background=False, sandbox=sandbox)
    account = f"5550000{next(_accounts):05d}"
    harness = Harness(
        settings,
        sandbox,
        engine,
        services.aws,
        services.staff,
        services.vault,
        services.delegations,
        services,
        account,
        tokens,
    )
    return harness, services


def _seed_staff(engine: Any) -> None:
    now = datetime.now(UTC)
    with session_scope(engine) as session:
        for name, email, role in STAFF:
            session.add(StaffUser(name=name, email=email, role=role, created_at=now))


def _capture_tokens(sandbox: LocalSandbox, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """Record each exchange token as IAM publishes it (RequestId → token)."""
    tokens: dict[str, str] = {}
    notifier = sandbox.state.notifier
    original = notifier.finalized

    def capture(topic_arn: str, fields: dict[str, Any], token: str, *args: Any, **kw: Any) -> Any:
        tokens[str(fields["RequestId"])] = token
        return original(topic_arn, fields, token, *args, **kw)

    monkeypatch.setattr(notifier, "finalized", capture)
    return tokens


def onboarding_ready(h: Harness) -> int:
    """An approved onboarding request with live delegated credentials."""
    delegation_id = h.launch(DelegationPath.ONBOARDING)
    h.approve(delegation_id)
    return delegation_id


# -- End to end ---------------------------------------------------------------------------------


def test_onboarding_promotion_creates_a_bounded_role_and_a_connection(harness: Harness) -> None:
    h = harness
    delegation_id = onboarding_ready(h)
    seen: list[tuple[Step, StepState]] = []
    view = h.prod.promotion.run(h.member(), delegation_id, lambda o: seen.append((o.step, o.state)))

    assert view.status is PromotionStatus.DONE, view.last_error
    assert [s for s, _ in seen] == list(Step)
    assert all(state is StepState.DONE for _, state in seen)
    assert is_connector_role_name(str(view.role_name))

    roles = h.vell_roles()
    assert len(roles) == 1
    role = h.customer("iam").get_role(RoleName=view.role_name)["Role"]
    assert role["Arn"] == view.role_arn
    assert role["Arn"] == f"arn:aws:iam::{h.account}:role/vell.ai/{view.role_name}"
    assert role["PermissionsBoundary"]["PermissionsBoundaryArn"] == (
        h.settings.aws_delegation_permission_boundary_arn
    )
    trust = role["AssumeRolePolicyDocument"]
    statement = trust["Statement"][0]
    assert statement["Principal"] == {"AWS": "arn:aws:iam::253265132499:root"}
    assert statement["Condition"] == {"StringEquals": {"sts:ExternalId": view.external_id}}
    policy = h.customer("iam").get_role_policy(
        RoleName=view.role_name, PolicyName=CONNECTOR_POLICY_NAME
    )
    assert policy["PolicyDocument"]["Statement"]
    tags = {
        t["Key"]: t["Value"]
        for t in h.customer("iam").list_role_tags(RoleName=view.role_name)["Tags"]
    }
    assert tags[TAG_MANAGED_BY] == "vell.ai"

    connection = h.connections()[0]
    assert connection.status is ConnectionStatus.ACTIVE
    assert connection.created_via is ConnectionVia.DELEGATION
    assert connection.external_id == view.external_id
    assert connection.external_id.startswith("vell-")
    assert len(connection.external_id) == 37
    row = h.row(delegation_id)
    assert row.status is DelegationStatus.CONVERTED
    assert row.persistent_role_arn == view.role_arn
    assert row.cloud_connection_id == connection.id
    flush_all()  # audit rows are written by a batching thread
    with session_scope(h.engine) as session:
        steps = session.exec(
            select(FunnelEvent.step).where(FunnelEvent.delegation_id == delegation_id)
        ).all()
        actions = set(
            session.exec(
                select(AuditLog.action).where(AuditLog.customer_account_id == h.account)
            ).all()
        )
    assert FunnelStep.PRODUCTION in steps
    assert {
        "iam.CreateRole",
        "iam.PutRolePolicy",
        "iam.TagRole",
        "iam.GetRole",
        "sts.AssumeRole",
        "promotion.started",
        "promotion.completed",
        "connection.validate",
    } <= actions


def test_the_sandbox_enforces_trust_external_id_and_boundary(harness: Harness) -> None:
    h = harness
    view = h.prod.promotion.run(h.member(), onboarding_ready(h))
    assert view.done, view.last_error
    sts = h.partner("sts")
    for wrong in ({"ExternalId": "vell-" + "0" * 32}, {}):
        with pytest.raises(ClientError) as error:
            sts.assume_role(RoleArn=view.role_arn, RoleSessionName="test", **wrong)
        assert error.value.response["Error"]["Code"] == "AccessDenied"
    creds = sts.assume_role(
        RoleArn=view.role_arn, RoleSessionName="test", ExternalId=view.external_id
    )["Credentials"]
    role_iam = boto3.client(
        "iam",
        endpoint_url=h.sandbox.endpoint,
        region_name="us-east-1",
        aws_access_key_id=creds["AccessKeyId"],
        aws_secret_access_key=creds["SecretAccessKey"],
        aws_session_token=creds["SessionToken"],
    )
    with pytest.raises(ClientError) as error:  # a write outside the boundary
        role_iam.create_user(UserName="intruder")
    assert error.value.response["Error"]["Code"] == "AccessDenied"
    with pytest.raises(ClientError):
        role_iam.put_role_permissions_boundary(
            RoleName=view.role_name,
            PermissionsBoundary="arn:aws:iam::aws:policy/AdministratorAccess",
        )


def test_listings_are_read_through_the_permanent_role(harness: Harness) -> None:
    h = harness
    view = h.prod.promotion.run(h.member(), onboarding_ready(h))
    probe_step = next(s for s in view.steps if s.step is Step.PROBE)
    results = {row["action"]: row["result"] for row in probe_step.rows}
    assert set(results) >= {"aws-marketplace:ListEntities", "aws-marketplace:SearchAgreements"}
    # Never denied; "unavailable" only while the sandbox has no Marketplace backend.
    assert set(results.values()) <= {"ok", "unavailable"}
    report = h.prod.connections.validate(h.member(), view.connection_id)
    assert report.ok
    assert report.probe is not None
    assert not report.probe.denied


def test_a_trial_is_promoted_through_an_onboarding_request(harness: Harness) -> None:
    h = harness
    trial_id = h.launch(DelegationPath.TRIAL)
    h.approve(trial_id)
    waiting = h.prod.promotion.run(h.member(), trial_id)
    assert waiting.status is PromotionStatus.WAITING
    assert waiting.work_delegation_id not in (None, trial_id)
    assert waiting.waiting_link
    assert waiting.waiting_link.endswith(
        str(h.row(waiting.work_delegation_id).delegation_request_id)
    )
    assert h.row(waiting.work_delegation_id).type is DelegationPath.ONBOARDING
    assert h.vell_roles() == []
    again = h.prod.promotion.run(h.member(), trial_id)  # still waiting: no second request
    assert again.work_delegation_id == waiting.work_delegation_id

    h.approve(waiting.work_delegation_id)
    done = h.prod.promotion.run(h.member(), trial_id)
    assert done.done, done.last_error
    assert len(h.vell_roles()) == 1
    assert h.row(trial_id).status is DelegationStatus.CONVERTED
    assert h.row(waiting.work_delegation_id).status is DelegationStatus.CONVERTED


def test_sales_cannot_promote(harness: Harness) -> None:
    from vell_core.domain.errors import PermissionDenied

    h = harness
    delegation_id = onboarding_ready(h)
    with pytest.raises(PermissionDenied):
        h.prod.promotion.run(h.member("maya.chen@vell.ai"), delegation_id)


# -- Resumption ---------------------------------------------------------------------------------


@pytest.mark.parametrize("step", list(Step))
@pytest.mark.parametrize("after_aws", [False, True], ids=["before", "after"])
def test_a_failure_at_any_step_resumes_without_a_second_role(
    harness: Harness, monkeypatch: pytest.MonkeyPatch, step: Step, after_aws: bool
) -> None:
    h = harness
    delegation_id = onboarding_ready(h)
    service = h.prod.promotion
    method = step.value  # PromotionSteps names each step's method by its value
    original = getattr(service.steps, method)
    calls = {"n": 0}

    def fail_once(ctx: Any) -> str:
        calls["n"] += 1
        if calls["n"] == 1:
            if after_aws:  # the step's AWS call went through, then we crashed
                original(ctx)
            raise AwsError("injected failure", code="Injected")
        return str(original(ctx))

    monkeypatch.setattr(service.steps, method, fail_once)
    failed = service.run(h.member(), delegation_id)
    assert failed.status is PromotionStatus.FAILED
    outcome = next(s for s in failed.steps if s.step is step)
    assert outcome.state is StepState.FAILED
    assert "injected" in outcome.detail
    assert failed.last_error

    finished = service.run(h.member(), delegation_id)
    assert finished.done, finished.last_error
    assert finished.role_name == failed.role_name or failed.role_name is None
    assert len(h.vell_roles()) == 1
    connections = h.connections()
    assert len(connections) == 1
    assert connections[0].status is ConnectionStatus.ACTIVE
    assert connections[0].role_arn == finished.role_arn


def test_a_recorded_role_name_is_never_replaced(
    harness: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    h = harness
    delegation_id = onboarding_ready(h)
    service = h.prod.promotion
    monkeypatch.setattr(service.steps, "put_policy", _raise)
    first = service.run(h.member(), delegation_id)
    monkeypatch.undo()
    _capture_tokens(h.sandbox, monkeypatch)  # undo() dropped the capture; keep it for safety
    second = service.run(h.member(), delegation_id)
    assert second.done
    assert first.role_name == second.role_name
    assert [r["RoleName"] for r in h.vell_roles()] == [first.role_name]


def _raise(ctx: Any) -> str:
    raise AwsError("injected failure", code="Injected")


def test_trust_policy_matches_the_policy_file(harness: Harness) -> None:
    from vell_core.services.connection_identity import render_trust_policy

    rendered = json.loads(render_trust_policy("vell-abc", "253265132499"))
    assert rendered["Statement"][0]["Condition"]["StringEquals"]["sts:ExternalId"] == "vell-abc"
    assert "*" not in json.dumps(rendered["Statement"][0]["Principal"])
