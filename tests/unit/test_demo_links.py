"""Customer demo links: signed, expiring, single use; tampering, reuse and expiry are refused."""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pydantic import SecretStr
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from vell_core.config.settings import load_settings
from vell_core.domain.clock import FrozenClock
from vell_core.domain.errors import (
    AwsThrottled,
    ConfigurationError,
    PermissionDenied,
    ValidationFailed,
)
from vell_core.domain.models import (
    AuditLog,
    DelegationPath,
    DelegationRequest,
    DemoLinkUse,
    StaffRole,
    StaffUser,
)
from vell_core.domain.roles import StaffMember
from vell_core.services.action_limits import ActionLimiter
from vell_core.services.audit import AuditRecorder, flush_all
from vell_core.services.demo_links import (
    DemoLinkService,
    LinkPayload,
    LinkRefused,
    launch_token_for,
    sign_token,
    signing_key,
    verify_token,
)
from vell_core.services.staff import StaffDirectory
from vell_core.store.action_limits import ActionCountStore
from vell_core.store.audit_log import AuditLogStore
from vell_core.store.demo_links import DemoLinkStore
from vell_core.store.engine import session_scope
from vell_core.store.staff import StaffStore

KEY = b"k" * 32
NOW = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)
ACCOUNT = "602341187520"


def _payload(**changes: Any) -> LinkPayload:
    values: dict[str, Any] = {
        "link_id": "a" * 32,
        "company": "Acme Analytics",
        "rep_id": 7,
        "expires_at": NOW + timedelta(hours=1),
    }
    values.update(changes)
    return LinkPayload(**values)


# --- the token codec -------------------------------------------------------------------------


def test_token_round_trips() -> None:
    payload = _payload()
    assert verify_token(sign_token(payload, KEY), KEY, NOW) == payload


def _reencode(token: str, **changes: Any) -> str:
    body, signature = token.split(".")
    raw = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    raw.update(changes)
    forged = base64.urlsafe_b64encode(json.dumps(raw).encode()).rstrip(b"=").decode()
    return f"{forged}.{signature}"


@pytest.mark.parametrize(
    "changes", [{"co": "Globex"}, {"rep": 8}, {"exp": 4_102_444_800}, {"lid": "b" * 32}]
)
def test_changed_payload_is_refused(changes: dict[str, Any]) -> None:
    token = _reencode(sign_token(_payload(), KEY), **changes)
    with pytest.raises(LinkRefused, match="changed or cut short"):
        verify_token(token, KEY, NOW)


@pytest.mark.parametrize(
    "mangle",
    [
        lambda t: t[:-2],  # cut short
        lambda t: t.split(".")[0],  # no signature
        lambda t: t + ".x",  # extra part
        lambda t: t.replace(".", ".!"),  # characters outside base64url
        lambda t: "",
        lambda t: "a" * 5000 + "." + "b",  # absurdly long
    ],
)
def test_malformed_tokens_are_refused(mangle: Any) -> None:
    with pytest.raises(LinkRefused):
        verify_token(mangle(sign_token(_payload(), KEY)), KEY, NOW)


def test_other_key_is_refused() -> None:
    with pytest.raises(LinkRefused):
        verify_token(sign_token(_payload(), KEY), b"z" * 32, NOW)


def test_expired_token_is_refused_with_its_own_message() -> None:
    token = sign_token(_payload(expires_at=NOW + timedelta(minutes=5)), KEY)
    verify_token(token, KEY, NOW + timedelta(minutes=4))
    with pytest.raises(LinkRefused, match="expired"):
        verify_token(token, KEY, NOW + timedelta(minutes=5))


def test_launch_token_is_a_stable_uuid_per_link() -> None:
    assert launch_token_for("a" * 32) == launch_token_for("a" * 32)
    assert launch_token_for("a" * 32) != launch_token_for("b" * 32)


def test_signing_key_sandbox_fallback_and_aws_refusal() -> None:
    sandbox = load_settings()
    assert len(signing_key(sandbox)) == 32
    assert signing_key(load_settings(vell_link_signing_key="x" * 40)) == b"x" * 40
    aws = load_settings(
        vell_aws_mode="aws",
        aws_delegation_sns_topic_arn="arn:aws:sns:us-east-1:253265132499:vell-prod",
        aws_delegation_read_only_template_arn="arn:aws:iam:::delegation-template/vell.ai/ro",
        aws_delegation_full_access_template_arn="arn:aws:iam:::delegation-template/vell.ai/fa",
        aws_delegation_onboarding_template_arn="arn:aws:iam:::delegation-template/vell.ai/ob",
        aws_delegation_permission_boundary_arn="arn:aws:iam::partner:policy/b/B_20251206",
        vell_delegation_queue_url="https://sqs.us-east-1.amazonaws.com/253265132499/vell-prod",
        vell_cfn_template_url="https://vell-prod.s3.amazonaws.com/role.yaml",
    )
    with pytest.raises(ConfigurationError):
        signing_key(aws)
    with pytest.raises(ConfigurationError, match="at least 32"):
        signing_key(aws.model_copy(update={"vell_link_signing_key": SecretStr("short")}))


# --- the service, with a fake delegation service ---------------------------------------------


@dataclass(frozen=True)
class FakeView:
    id: int
    company: str
    aws_account_id: str
    console_deep_link: str | None
    session_duration: int = 14400


class FakeDelegations:
    """Records launches; the real one is exercised by the integration and app tests."""

    def __init__(self, staff: StaffDirectory, engine: Engine) -> None:
        self.staff = staff
        self.engine = engine
        self.launches: list[tuple[StaffMember, Any]] = []
        self.fail_with: Exception | None = None

    def launch(self, member: StaffMember, request: Any) -> FakeView:
        member = self.staff.require(member, "delegation.create")
        if self.fail_with is not None:
            raise self.fail_with
        self.launches.append((member, request))
        with session_scope(self.engine) as session:
            row = DelegationRequest(
                user_id=member.id,
                company=request.company,
                aws_account_id=request.aws_account_id,
                requestor_workflow_id=f"vell-{request.launch_token}",
                type=request.path,
                expires_at=NOW,
                session_duration=14400,
                template_name="read-only",
                template_arn="arn:aws:iam:::delegation-template/x",
                created_at=NOW,
                updated_at=NOW,
            )
            session.add(row)
            session.flush()
            row_id = row.id or 0
        return FakeView(
            id=row_id,
            company=request.company,
            aws_account_id=request.aws_account_id,
            console_deep_link="https://console.aws.amazon.com/iam/home#/delegation/x",
        )


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock(NOW)


@pytest.fixture
def staff(engine: Engine) -> StaffDirectory:
    with session_scope(engine) as session:
        for name, email, role in (
            ("Maya Chen", "maya.chen@vell.ai", StaffRole.SALES),
            ("Rachel Kim", "rachel.kim@vell.ai", StaffRole.LEADERSHIP),
        ):
            session.add(StaffUser(name=name, email=email, role=role, created_at=NOW))
    return StaffDirectory(StaffStore(engine))


@pytest.fixture
def delegations(staff: StaffDirectory, engine: Engine) -> FakeDelegations:
    return FakeDelegations(staff, engine)


@pytest.fixture
def links(
    engine: Engine, clock: FrozenClock, staff: StaffDirectory, delegations: FakeDelegations
) -> DemoLinkService:
    return DemoLinkService(
        settings=load_settings(),
        store=DemoLinkStore(engine),
        clock=clock,
        staff=staff,
        delegations=delegations,  # type: ignore[arg-type]
        rate_limiter=ActionLimiter(clock=clock, store=ActionCountStore(engine)),
        audit=AuditRecorder(AuditLogStore(engine), clock),
        key=KEY,
    )


def _maya(staff: StaffDirectory) -> StaffMember:
    member = staff.by_email("maya.chen@vell.ai")
    assert member is not None
    return member


def test_link_launches_one_read_only_demo_attributed_to_the_rep(
    links: DemoLinkService, staff: StaffDirectory, delegations: FakeDelegations, engine: Engine
) -> None:
    maya = _maya(staff)
    issued = links.create(maya, "Acme Analytics")
    # The sandbox app runs locally: the link points at it, not at the production desk.
    assert issued.url.startswith("http://localhost:8501/demo_request?demo_link=")
    landing = links.inspect(issued.token)
    assert (landing.company, landing.rep_name) == ("Acme Analytics", "Maya Chen")

    outcome = links.redeem(issued.token, f" {ACCOUNT} ")
    assert outcome.console_deep_link
    [(rep, request)] = delegations.launches
    assert rep.id == maya.id
    assert request.path is DelegationPath.DEMO
    assert (request.company, request.aws_account_id) == ("Acme Analytics", ACCOUNT)
    assert request.launch_token == launch_token_for(issued.link_id)
    flush_all()  # audit rows are written by a batching thread
    with Session(engine) as session:
        actions = {row.action for row in session.exec(select(AuditLog)).all()}
    assert {"demo_link.create", "demo_link.redeem"} <= actions


def test_reused_link_is_refused(links: DemoLinkService, staff: StaffDirectory) -> None:
    issued = links.create(_maya(staff), "Acme Analytics")
    links.redeem(issued.token, ACCOUNT)
    with pytest.raises(LinkRefused, match="already been used"):
        links.redeem(issued.token, ACCOUNT)
    with pytest.raises(LinkRefused, match="already been used"):
        links.redeem(issued.token, "418295730164")
    with pytest.raises(LinkRefused, match="already been used"):
        links.inspect(issued.token)


def test_single_use_is_a_unique_constraint(
    links: DemoLinkService, staff: StaffDirectory, engine: Engine
) -> None:
    issued = links.create(_maya(staff), "Acme Analytics")
    links.redeem(issued.token, ACCOUNT)
    with pytest.raises(IntegrityError), session_scope(engine) as session:
        session.add(DemoLinkUse(link_id=issued.link_id, aws_account_id=ACCOUNT, used_at=NOW))


def test_expired_link_is_refused(
    links: DemoLinkService, staff: StaffDirectory, clock: FrozenClock
) -> None:
    issued = links.create(_maya(staff), "Acme Analytics", timedelta(hours=1))
    clock.advance(timedelta(hours=1, seconds=1))
    with pytest.raises(LinkRefused, match="expired"):
        links.inspect(issued.token)
    with pytest.raises(LinkRefused, match="expired"):
        links.redeem(issued.token, ACCOUNT)


def test_tampered_link_is_refused(links: DemoLinkService, staff: StaffDirectory) -> None:
    issued = links.create(_maya(staff), "Acme Analytics")
    forged = _reencode(issued.token, co="Globex Data Platform")
    with pytest.raises(LinkRefused):
        links.redeem(forged, ACCOUNT)


def test_validly_signed_but_never_issued_link_is_refused(links: DemoLinkService) -> None:
    token = sign_token(_payload(rep_id=1), KEY)
    with pytest.raises(LinkRefused):
        links.inspect(token)


def test_revoked_link_is_refused(links: DemoLinkService, staff: StaffDirectory) -> None:
    maya = _maya(staff)
    issued = links.create(maya, "Acme Analytics")
    links.revoke(maya, issued.link_id)
    with pytest.raises(LinkRefused):
        links.redeem(issued.token, ACCOUNT)
    assert [s.status for s in links.list_mine(maya)] == ["revoked"]


def test_only_reps_may_create_links(links: DemoLinkService, staff: StaffDirectory) -> None:
    rachel = staff.by_email("rachel.kim@vell.ai")
    with pytest.raises(PermissionDenied):
        links.create(rachel, "Acme Analytics")  # type: ignore[arg-type]
    with pytest.raises(ValidationFailed):
        links.create(_maya(staff), "Acme", timedelta(days=30))


def test_deactivated_rep_link_is_refused_and_stays_used(
    links: DemoLinkService, staff: StaffDirectory, engine: Engine
) -> None:
    maya = _maya(staff)
    issued = links.create(maya, "Acme Analytics")
    with session_scope(engine) as session:
        row = session.get(StaffUser, maya.id)
        assert row is not None
        row.active = False
        session.add(row)
    with pytest.raises(LinkRefused):
        links.redeem(issued.token, ACCOUNT)


def test_failed_launch_can_be_retried_for_the_same_account_only(
    links: DemoLinkService, staff: StaffDirectory, delegations: FakeDelegations
) -> None:
    issued = links.create(_maya(staff), "Acme Analytics")
    delegations.fail_with = AwsThrottled()
    with pytest.raises(AwsThrottled):
        links.redeem(issued.token, ACCOUNT)
    delegations.fail_with = None
    with pytest.raises(LinkRefused, match="already been used"):
        links.redeem(issued.token, "418295730164")
    links.redeem(issued.token, ACCOUNT)
    assert len(delegations.launches) == 1
