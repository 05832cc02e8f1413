"""Role × action matrix on the services (security checklist T2): page hiding is not authorisation.

Every ``ACTION_ROLES`` entry is checked for every role through ``StaffDirectory.require``; then
each service that guards an action is called directly as each role. Forbidden calls must raise
before any AWS call or database write, a rep never reaches another rep's demo, and a revoked or
changed role takes effect on the very next action because the role is re-read from the store.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from vell_core.config.settings import load_settings
from vell_core.domain.clock import FrozenClock
from vell_core.domain.errors import NotFound, PermissionDenied, RateLimited
from vell_core.domain.models import DelegationPath, DelegationRequest, StaffRole, StaffUser
from vell_core.domain.roles import ACTION_ROLES, StaffMember
from vell_core.services.action_limits import ActionLimiter, Limit
from vell_core.services.audit import AuditRecorder
from vell_core.services.audit_query import AuditFilter, AuditQuery
from vell_core.services.aws_health import AwsHealthService
from vell_core.services.customer_access import CustomerAccess
from vell_core.services.delegation import DelegationFilter, DelegationService, LaunchRequest
from vell_core.services.demo_links import DemoLinkService, LinkRefused
from vell_core.services.partner_onboarding import PartnerOnboardingService
from vell_core.services.staff import StaffDirectory
from vell_core.store.action_limits import ActionCountStore
from vell_core.store.audit_log import AuditLogStore
from vell_core.store.delegations import DelegationStore
from vell_core.store.demo_links import DemoLinkStore
from vell_core.store.engine import session_scope
from vell_core.store.funnel import FunnelRecorder
from vell_core.store.health import HealthStore
from vell_core.store.onboarding import OnboardingStore
from vell_core.store.staff import StaffStore

NOW = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)
ACCOUNT = "602341187520"
STAFF = {
    StaffRole.SALES: ("Maya Chen", "maya.chen@vell.ai"),
    StaffRole.CS: ("Lena Fischer", "lena.fischer@vell.ai"),
    StaffRole.LEADERSHIP: ("Rachel Kim", "rachel.kim@vell.ai"),
    StaffRole.ADMIN: ("Sam Patel", "sam.patel@vell.ai"),
}
OTHER_REP = ("Diego Alvarez", "diego.alvarez@vell.ai")


class FakeAws:
    """A partner client factory that records every AWS call (none may happen when refused)."""

    endpoint_url = None

    def __init__(self) -> None:
        self.calls: list[str] = []

    def client(self, service: str, region: str | None = None) -> Any:
        return _Recorder(service, self.calls)

    def with_credentials(self, *args: Any, **kwargs: Any) -> FakeAws:
        return self


class _Recorder:
    def __init__(self, service: str, calls: list[str]) -> None:
        self._service = service
        self._calls = calls

    def __getattr__(self, operation: str) -> Any:
        def call(**kwargs: Any) -> dict[str, Any]:
            self._calls.append(f"{self._service}.{operation}")
            if operation == "create_delegation_request":
                return {
                    "DelegationRequestId": f"dr-{uuid.uuid4().hex}",
                    "ConsoleDeepLink": "https://console.aws.amazon.com/iam/delegation",
                }
            return {"Attributes": {}}

        return call


class NoVault:
    """CustomerAccess must refuse before it ever looks at credentials."""

    def get(self, delegation_id: int) -> Any:
        raise AssertionError("credentials were read for a refused caller")


@pytest.fixture
def world(engine: Engine) -> dict[str, Any]:
    """Staff of every role, a second rep, and the services under test on one store."""
    with session_scope(engine) as session:
        for role, (name, email) in STAFF.items():
            session.add(StaffUser(name=name, email=email, role=role, created_at=NOW))
        session.add(
            StaffUser(name=OTHER_REP[0], email=OTHER_REP[1], role=StaffRole.SALES, created_at=NOW)
        )
    clock = FrozenClock(NOW)
    settings = load_settings()
    staff = StaffDirectory(StaffStore(engine))
    aws = FakeAws()
    audit = AuditRecorder(AuditLogStore(engine), clock)
    limiter = ActionLimiter(clock=clock, store=ActionCountStore(engine))
    funnel = FunnelRecorder(engine, clock)
    delegations = DelegationService(
        settings=settings,
        store=DelegationStore(engine, funnel),
        clock=clock,
        aws=aws,  # type: ignore[arg-type]
        staff=staff,
        funnel=funnel,
        rate_limiter=limiter,
    )
    members = {role: staff.by_email(email) for role, (_, email) in STAFF.items()}
    return {
        "engine": engine,
        "clock": clock,
        "staff": staff,
        "aws": aws,
        "members": members,
        "other_rep": staff.by_email(OTHER_REP[1]),
        "delegations": delegations,
        "access": CustomerAccess(
            delegations=delegations,
            vault=NoVault(),  # type: ignore[arg-type]
            aws=aws,  # type: ignore[arg-type]
            audit=audit,
            clock=clock,
        ),
        "admin": AwsHealthService(
            settings=settings,
            store=HealthStore(engine),
            clock=clock,
            aws=aws,  # type: ignore[arg-type]
            staff=staff,
        ),
        "onboarding": PartnerOnboardingService(
            settings=settings, store=OnboardingStore(engine), clock=clock, staff=staff
        ),
        "audit_query": AuditQuery(store=AuditLogStore(engine), staff=staff),
        "links": DemoLinkService(
            settings=settings,
            store=DemoLinkStore(engine),
            clock=clock,
            staff=staff,
            delegations=delegations,
            rate_limiter=limiter,
            audit=audit,
            key=b"k" * 32,
        ),
    }


def _launch(world: dict[str, Any], member: StaffMember, company: str = "Acme") -> int:
    view = world["delegations"].launch(
        member,
        LaunchRequest(
            company=company,
            aws_account_id=ACCOUNT,
            path=DelegationPath.DEMO,
            launch_token=str(uuid.uuid4()),
        ),
    )
    return int(view.id)


def _rows(engine: Engine) -> int:
    with Session(engine) as session:
        return int(session.exec(select(func.count()).select_from(DelegationRequest)).one())


def _set(engine: Engine, member: StaffMember, **changes: Any) -> None:
    """Change a staff row behind the member object's back (an admin elsewhere revoking it)."""
    with session_scope(engine) as session:
        row = session.get(StaffUser, member.id)
        assert row is not None
        for key, value in changes.items():
            setattr(row, key, value)
        session.add(row)


# --- the full matrix on the directory --------------------------------------------------------


@pytest.mark.parametrize("role", list(StaffRole))
@pytest.mark.parametrize("action", sorted(ACTION_ROLES))
def test_every_action_for_every_role(world: dict[str, Any], action: str, role: StaffRole) -> None:
    member = world["members"][role]
    allowed = role is StaffRole.ADMIN or role in ACTION_ROLES[action]
    if allowed:
        assert world["staff"].require(member, action).role is role
    else:
        with pytest.raises(PermissionDenied):
            world["staff"].require(member, action)


def test_signed_out_and_unknown_actions_are_denied(world: dict[str, Any]) -> None:
    with pytest.raises(PermissionDenied, match="sign in"):
        world["staff"].require(None, "home")
    with pytest.raises(PermissionDenied):
        world["staff"].require(world["members"][StaffRole.SALES], "no.such.action")


def test_only_admins_see_audit_and_settings() -> None:
    for action in ("audit.read", "settings.read", "settings.write"):
        assert ACTION_ROLES[action] == frozenset()


def test_leadership_reads_metrics_but_no_customer_data() -> None:
    leadership = {a for a, roles in ACTION_ROLES.items() if StaffRole.LEADERSHIP in roles}
    assert "metrics.read" in leadership
    assert not leadership & {"delegation.create", "delegation.read_own", "demo.browse"}


# --- the same rules in each service ----------------------------------------------------------

LAUNCHERS = {StaffRole.SALES, StaffRole.CS, StaffRole.ADMIN}


@pytest.mark.parametrize("role", list(StaffRole))
def test_launch_is_refused_before_any_aws_call_or_write(
    world: dict[str, Any], role: StaffRole
) -> None:
    member = world["members"][role]
    if role in LAUNCHERS:
        _launch(world, member)
        assert world["aws"].calls == ["iam.create_delegation_request"]
        return
    with pytest.raises(PermissionDenied):
        _launch(world, member)
    assert world["aws"].calls == []
    assert _rows(world["engine"]) == 0


@pytest.mark.parametrize("role", list(StaffRole))
def test_reading_another_reps_demo(world: dict[str, Any], role: StaffRole) -> None:
    theirs = _launch(world, world["other_rep"], "Globex")
    member = world["members"][role]
    delegations, access = world["delegations"], world["access"]
    if role is StaffRole.LEADERSHIP:
        with pytest.raises(PermissionDenied):
            delegations.list(member, DelegationFilter())
        with pytest.raises(PermissionDenied):
            delegations.get(member, theirs)
        with pytest.raises(PermissionDenied):
            access.for_delegation(member, theirs)
        return
    if role is StaffRole.SALES:
        assert [v.id for v in delegations.list(member, DelegationFilter())] == []
        with pytest.raises(NotFound):
            delegations.get(member, theirs)
        with pytest.raises(PermissionDenied, match="another rep"):
            delegations.assert_can_use(member, theirs, "demo.browse")
        with pytest.raises(PermissionDenied):
            access.for_delegation(member, theirs)
        return
    # CS and admins see every rep's requests.
    assert theirs in [v.id for v in delegations.list(member, DelegationFilter())]
    assert delegations.get(member, theirs).company == "Globex"


def test_rep_sees_own_demos_only(world: dict[str, Any]) -> None:
    maya = world["members"][StaffRole.SALES]
    mine = _launch(world, maya, "Acme")
    _launch(world, world["other_rep"], "Globex")
    assert [v.id for v in world["delegations"].list(maya, DelegationFilter())] == [mine]
    assert world["delegations"].assert_can_use(maya, mine, "demo.browse").id == maya.id


@pytest.mark.parametrize("role", list(StaffRole))
def test_admin_pages_services(world: dict[str, Any], role: StaffRole) -> None:
    member = world["members"][role]
    admin, onboarding, audit = world["admin"], world["onboarding"], world["audit_query"]
    calls = [
        lambda: admin.health(member),
        lambda: onboarding.checklist(member),
        lambda: onboarding.set_checklist_item(member, "isva", done=True, note=""),
        lambda: onboarding.questionnaire(member),
        lambda: onboarding.policy_files(member),
        lambda: audit.search(member, AuditFilter()),
        lambda: audit.staff_options(member),
    ]
    for call in calls:
        if role is StaffRole.ADMIN:
            call()
        else:
            with pytest.raises(PermissionDenied):
                call()
    if role is not StaffRole.ADMIN:
        assert world["aws"].calls == []


@pytest.mark.parametrize("role", list(StaffRole))
def test_demo_links_follow_delegation_create(world: dict[str, Any], role: StaffRole) -> None:
    member = world["members"][role]
    if role in LAUNCHERS:
        assert world["links"].create(member, "Acme").company == "Acme"
    else:
        with pytest.raises(PermissionDenied):
            world["links"].create(member, "Acme")


def test_demo_link_launches_through_the_real_delegation_service(world: dict[str, Any]) -> None:
    maya = world["members"][StaffRole.SALES]
    issued = world["links"].create(maya, "Acme Analytics")
    outcome = world["links"].redeem(issued.token, ACCOUNT)
    assert outcome.console_deep_link
    [view] = world["delegations"].list(maya, DelegationFilter())
    assert (view.rep_id, view.path, view.company) == (
        maya.id,
        DelegationPath.DEMO,
        "Acme Analytics",
    )
    assert world["aws"].calls == ["iam.create_delegation_request"]


# --- revocation takes effect on the next action ----------------------------------------------


def test_deactivated_rep_loses_access_on_next_action(world: dict[str, Any]) -> None:
    maya = world["members"][StaffRole.SALES]
    mine = _launch(world, maya)
    issued = world["links"].create(maya, "Acme")
    _set(world["engine"], maya, active=False)
    with pytest.raises(PermissionDenied):
        world["delegations"].get(maya, mine)
    with pytest.raises(PermissionDenied):
        world["delegations"].list(maya, DelegationFilter())
    with pytest.raises(PermissionDenied):
        _launch(world, maya)
    with pytest.raises(LinkRefused):
        world["links"].redeem(issued.token, ACCOUNT)
    assert world["staff"].by_email(maya.email) is None  # and cannot sign in again


def test_changed_role_takes_effect_on_next_action(world: dict[str, Any]) -> None:
    sam = world["members"][StaffRole.ADMIN]
    world["admin"].health(sam)
    _set(world["engine"], sam, role=StaffRole.SALES)
    with pytest.raises(PermissionDenied):
        world["admin"].health(sam)
    with pytest.raises(PermissionDenied):
        world["audit_query"].search(sam, AuditFilter())
    lena = world["members"][StaffRole.CS]
    theirs = _launch(world, world["other_rep"])
    assert world["delegations"].get(lena, theirs)
    _set(world["engine"], lena, role=StaffRole.SALES)  # CS → sales: own demos only
    with pytest.raises(NotFound):
        world["delegations"].get(lena, theirs)


def test_rate_limit_on_demo_link_launches(world: dict[str, Any]) -> None:
    """The link path counts the rep's delegation creations from the store (≤ 10 / 10 min)."""
    maya = world["members"][StaffRole.SALES]
    for _ in range(10):
        _launch(world, maya)
    issued = world["links"].create(maya, "Acme")
    with pytest.raises(LinkRefused, match="try again"):
        world["links"].redeem(issued.token, ACCOUNT)
    limiter = ActionLimiter(
        clock=world["clock"],
        store=ActionCountStore(world["engine"]),
        limits={"delegation.create": Limit(10, timedelta(minutes=10), "delegation requests")},
    )
    with pytest.raises(RateLimited):
        limiter.check(maya.id, "delegation.create")
    world["clock"].advance(timedelta(minutes=11))
    limiter.check(maya.id, "delegation.create")
