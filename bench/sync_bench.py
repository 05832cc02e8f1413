"""Benchmark: live sync of the small, typical and large sample sellers at AWS's real quotas.

Sets up its own sandbox and temp store and connects a demo delegation per seller the way a
customer approves one (launch → associate/accept/send as the customer's personas → worker
exchange). Then, with ``--latency-ms`` (default 50) on **every** AWS call and the sandbox
enforcing the **documented** Marketplace quotas (``--factor`` raises them, stated in the output;
default 1), it measures per seller:

* the round trip (median ListEntities page);
* the first screen a rep waits for with **cold** clients (a fresh ``CustomerAccess``, so new
  boto3 clients, timed from the request to the products table; median of 3) and warm;
* the full sync with cold clients: first screen, demo-ready (everything but ended agreements),
  full detail, calls, throttled calls, and audit rows written (must equal API calls made);
* a naive sync measured to the end (never extrapolated): what a competent engineer writes
  first — botocore paginators, then one Describe per item, in one sequential loop — whose
  output must equal ours item by item (products, offers, change sets, agreements, entity
  details, agreement details and terms);
* for the largest seller of the run, while its sync runs: opening ended agreements and offers
  the queue has not reached (goal: on screen within one round trip + 1 s).

Lower bounds (printed with what binds): first screen = pages of the longest product listing ×
round trip, or, when larger, the first pages of every product type fetched at once from warm
clients and nothing else (measured: the sandbox serves concurrent calls in one process).
Full detail = the latest of, per quota bucket, (when its first call can start) + (calls − the
one-second burst the sandbox's bucket starts with) ÷ rate + one round trip, and the chains of
sequential pages. DescribeAgreement and GetAgreementTerms have separate quotas, so
they run side by side. Goals: first screen ≤ 1.5× bound (cold), full detail ≤ 1.2× bound; at the
real quotas the bound, not naive, is the reference (naive is reported with its ratio).

    .venv/bin/python bench/sync_bench.py [--quick] [--check] [--sellers small typical large]
        [--factor 1] [--latency-ms 50] [--in-process]

``--quick`` runs the small and typical sellers (about 2 minutes here); the large seller takes
about 10 minutes per sync at the real quotas (ours and naive each).
"""

from __future__ import annotations

import math
import random
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3
import requests
from benchlib import Report, load_average, parser

from vell_core.app import Services, build_services
from vell_core.config.settings import load_settings
from vell_core.domain.marketplace import PRODUCT_TYPES
from vell_core.domain.models import DelegationPath
from vell_core.domain.quotas import MARKETPLACE_RATES
from vell_core.domain.roles import StaffMember
from vell_core.sandbox.control import SandboxControl
from vell_core.services import seed
from vell_core.services.customer_access import CustomerAccess, CustomerClients
from vell_core.services.delegation import LaunchRequest, new_launch_token
from vell_core.services.sync.job import (
    BATCH_SIZE,
    PAGE_SIZE,
    PROPOSER_FILTERS,
    SyncJob,
    _entity_detail,
    _list_kwargs,
)
from vell_core.services.sync.service import LIVE_DEMO_SERVICES, SyncService
from vell_core.store import migrate
from vell_core.store.delegations import FirstSyncMarks
from vell_core.store.seed import SeedStore

SELLERS = {"small": "602341187520", "typical": "418295730164", "large": "739104552816"}
REP = "maya.chen@vell.ai"
OPENS = 6  # on-demand opens timed during the largest seller's sync


# -- set-up -------------------------------------------------------------------------------------


def build(db_folder: Path, *, in_process: bool) -> tuple[Services, subprocess.Popen | None]:
    """The app graph on a temp store, and the sandbox it talks to.

    By default the sandbox runs in its own process (``vell sandbox``), as AWS does: its request
    handling then does not compete with the app for the GIL. ``--in-process`` keeps it inside.
    """
    url = f"sqlite:///{db_folder / 'bench.db'}"
    migrate.upgrade(url)
    server, port, names = None, 0, {}
    if in_process:
        name = f"vell-bench-{random.randrange(16**8):08x}"
        names = {
            "aws_delegation_sns_topic_arn": f"arn:aws:sns:us-east-1:253265132499:{name}",
            "vell_delegation_queue_url": f"https://sqs.us-east-1.amazonaws.com/253265132499/{name}",
        }
    else:
        port = free_port()
        server = subprocess.Popen(
            [sys.executable, "-m", "vell_core.cli", "sandbox", "--port", str(port)],
            stdout=subprocess.DEVNULL,
        )
        wait_for_sandbox(port, server)
    settings = load_settings(
        vell_database_url=url, vell_sandbox_port=port, vell_log_level="WARNING", **names
    )
    services = build_services(settings, start_background=False)
    seed.seed(SeedStore(services.engine), datetime.now(UTC))
    services.aws.preload(*LIVE_DEMO_SERVICES)  # as the app does at startup (build_services)
    return services, server


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_for_sandbox(port: int, server: subprocess.Popen) -> None:
    control = SandboxControl(f"http://127.0.0.1:{port}", timeout=1)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and server.poll() is None:
        try:
            control.health()
            return
        except requests.RequestException:
            time.sleep(0.2)
    raise SystemExit("the sandbox process did not start")


def rep(services: Services) -> StaffMember:
    member = services.staff.by_email(REP)
    assert member is not None
    return member


def connect(services: Services, account: str) -> int:
    """A demo delegation with live credentials, approved as the customer would."""
    view = services.delegations.launch(
        rep(services),
        LaunchRequest(
            company="Bench Co",
            aws_account_id=account,
            path=DelegationPath.DEMO,
            launch_token=new_launch_token(),
        ),
    )

    def iam(persona: str) -> Any:
        creds = services.sandbox.persona_credentials(account, persona)
        return boto3.client(
            "iam",
            endpoint_url=services.sandbox.endpoint,
            region_name="us-east-1",
            aws_access_key_id=creds["AccessKeyId"],
            aws_secret_access_key=creds["SecretAccessKey"],
        )

    iam("owner").associate_delegation_request(DelegationRequestId=view.delegation_request_id)
    iam("admin").accept_delegation_request(DelegationRequestId=view.delegation_request_id)
    iam("owner").send_delegation_token(DelegationRequestId=view.delegation_request_id)
    worker = services.new_worker()
    for _ in range(50):
        worker.run_once(wait_seconds=0)
        if services.delegations.get(rep(services), view.id).credentials_live(services.clock.now()):
            return view.id
    raise SystemExit("the delegation never reached live credentials")


def cold_access(services: Services) -> CustomerAccess:
    """A fresh CustomerAccess: its clients are new boto3 clients (what a rep's first open gets)."""
    return CustomerAccess(
        delegations=services.delegations,
        vault=services.vault,
        aws=services.aws,
        audit=services.audit,
        clock=services.clock,
    )


def new_sync(services: Services, access: CustomerAccess, factor: float) -> SyncService:
    return SyncService(
        customer_access=access,
        delegations=services.delegations,
        funnel=services.funnel,
        first_sync=FirstSyncMarks(services.engine),
        clock=services.clock,
        rate_limit_factor=factor,
    )


def refill() -> None:
    """Let the sandbox's buckets (one second of burst) fill up between measurements."""
    time.sleep(1.5)


# -- measurements -------------------------------------------------------------------------------


def round_trip(clients: CustomerClients) -> float:
    """Median seconds of one full ListEntities page: latency + sandbox + client overhead."""
    catalog = clients.client("marketplace-catalog")
    samples = []
    for _ in range(7):
        started = time.perf_counter()
        catalog.list_entities(Catalog="AWSMarketplace", EntityType="SaaSProduct", MaxResults=50)
        samples.append(time.perf_counter() - started)
        time.sleep(0.15)  # stay under ListEntities' quota while measuring
    return statistics.median(samples)


def concurrent_first_pages(clients: CustomerClients) -> float:
    """Median seconds of the first screen's calls alone: the first ListEntities page of every
    product type, all at once, from warm clients, doing nothing else with the answers.

    One page of one type (``round_trip``) is the floor against AWS, which serves concurrent
    calls in parallel; the sandbox serves them in one Python process, so several at once take
    longer there, for any client. The first-screen bound is the larger of the two.
    """
    catalog = clients.client("marketplace-catalog")
    samples = []
    with ThreadPoolExecutor(len(PRODUCT_TYPES)) as pool:
        for _ in range(5):
            started = time.perf_counter()
            list(pool.map(lambda t: catalog.list_entities(**_list_kwargs(t)), PRODUCT_TYPES))
            samples.append(time.perf_counter() - started)
            refill()
    return statistics.median(samples)


def first_screen(services: Services, delegation_id: int, factor: float, *, cold: bool) -> float:
    """Median over 3 runs of request → products table (each sync stopped right after)."""
    samples = []
    warm_access = cold_access(services)
    warm_access.for_delegation(rep(services), delegation_id).client("marketplace-catalog")
    for _ in range(3):
        access = cold_access(services) if cold else warm_access
        sync = new_sync(services, access, factor)
        started = time.perf_counter()
        job = sync.job_for(rep(services), delegation_id)
        job.wait_first_screen(30)
        samples.append(time.perf_counter() - started)
        sync.close()
        refill()
    return statistics.median(samples)


@dataclass
class Ours:
    job: SyncJob
    calls: dict[str, int]
    api_calls: int
    retries: int
    throttled: int
    first_screen: float
    demo_ready: float
    full: float
    audit_rows: int
    opens: list[float] = field(default_factory=list)


def ours(services: Services, delegation_id: int, factor: float, *, opens: bool) -> Ours:
    """A full sync with cold clients (optionally timing on-demand opens while it runs)."""
    before = audit_high_water(services)
    sync = new_sync(services, cold_access(services), factor)
    job = sync.job_for(rep(services), delegation_id)
    opened = open_while_running(sync, services, delegation_id, job) if opens else []
    job.wait_done()
    progress = job.progress()
    sync.close()
    if progress.state != "done":
        raise SystemExit(f"sync failed: {progress.error}")
    services.audit.flush()
    stats = progress.stats
    return Ours(
        job=job,
        calls=stats.calls_by_operation,
        api_calls=stats.api_calls,
        retries=stats.retries,
        throttled=stats.throttled,
        first_screen=stats.first_screen_seconds or math.inf,
        demo_ready=stats.demo_ready_seconds or math.inf,
        full=stats.full_seconds or math.inf,
        audit_rows=audit_rows_since(services, before, delegation_id),
        opens=opened,
    )


def open_while_running(
    sync: SyncService, services: Services, delegation_id: int, job: SyncJob
) -> list[float]:
    """Open ended agreements and offers the background has not fetched yet; seconds each."""
    member = rep(services)
    job.wait_first_screen(30)
    deadline = time.monotonic() + 60
    while len(job.agreements) < 100 and not job.wait_done(0.2) and time.monotonic() < deadline:
        pass  # wait for some search pages (the rep opens what the list shows)
    ended = [a for a, s in list(job.agreements.items()) if s.get("status") != "ACTIVE"]
    samples = []
    for agreement_id in ended[-OPENS // 2 :]:
        if agreement_id in job.agreement_details:
            continue
        started = time.perf_counter()
        sync.agreement(member, delegation_id, agreement_id)
        samples.append(time.perf_counter() - started)
        time.sleep(0.5)
    offers = [o for o in list(job.offers) if o not in job.offer_details]
    for offer_id in offers[-OPENS // 2 :]:
        started = time.perf_counter()
        sync.offer(member, delegation_id, offer_id)
        samples.append(time.perf_counter() - started)
        time.sleep(0.5)
    return samples


def audit_high_water(services: Services) -> int:
    services.audit.flush()
    with sqlite3.connect(services.engine.url.database) as connection:
        return connection.execute("SELECT coalesce(max(id), 0) FROM audit_log").fetchone()[0]


def audit_rows_since(services: Services, after: int, delegation_id: int) -> int:
    with sqlite3.connect(services.engine.url.database) as connection:
        return connection.execute(
            "SELECT count(*) FROM audit_log WHERE id > ? AND delegation_id = ?",
            (after, delegation_id),
        ).fetchone()[0]


@dataclass
class Naive:
    first_screen: float
    full: float
    calls: int
    data: dict[str, Any]


def naive(clients_for: CustomerClients) -> Naive:
    """Paginators, then one Describe per item, in one sequential loop (cold clients)."""
    started = time.perf_counter()
    calls = 0
    catalog = clients_for.client("marketplace-catalog")
    agreements_api = clients_for.client("marketplace-agreement")

    def pages(client: Any, operation: str, **kwargs: Any) -> Any:
        nonlocal calls
        for page in client.get_paginator(operation).paginate(**kwargs):
            calls += 1
            yield page

    products: dict[str, Any] = {}
    for entity_type in PRODUCT_TYPES:
        for page in pages(catalog, "list_entities", **_list_kwargs(entity_type)):
            products.update({s["EntityId"]: s for s in page["EntitySummaryList"]})
    screen = time.perf_counter() - started
    offers: dict[str, Any] = {}
    for page in pages(catalog, "list_entities", **_list_kwargs("Offer")):
        offers.update({s["EntityId"]: s for s in page["EntitySummaryList"]})
    change_sets = {}
    for page in pages(catalog, "list_change_sets", Catalog="AWSMarketplace", MaxResults=20):
        change_sets.update({s["ChangeSetId"]: s for s in page["ChangeSetSummaryList"]})
    agreements = {}
    search = {"catalog": "AWSMarketplace", "filters": PROPOSER_FILTERS, "maxResults": 50}
    for page in pages(agreements_api, "search_agreements", **search):
        agreements.update({s["agreementId"]: s for s in page["agreementViewSummaries"]})
    details = {}
    for entity_id in [*products, *offers]:
        answer = catalog.describe_entity(Catalog="AWSMarketplace", EntityId=entity_id)
        calls += 1
        details[entity_id] = _entity_detail(answer)
    agreement_details, terms = {}, {}
    for agreement_id in agreements:
        answer = agreements_api.describe_agreement(agreementId=agreement_id)
        calls += 1
        answer.pop("ResponseMetadata", None)
        agreement_details[agreement_id] = answer
        terms[agreement_id] = [
            term
            for page in pages(
                agreements_api, "get_agreement_terms", agreementId=agreement_id, maxResults=50
            )
            for term in page.get("acceptedTerms", [])
        ]
    data = {
        "products": products,
        "offers": offers,
        "change sets": change_sets,
        "agreements": agreements,
        "entity details": details,
        "agreement details": agreement_details,
        "agreement terms": terms,
    }
    return Naive(screen, time.perf_counter() - started, calls, data)


def ours_data(job: SyncJob) -> dict[str, Any]:
    return {
        "products": job.products,
        "offers": job.offers,
        "change sets": job.change_sets,
        "agreements": job.agreements,
        "entity details": {**job.product_details, **job.offer_details},
        "agreement details": job.agreement_details,
        "agreement terms": job.agreement_terms,
    }


def differences(mine: dict[str, Any], theirs: dict[str, Any]) -> list[str]:
    """What differs between two syncs' data, per kind (ids first, then each item)."""
    found = []
    for kind, items in theirs.items():
        ours_items = mine[kind]
        if set(ours_items) != set(items):
            found.append(f"{kind}: {len(ours_items)} vs {len(items)} ids")
            continue
        unequal = [key for key in items if _plain(ours_items[key]) != _plain(items[key])]
        if unequal:
            found.append(f"{kind}: {len(unequal)} differ (e.g. {unequal[0]})")
    return found


def _plain(value: Any) -> Any:
    """Drop the per-call metadata; keep everything the views use."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items() if k != "ResponseMetadata"}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


# -- bounds -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Need:
    """The calls a complete sync cannot avoid, per quota bucket, and its sequential chains."""

    calls: dict[str, int]
    first_pages: int  # pages of the longest product listing (one chain per type, in parallel)
    chains: dict[str, int]  # listing → pages (each page needs the previous page's token)


def need(data: dict[str, Any], *, agreements: list[str] | None = None) -> Need:
    """From the data itself: minimal calls (batches of 20, full pages), not the calls we made."""
    per_type: dict[str, int] = {}
    for summary in data["products"].values():
        per_type[summary["EntityType"]] = per_type.get(summary["EntityType"], 0) + 1
    list_pages = {t: max(1, math.ceil(per_type.get(t, 0) / 50)) for t in PRODUCT_TYPES}
    offer_pages = max(1, math.ceil(len(data["offers"]) / PAGE_SIZE["ListEntities"]))
    change_pages = max(1, math.ceil(len(data["change sets"]) / PAGE_SIZE["ListChangeSets"]))
    wanted = list(data["agreements"]) if agreements is None else agreements
    search_pages = max(1, math.ceil(len(data["agreements"]) / PAGE_SIZE["SearchAgreements"]))
    batches = math.ceil(len(data["products"]) / BATCH_SIZE)
    batches += math.ceil(len(data["offers"]) / BATCH_SIZE)
    return Need(
        calls={
            "ListEntities": sum(list_pages.values()) + offer_pages,
            "ListChangeSets": change_pages,
            "SearchAgreements": search_pages,
            "DescribeEntity": batches,
            "DescribeAgreement": len(wanted),
            "GetAgreementTerms": len(wanted),
        },
        first_pages=max(list_pages.values()),
        chains={"offers": offer_pages, "agreements": search_pages, "change sets": change_pages},
    )


def full_bound(needed: Need, rtt: float, rates: dict[str, float]) -> tuple[float, str]:
    """(seconds, what binds): the latest finishing bucket or chain; see the module docstring."""
    after_list = rtt  # details need the first page of their listing
    candidates: dict[str, float] = {}
    for bucket, calls in needed.calls.items():
        rate = rates[bucket]
        burst = max(1.0, rate)  # the sandbox's bucket starts full with one second of tokens
        start = 0.0 if bucket.startswith(("List", "Search")) else after_list
        label = f"{calls} {bucket} at {rate:g}/s after a {burst:g}-call burst"
        candidates[label] = start + max(0.0, calls - burst) / rate + rtt
    for listing, pages in needed.chains.items():
        candidates[f"{pages} sequential {listing} pages + describe"] = (pages + 1) * rtt
    binding = max(candidates, key=lambda k: candidates[k])
    return candidates[binding], binding


# -- driver -------------------------------------------------------------------------------------


def bench_seller(name: str, services: Services, args: Any, report: Report, *, opens: bool) -> None:
    account = SELLERS[name]
    rates = {op: rate * args.factor for op, rate in MARKETPLACE_RATES.items()}
    services.sandbox.control.set_config(latency_ms=0)  # fast set-up
    delegation_id = connect(services, account)
    warm = cold_access(services).for_delegation(rep(services), delegation_id)
    warm.client("marketplace-catalog").list_entities(  # load the sample seller before timing
        Catalog="AWSMarketplace", EntityType="SaaSProduct", MaxResults=1
    )
    services.sandbox.control.set_config(latency_ms=args.latency_ms)
    rtt = round_trip(warm)
    refill()
    all_types = concurrent_first_pages(warm)
    screen_cold = first_screen(services, delegation_id, args.factor, cold=True)
    screen_warm = first_screen(services, delegation_id, args.factor, cold=False)
    mine = ours(services, delegation_id, args.factor, opens=opens)
    refill()
    theirs = naive(cold_access(services).for_delegation(rep(services), delegation_id))
    refill()
    data = ours_data(mine.job)
    needed = need(data)
    active = [a for a, s in data["agreements"].items() if s.get("status") == "ACTIVE"]
    bound, binding = full_bound(needed, rtt, rates)
    demo_bound, _ = full_bound(need(data, agreements=active), rtt, rates)
    screen_bound = max(needed.first_pages * rtt, all_types + (needed.first_pages - 1) * rtt)
    size = (
        f"{len(data['products'])} products, {len(data['offers'])} offers, "
        f"{len(data['agreements'])} agreements ({len(active)} active)"
    )
    print(f"\n== {name} seller: {size}; round trip {rtt * 1000:.0f} ms", flush=True)
    report.info(f"{name}: size", size)
    report.info(f"{name}: round trip", f"{rtt * 1000:.0f} ms ({args.latency_ms} ms injected)")
    report.info(f"{name}: first pages of all {len(PRODUCT_TYPES)} product types at once",
                f"{all_types * 1000:.0f} ms", "warm clients, nothing else")  # fmt: skip
    report.bound(f"{name}: first screen, cold clients", screen_cold, screen_bound, 1.5)
    report.info(f"{name}: first screen, warm clients", f"{screen_warm * 1000:.0f} ms")
    report.info(f"{name}: first screen in the full sync", f"{mine.first_screen * 1000:.0f} ms")
    report.info(f"{name}: demo-ready (all but ended agreements)", f"{mine.demo_ready:.2f} s",
                f"{mine.demo_ready / demo_bound:.2f}× its bound {demo_bound:.2f} s")  # fmt: skip
    report.bound(f"{name}: full detail ({binding})", mine.full, bound, 1.2)
    report.info(f"{name}: naive sequential full detail (measured)", f"{theirs.full:.2f} s",
                f"ours {theirs.full / mine.full:.2f}× faster")  # fmt: skip
    report.info(f"{name}: naive first screen", f"{theirs.first_screen * 1000:.0f} ms",
                f"ours {theirs.first_screen / screen_cold:.2f}× faster (cold)")  # fmt: skip
    report.info(f"{name}: calls ours / naive / needed",
                f"{mine.api_calls} / {theirs.calls} / {sum(needed.calls.values())}",
                f"{mine.retries} retries, {mine.throttled} throttled")  # fmt: skip
    report.same(f"{name}: ours = naive, every item", differences(data, theirs.data))
    made = mine.api_calls - mine.retries  # botocore's after-call fires once per API call
    report.holds(f"{name}: audit rows = API calls ({made})", mine.audit_rows == made,
                 f"{mine.audit_rows} rows for {made} calls")  # fmt: skip
    if mine.opens:
        report.under(f"{name}: open during sync, worst of {len(mine.opens)}", max(mine.opens),
                     rtt + 1.0)  # fmt: skip


def main() -> int:
    options = parser(__doc__.splitlines()[0])
    options.add_argument("--sellers", nargs="*", choices=list(SELLERS))
    options.add_argument("--factor", type=float, default=1.0, help="× the documented quotas")
    options.add_argument("--latency-ms", type=int, default=50)
    options.add_argument("--in-process", action="store_true", help="sandbox in this process")
    args = options.parse_args()
    names = args.sellers or (["small", "typical"] if args.quick else list(SELLERS))
    report = Report("sync", args)
    print(f"load average {load_average()}")
    print(f"{args.latency_ms} ms on every AWS call; quotas = documented × {args.factor:g}")
    if args.factor != 1:
        print("  NOTE: raised quotas — these are not AWS's real limits")
    folder = Path(tempfile.mkdtemp(prefix="vell-sync-bench-"))
    services, server = build(folder, in_process=args.in_process)
    where = "in this process" if server is None else f"in its own process (pid {server.pid})"
    print(f"sandbox {where}")
    services.sandbox.control.set_config(rate_limit_factor=args.factor, throttling=True)
    try:
        for name in names:
            bench_seller(name, services, args, report, opens=name == names[-1])
    finally:
        services.close()
        if server is not None:
            server.terminate()
            server.wait(10)
    return report.finish()


if __name__ == "__main__":
    sys.exit(main())
