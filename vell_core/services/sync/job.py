"""One delegation's sync for one staff member: the priority queue, the pool, the fetchers."""

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
from functools import partial
from typing import Any

from botocore import xform_name
from botocore.exceptions import BotoCoreError, ClientError, PaginationError
from botocore.paginate import Paginator

from vell_core.aws.clients import translate
from vell_core.domain.clock import ensure_utc
from vell_core.domain.errors import (
    AwsError,
    AwsThrottled,
    VellError,
)
from vell_core.domain.iam_actions import requires
from vell_core.domain.marketplace import PRODUCT_TYPES, MarketplaceSnapshot
from vell_core.domain.models import (
    ScreenKind,
)
from vell_core.services.audit import Screen, within
from vell_core.services.customer_access import CustomerClients
from vell_core.services.sync.pacing import (
    ACTIVE_AGREEMENT,
    CHAIN,
    OFFER_DETAIL,
    ON_DEMAND,
    OTHER_AGREEMENT,
    PRODUCT_DETAIL,
    AccountLimits,
    Cancelled,
)
from vell_core.services.sync.progress import Kind, KindProgress, SyncProgress, SyncStats

log = logging.getLogger(__name__)


CATALOG = "AWSMarketplace"


PAGE_SIZE = {"ListEntities": 50, "ListChangeSets": 20, "SearchAgreements": 50}


BATCH_SIZE = 20  # BatchDescribeEntities takes at most 20 entities


MAX_PAGES = 2000  # a runaway-pagination guard far above any real seller (100k agreements)


FIRST_CALLS = len(PRODUCT_TYPES) + 1  # every product listing, and the agreements search
MAX_CALL_ATTEMPTS = 6  # our own retries of a throttled background call, after botocore's


PROPOSER_FILTERS = [
    {"name": "PartyType", "values": ["Proposer"]},
    {"name": "AgreementType", "values": ["PurchaseAgreement"]},
]


class SyncFailed(AwsError):
    """The sync stopped (pagination went wrong, or AWS refused a call)."""

    default_message = "The sync with the customer's account stopped; try Refresh."


@dataclass(order=True)
class _Task:
    priority: tuple[int, float, int]
    run: Callable[[], None] = field(compare=False)
    name: str = field(compare=False, default="")


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
        # The agreements' chain (search, then a Describe and terms per agreement at 5/s) is the
        # longest: it starts with the first screen, not after it.
        self._push(CHAIN, self._search_agreements, "search agreements")
        self._executor = ThreadPoolExecutor(self._max_workers, thread_name_prefix="vell-sync")
        # Only as many threads as first calls at first: idle threads starting up would compete
        # with them for the GIL. The rest start once the first screen is in.
        for _ in range(min(FIRST_CALLS, self._max_workers)):
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
            self.clients.page_config(service, operation),
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
            for _ in range(max(0, self._max_workers - FIRST_CALLS)):
                try:
                    self._executor.submit(self._work)
                except RuntimeError:  # stopped meanwhile (Refresh, expiry): nothing to start
                    return

    def _queue_details(self) -> None:
        with self._lock:
            product_ids = list(self.products)
        for batch in _batches(product_ids):
            self._push(PRODUCT_DETAIL, partial(self._describe_batch, batch, "product"), "products")
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
