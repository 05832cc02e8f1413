"""``SyncService``: the live sync of every rep's delegations (jobs by staff member)."""

from __future__ import annotations

import logging
import math
import threading
from datetime import datetime

from vell_core.domain.clock import Clock, ensure_utc
from vell_core.domain.errors import (
    CredentialsUnavailable,
    PermissionDenied,
)
from vell_core.domain.models import (
    DelegationPath,
    ExchangeState,
    FunnelStep,
    ScreenKind,
)
from vell_core.domain.quotas import (
    MARKETPLACE_RATES,
)
from vell_core.domain.roles import StaffMember
from vell_core.services.audit import on_screen
from vell_core.services.customer_access import CustomerAccess
from vell_core.services.delegation import DelegationFilter, DelegationService, DelegationView
from vell_core.services.sync.job import SyncJob
from vell_core.services.sync.pacing import AccountLimits
from vell_core.services.sync.progress import DelegationChoice, DemoState, LiveHeader, SyncProgress
from vell_core.store.delegations import FirstSyncMarks
from vell_core.store.funnel import FunnelRecorder

log = logging.getLogger(__name__)


LIVE_DEMO_SERVICES = ("marketplace-catalog", "marketplace-agreement")  # the clients a sync uses


def default_workers(rates: dict[str, float], factor: float) -> int:
    """Enough threads to keep the agreement and describe buckets busy at ~100 ms per call."""
    busy = sum(
        rates.get(op, 0) for op in ("DescribeAgreement", "GetAgreementTerms", "DescribeEntity")
    )
    return int(min(24, max(6, math.ceil(busy * factor * 0.12) + 3)))


class SyncService:
    """Starts, caches and serves sync jobs per (staff member, delegation)."""

    def __init__(
        self,
        *,
        customer_access: CustomerAccess,
        delegations: DelegationService,
        funnel: FunnelRecorder,
        first_sync: FirstSyncMarks,
        clock: Clock,
        rates: dict[str, float] | None = None,
        rate_limit_factor: float = 1.0,
        max_workers: int | None = None,
    ) -> None:
        self._access = customer_access
        self._delegations = delegations
        self._funnel = funnel
        self._first_sync = first_sync
        self._clock = clock
        self._rates = dict(rates or MARKETPLACE_RATES)
        self._factor = rate_limit_factor
        self._workers = max_workers or default_workers(self._rates, rate_limit_factor)
        self._lock = threading.Lock()
        self._jobs: dict[tuple[int, int], SyncJob] = {}
        self._limits: dict[str, AccountLimits] = {}

    @property
    def rates_in_force(self) -> dict[str, float]:
        """Per-operation quotas the jobs stay under (documented × factor)."""
        return {op: rate * self._factor for op, rate in self._rates.items()}

    def choices(
        self, member: StaffMember | None, include: int | None = None
    ) -> list[DelegationChoice]:
        """The member's own delegations that released access: live ones first, then ended ones.

        Ended ones stay listed (as expired, with when access ended) so the rep sees what
        happened and can renew, instead of a delegation silently vanishing from the picker.
        ``include`` is kept for callers that name the one being browsed.
        """
        if member is None:  # checked before ``member.id`` is read: a permission error, not a crash
            raise PermissionDenied("Please sign in first.")
        now = self._clock.now()
        views = self._delegations.list(member, DelegationFilter(rep_ids=(member.id,)))
        found = [
            DelegationChoice(
                delegation_id=v.id,
                label=f"{v.company} · {v.aws_account_id} · {v.path.value} (#{v.id})",
                live=v.credentials_live(now),
                expires_at=v.credentials_expire_at,
                renewable=v.renewable,
            )
            for v in views
            if v.exchange_state is ExchangeState.DONE or v.id == include
        ]
        return sorted(found, key=lambda c: (not c.live, -c.delegation_id))

    def open(self, member: StaffMember, delegation_id: int, *, wait: float = 2.0) -> DemoState:
        """Start (or reuse) the sync; wait up to ``wait`` s for the first screen; report it."""
        job = self._job(member, delegation_id)
        if wait > 0:
            job.wait_first_screen(wait)
        return self._state(job)

    def state(self, member: StaffMember, delegation_id: int) -> DemoState:
        """The current state without waiting."""
        return self._state(self._job(member, delegation_id))

    def header(self, member: StaffMember, delegation_id: int) -> LiveHeader:
        """What the live header shows, without copying the snapshot (the 2-second fragment).

        Access is re-checked as on every call; nothing else touches the store.
        """
        job = self._job(member, delegation_id)
        progress = job.progress()
        now = self._clock.now()
        self._note_first_screen(job, progress, now)
        return LiveHeader(
            progress=progress,
            now=now,
            expires_at=job.expires_at,
            writable=job.clients.delegation.path is DelegationPath.TRIAL,
        )

    def product(self, member: StaffMember, delegation_id: int, product_id: str) -> DemoState:
        """Make sure one product's detail is in, fetching it now if the queue has not."""
        job = self._job(member, delegation_id)
        if product_id not in job.product_details:
            with on_screen(ScreenKind.PRODUCT, product_id):
                job.fetch_entity(product_id, "product")
        return self._state(job)

    def offer(self, member: StaffMember, delegation_id: int, offer_id: str) -> DemoState:
        """Make sure one offer's detail is in, fetching it now if needed."""
        job = self._job(member, delegation_id)
        if offer_id not in job.offer_details:
            with on_screen(ScreenKind.OFFER, offer_id):
                job.fetch_entity(offer_id, "offer")
        return self._state(job)

    def agreement(self, member: StaffMember, delegation_id: int, agreement_id: str) -> DemoState:
        """Make sure one agreement's value and terms are in, fetching them now if needed."""
        job = self._job(member, delegation_id)
        if agreement_id not in job.agreement_details or agreement_id not in job.agreement_terms:
            with on_screen(ScreenKind.AGREEMENT, agreement_id):
                job.fetch_agreement(agreement_id)
        return self._state(job)

    def change_set(self, member: StaffMember, delegation_id: int, change_set_id: str) -> dict:
        """DescribeChangeSet, live."""
        job = self._job(member, delegation_id)
        with on_screen(ScreenKind.CHANGE_SET, change_set_id):
            return job.describe_change_set(change_set_id)

    def refresh(self, member: StaffMember, delegation_id: int) -> None:
        """Drop this member's cached data for the delegation; the next open syncs again."""
        with self._lock:
            job = self._jobs.pop((member.id, delegation_id), None)
        if job is not None:
            job.stop()

    def job_for(self, member: StaffMember, delegation_id: int) -> SyncJob:
        """The live job (listing updates record their change sets into it)."""
        return self._job(member, delegation_id)

    def close(self) -> None:
        """Stop every job (process shutdown, tests)."""
        with self._lock:
            jobs = list(self._jobs.values())
            self._jobs.clear()
        for job in jobs:
            job.stop()

    # -- internals ----------------------------------------------------------------------------

    def _job(self, member: StaffMember, delegation_id: int) -> SyncJob:
        """Re-check access on every call; reuse the job until the credentials expire."""
        self._sweep()
        try:
            clients = self._access.for_delegation(member, delegation_id, action="demo.browse")
        except CredentialsUnavailable:
            self.refresh(member, delegation_id)
            raise
        key = (member.id, delegation_id)
        with self._lock:
            job = self._jobs.get(key)
            if job is not None and job.expires_at > self._clock.now():
                return job
            if job is not None:
                job.stop()
            job = SyncJob(
                clients=clients,
                limits=self._limits_for(clients.delegation.aws_account_id),
                max_workers=self._workers,
            )
            self._jobs[key] = job
        return job.start()

    def _limits_for(self, account_id: str) -> AccountLimits:
        # Shared by every job on the same customer account: AWS counts per account.
        limits = self._limits.get(account_id)
        if limits is None:
            limits = AccountLimits(self._rates, self._factor)
            self._limits[account_id] = limits
        return limits

    def _sweep(self) -> None:
        """Drop jobs whose credentials have expired, whoever they belong to."""
        now = self._clock.now()
        with self._lock:
            expired = [key for key, job in self._jobs.items() if job.expires_at <= now]
            dropped = [self._jobs.pop(key) for key in expired]
        for job in dropped:
            job.stop()

    def _state(self, job: SyncJob) -> DemoState:
        now = self._clock.now()
        progress = job.progress()
        self._note_first_screen(job, progress, now)
        return DemoState(
            delegation=job.clients.delegation,
            snapshot=job.snapshot(now),
            progress=progress,
            now=now,
            expires_at=job.expires_at,
        )

    def _note_first_screen(self, job: SyncJob, progress: SyncProgress, now: datetime) -> None:
        """Record approval → first listings once per job (it was an UPDATE on every tick)."""
        if progress.first_screen_ready and not job.first_sync_noted:
            job.first_sync_noted = True
            self._record_first_sync(job.clients.delegation, now)

    def _record_first_sync(self, view: DelegationView, now: datetime) -> None:
        """Approval → first listings on screen, once per delegation (whoever looks first).

        The mark and the funnel event are two transactions: the mark is the compare-and-set
        that picks the one caller who records, and the recorder writes in its own.
        """
        if view.approved_at is None or not self._first_sync.mark(view.id, now):
            return
        self._funnel.record(
            session_id=view.wizard_session_id or f"delegation-{view.id}",
            step=FunnelStep.FIRST_SYNC,
            customer=view.aws_account_id,
            company=view.company,
            path=view.path.value,
            actor_user_id=view.rep_id,
            delegation_id=view.id,
            value_seconds=max(0.0, (now - ensure_utc(view.approved_at)).total_seconds()),
        )
