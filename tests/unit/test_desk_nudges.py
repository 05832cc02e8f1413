"""Domain rules of the nudging desk: usual waits, next actions, overdue requests, cheap polls."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import event
from sqlalchemy.engine import Engine

from vell_core.config.settings import load_settings
from vell_core.domain.clock import FrozenClock
from vell_core.domain.errors import ConfigurationError
from vell_core.domain.models import (
    AwsDelegationState,
    DelegationEvent,
    DelegationPath,
    DelegationRequest,
    DelegationStatus,
    ExchangeState,
    StaffRole,
    StaffUser,
)
from vell_core.domain.roles import StaffMember
from vell_core.services.delegation import DelegationView
from vell_core.services.nudges import (
    FALLBACK_USUAL,
    NUDGE_FLOOR,
    DeskNudges,
    WaitingRequest,
    about,
    dwell_medians,
    next_action,
    report_for,
    usual_waits,
)
from vell_core.services.staff import StaffDirectory
from vell_core.store import migrate
from vell_core.store.engine import make_engine, session_scope
from vell_core.store.nudges import NudgesStore
from vell_core.store.staff import StaffStore

S = AwsDelegationState
T0 = datetime(2026, 11, 29, 9, 0, tzinfo=UTC)


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


# -- usual waits -------------------------------------------------------------------------------


def test_medians_are_per_state_over_stays_that_ended() -> None:
    events = [
        (1, S.UNASSIGNED, at(0)),
        (1, S.ASSIGNED, at(2)),
        (1, S.ACCEPTED, at(12)),
        (1, S.FINALIZED, at(12)),  # same instant: lifecycle order decides
        (2, S.UNASSIGNED, at(0)),
        (2, S.ASSIGNED, at(4)),
        (2, S.REJECTED, at(34)),
        (3, S.UNASSIGNED, at(0)),
        (3, S.ASSIGNED, at(30)),
        (3, S.PENDING_APPROVAL, at(31)),  # still waiting: no ended stay
    ]
    medians = dwell_medians(reversed(events))  # any order in, timelines sorted inside
    assert medians[S.UNASSIGNED] == timedelta(minutes=4)  # 2, 4, 30
    assert medians[S.ASSIGNED] == timedelta(minutes=10)  # 10, 30, 1
    assert medians[S.ACCEPTED] == timedelta(0)
    assert S.PENDING_APPROVAL not in medians
    assert S.FINALIZED not in medians


def test_settings_win_else_median_floored_else_fallback() -> None:
    medians = {S.UNASSIGNED: timedelta(seconds=30), S.ASSIGNED: timedelta(minutes=8)}
    usual = usual_waits(medians, {"ACCEPTED": 900})
    assert usual[S.UNASSIGNED] == NUDGE_FLOOR
    assert usual[S.ASSIGNED] == timedelta(minutes=8)
    assert usual[S.PENDING_APPROVAL] == FALLBACK_USUAL
    assert usual[S.ACCEPTED] == timedelta(seconds=900)
    assert set(usual) == {S.UNASSIGNED, S.ASSIGNED, S.PENDING_APPROVAL, S.ACCEPTED}


def test_the_setting_is_validated_at_start_up() -> None:
    assert load_settings(vell_nudge_after_seconds={"ASSIGNED": 600}).vell_nudge_after_seconds == {
        "ASSIGNED": 600
    }
    with pytest.raises(ConfigurationError, match="unknown: FINALIZED"):
        load_settings(vell_nudge_after_seconds={"FINALIZED": 60})
    with pytest.raises(ConfigurationError, match="at least 1"):
        load_settings(vell_nudge_after_seconds={"UNASSIGNED": 0})


def test_the_setting_is_read_from_the_environment_as_json(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VELL_NUDGE_AFTER_SECONDS", '{"UNASSIGNED": 1800}')
    assert load_settings().vell_nudge_after_seconds == {"UNASSIGNED": 1800}


def test_waits_read_as_people_say_them() -> None:
    assert about(timedelta(seconds=45)) == "45 s"
    assert about(timedelta(seconds=488)) == "8 min"
    assert about(timedelta(hours=2, minutes=5, seconds=59)) == "2 h 05 min"
    assert about(timedelta(days=3, hours=4, minutes=30)) == "3 d 4 h"


# -- next actions ------------------------------------------------------------------------------


def test_next_action_per_state() -> None:
    deadline = at(60 * 24)
    assert "resend it" in next_action(S.UNASSIGNED, deadline, 14400)
    assert "2026-11-30 09:00:00 UTC" in next_action(S.UNASSIGNED, deadline, 14400)
    assigned = next_action(S.ASSIGNED, deadline, 14400)
    assert "may lack permission to approve" in assigned
    assert "admin" in assigned
    assert "root" not in assigned
    assert "A root user cannot approve it" in next_action(S.ASSIGNED, deadline, 43200)
    assert "expect expiry at the AWS deadline" in next_action(S.PENDING_APPROVAL, deadline, 14400)
    assert "Share access" in next_action(S.ACCEPTED, deadline, 14400)


# -- overdue requests --------------------------------------------------------------------------


def waiting(
    delegation_id: int, state: S, since: datetime, deadline: datetime | None = None
) -> WaitingRequest:
    return WaitingRequest(
        delegation_id, f"Co {delegation_id}", DelegationPath.DEMO, state, since, deadline, 14400
    )


def test_overdue_requests_longest_first_and_the_next_due_moment() -> None:
    usual = usual_waits({}, {"UNASSIGNED": 600, "ASSIGNED": 600})
    now = at(30)
    report = report_for(
        [
            waiting(1, S.UNASSIGNED, at(15)),  # 15 min > 10: overdue
            waiting(2, S.ASSIGNED, at(0)),  # 30 min: overdue, longest
            waiting(3, S.UNASSIGNED, at(25)),  # due at 35
            waiting(4, S.UNASSIGNED, at(22)),  # due at 32
            waiting(5, S.UNASSIGNED, at(0), deadline=at(29)),  # expired already
        ],
        usual,
        now,
    )
    assert [n.delegation_id for n in report.nudges] == [2, 1]
    assert report.nudges[0].waited == timedelta(minutes=30)
    assert report.nudges[0].headline == "ASSIGNED for 30 min (usually 10 min)"
    assert report.next_due == at(32)


def test_exactly_usual_is_overdue_a_second_less_is_not() -> None:
    usual = usual_waits({}, {"UNASSIGNED": 600})
    assert report_for([waiting(1, S.UNASSIGNED, at(0))], usual, at(10)).nudges
    almost = at(10) - timedelta(seconds=1)
    assert not report_for([waiting(1, S.UNASSIGNED, at(0))], usual, almost).nudges


# -- root approvers ----------------------------------------------------------------------------


def view(approver: str | None, duration: int) -> DelegationView:
    return DelegationView(
        id=1,
        company="Acme",
        aws_account_id="602341187520",
        path=DelegationPath.DEMO,
        status=DelegationStatus.APPROVED,
        aws_state=S.FINALIZED,
        aws_state_expires_at=None,
        delegation_request_id="r" * 32,
        console_deep_link=None,
        session_duration=duration,
        created_at=T0,
        approved_at=T0,
        credentials_expire_at=T0 + timedelta(seconds=duration),
        expires_at=T0,
        owner_id=None,
        approver_id=approver,
        rejection_reason=None,
        notes=None,
        exchange_state=ExchangeState.DONE,
        rep_id=1,
        rep_name="Maya",
        request_message=None,
        wizard_session_id=None,
        last_error=None,
    )


def test_root_approval_is_read_from_the_approver_arn() -> None:
    assert view("arn:aws:iam::602341187520:root", 14400).root_approved
    assert not view("arn:aws:iam::602341187520:user/customer-admin", 14400).root_approved
    assert not view("arn:aws:iam::602341187520:user/root", 14400).root_approved  # a user named so
    assert not view(None, 14400).root_approved


def test_more_than_four_hours_needs_a_non_root_approver() -> None:
    assert not view(None, 14400).needs_non_root_approver
    assert view(None, 14401).needs_non_root_approver


# -- the per-page poll: announced once, and no store work while nothing changed --------------


@pytest.fixture
def engine(store_url: str) -> Iterator[Engine]:
    """A migrated store on SQLite and (when configured) PostgreSQL: the queries are portable."""
    migrate.upgrade(store_url)
    engine = make_engine(store_url)
    yield engine
    engine.dispose()


@pytest.fixture
def desk(engine: Engine) -> tuple[DeskNudges, FrozenClock, list[StaffMember]]:
    clock = FrozenClock(at(0))
    with session_scope(engine) as session:
        for name in ("maya", "diego"):
            session.add(
                StaffUser(
                    name=name.title(), email=f"{name}@vell.ai", role=StaffRole.SALES, created_at=T0
                )
            )
    staff = StaffDirectory(StaffStore(engine))
    members = [staff.by_email("maya@vell.ai"), staff.by_email("diego@vell.ai")]
    nudges = DeskNudges(
        store=NudgesStore(engine),
        clock=clock,
        staff=staff,
        overrides={"UNASSIGNED": 600, "ASSIGNED": 600},
        refresh=timedelta(seconds=2),
    )
    return nudges, clock, [m for m in members if m is not None]


def add_request(engine: Engine, member: StaffMember, company: str, when: datetime) -> int:
    with session_scope(engine) as session:
        row = DelegationRequest(
            user_id=member.id,
            company=company,
            aws_account_id="602341187520",
            requestor_workflow_id=f"vell-{company}",
            type=DelegationPath.DEMO,
            status=DelegationStatus.PENDING,
            aws_state=S.UNASSIGNED,
            aws_state_expires_at=when + timedelta(days=1),
            expires_at=when + timedelta(days=1),
            session_duration=14400,
            template_name="read-only",
            template_arn="arn:aws:iam:::delegation-template/x",
            created_at=when,
            updated_at=when,
        )
        session.add(row)
        session.flush()
        session.add(
            DelegationEvent(
                delegation_id=row.id or 0,
                aws_state=S.UNASSIGNED,
                occurred_at=when,
                recorded_at=when,
                source="api",
            )
        )
        return row.id or 0


def move(engine: Engine, row_id: int, state: S, when: datetime) -> None:
    with session_scope(engine) as session:
        row = session.get(DelegationRequest, row_id)
        assert row is not None
        row.aws_state = state
        row.aws_state_expires_at = when + timedelta(days=7)
        session.add(row)
        session.add(
            DelegationEvent(
                delegation_id=row_id, aws_state=state, occurred_at=when, recorded_at=when
            )
        )


@pytest.fixture
def statements(engine: Engine) -> Iterator[list[str]]:
    """Every SQL statement the engine runs while the test is on."""
    seen: list[str] = []

    def record(_conn: object, _cursor: object, statement: str, *_: object) -> None:
        if not statement.startswith(("BEGIN", "PRAGMA", "ROLLBACK", "COMMIT")):
            seen.append(statement)

    event.listen(engine, "before_cursor_execute", record)
    yield seen
    event.remove(engine, "before_cursor_execute", record)


def test_state_changes_of_the_reps_own_requests_are_announced_once(
    engine: Engine, desk: tuple[DeskNudges, FrozenClock, list[StaffMember]]
) -> None:
    nudges, clock, (maya, diego) = desk
    mine = add_request(engine, maya, "Mine", at(0))
    theirs = add_request(engine, diego, "Theirs", at(0))
    seen, first = nudges.poll(maya, None)
    assert first == []  # the session starts: nothing old is news
    clock.advance(timedelta(minutes=1))
    move(engine, mine, S.ASSIGNED, at(1))
    move(engine, theirs, S.ASSIGNED, at(1))
    clock.advance(timedelta(seconds=3))  # past the watermark's refresh
    seen, notices = nudges.poll(maya, seen)
    assert [n.text for n in notices] == ["Mine (demo): Opened by the customer — under review."]
    assert notices[0].delegation_id == mine
    clock.advance(timedelta(seconds=3))
    _, again = nudges.poll(maya, seen)
    assert again == []


def test_the_reps_own_create_is_not_announced(
    engine: Engine, desk: tuple[DeskNudges, FrozenClock, list[StaffMember]]
) -> None:
    nudges, clock, (maya, _) = desk
    seen, _ = nudges.poll(maya, None)
    add_request(engine, maya, "Fresh", at(0))
    clock.advance(timedelta(seconds=3))
    _, notices = nudges.poll(maya, seen)
    assert notices == []


def test_an_overdue_request_is_nudged_once_per_state(
    engine: Engine, desk: tuple[DeskNudges, FrozenClock, list[StaffMember]]
) -> None:
    nudges, clock, (maya, _) = desk
    row = add_request(engine, maya, "Slow", at(0))
    seen, first = nudges.poll(maya, None)
    assert first == []
    assert seen.next_due == at(10)
    clock.set(at(10))
    seen, notices = nudges.poll(maya, seen)
    assert len(notices) == 1
    assert notices[0].text.startswith("Slow (demo) has been UNASSIGNED for 10 min (usually 10")
    assert "resend it" in notices[0].text
    clock.set(at(20))
    seen, notices = nudges.poll(maya, seen)
    assert notices == []
    move(engine, row, S.ASSIGNED, at(20))
    clock.set(at(30) + timedelta(seconds=3))
    seen, notices = nudges.poll(maya, seen)
    texts = [n.text for n in notices]
    assert texts[0] == "Slow (demo): Opened by the customer — under review."
    assert "may lack permission to approve" in texts[1]


def test_a_quiet_tick_touches_no_store_and_a_watermark_check_is_one_tiny_query(
    engine: Engine,
    desk: tuple[DeskNudges, FrozenClock, list[StaffMember]],
    statements: list[str],
) -> None:
    nudges, clock, (maya, _) = desk
    add_request(engine, maya, "Quiet", at(0))
    seen, _ = nudges.poll(maya, None)
    statements.clear()
    for _ in range(5):
        clock.advance(timedelta(milliseconds=300))
        seen, notices = nudges.poll(maya, seen)
        assert notices == []
    assert statements == []  # within the refresh interval: the process-wide watermark is kept
    clock.advance(timedelta(seconds=3))
    seen, _ = nudges.poll(maya, seen)
    assert len(statements) == 1
    assert "max(delegation_events.id)" in statements[0]


def test_the_watermark_is_shared_by_every_session_of_the_process(
    engine: Engine,
    desk: tuple[DeskNudges, FrozenClock, list[StaffMember]],
    statements: list[str],
) -> None:
    nudges, clock, (maya, diego) = desk
    seen_maya, _ = nudges.poll(maya, None)
    seen_diego, _ = nudges.poll(diego, None)
    clock.advance(timedelta(seconds=3))
    statements.clear()
    nudges.poll(maya, seen_maya)
    nudges.poll(diego, seen_diego)
    nudges.poll(maya, seen_maya)
    assert len(statements) == 1
