"""The access record's grouping rules (services.access_record), one test per rule, no store."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from itertools import count

import pytest

from vell_core.domain.models import ScreenKind
from vell_core.services.access_record import (
    AUTOMATIC,
    OTHER_STAFF,
    SCREEN_IDLE,
    AccessRecord,
    ScreenVisit,
    bin_width,
    calls_chart,
    calls_frame,
    calls_over_time,
    group_screens,
    is_change,
    operation_screen,
    screens_frame,
    staff_namer,
)
from vell_core.store.audit_log import CallRow

T0 = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
MAYA, LENA = 7, 9
NAMES = {MAYA: "Maya Chen", LENA: "Lena Fischer"}
_ids = count(1)


def call(
    minutes: float,
    action: str = "marketplace-catalog.DescribeEntity",
    *,
    screen: ScreenKind | None = ScreenKind.OFFER,
    subject: str | None = "offer-1",
    staff: int | None = MAYA,
    outcome: str = "ok",
    row_id: int | None = None,
) -> CallRow:
    return CallRow(
        id=row_id if row_id is not None else next(_ids),
        at=T0 + timedelta(minutes=minutes),
        staff_user_id=staff,
        staff_name=NAMES.get(staff) if staff is not None else None,
        action=action,
        outcome=outcome,
        screen=screen,
        screen_subject=subject if screen is not None else None,
        aws_request_id=f"req-{minutes}",
    )


def group(rows: list[CallRow], *, public: bool = False) -> tuple[ScreenVisit, ...]:
    return group_screens(rows, name_of=staff_namer(MAYA, public=public))


def record(visits: tuple[ScreenVisit, ...]) -> AccessRecord:
    return AccessRecord(
        delegation_id=1,
        company="Acme",
        aws_account_id="602341187520",
        path="Quick Start Demo",
        rep_name="Maya Chen",
        granted_at=T0,
        access_ends_at=T0 + timedelta(hours=4),
        access_ended=True,
        public=False,
        screens=visits,
    )


# -- rule 1: the recorded screen, else the operation's ------------------------------------------


def test_a_call_belongs_to_the_screen_recorded_with_it() -> None:
    """A DescribeEntity recorded for an offer is in that offer's visit, not in the listings."""
    [visit] = group([call(0, screen=ScreenKind.OFFER, subject="offer-9")])
    assert (visit.kind, visit.subject) == (ScreenKind.OFFER, "offer-9")
    assert visit.label == "An offer"


@pytest.mark.parametrize(
    ("action", "kind"),
    [
        ("marketplace-catalog.StartChangeSet", ScreenKind.LISTING_UPDATE),
        ("marketplace-catalog.CancelChangeSet", ScreenKind.LISTING_UPDATE),
        ("marketplace-catalog.DescribeChangeSet", ScreenKind.CHANGE_SET),
        ("marketplace-catalog.ListEntities", ScreenKind.LISTINGS),
        ("marketplace-catalog.DescribeEntity", ScreenKind.LISTINGS),
        ("marketplace-agreement.GetAgreementTerms", ScreenKind.LISTINGS),
        ("iam.CreateRole", ScreenKind.PRODUCTION_SETUP),
        ("s3.GetObject", ScreenKind.OTHER),
    ],
)
def test_a_call_recorded_without_a_screen_is_placed_by_its_operation(
    action: str, kind: ScreenKind
) -> None:
    assert operation_screen(action) is kind
    [visit] = group([call(0, action, screen=None)])
    assert (visit.kind, visit.subject) == (kind, None)


# -- rule 2: one visit per screen and subject until it idles --------------------------------------


def test_calls_on_one_screen_within_the_idle_time_are_one_visit() -> None:
    gap = SCREEN_IDLE.total_seconds() / 60
    [visit] = group([call(0), call(gap), call(2 * gap)])  # never idle for longer than allowed
    assert len(visit.calls) == 3
    assert visit.ended_at - visit.started_at == 2 * SCREEN_IDLE


def test_a_screen_idle_for_longer_than_the_idle_time_starts_a_new_visit() -> None:
    gap = SCREEN_IDLE.total_seconds() / 60
    first, second = group([call(0), call(gap + 0.1)])
    assert (len(first.calls), len(second.calls)) == (1, 1)
    assert (first.subject, second.subject) == ("offer-1", "offer-1")


def test_another_subject_is_another_visit() -> None:
    first, second = group([call(0, subject="offer-1"), call(1, subject="offer-2")])
    assert (first.subject, second.subject) == ("offer-1", "offer-2")


def test_background_calls_in_between_do_not_split_a_screen() -> None:
    """The listings keep syncing while the rep reads an offer: two visits, not five."""
    listings = {"screen": ScreenKind.LISTINGS, "subject": None}
    rows = [
        call(0, "marketplace-catalog.ListEntities", **listings),
        call(1),
        call(2, "marketplace-agreement.DescribeAgreement", **listings),
        call(3),
        call(4, "marketplace-agreement.GetAgreementTerms", **listings),
    ]
    listings_visit, offer_visit = group(rows)
    assert listings_visit.kind is ScreenKind.LISTINGS
    assert len(listings_visit.calls) == 3
    assert offer_visit.kind is ScreenKind.OFFER
    assert len(offer_visit.calls) == 2


# -- rule 3: staff never share a visit ------------------------------------------------------------


def test_two_staff_members_on_the_same_screen_are_two_visits() -> None:
    maya, lena = group([call(0, staff=MAYA), call(0.5, staff=LENA), call(1, staff=MAYA)])
    assert (maya.staff, len(maya.calls)) == ("Maya Chen", 2)
    assert (lena.staff, len(lena.calls)) == ("Lena Fischer", 1)


# -- rule 4: order --------------------------------------------------------------------------------


def test_visits_follow_their_first_call_and_calls_their_time_then_row() -> None:
    rows = [
        call(5, subject="offer-2", row_id=50),
        call(1, subject="offer-1", row_id=20),
        call(1, subject="offer-1", row_id=10),  # same second, written first
        call(3, "marketplace-catalog.ListEntities", screen=ScreenKind.LISTINGS, subject=None),
    ]
    visits = group(rows)
    assert [v.subject for v in visits] == ["offer-1", None, "offer-2"]
    assert [c.at for c in visits[0].calls] == sorted(c.at for c in visits[0].calls)
    first = group([call(1, row_id=2), call(1, row_id=1, outcome="AccessDenied")])[0]
    assert [c.outcome for c in first.calls] == ["AccessDenied", "ok"]


# -- rule 5: a change is a write AWS accepted ------------------------------------------------------


@pytest.mark.parametrize(
    ("action", "writes"),
    [
        ("marketplace-catalog.StartChangeSet", True),
        ("marketplace-catalog.CancelChangeSet", True),
        ("iam.CreateRole", True),
        ("iam.PutRolePolicy", True),
        ("iam.TagRole", True),
        ("marketplace-catalog.DescribeChangeSet", False),
        ("marketplace-catalog.ListEntities", False),
        ("marketplace-agreement.SearchAgreements", False),  # "Se…", not "Set…"
        ("marketplace-catalog.BatchDescribeEntities", False),
        ("iam.GetRole", False),
        ("iam.Startle", False),  # a verb must be a whole word
    ],
)
def test_which_operations_write(action: str, writes: bool) -> None:
    assert is_change(action) is writes


def test_only_a_write_aws_accepted_counts_as_a_change() -> None:
    update = {"screen": ScreenKind.LISTING_UPDATE, "subject": "prod-1"}
    [accepted] = group([call(0, "marketplace-catalog.StartChangeSet", **update)])
    [refused] = group(
        [call(0, "marketplace-catalog.StartChangeSet", outcome="AccessDeniedException", **update)]
    )
    [read] = group([call(0, "marketplace-catalog.DescribeChangeSet", **update)])
    assert (accepted.changes, accepted.refused) == (1, 0)
    assert (refused.changes, refused.refused) == (0, 1)
    assert (read.changes, read.refused) == (0, 0)
    [visit] = group(
        [
            call(0, "marketplace-catalog.StartChangeSet", **update),
            call(1, "marketplace-catalog.DescribeChangeSet", **update),
            call(2, "marketplace-catalog.DescribeChangeSet", **update),
        ]
    )
    assert visit.operations == ("StartChangeSet", "DescribeChangeSet")
    both = record((accepted, refused, read))
    assert both.changes == 1
    assert both.changed_screens == (accepted,)
    assert list(calls_frame(both)["Changes"]) == ["yes", "no", "no"]


# -- rule 6: who is named --------------------------------------------------------------------------


def test_the_customer_sees_only_the_reps_name() -> None:
    rows = [call(0, staff=MAYA), call(1, staff=LENA, subject="offer-2"), call(2, staff=None)]
    public = group(rows, public=True)
    assert [v.staff for v in public] == ["Maya Chen", OTHER_STAFF, AUTOMATIC]
    staff = group(rows, public=False)
    assert [v.staff for v in staff] == ["Maya Chen", "Lena Fischer", AUTOMATIC]
    text = calls_frame(record(public)).to_csv() + screens_frame(public).to_csv()
    assert "Lena" not in text


# -- what the pages draw ---------------------------------------------------------------------------


def test_the_tables_and_the_chart_count_the_same_calls() -> None:
    listings = {"screen": ScreenKind.LISTINGS, "subject": None}
    rows = [call(0.1, **listings), call(0.12, **listings), call(0.14), call(3.2)]
    shown = record(group(rows))
    bars = calls_over_time(shown)
    assert bars["Calls"].sum() == len(calls_frame(shown)) == 4
    assert set(bars["To"] - bars["From"]) == {timedelta(seconds=10)}  # 3 minutes: 10 s bars
    first = bars[bars["From"] == T0]
    assert dict(zip(first["Screen"], first["Calls"], strict=True)) == {
        "Listings, offers and agreements": 2,
        "An offer": 1,
    }
    table = screens_frame(shown.screens)
    assert list(table["Calls"]) == [2, 2]
    assert list(table["Operations"]) == ["DescribeEntity", "DescribeEntity"]
    spec = calls_chart(shown)
    assert spec is not None
    assert "the customer's" in spec.to_dict()["title"]
    assert "your credentials" in calls_chart(replace(shown, public=True)).to_dict()["title"]
    assert calls_chart(record(())) is None


@pytest.mark.parametrize(
    ("span", "width"),
    [
        (timedelta(seconds=40), timedelta(seconds=10)),
        (timedelta(minutes=10), timedelta(seconds=10)),
        (timedelta(minutes=11), timedelta(seconds=30)),
        (timedelta(hours=4), timedelta(minutes=5)),
        (timedelta(hours=12), timedelta(minutes=15)),
        (timedelta(days=30), timedelta(hours=4)),
    ],
)
def test_bars_are_as_fine_as_sixty_of_them_allow(span: timedelta, width: timedelta) -> None:
    assert bin_width(span) == width
