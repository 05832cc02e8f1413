"""The sync service and listing updates against the sandbox, through real delegated credentials.

Each test gets a connected delegation the way a customer gives one: launch, then the customer's
owner and admin approve with plain boto3, then the worker exchanges the token.
"""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest
from sqlalchemy import event
from sqlmodel import Session, select

from tests.conftest import GraphFactory
from tests.integration.exchange_sandbox_helpers import customer_iam
from vell_core.app import Services
from vell_core.domain.errors import AwsAccessDenied, CredentialsUnavailable, PermissionDenied
from vell_core.domain.models import DelegationPath, DelegationRequest, FunnelEvent, FunnelStep
from vell_core.domain.roles import StaffMember
from vell_core.services.delegation import LaunchRequest, new_launch_token
from vell_core.services.listing_update import (
    READ_ONLY_DENIED,
    ListingEdit,
    ListingUpdateService,
    new_request_token,
    start_update,
)
from vell_core.services.sync.job import SyncJob
from vell_core.services.sync.progress import Kind
from vell_core.services.sync.service import SyncService
from vell_core.store.delegations import FirstSyncMarks

SMALL, TYPICAL, LARGE = "602341187520", "418295730164", "739104552816"


# -- helpers shared with tests/app/test_demo_pages.py and bench/sync_bench.py ------------------


def rep(services: Services, email: str = "maya.chen@vell.ai") -> StaffMember:
    member = services.staff.by_email(email)
    assert member is not None
    return member


def connect(
    services: Services,
    account: str,
    path: DelegationPath = DelegationPath.DEMO,
    *,
    email: str = "maya.chen@vell.ai",
    hours: int | None = None,
    company: str = "Sync Test Co",
) -> int:
    """Launch, approve as the customer, exchange the token; the delegation id (credentials live)."""
    view = services.delegations.launch(
        rep(services, email),
        LaunchRequest(
            company=company,
            aws_account_id=account,
            path=path,
            launch_token=new_launch_token(),
            session_duration=hours * 3600 if hours else None,
        ),
    )
    request_id = view.delegation_request_id
    customer_iam(services, account, "owner").associate_delegation_request(
        DelegationRequestId=request_id
    )
    customer_iam(services, account, "admin").accept_delegation_request(
        DelegationRequestId=request_id
    )
    customer_iam(services, account, "owner").send_delegation_token(DelegationRequestId=request_id)
    worker = services.new_worker()
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        worker.run_once(wait_seconds=0)
        if services.delegations.get(rep(services, email), view.id).credentials_live(
            services.clock.now()
        ):
            return view.id
    raise AssertionError("the delegation never reached live credentials")


def marketplace_backends(services: Services) -> list[Any]:
    return [
        services.sandbox.state.backends[name]
        for name in ("marketplace-catalog", "marketplace-agreement")
    ]


def set_sandbox_limits(services: Services, *, factor: float, throttling: bool = True) -> None:
    """The sandbox's Marketplace quotas: documented × ``factor``, enforced or not."""
    services.sandbox.control.set_config(rate_limit_factor=factor, throttling=throttling)
    for backend in marketplace_backends(services):
        assert backend.limiter.factor == factor  # the runtime knob reaches the backends
        backend.limiter.reset()


def seller(services: Services, account: str) -> Any:
    return marketplace_backends(services)[0].sellers.get(account)


def wait_for(job: SyncJob, kinds: set[Kind], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        progress = job.progress()
        assert progress.state != "failed", progress.error
        if kinds <= {k.kind for k in progress.kinds if k.complete}:
            return
        time.sleep(0.05)
    raise AssertionError(f"not complete in {timeout}s: {job.progress().kinds}")


def new_sync(services: Services, factor: float = 1.0) -> SyncService:
    return SyncService(
        customer_access=services.customer_access,
        delegations=services.delegations,
        funnel=services.funnel,
        first_sync=FirstSyncMarks(services.engine),
        clock=services.clock,
        rate_limit_factor=factor,
    )


# -- fixtures -----------------------------------------------------------------------------------


@pytest.fixture
def services(make_services: GraphFactory) -> Services:
    graph = make_services()
    set_sandbox_limits(graph, factor=1.0)
    return graph


# -- pagination, concurrency, throttling --------------------------------------------------------


def test_large_seller_lists_every_offer_agreement_and_change_set_exactly_once(
    services: Services,
) -> None:
    set_sandbox_limits(services, factor=20)
    delegation_id = connect(services, LARGE)
    sync = new_sync(services, factor=20)
    job = sync.job_for(rep(services), delegation_id)
    wait_for(job, {Kind.PRODUCTS, Kind.OFFERS, Kind.AGREEMENTS, Kind.CHANGE_SETS})
    job.stop()
    truth = seller(services, LARGE)
    progress = job.progress()
    offers = {
        i for i, e in truth.entities.items() if e.entity_type == "Offer" and e.ownership == "SELF"
    }
    products = {
        i
        for i, e in truth.entities.items()
        if e.entity_type.endswith("Product") and e.ownership == "SELF"
    }
    assert len(truth.agreements) > 2500
    assert len(offers) > 450
    assert set(job.agreements) == set(truth.agreements)
    assert progress.stats.listed["Agreements"] == len(truth.agreements)  # no page twice
    assert set(job.offers) == offers  # drafts included
    assert progress.stats.listed["Offers"] == len(offers)
    assert set(job.products) == products
    assert progress.stats.listed["Change sets"] == len(job.change_sets) > 20
    assert progress.stats.calls_by_operation["SearchAgreements"] == -(-len(truth.agreements) // 50)
    sync.close()


def test_sync_recovers_from_throttling_with_the_right_counts(services: Services) -> None:
    # The sandbox allows a quarter of the documented rates; the client still assumes the docs.
    set_sandbox_limits(services, factor=0.25)
    delegation_id = connect(services, SMALL)
    sync = new_sync(services)
    job = sync.job_for(rep(services), delegation_id)
    assert job.wait_done(90)
    progress = job.progress()
    truth = seller(services, SMALL)
    assert progress.state == "done", progress.error
    assert progress.stats.throttled + progress.stats.retries > 0  # it really was throttled
    assert set(job.agreement_details) == set(job.agreement_terms) == set(truth.agreements)
    assert len(job.offer_details) == len(job.offers) > 0
    assert len(job.product_details) == len(job.products) == 2
    sync.close()


def test_first_screen_comes_before_details_and_details_follow(services: Services) -> None:
    delegation_id = connect(services, TYPICAL)
    sync = new_sync(services)
    state = sync.open(rep(services), delegation_id, wait=5)
    assert state.progress.first_screen_ready
    assert len(state.snapshot.products) == 8
    assert not state.progress.finished  # 138 agreements at 5/s take far longer
    sync.close()


def test_stopping_during_the_first_screen_is_not_a_failure(services: Services) -> None:
    delegation_id = connect(services, SMALL)
    services.sandbox.control.set_config(latency_ms=300)  # the listings are still in flight
    job = new_sync(services).job_for(rep(services), delegation_id)
    job.stop()
    assert job.wait_first_screen(10)  # the listings in flight finish after the stop
    job.wait_done(10)
    services.sandbox.control.set_config(latency_ms=0)
    assert job.progress().error is None


def test_demo_ready_comes_with_every_active_agreement(services: Services) -> None:
    delegation_id = connect(services, SMALL)
    job = new_sync(services).job_for(rep(services), delegation_id)
    assert job.wait_done(60)
    stats = job.progress().stats
    assert stats.demo_ready_seconds is not None
    assert stats.full_seconds is not None
    assert stats.first_screen_seconds <= stats.demo_ready_seconds <= stats.full_seconds
    active = [a for a, s in job.agreements.items() if s["status"] == "ACTIVE"]
    assert active
    assert all(a in job.agreement_terms for a in active)


def test_opening_an_agreement_fetches_it_ahead_of_the_queue(services: Services) -> None:
    delegation_id = connect(services, TYPICAL)
    sync = new_sync(services)
    member = rep(services)
    job = sync.job_for(member, delegation_id)
    wait_for(job, {Kind.AGREEMENTS})
    # The oldest ended agreement is last in the queue; at 5/s it would take ~25 s to get there.
    waiting = [a for a in job.agreements if a not in job.agreement_details]
    last = max(waiting, key=lambda a: (job.agreements[a]["status"] == "ACTIVE", a))
    started = time.monotonic()
    state = sync.agreement(member, delegation_id, last)
    # Far below the ~25 s the queue would need: a generous bound, so load never flakes it.
    assert time.monotonic() - started < 10.0
    assert last in state.snapshot.agreement_details
    assert last in state.snapshot.agreement_terms
    assert not state.progress.finished
    sync.close()


# -- cache, expiry, funnel ----------------------------------------------------------------------


def test_cache_is_per_staff_member_and_dies_with_the_credentials(services: Services) -> None:
    delegation_id = connect(services, SMALL)
    sync = new_sync(services)
    maya = rep(services)
    cs = next(m for m in services.staff.list_active() if m.role.value == "cs")
    assert sync.job_for(maya, delegation_id) is sync.job_for(maya, delegation_id)
    assert sync.job_for(cs, delegation_id) is not sync.job_for(maya, delegation_id)
    view = services.delegations.get(maya, delegation_id)
    services.sandbox.advance(
        (view.credentials_expire_at - services.clock.now()).total_seconds() + 5
    )
    with pytest.raises(CredentialsUnavailable):
        sync.state(maya, delegation_id)
    assert sync._jobs == {}  # both members' cached data is gone
    sync.close()


def test_time_to_first_sync_is_recorded_once(services: Services) -> None:
    delegation_id = connect(services, SMALL)
    sync = new_sync(services)
    sync.open(rep(services), delegation_id, wait=5)
    sync.open(rep(services), delegation_id, wait=5)
    with Session(services.engine) as session:
        row = session.get(DelegationRequest, delegation_id)
        events = session.exec(
            select(FunnelEvent).where(
                FunnelEvent.delegation_id == delegation_id,
                FunnelEvent.step == FunnelStep.FIRST_SYNC,
            )
        ).all()
    assert row is not None
    assert row.first_sync_at is not None
    assert len(events) == 1
    assert 0 <= events[0].value_seconds < 60
    sync.close()


# -- listing updates ----------------------------------------------------------------------------


def _saas_product(job: SyncJob) -> str:
    return next(i for i, s in job.products.items() if s["EntityType"] == "SaaSProduct")


def test_read_only_demo_cannot_write(services: Services) -> None:
    delegation_id = connect(services, SMALL)
    sync = new_sync(services)
    member = rep(services)
    job = sync.job_for(member, delegation_id)
    job.wait_first_screen(5)
    edit = ListingEdit(_saas_product(job), "SaaSProduct@1.0", short_description="New text " * 12)
    updates = ListingUpdateService(customer_access=services.customer_access, sync=sync)
    with pytest.raises(PermissionDenied, match="read-only"):
        updates.submit(member, delegation_id, edit, new_request_token())
    # And if the call reached AWS anyway, AWS itself refuses it, in the same words.
    clients = services.customer_access.for_delegation(member, delegation_id)
    with pytest.raises(AwsAccessDenied) as refused:
        start_update(clients, edit, new_request_token())
    assert refused.value.message == READ_ONLY_DENIED
    assert refused.value.code == "AccessDeniedException"
    assert all(
        cs.name != "Vell trial listing update"
        for cs in seller(services, SMALL).change_sets.values()
    )
    sync.close()


def test_trial_updates_a_listing_and_the_change_set_succeeds(services: Services) -> None:
    delegation_id = connect(services, SMALL, DelegationPath.TRIAL, hours=2)
    sync = new_sync(services)
    member = rep(services)
    job = sync.job_for(member, delegation_id)
    assert job.wait_done(30)
    product_id = _saas_product(job)
    updates = ListingUpdateService(customer_access=services.customer_access, sync=sync)
    text = "Observability for AWS workloads: traces, metrics and logs in one place. " * 2
    edit = ListingEdit(product_id, "SaaSProduct@1.0", short_description=text, highlights=("Fast",))
    token = new_request_token()
    first = updates.submit(member, delegation_id, edit, token)
    again = updates.submit(member, delegation_id, edit, token)  # a double click
    assert again.change_set_id == first.change_set_id
    assert first.status == "PREPARING"
    services.sandbox.advance(25)
    assert updates.progress(member, delegation_id, first.change_set_id).status == "APPLYING"
    services.sandbox.advance(15)
    done = updates.progress(member, delegation_id, first.change_set_id, product_id=product_id)
    assert done.status == "SUCCEEDED"
    assert done.finished
    state = sync.product(member, delegation_id, product_id)  # refetched after success
    description = state.snapshot.product_details[product_id]["DetailsDocument"]["Description"]
    assert description["ShortDescription"] == text.strip()
    assert description["Highlights"] == ["Fast"]
    assert first.change_set_id in {cs["ChangeSetId"] for cs in state.snapshot.change_sets}
    sync.close()


def test_live_header_ticks_neither_write_nor_take_the_write_lock(services: Services) -> None:
    """The 2-second header fragment: no UPDATE per tick, no BEGIN IMMEDIATE (issue 13)."""
    delegation_id = connect(services, SMALL)
    sync = new_sync(services)
    member = rep(services)
    sync.open(member, delegation_id, wait=5)
    statements: list[str] = []
    me = threading.get_ident()  # the sync's own threads keep auditing their AWS calls

    def remember(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if threading.get_ident() == me:
            statements.append(statement.strip().split()[0].upper() + " " + statement[:40])

    event.listen(services.engine, "before_cursor_execute", remember)
    try:
        for _ in range(5):
            header = sync.header(member, delegation_id)
    finally:
        event.remove(services.engine, "before_cursor_execute", remember)
    assert header.progress.first_screen_ready
    assert not header.writable
    writes = [s for s in statements if s.split()[0] in {"UPDATE", "INSERT", "DELETE"}]
    assert writes == []
    assert not [s for s in statements if "IMMEDIATE" in s]
    sync.close()
