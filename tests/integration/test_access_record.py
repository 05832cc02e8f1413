"""The access record through real delegated credentials: screens recorded, links signed.

One trial is connected the way a customer gives one, then used the way a rep uses it (the live
demo's listings, an offer, an agreement, a change set, a listing update) and once by customer
success; then its access ends. The tests read that one history; a link's own expiry is checked
on a service whose injected clock runs ahead, so no test moves the others' time.
"""

from __future__ import annotations

import base64
import json
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlmodel import Session, col, select

from tests.conftest import private_channel
from tests.integration.test_store import _migrated_engine as migrated_engine
from tests.integration.test_store import _request as store_request
from tests.integration.test_store import _staff as store_staff
from tests.integration.test_sync import SMALL, TYPICAL, connect, rep, set_sandbox_limits
from vell_core.app import Services, build_services
from vell_core.config.settings import load_settings
from vell_core.domain.clock import FrozenClock
from vell_core.domain.errors import InvalidTransition, NotFound, RecordLinkRefused
from vell_core.domain.models import AuditLog, DelegationPath, ScreenKind
from vell_core.domain.roles import StaffMember
from vell_core.services import seed, signed_links
from vell_core.services.access_record import (
    OTHER_STAFF,
    PURPOSE,
    AccessRecord,
    AccessRecordService,
    calls_frame,
)
from vell_core.services.audit import AuditRecorder
from vell_core.services.audit_query import AuditFilter
from vell_core.services.demo_links import LinkPayload, sign_token
from vell_core.services.listing_update import ListingEdit, new_request_token
from vell_core.store import migrate
from vell_core.store.audit_log import AuditLogStore
from vell_core.store.seed import SeedStore
from vell_core.views.csv_export import frame_csv

KEY = b"r" * 32  # the tests' master key: tokens can be forged on purpose


@dataclass
class Journey:
    services: Services
    records: AccessRecordService
    delegation_id: int
    maya: StaffMember
    lena: StaffMember
    offer_id: str
    lena_offer_id: str
    agreement_id: str
    change_set_id: str
    product_id: str


def _service(services: Services, clock: object | None = None) -> AccessRecordService:
    return AccessRecordService(
        settings=services.settings,
        audit_log=AuditLogStore(services.engine),
        clock=clock or services.clock,  # type: ignore[arg-type]
        delegations=services.delegations,
        audit=services.audit,
        rate_limiter=services.rate_limiter,
        key=KEY,
    )


def _member(services: Services, email: str) -> StaffMember:
    member = services.staff.by_email(email)
    assert member is not None
    return member


@pytest.fixture(scope="module")
def journey(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Journey]:
    folder: Path = tmp_path_factory.mktemp("record")
    url = f"sqlite:///{folder / 'record.db'}"
    migrate.upgrade(url)
    settings = load_settings(vell_database_url=url, vell_sandbox_port=0, **private_channel())
    services = build_services(settings, start_background=False)
    seed.seed(SeedStore(services.engine), datetime.now(UTC))
    set_sandbox_limits(services, factor=20)
    maya, lena = rep(services), _member(services, "lena.fischer@vell.ai")
    delegation_id = connect(services, SMALL, DelegationPath.TRIAL, hours=1)
    sync = services.sync
    sync.open(maya, delegation_id, wait=10)
    job = sync.job_for(maya, delegation_id)
    assert job.wait_done(60)
    offer_id, agreement_id = sorted(job.offers)[0], sorted(job.agreements)[0]
    product_id = next(i for i, s in job.products.items() if s["EntityType"] == "SaaSProduct")
    change_set_id = sorted(job.change_sets)[0]
    # A fresh job has none of the details yet, so opening one fetches it on demand.
    sync.refresh(maya, delegation_id)
    sync.offer(maya, delegation_id, offer_id)
    sync.refresh(maya, delegation_id)
    sync.agreement(maya, delegation_id, agreement_id)
    sync.change_set(maya, delegation_id, change_set_id)
    edit = ListingEdit(product_id, "SaaSProduct@1.0", short_description="Record test " * 5)
    services.listing_updates.submit(maya, delegation_id, edit, new_request_token())
    # Customer success looks at one offer of the same customer.
    sync.refresh(lena, delegation_id)
    lena_offer_id = sorted(job.offers)[-1]
    sync.offer(lena, delegation_id, lena_offer_id)
    sync.close()  # no background call after this point
    view = services.delegations.get(maya, delegation_id)
    assert view.credentials_expire_at is not None
    journey = Journey(
        services=services,
        records=_service(services),
        delegation_id=delegation_id,
        maya=maya,
        lena=lena,
        offer_id=offer_id,
        lena_offer_id=lena_offer_id,
        agreement_id=agreement_id,
        change_set_id=change_set_id,
        product_id=product_id,
    )
    with pytest.raises(InvalidTransition, match="once their access has ended"):
        journey.records.issue_link(maya, delegation_id)  # still live: not yet
    services.sandbox.advance(
        (view.credentials_expire_at - services.clock.now()).total_seconds() + 5
    )
    yield journey
    services.close()


def _kinds(record: AccessRecord) -> Counter[tuple[ScreenKind, str | None, str]]:
    """Calls per screen, summed over its visits: on a loaded machine a pause longer than the
    idle gap splits one screen's calls into two visits (the record is right; the count too)."""
    counts: Counter[tuple[ScreenKind, str | None, str]] = Counter()
    for visit in record.screens:
        counts[(visit.kind, visit.subject, visit.staff)] += len(visit.calls)
    return counts


# -- recording: each screen's calls carry that screen -------------------------------------------


def test_every_screen_the_rep_opened_is_in_the_record(journey: Journey) -> None:
    record = journey.records.for_staff(journey.maya, journey.delegation_id)
    kinds = _kinds(record)
    assert kinds[(ScreenKind.OFFER, journey.offer_id, "Maya Chen")] == 1
    # DescribeAgreement in the caller's thread, GetAgreementTerms in a pool thread: both there.
    assert kinds[(ScreenKind.AGREEMENT, journey.agreement_id, "Maya Chen")] >= 2
    assert kinds[(ScreenKind.CHANGE_SET, journey.change_set_id, "Maya Chen")] == 1
    update = kinds[(ScreenKind.LISTING_UPDATE, journey.product_id, "Maya Chen")]
    assert update >= 2  # StartChangeSet, then DescribeChangeSet for its progress
    assert kinds[(ScreenKind.LISTINGS, None, "Maya Chen")] > 5  # the background sync
    assert kinds[(ScreenKind.OFFER, journey.lena_offer_id, "Lena Fischer")] == 1
    assert record.changes == 1  # the one StartChangeSet AWS accepted
    assert [v.kind for v in record.changed_screens] == [ScreenKind.LISTING_UPDATE]
    assert record.access_ended


def test_the_record_has_every_customer_credential_call_and_nothing_else(journey: Journey) -> None:
    record = journey.records.for_staff(journey.maya, journey.delegation_id)
    with Session(journey.services.engine) as session:
        rows = session.exec(
            select(AuditLog).where(col(AuditLog.delegation_id) == journey.delegation_id)
        ).all()
    calls = [r for r in rows if r.screen is not None]
    assert len(calls) > 10
    assert record.calls == len(calls)
    # The token exchange is Vell's own call, not one with the customer's credentials.
    assert "sts.GetDelegatedAccessToken" in {r.action for r in rows}
    assert "sts.GetDelegatedAccessToken" not in set(calls_frame(record)["Operation"])


def test_another_rep_cannot_read_the_record_or_send_it(journey: Journey) -> None:
    diego = _member(journey.services, "diego.alvarez@vell.ai")
    with pytest.raises(NotFound):
        journey.records.for_staff(diego, journey.delegation_id)
    with pytest.raises(NotFound):
        journey.records.issue_link(diego, journey.delegation_id)


# -- the customer's link ------------------------------------------------------------------------


def test_the_link_opens_the_same_record_naming_only_the_rep(journey: Journey) -> None:
    link = journey.records.issue_link(journey.maya, journey.delegation_id, timedelta(days=7))
    assert link.url.startswith("http://localhost:8501/access_record?record=")
    public = journey.records.open_link(link.token)
    staff_view = journey.records.for_staff(journey.maya, journey.delegation_id)
    assert public.public
    assert not staff_view.public
    assert public.calls == staff_view.calls
    assert [v.kind for v in public.screens] == [v.kind for v in staff_view.screens]
    assert {v.staff for v in public.screens} == {"Maya Chen", OTHER_STAFF}
    csv = frame_csv(calls_frame(public)).decode()
    assert "Lena" not in csv
    assert "Lena" not in repr(public)
    assert public.link_expires_at == link.expires_at
    assert public.rep_name == "Maya Chen"


def test_a_changed_link_is_refused(journey: Journey) -> None:
    token = journey.records.issue_link(journey.maya, journey.delegation_id).token
    body, signature = token.split(".")
    raw = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    raw["d"] = raw["d"] - 1  # another delegation
    forged = base64.urlsafe_b64encode(json.dumps(raw).encode()).rstrip(b"=").decode()
    with pytest.raises(RecordLinkRefused, match="changed or cut short"):
        journey.records.open_link(f"{forged}.{signature}")
    with pytest.raises(RecordLinkRefused, match="changed or cut short"):
        journey.records.open_link(token[:-3])
    with pytest.raises(RecordLinkRefused, match="not valid"):
        journey.records.open_link("")


def test_an_expired_link_is_refused_with_its_own_message(journey: Journey) -> None:
    link = journey.records.issue_link(journey.maya, journey.delegation_id, timedelta(hours=1))
    journey.records.open_link(link.token)
    later = FrozenClock(link.expires_at)
    with pytest.raises(RecordLinkRefused, match="expired"):
        _service(journey.services, later).open_link(link.token)


def test_a_demo_link_token_does_not_open_a_record(journey: Journey) -> None:
    """Same master key, other purpose: a demo link never verifies as a record link."""
    demo = sign_token(
        LinkPayload("a" * 32, "Sync Test Co", journey.maya.id, datetime.now(UTC) + timedelta(1)),
        KEY,
    )
    with pytest.raises(RecordLinkRefused, match="changed or cut short"):
        journey.records.open_link(demo)


def _signed(claims: dict[str, object]) -> str:
    return signed_links.sign(claims, signed_links.purpose_key(KEY, PURPOSE))


def test_a_genuine_link_naming_another_customers_account_shows_nothing(journey: Journey) -> None:
    """Even a correctly signed token opens a record only if the delegation is that account's."""
    exp = int((datetime.now(UTC) + timedelta(days=1)).timestamp())
    base = {"v": 1, "lid": "b" * 32, "d": journey.delegation_id, "rep": journey.maya.id, "exp": exp}
    with pytest.raises(RecordLinkRefused):
        journey.records.open_link(_signed({**base, "acct": TYPICAL}))
    with pytest.raises(RecordLinkRefused):
        journey.records.open_link(_signed({**base, "acct": SMALL, "rep": journey.lena.id}))
    with pytest.raises(RecordLinkRefused):
        journey.records.open_link(_signed({**base, "acct": SMALL, "d": 999_999}))
    assert journey.records.open_link(_signed({**base, "acct": SMALL})).aws_account_id == SMALL


def test_calls_logged_in_another_account_never_join_the_record(journey: Journey) -> None:
    recorder = AuditRecorder(AuditLogStore(journey.services.engine), journey.services.clock)
    before = journey.records.for_staff(journey.maya, journey.delegation_id).calls
    recorder.record(
        action="marketplace-catalog.DescribeEntity",
        outcome="ok",
        staff_user_id=journey.maya.id,
        customer_account_id=TYPICAL,  # a bug elsewhere must not leak it into this record
        delegation_id=journey.delegation_id,
    )
    recorder.close()
    assert journey.records.for_staff(journey.maya, journey.delegation_id).calls == before


def test_the_link_is_audited_and_rate_limited(journey: Journey) -> None:
    sam = _member(journey.services, "sam.patel@vell.ai")  # an admin reads the audit log
    journey.records.issue_link(journey.maya, journey.delegation_id)
    rows = journey.services.audit_query.search(sam, AuditFilter(customer=SMALL))
    assert "access_record.link" in {row.action for row in rows}
    remaining = journey.services.rate_limiter.remaining(journey.maya.id, "access_record.link")
    assert remaining is not None
    assert remaining < 30


# -- the SQL, on SQLite and PostgreSQL ----------------------------------------------------------


def test_delegation_calls_reads_one_delegations_customer_calls_on_each_store(
    store_url: str,
) -> None:
    """Screened calls and older unscreened customer-service calls; never staff actions, Vell's
    own exchange, another delegation's calls or another account's."""
    engine = migrated_engine(store_url)
    now = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
    with Session(engine) as session:
        user = store_staff(session)
        mine, other = (
            store_request(user.id or 0, requestor_workflow_id=f"vell-wf-{n}") for n in (1, 2)
        )
        session.add_all([mine, other])
        session.flush()
        rows = [
            ("marketplace-catalog.DescribeEntity", mine.id, SMALL, ScreenKind.OFFER, "offer-1"),
            ("marketplace-agreement.SearchAgreements", mine.id, SMALL, None, None),  # pre-0006
            ("iam.CreateRole", mine.id, SMALL, None, None),
            ("sts.GetDelegatedAccessToken", mine.id, SMALL, None, None),  # Vell's own call
            ("demo_link.redeem", mine.id, SMALL, None, None),  # a staff action
            ("access_record.link", mine.id, SMALL, None, None),
            ("marketplace-catalog.ListEntities", other.id, SMALL, ScreenKind.LISTINGS, None),
            ("marketplace-catalog.ListEntities", mine.id, TYPICAL, ScreenKind.LISTINGS, None),
        ]
        for minute, (action, delegation, account, screen, subject) in enumerate(rows):
            session.add(
                AuditLog(
                    at=now + timedelta(minutes=minute),
                    staff_user_id=user.id,
                    customer_account_id=account,
                    delegation_id=delegation,
                    action=action,
                    outcome="ok",
                    screen=screen,
                    screen_subject=subject,
                )
            )
        session.commit()
        mine_id = mine.id or 0
    found = AuditLogStore(engine).delegation_calls(delegation_id=mine_id, account_id=SMALL)
    engine.dispose()
    assert [(c.action, c.screen, c.screen_subject, c.staff_name) for c in found] == [
        ("marketplace-catalog.DescribeEntity", ScreenKind.OFFER, "offer-1", "Maya"),
        ("marketplace-agreement.SearchAgreements", None, None, "Maya"),
        ("iam.CreateRole", None, None, "Maya"),
    ]


def test_a_record_longer_than_the_service_reads_says_it_was_cut(journey: Journey) -> None:
    full = journey.records.for_staff(journey.maya, journey.delegation_id)
    assert not full.truncated
    cut = AccessRecordService(
        settings=journey.services.settings,
        audit_log=AuditLogStore(journey.services.engine),
        clock=journey.services.clock,
        delegations=journey.services.delegations,
        audit=journey.services.audit,
        rate_limiter=journey.services.rate_limiter,
        key=KEY,
        max_calls=full.calls - 1,
    ).for_staff(journey.maya, journey.delegation_id)
    assert cut.truncated
    assert cut.calls == full.calls - 1
    first = [c.at for v in full.screens for c in v.calls]
    assert sorted(c.at for v in cut.screens for c in v.calls) == sorted(first)[:-1]
