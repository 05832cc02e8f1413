"""Live sync of a customer's Marketplace data through delegated credentials, first screen first.

One :class:`SyncJob` per (staff member, delegation) holds what has been fetched so far; it is
kept in this service's memory only (never ``st.cache_data``: customer data must not go into a
cache shared by every user) and is dropped when the delegated credentials expire.

How a job runs:

1. **First screen**: ``ListEntities`` for each product type (the products table needs only the
   summaries). Nothing else is queued until this is done, so it is never slowed by other calls.
2. **Details, streamed**: offers (``ListEntities`` then ``BatchDescribeEntities`` in batches of
   20), products (``BatchDescribeEntities``), change sets (``ListChangeSets``), agreements
   (``SearchAgreements`` then ``DescribeAgreement`` + ``GetAgreementTerms`` each, active
   agreements ending soonest first). Every list is paginated until ``NextToken`` runs out, with
   guards against runaway page counts (botocore refuses a repeated token).
3. **Bounded concurrency**: a small ``ThreadPoolExecutor`` drains one priority queue; each call
   first takes a token from the customer account's bucket for that operation
   (:class:`AccountLimits`, at the documented per-account quotas), so the job stays under AWS's
   limits instead of relying on throttling. botocore's standard retries handle a stray
   ``ThrottlingException``; if one still gets through, the bucket slows down and the task waits
   and tries again.
4. **On demand**: opening a product, offer or agreement fetches it at once in the caller's
   thread with top priority on the buckets, ahead of the background queue.

Every call is audited with the screen it served (``audit.on_screen``): the background sync's
calls with the listings the rep opened, an on-demand fetch with the product, offer, agreement or
change set opened. That is what the customer's access record groups by.

Pages poll :meth:`SyncService.state` from an ``st.fragment(run_every=…)`` for progress.
"""

from __future__ import annotations

import contextvars
import heapq
import itertools
import logging
import math
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from functools import cache, partial
from typing import Any

import botocore.session
from botocore import xform_name
from botocore.exceptions import BotoCoreError, ClientError, PaginationError
from botocore.paginate import Paginator
from sqlalchemy import update
from sqlalchemy.engine import Engine
from sqlmodel import col

from vell_core.aws.clients import translate
from vell_core.domain.clock import Clock, ensure_utc
from vell_core.domain.errors import (
    AwsError,
    AwsThrottled,
    CredentialsUnavailable,
    PermissionDenied,
    VellError,
)
from vell_core.domain.iam_actions import requires
from vell_core.domain.models import (
    DelegationPath,
    DelegationRequest,
    ExchangeState,
    FunnelStep,
    ScreenKind,
)
from vell_core.domain.quotas import (
    MARKETPLACE_RATES,
    Monotonic,
    TokenBucket,
    bucket_for,
    burst_capacity,
)
from vell_core.domain.roles import StaffMember
from vell_core.services.audit import Screen, on_screen, within
from vell_core.services.customer_access import CustomerAccess, CustomerClients
from vell_core.services.delegation import DelegationFilter, DelegationService, DelegationView
from vell_core.store.engine import rows_affected, session_scope
from vell_core.store.funnel import FunnelRecorder
from vell_core.views.marketplace import PRODUCT_TYPES, MarketplaceSnapshot

log = logging.getLogger(__name__)

CATALOG = "AWSMarketplace"
LIVE_DEMO_SERVICES = ("marketplace-catalog", "marketplace-agreement")  # the clients a sync uses
RATE_MARGIN = 0.98  # stay a little under the quota so network jitter does not trip it
BURST_CUSHION = 0.5  # tokens of AWS's one-second burst left unused, for the same reason
PAGE_SIZE = {"ListEntities": 50, "ListChangeSets": 20, "SearchAgreements": 50}
BATCH_SIZE = 20  # BatchDescribeEntities takes at most 20 entities
MAX_PAGES = 2000  # a runaway-pagination guard far above any real seller (100k agreements)
MAX_CALL_ATTEMPTS = 6  # our own retries of a throttled background call, after botocore's
PROPOSER_FILTERS = [
    {"name": "PartyType", "values": ["Proposer"]},
    {"name": "AgreementType", "values": ["PurchaseAgreement"]},
]

# Priorities: lower runs first. On-demand fetches use ON_DEMAND on the buckets.
ON_DEMAND, CHAIN, PRODUCT_DETAIL, OFFER_DETAIL, ACTIVE_AGREEMENT, OTHER_AGREEMENT = range(6)


class Kind(StrEnum):
    """What a progress counter counts."""

    PRODUCTS = "Products"
    PRODUCT_DETAILS = "Product details"
    OFFERS = "Offers"
    OFFER_DETAILS = "Offer details"
    CHANGE_SETS = "Change sets"
    AGREEMENTS = "Agreements"
    AGREEMENT_DETAILS = "Agreement values"
    AGREEMENT_TERMS = "Agreement terms"


class SyncFailed(AwsError):
    """The sync stopped (pagination went wrong, or AWS refused a call)."""

    default_message = "The sync with the customer's account stopped; try Refresh."


# -- rate limiting ------------------------------------------------------------------------------


class Cancelled(Exception):
    """The job stopped while a call was waiting for a token."""


class PacedBucket:
    """The client side of a quota: waiters served by priority (lower first), then arrival.

    The refill rule is the domain's ``TokenBucket`` (the sandbox enforces the same one); this
    adds waiting, priorities and backing off when AWS throttles anyway. Waiting is a
    ``Condition.wait`` in the calling (background or on-demand) thread; pages never block here
    for longer than one token interval because on-demand calls jump the queue.
    """

    def __init__(self, rate: float, capacity: float, monotonic: Monotonic = time.monotonic) -> None:
        self.max_rate = rate
        self._monotonic = monotonic
        self._bucket = TokenBucket.full(rate, monotonic(), capacity)
        self._cond = threading.Condition()
        self._waiters: list[tuple[int, int]] = []
        self._seq = itertools.count()
        self._ok_since_penalty = 0

    @property
    def rate(self) -> float:
        """The current pace (below ``max_rate`` after a throttle)."""
        return self._bucket.rate

    @property
    def capacity(self) -> float:
        """The burst this bucket may spend."""
        return self._bucket.capacity

    def acquire(self, priority: int = CHAIN, stop: threading.Event | None = None) -> None:
        """Take one token, waiting behind higher-priority waiters; Cancelled if ``stop`` is set."""
        ticket = (priority, next(self._seq))
        with self._cond:
            heapq.heappush(self._waiters, ticket)
            try:
                while True:
                    if stop is not None and stop.is_set():
                        raise Cancelled()
                    head = self._waiters[0] == ticket
                    if head and self._bucket.try_take(self._monotonic()):
                        return
                    timeout = self._bucket.seconds_to_next() if head else 0.25
                    self._cond.wait(timeout=max(timeout, 0.0005))
            finally:
                self._waiters.remove(ticket)
                heapq.heapify(self._waiters)
                self._cond.notify_all()

    def penalize(self) -> None:
        """AWS throttled us anyway: halve the rate and drop any burst."""
        with self._cond:
            self._bucket.refill(self._monotonic())
            self._bucket.rate = max(self._bucket.rate / 2, self.max_rate / 32)
            self._bucket.tokens = min(self._bucket.tokens, 0.0)
            self._ok_since_penalty = 0

    def charge(self, extra: int) -> None:
        """Account for calls botocore retried on its own (AWS counted each attempt)."""
        with self._cond:
            self._bucket.refill(self._monotonic())
            self._bucket.tokens -= extra

    def reward(self) -> None:
        """A call went through: creep back towards the configured rate."""
        with self._cond:
            if self._bucket.rate >= self.max_rate:
                return
            self._ok_since_penalty += 1
            if self._ok_since_penalty >= 10:
                self._bucket.refill(self._monotonic())
                self._bucket.rate = min(self.max_rate, self._bucket.rate * 1.25)
                self._ok_since_penalty = 0


class AccountLimits:
    """One bucket per operation for one customer account (quotas are per account)."""

    def __init__(self, rates: dict[str, float], factor: float = 1.0) -> None:
        self.rates = {op: rate * factor for op, rate in rates.items()}
        self._buckets = {
            op: PacedBucket(rate * RATE_MARGIN, _capacity(rate)) for op, rate in self.rates.items()
        }

    def bucket(self, operation: str) -> PacedBucket:
        """The bucket an operation draws from."""
        return self._buckets[bucket_for(operation)]


def _capacity(rate: float) -> float:
    # AWS's bucket holds about one second of tokens and starts full: use that burst (a small
    # seller's ten agreements are mostly burst), less half a token, so a request that reaches
    # AWS a little early (network and thread-scheduling jitter) still finds a token there.
    return max(1.0, burst_capacity(rate) - BURST_CUSHION)


# -- progress and state -------------------------------------------------------------------------


@dataclass(frozen=True)
class KindProgress:
    """How far one kind of data has got."""

    kind: Kind
    done: int
    total: int
    complete: bool

    @property
    def label(self) -> str:
        """``Offer details 120/500``."""
        return f"{self.kind.value} {self.done}/{self.total}" + ("" if self.complete else "…")


@dataclass(frozen=True)
class SyncStats:
    """Counters for the page's footer and the benchmark."""

    api_calls: int
    calls_by_operation: dict[str, int]
    retries: int
    throttled: int
    listed: dict[str, int]  # items received per listing, counting any duplicate twice
    first_screen_seconds: float | None
    full_seconds: float | None
    demo_ready_seconds: float | None = None  # products, offers, change sets, active agreements


@dataclass(frozen=True)
class SyncProgress:
    """What the progress fragment shows."""

    state: str  # "running" | "done" | "failed"
    first_screen_ready: bool
    kinds: tuple[KindProgress, ...]
    stats: SyncStats
    error: str | None = None

    @property
    def fraction(self) -> float:
        """Share of known items fetched (0–1)."""
        total = sum(k.total for k in self.kinds)
        done = sum(k.done for k in self.kinds)
        if self.state == "done":
            return 1.0
        return done / total if total else 0.0

    @property
    def finished(self) -> bool:
        """True once nothing more will arrive."""
        return self.state in ("done", "failed")


@dataclass(frozen=True)
class DemoState:
    """Everything a live-demo page needs from one service call."""

    delegation: DelegationView
    snapshot: MarketplaceSnapshot
    progress: SyncProgress
    now: datetime
    expires_at: datetime

    @property
    def writable(self) -> bool:
        """Listing updates are possible only in a trial (full-access policy)."""
        return self.delegation.path is DelegationPath.TRIAL

    @property
    def write_refusal(self) -> str | None:
        """Why the listing-update control is disabled, or None."""
        return write_refusal(self.delegation)


@dataclass(frozen=True)
class LiveHeader:
    """The live demo's header: sync progress and the access countdown (no customer data)."""

    progress: SyncProgress
    now: datetime
    expires_at: datetime
    writable: bool


def write_refusal(view: DelegationView) -> str | None:
    """Why listing updates are refused for this delegation, or None when allowed."""
    if view.path is DelegationPath.TRIAL:
        return None
    return (
        "Read-only demo: the customer approved read-only access (Quick Start Demo), so AWS "
        "refuses listing updates. Launch an Extended Trial to update listings."
    )


@dataclass(frozen=True)
class DelegationChoice:
    """A delegation the rep can browse."""

    delegation_id: int
    label: str
    live: bool
    expires_at: datetime | None
    renewable: bool = False


# -- the job ------------------------------------------------------------------------------------


@dataclass(order=True)
class _Task:
    priority: tuple[int, float, int]
    run: Callable[[], None] = field(compare=False)
    name: str = field(compare=False, default="")


@cache
def _page_config(service: str, operation: str) -> dict[str, Any]:
    """botocore's pagination model for one operation (its token names, result key)."""
    return dict(
        botocore.session.get_session().get_paginator_model(service).get_paginator(operation)
    )


class SyncJob:
    """The background sync of one delegation for one staff member (thread-safe)."""

    def __init__(
        self,
        *,
        clients: CustomerClients,
        limits: AccountLimits,
        max_workers: int,
        on_first_screen: Callable[[SyncJob], None] | None = None,
    ) -> None:
        self.clients = clients
        self.limits = limits
        self.expires_at = clients.expires_at
        # The background sync fills the live demo's tables: its calls serve the listings screen.
        self.screen = Screen(ScreenKind.LISTINGS)
        self.first_sync_noted = False  # set once SyncService has recorded the first screen
        self._max_workers = max_workers
        self._on_first_screen = on_first_screen
        self._lock = threading.Condition()
        self._queue: list[_Task] = []
        self._seq = itertools.count()
        self._in_flight = 0
        self._stop = threading.Event()
        self._first_screen = threading.Event()
        self._finished = threading.Event()
        self._pending_product_types = set(PRODUCT_TYPES)
        self._complete: set[Kind] = set()
        self._error: str | None = None
        self._executor: ThreadPoolExecutor | None = None
        self._started = time.monotonic()
        self._first_screen_seconds: float | None = None
        self._full_seconds: float | None = None
        self._demo_ready_seconds: float | None = None
        self._demo_outstanding = 0  # queued or running tasks a demo needs (not ended agreements)
        self._calls: dict[str, int] = {}
        self._listed: dict[str, int] = {}
        self._retries = 0
        self._throttled = 0
        self.products: dict[str, dict[str, Any]] = {}
        self.product_details: dict[str, dict[str, Any]] = {}
        self.offers: dict[str, dict[str, Any]] = {}
        self.offer_details: dict[str, dict[str, Any]] = {}
        self.change_sets: dict[str, dict[str, Any]] = {}
        self.agreements: dict[str, dict[str, Any]] = {}
        self.agreement_details: dict[str, dict[str, Any]] = {}
        self.agreement_terms: dict[str, list[dict[str, Any]]] = {}

    # -- lifecycle ----------------------------------------------------------------------------

    def start(self) -> SyncJob:
        """Queue the first screen and start the workers."""
        self._started = time.monotonic()
        for entity_type in PRODUCT_TYPES:
            self._push(CHAIN, partial(self._list_products, entity_type), f"list {entity_type}")
        self._executor = ThreadPoolExecutor(self._max_workers, thread_name_prefix="vell-sync")
        # Only as many threads as first-screen calls at first: idle threads starting up would
        # compete with them for the GIL. The rest start once the first screen is in.
        for _ in range(min(len(PRODUCT_TYPES), self._max_workers)):
            self._executor.submit(self._work)
        return self

    def stop(self) -> None:
        """Stop the workers (queued tasks are dropped; a call in flight finishes)."""
        self._stop.set()
        with self._lock:
            self._lock.notify_all()
        if self._executor is not None:
            self._executor.shutdown(wait=False, cancel_futures=True)

    def wait_first_screen(self, timeout: float) -> bool:
        """Block up to ``timeout`` seconds for the products table; True when it is ready."""
        return self._first_screen.wait(timeout) or self._finished.is_set()

    def wait_done(self, timeout: float | None = None) -> bool:
        """Block until every detail is in (tests, benchmark)."""
        return self._finished.wait(timeout)

    # -- the queue ----------------------------------------------------------------------------

    def _push(self, level: int, run: Callable[[], None], name: str, order: float = 0.0) -> None:
        if self._stop.is_set():
            return
        with self._lock:
            heapq.heappush(self._queue, _Task((level, order, next(self._seq)), run, name))
            self._demo_outstanding += level < OTHER_AGREEMENT
            self._lock.notify()

    def _work(self) -> None:
        while True:
            with self._lock:
                while not self._queue and self._in_flight and not self._stop.is_set():
                    self._lock.wait(0.5)
                if self._stop.is_set() or not self._queue:
                    self._finish_if_idle()
                    return
                task = heapq.heappop(self._queue)
                self._in_flight += 1
            try:
                self._run(task)
            finally:
                with self._lock:
                    self._in_flight -= 1
                    self._demo_task_done(task)
                    self._lock.notify_all()

    def _demo_task_done(self, task: _Task) -> None:
        """Demo-ready: everything but the ended agreements is in (caller holds the lock)."""
        if task.priority[0] >= OTHER_AGREEMENT:
            return
        self._demo_outstanding -= 1
        ready = self._demo_outstanding == 0 and self._first_screen.is_set()
        if ready and self._demo_ready_seconds is None and self._error is None:
            self._demo_ready_seconds = time.monotonic() - self._started

    def _finish_if_idle(self) -> None:
        if not self._queue and not self._in_flight and not self._finished.is_set():
            if self._full_seconds is None and self._error is None and not self._stop.is_set():
                self._full_seconds = time.monotonic() - self._started
            self._finished.set()
            self._lock.notify_all()

    def _run(self, task: _Task) -> None:
        try:
            with within(self.screen):
                task.run()
        except Cancelled:
            return
        except AwsThrottled:
            self._fail(f"AWS kept throttling ({task.name}); try Refresh in a minute.")
        except VellError as error:
            self._fail(error.message)
        except Exception:  # never let a worker die silently; the page shows the failure
            log.exception("sync task %s failed", task.name)
            self._fail("The sync stopped unexpectedly; try Refresh.")

    def _fail(self, message: str) -> None:
        with self._lock:
            if self._error is None:
                self._error = message
        log.warning("sync of delegation %s failed: %s", self.clients.delegation.id, message)
        self._stop.set()
        self._first_screen.set()
        with self._lock:
            self._queue.clear()
            self._finish_if_idle()

    # -- calling AWS --------------------------------------------------------------------------

    def call(self, service: str, operation: str, method: str, priority: int, **kwargs: Any) -> Any:
        """One API call: wait for a token, call, count it (retries included), translate errors.

        botocore's standard retries come first; if AWS still throttles a background call, the
        bucket slows down and the call waits and tries again (on-demand calls report it).
        """
        bucket = self.limits.bucket(operation)
        attempts = 1 if priority == ON_DEMAND else MAX_CALL_ATTEMPTS
        for attempt in range(1, attempts + 1):
            bucket.acquire(priority, None if priority == ON_DEMAND else self._stop)
            try:
                response = self._send(service, operation, method, **kwargs)
            except AwsThrottled:
                bucket.penalize()
                with self._lock:
                    self._throttled += 1
                if attempt == attempts or self._stop.wait(min(0.25 * 2.0**attempt, 8.0)):
                    raise
                continue
            bucket.reward()
            return response
        raise AssertionError("unreachable")  # pragma: no cover

    def _send(self, service: str, operation: str, method: str, **kwargs: Any) -> Any:
        client = self.clients.client(service)
        try:
            response = getattr(client, method)(**kwargs)
        except ClientError as error:
            self._count(operation, error.response.get("ResponseMetadata", {}))
            raise translate(error, f"{service}.{operation}") from None
        except BotoCoreError as error:
            self._count(operation, {})
            raise translate(error, f"{service}.{operation}") from None
        self._count(operation, response.get("ResponseMetadata", {}))
        return response

    def _tally(self, kind: Kind, items: list[Any]) -> None:
        """Count listed items as received (duplicates across pages would show here)."""
        self._listed[kind.value] = self._listed.get(kind.value, 0) + len(items)

    def _count(self, operation: str, metadata: dict[str, Any]) -> None:
        retries = int(metadata.get("RetryAttempts", 0) or 0)
        if retries:
            self.limits.bucket(operation).charge(retries)
        with self._lock:
            self._calls[operation] = self._calls.get(operation, 0) + 1 + retries
            self._retries += retries

    def _pages(
        self,
        what: str,
        service: str,
        operation: str,
        priority: int,
        kwargs: dict[str, Any],
    ) -> Iterator[dict[str, Any]]:
        """Every page of one listing, through botocore's paginator, each call paced and counted.

        botocore knows each API's token names and refuses a repeated token; the paginator
        calls ``self.call`` for each page, so pages take their tokens from the quota bucket.
        """
        client = self.clients.client(service)
        paginator = Paginator(
            partial(self.call, service, operation, xform_name(operation), priority),
            _page_config(service, operation),
            client.meta.service_model.operation_model(operation),
        )
        try:
            for number, page in enumerate(paginator.paginate(**kwargs), 1):
                yield page
                if number >= MAX_PAGES:
                    raise SyncFailed(f"Stopped listing {what} after {MAX_PAGES} pages.")
        except PaginationError as error:
            raise SyncFailed(f"AWS paged {what} inconsistently: {error}") from None

    # -- first screen -------------------------------------------------------------------------

    @requires("sync.list_listings")
    def _list_products(self, entity_type: str) -> None:
        pages = self._pages(
            f"{entity_type} products",
            "marketplace-catalog",
            "ListEntities",
            CHAIN,
            _list_kwargs(entity_type),
        )
        for page in pages:
            with self._lock:
                self._tally(Kind.PRODUCTS, page.get("EntitySummaryList", []))
                for summary in page.get("EntitySummaryList", []):
                    self.products[summary["EntityId"]] = summary
        with self._lock:
            self._pending_product_types.discard(entity_type)
            ready = not self._pending_product_types
        if ready:
            self._first_screen_done()

    def _first_screen_done(self) -> None:
        with self._lock:
            self._complete.add(Kind.PRODUCTS)
            self._first_screen_seconds = time.monotonic() - self._started
        self._first_screen.set()
        if self._on_first_screen is not None:
            self._on_first_screen(self)
        self._queue_details()
        if self._executor is not None:
            for _ in range(max(0, self._max_workers - len(PRODUCT_TYPES))):
                try:
                    self._executor.submit(self._work)
                except RuntimeError:  # stopped meanwhile (Refresh, expiry): nothing to start
                    return

    def _queue_details(self) -> None:
        with self._lock:
            product_ids = list(self.products)
        for batch in _batches(product_ids):
            self._push(PRODUCT_DETAIL, partial(self._describe_batch, batch, "product"), "products")
        self._push(CHAIN, self._search_agreements, "search agreements")
        self._push(CHAIN, self._list_offers, "list offers")
        self._push(CHAIN, self._list_change_sets, "list change sets")

    # -- details ------------------------------------------------------------------------------

    @requires("sync.list_listings")
    def _list_offers(self) -> None:
        pages = self._pages(
            "offers", "marketplace-catalog", "ListEntities", CHAIN, _list_kwargs("Offer")
        )
        for page in pages:
            summaries = page.get("EntitySummaryList", [])
            with self._lock:
                self._tally(Kind.OFFERS, summaries)
                for summary in summaries:
                    self.offers[summary["EntityId"]] = summary
            for batch in _batches([s["EntityId"] for s in summaries]):
                self._push(OFFER_DETAIL, partial(self._describe_batch, batch, "offer"), "offers")
        with self._lock:
            self._complete.add(Kind.OFFERS)

    @requires("sync.list_change_sets")
    def _list_change_sets(self) -> None:
        kwargs = {"Catalog": CATALOG, "MaxResults": PAGE_SIZE["ListChangeSets"]}
        for page in self._pages(
            "change sets", "marketplace-catalog", "ListChangeSets", CHAIN, kwargs
        ):
            with self._lock:
                self._tally(Kind.CHANGE_SETS, page.get("ChangeSetSummaryList", []))
                for item in page.get("ChangeSetSummaryList", []):
                    self.change_sets[item["ChangeSetId"]] = item
        with self._lock:
            self._complete.add(Kind.CHANGE_SETS)

    @requires("sync.search_agreements")
    def _search_agreements(self) -> None:
        kwargs = {
            "catalog": CATALOG,
            "filters": PROPOSER_FILTERS,
            "maxResults": PAGE_SIZE["SearchAgreements"],
        }
        for page in self._pages(
            "agreements", "marketplace-agreement", "SearchAgreements", CHAIN, kwargs
        ):
            summaries = page.get("agreementViewSummaries", [])
            with self._lock:
                self._tally(Kind.AGREEMENTS, summaries)
                for summary in summaries:
                    self.agreements[summary["agreementId"]] = summary
            for summary in summaries:
                self._queue_agreement(summary)
        with self._lock:
            self._complete.add(Kind.AGREEMENTS)

    def _queue_agreement(self, summary: dict[str, Any]) -> None:
        """Active agreements ending soonest first: they fill the renewals view."""
        agreement_id = summary["agreementId"]
        end = summary.get("endTime")
        active = summary.get("status") == "ACTIVE"
        level = ACTIVE_AGREEMENT if active else OTHER_AGREEMENT
        order = ensure_utc(end).timestamp() if active and isinstance(end, datetime) else math.inf
        self._push(
            level, lambda: self._describe_agreement(agreement_id), "describe agreement", order
        )
        self._push(level, lambda: self._agreement_terms(agreement_id), "agreement terms", order)

    @requires("sync.describe_entities")
    def _describe_batch(self, entity_ids: list[str], kind: str, priority: int = CHAIN) -> None:
        target = self.product_details if kind == "product" else self.offer_details
        with self._lock:
            wanted = [i for i in entity_ids if i not in target]
        if not wanted:
            return
        answer = self.call(
            "marketplace-catalog",
            "BatchDescribeEntities",
            "batch_describe_entities",
            priority,
            EntityRequestList=[{"Catalog": CATALOG, "EntityId": i} for i in wanted],
        )
        with self._lock:
            for entity_id, detail in (answer.get("EntityDetails") or {}).items():
                target[entity_id] = _entity_detail(detail)
        for entity_id, error in (answer.get("Errors") or {}).items():
            log.info("entity %s not described: %s", entity_id, error.get("ErrorCode"))

    @requires("sync.describe_agreement")
    def _describe_agreement(self, agreement_id: str, priority: int = CHAIN) -> None:
        if agreement_id in self.agreement_details and priority != ON_DEMAND:
            return
        answer = self.call(
            "marketplace-agreement",
            "DescribeAgreement",
            "describe_agreement",
            priority,
            agreementId=agreement_id,
        )
        answer.pop("ResponseMetadata", None)
        with self._lock:
            self.agreement_details[agreement_id] = answer

    @requires("sync.get_agreement_terms")
    def _agreement_terms(self, agreement_id: str, priority: int = CHAIN) -> None:
        if agreement_id in self.agreement_terms and priority != ON_DEMAND:
            return
        terms: list[dict[str, Any]] = []
        kwargs = {"agreementId": agreement_id, "maxResults": 50}
        for page in self._pages(
            f"terms of {agreement_id}",
            "marketplace-agreement",
            "GetAgreementTerms",
            priority,
            kwargs,
        ):
            terms.extend(page.get("acceptedTerms", []))
        with self._lock:
            self.agreement_terms[agreement_id] = terms

    # -- on demand ----------------------------------------------------------------------------

    @requires("sync.describe_entities")
    def fetch_entity(self, entity_id: str, kind: str) -> None:
        """DescribeEntity now, ahead of the queue (the rep opened it)."""
        answer = self.call(
            "marketplace-catalog",
            "DescribeEntity",
            "describe_entity",
            ON_DEMAND,
            Catalog=CATALOG,
            EntityId=entity_id,
        )
        target = self.product_details if kind == "product" else self.offer_details
        with self._lock:
            target[entity_id] = _entity_detail(answer)

    def fetch_agreement(self, agreement_id: str) -> None:
        """DescribeAgreement and GetAgreementTerms now, ahead of the queue, side by side.

        The two draw from different quotas, so running them concurrently puts the agreement on
        screen in one round trip instead of two.
        """
        with ThreadPoolExecutor(1, thread_name_prefix="vell-open") as pool:
            # The pool thread is audited on the caller's screen (the agreement opened).
            run_here = contextvars.copy_context().run
            terms = pool.submit(run_here, self._agreement_terms, agreement_id, ON_DEMAND)
            self._describe_agreement(agreement_id, ON_DEMAND)
            terms.result()

    @requires("sync.describe_change_set")
    def describe_change_set(self, change_set_id: str) -> dict[str, Any]:
        """DescribeChangeSet now (always live: the status moves)."""
        answer = self.call(
            "marketplace-catalog",
            "DescribeChangeSet",
            "describe_change_set",
            ON_DEMAND,
            Catalog=CATALOG,
            ChangeSetId=change_set_id,
        )
        answer.pop("ResponseMetadata", None)
        return dict(answer)

    def forget_entity(self, entity_id: str) -> None:
        """Drop a cached entity detail (it changed); the next open fetches it again."""
        with self._lock:
            self.product_details.pop(entity_id, None)
            self.offer_details.pop(entity_id, None)

    def record_change_set(self, summary: dict[str, Any]) -> None:
        """Add or update a change set we started, so history shows it at once."""
        with self._lock:
            known = self.change_sets.get(summary["ChangeSetId"], {"EntityIdList": []})
            self.change_sets[summary["ChangeSetId"]] = {**known, **summary}

    # -- reading ------------------------------------------------------------------------------

    def snapshot(self, now: datetime) -> MarketplaceSnapshot:
        """A consistent copy of everything fetched so far."""
        with self._lock:
            return MarketplaceSnapshot(
                account_id=self.clients.delegation.aws_account_id,
                taken_at=now,
                products=dict(self.products),
                product_details=dict(self.product_details),
                offers=dict(self.offers),
                offer_details=dict(self.offer_details),
                change_sets=tuple(self.change_sets.values()),
                agreements=dict(self.agreements),
                agreement_details=dict(self.agreement_details),
                agreement_terms=dict(self.agreement_terms),
            )

    def progress(self) -> SyncProgress:
        """Counters per kind, state, call statistics."""
        with self._lock:
            done = self._finished.is_set()
            complete = set(self._complete) | ({*Kind} if done and not self._error else set())
            counts = [
                (Kind.PRODUCTS, len(self.products), len(self.products)),
                (Kind.PRODUCT_DETAILS, len(self.product_details), len(self.products)),
                (Kind.OFFERS, len(self.offers), len(self.offers)),
                (Kind.OFFER_DETAILS, len(self.offer_details), len(self.offers)),
                (Kind.CHANGE_SETS, len(self.change_sets), len(self.change_sets)),
                (Kind.AGREEMENTS, len(self.agreements), len(self.agreements)),
                (Kind.AGREEMENT_DETAILS, len(self.agreement_details), len(self.agreements)),
                (Kind.AGREEMENT_TERMS, len(self.agreement_terms), len(self.agreements)),
            ]
            kinds = tuple(
                KindProgress(kind, min(d, t), t, kind in complete or (d >= t and done))
                for kind, d, t in counts
            )
            stats = SyncStats(
                api_calls=sum(self._calls.values()),
                calls_by_operation=dict(self._calls),
                retries=self._retries,
                throttled=self._throttled,
                listed=dict(self._listed),
                first_screen_seconds=self._first_screen_seconds,
                full_seconds=self._full_seconds,
                demo_ready_seconds=self._demo_ready_seconds,
            )
            state = "failed" if self._error else ("done" if done else "running")
            return SyncProgress(
                state=state,
                first_screen_ready=self._first_screen.is_set() and not self._error,
                kinds=kinds,
                stats=stats,
                error=self._error,
            )


def _list_kwargs(entity_type: str) -> dict[str, Any]:
    kwargs: dict[str, Any] = {
        "Catalog": CATALOG,
        "EntityType": entity_type,
        "MaxResults": PAGE_SIZE["ListEntities"],
    }
    if entity_type == "Offer":
        # Ask for both states: without a State filter AWS may return only Released offers.
        kwargs["EntityTypeFilters"] = {
            "OfferFilters": {"State": {"ValueList": ["Draft", "Released"]}}
        }
    return kwargs


def _batches(ids: list[str]) -> list[list[str]]:
    return [ids[i : i + BATCH_SIZE] for i in range(0, len(ids), BATCH_SIZE)]


def _entity_detail(answer: dict[str, Any]) -> dict[str, Any]:
    """The fields of a (Batch)DescribeEntity answer the views use."""
    keys = ("EntityType", "EntityIdentifier", "EntityArn", "LastModifiedDate", "DetailsDocument")
    return {key: answer.get(key) for key in keys}


def default_workers(rates: dict[str, float], factor: float) -> int:
    """Enough threads to keep the agreement and describe buckets busy at ~100 ms per call."""
    busy = sum(
        rates.get(op, 0) for op in ("DescribeAgreement", "GetAgreementTerms", "DescribeEntity")
    )
    return int(min(24, max(6, math.ceil(busy * factor * 0.12) + 3)))


# -- the service --------------------------------------------------------------------------------


class SyncService:
    """Starts, caches and serves sync jobs per (staff member, delegation)."""

    def __init__(
        self,
        *,
        customer_access: CustomerAccess,
        delegations: DelegationService,
        funnel: FunnelRecorder,
        engine: Engine,
        clock: Clock,
        rates: dict[str, float] | None = None,
        rate_limit_factor: float = 1.0,
        max_workers: int | None = None,
    ) -> None:
        self._access = customer_access
        self._delegations = delegations
        self._funnel = funnel
        self._engine = engine
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
        """Approval → first listings on screen, once per delegation (whoever looks first)."""
        if view.approved_at is None or not mark_first_sync(self._engine, view.id, now):
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


def mark_first_sync(engine: Engine, delegation_id: int, when: datetime) -> bool:
    """Set ``first_sync_at`` unless already set; True only for the call that set it."""
    statement = (
        update(DelegationRequest)
        .where(col(DelegationRequest.id) == delegation_id)
        .where(col(DelegationRequest.first_sync_at).is_(None))
        .values(first_sync_at=when)
    )
    with session_scope(engine) as session:
        return bool(rows_affected(session.execute(statement)))
