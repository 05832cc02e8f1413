"""Benchmark: live sync of the typical and large sample sellers vs a naive sequential sync.

Sets up its own sandbox and temp store, connects a demo delegation per seller the way a customer
approves one (launch → associate/accept/send as the customer's personas → worker exchange), and
injects 50 ms of latency per call (sandbox ``latency_ms``). The sandbox enforces the documented
Marketplace quotas multiplied by ``FACTOR`` (stated in the output) so the large seller finishes
in about a minute; the sync service is told the same quotas. Prints, per seller:

* API calls made, time to first screen (median of 3 fresh syncs), time to full detail;
* the lower bounds: first screen = pages of the longest product listing × one round trip;
  full detail = the busiest quota (calls in its bucket ÷ rate in force, a steady-rate bound:
  the sandbox's one-second initial burst lets a short run beat it slightly), or the chain of
  sequential round trips if that is longer;
* the same figures for a naive sync (list everything, then describe one by one, sequentially),
  and the ratios. Goals: first screen ≤ 1.5× its bound, full detail ≤ 1.2× its bound,
  ≥ 5× faster than naive.

    .venv/bin/python bench/sync_bench.py [--factor 10] [--naive-budget 60] [--full-naive]

The naive large-seller run takes ~6 minutes at 50 ms per call; by default it runs for
``--naive-budget`` seconds and extrapolates the rest from its measured time per call (printed as
such). ``--full-naive`` runs it to the end.
"""

from __future__ import annotations

import argparse
import math
import statistics
import tempfile
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3

from vell_core import migrate, seed
from vell_core.delegation import LaunchRequest, new_launch_token
from vell_core.marketplace_views import PRODUCT_TYPES
from vell_core.models import DelegationPath
from vell_core.services import Services, build_services
from vell_core.settings import load_settings
from vell_core.staff import StaffMember
from vell_core.sync import BUCKET_OF, DOCUMENTED_RATES, SyncService

SELLERS = {"typical": "418295730164", "large": "739104552816"}
LATENCY_MS = 50
REP = "maya.chen@vell.ai"


def build(factor: float) -> Services:
    folder = Path(tempfile.mkdtemp(prefix="vell-sync-bench-"))
    url = f"sqlite:///{folder / 'bench.db'}"
    migrate.upgrade(url)
    name = f"vell-bench-{uuid.uuid4().hex[:8]}"
    settings = load_settings(
        vell_database_url=url,
        vell_sandbox_port=0,
        aws_delegation_sns_topic_arn=f"arn:aws:sns:us-east-1:253265132499:{name}",
        vell_delegation_queue_url=f"https://sqs.us-east-1.amazonaws.com/253265132499/{name}",
    )
    services = build_services(settings, start_background=False)
    seed.seed(services.engine, datetime.now(UTC))
    services.sandbox.control.set_config(rate_limit_factor=factor, throttling=True)
    return services


def marketplace(services: Services) -> list[Any]:
    names = ("marketplace-catalog", "marketplace-agreement")
    return [services.sandbox.state.backends[name] for name in names]


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


def round_trip(clients: Any) -> float:
    """Median seconds of one round trip for the largest first-screen page (a full
    SaaSProduct ListEntities page): latency + sandbox + client overhead."""
    catalog = clients.client("marketplace-catalog")
    samples = []
    for _ in range(7):
        started = time.perf_counter()
        catalog.list_entities(Catalog="AWSMarketplace", EntityType="SaaSProduct", MaxResults=50)
        samples.append(time.perf_counter() - started)
        time.sleep(0.12)  # stay under ListEntities' quota while measuring
    return statistics.median(samples)


def first_screen(services: Services, delegation_id: int, factor: float, runs: int = 3) -> float:
    """Median time to the products table over ``runs`` fresh syncs (each stopped after it)."""
    samples = []
    for _ in range(runs):
        sync = new_sync(services, factor)
        job = sync.job_for(rep(services), delegation_id)
        job.wait_first_screen(10)
        samples.append(job.progress().stats.first_screen_seconds or math.inf)
        sync.close()
        time.sleep(1.0)  # refill the sandbox's buckets
    return statistics.median(samples)


def new_sync(services: Services, factor: float) -> SyncService:
    return SyncService(
        customer_access=services.customer_access,
        delegations=services.delegations,
        funnel=services.funnel,
        engine=services.engine,
        clock=services.clock,
        rate_limit_factor=factor,
    )


@dataclass
class Run:
    calls: int
    first_screen: float
    full: float
    extrapolated_from: int | None = None


def fast_sync(services: Services, delegation_id: int, factor: float) -> tuple[Run, dict]:
    sync = new_sync(services, factor)
    job = sync.job_for(rep(services), delegation_id)
    job.wait_done()
    progress = job.progress()
    sync.close()
    if progress.state != "done":
        raise SystemExit(f"sync failed: {progress.error}")
    stats = progress.stats
    run = Run(stats.api_calls, stats.first_screen_seconds or 0.0, stats.full_seconds or 0.0)
    return run, {"calls": stats.calls_by_operation, "throttled": stats.throttled, "job": job}


def naive_sync(clients: Any, budget: float | None) -> Run:
    """List everything, then describe one by one, all sequential."""
    catalog = clients.client("marketplace-catalog")
    agreements_api = clients.client("marketplace-agreement")
    started = time.perf_counter()
    calls = 0

    def pages(method: Any, key: str, token_in: str, token_out: str, **kwargs: Any) -> list:
        nonlocal calls
        items: list = []
        token = None
        while True:
            page = method(**kwargs, **({token_in: token} if token else {}))
            calls += 1
            items.extend(page.get(key, []))
            token = page.get(token_out)
            if not token:
                return items

    products = []
    for entity_type in PRODUCT_TYPES:
        products += pages(
            catalog.list_entities, "EntitySummaryList", "NextToken", "NextToken",
            Catalog="AWSMarketplace", EntityType=entity_type, MaxResults=50,
        )  # fmt: skip
    first_screen = time.perf_counter() - started
    offers = pages(
        catalog.list_entities, "EntitySummaryList", "NextToken", "NextToken",
        Catalog="AWSMarketplace", EntityType="Offer", MaxResults=50,
        EntityTypeFilters={"OfferFilters": {"State": {"ValueList": ["Draft", "Released"]}}},
    )  # fmt: skip
    pages(
        catalog.list_change_sets, "ChangeSetSummaryList", "NextToken", "NextToken",
        Catalog="AWSMarketplace", MaxResults=20,
    )  # fmt: skip
    agreements = pages(
        agreements_api.search_agreements, "agreementViewSummaries", "nextToken", "nextToken",
        catalog="AWSMarketplace", maxResults=50,
        filters=[{"name": "PartyType", "values": ["Proposer"]},
                 {"name": "AgreementType", "values": ["PurchaseAgreement"]}],
    )  # fmt: skip
    work = [
        *(lambda e=e: catalog.describe_entity(Catalog="AWSMarketplace", EntityId=e["EntityId"])
          for e in products + offers),
        *(call for a in agreements for call in (
            lambda a=a: agreements_api.describe_agreement(agreementId=a["agreementId"]),
            lambda a=a: agreements_api.get_agreement_terms(agreementId=a["agreementId"]),
        )),
    ]  # fmt: skip
    describe_started = time.perf_counter()
    for done, call in enumerate(work):
        if budget is not None and time.perf_counter() - started > budget:
            per_call = (time.perf_counter() - describe_started) / max(done, 1)
            total = time.perf_counter() - started + per_call * (len(work) - done)
            return Run(calls + len(work) - done, first_screen, total, extrapolated_from=done)
        call()
        calls += 1
    return Run(calls, first_screen, time.perf_counter() - started)


def bounds(job: Any, rtt: float, rates: dict[str, float]) -> tuple[float, float, str]:
    """(first-screen bound, full-detail bound, which constraint sets the full bound)."""
    per_type: dict[str, int] = {}
    for summary in job.products.values():
        per_type[summary["EntityType"]] = per_type.get(summary["EntityType"], 0) + 1
    pages = max([math.ceil(n / 50) for n in per_type.values()] + [1])
    first = pages * rtt
    by_bucket: dict[str, int] = {}
    for operation, count in job.progress().stats.calls_by_operation.items():
        bucket = BUCKET_OF.get(operation, operation)
        by_bucket[bucket] = by_bucket.get(bucket, 0) + count
    rate_bounds = {b: n / rates[b] for b, n in by_bucket.items()}
    busiest = max(rate_bounds, key=rate_bounds.get)
    search_pages = math.ceil(len(job.agreements) / 50)
    chain = first + (search_pages + 2) * rtt  # products, then search pages, then describe+terms
    if chain > rate_bounds[busiest]:
        return first, chain, f"{search_pages + pages + 2} sequential round trips"
    return (
        first,
        rate_bounds[busiest],
        f"{by_bucket[busiest]} {busiest} calls at {rates[busiest]:g}/s",
    )


def report(name: str, fast: Run, naive: Run, first_bound: float, full_bound: float, why: str,
           rtt: float, throttled: int) -> None:  # fmt: skip
    print(f"\n== {name} seller ==", flush=True)
    print(f"  round trip (median ListEntities at {LATENCY_MS} ms injected): {rtt * 1000:.0f} ms")
    print(f"  {'':24}{'calls':>8}{'first screen':>15}{'full detail':>14}")
    print(f"  {'Vell sync':24}{fast.calls:>8}{fast.first_screen:>14.3f}s{fast.full:>13.2f}s")
    label = "naive sequential" + (" (extrap.)" if naive.extrapolated_from is not None else "")
    print(f"  {label:24}{naive.calls:>8}{naive.first_screen:>14.3f}s{naive.full:>13.2f}s")
    print(f"  {'lower bound':24}{'':>8}{first_bound:>14.3f}s{full_bound:>13.2f}s  ({why})")
    if naive.extrapolated_from is not None:
        print(f"  naive full detail extrapolated after {naive.extrapolated_from} describe calls")
    ratio_first, ratio_full = fast.first_screen / first_bound, fast.full / full_bound
    speedup = naive.full / fast.full
    print(f"  first screen / bound: {ratio_first:.2f}× (goal ≤ 1.5) {_ok(ratio_first <= 1.5)}")
    print(f"  full detail / bound:  {ratio_full:.2f}× (goal ≤ 1.2) {_ok(ratio_full <= 1.2)}")
    print(f"  speed-up vs naive:    {speedup:.1f}× (goal ≥ 5) {_ok(speedup >= 5)}")
    print(f"  throttled calls: {throttled}")


def _ok(passed: bool) -> str:
    return "OK" if passed else "MISSED"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--factor", type=float, default=10.0, help="× the documented quotas")
    parser.add_argument("--naive-budget", type=float, default=60.0)
    parser.add_argument("--full-naive", action="store_true")
    parser.add_argument("--sellers", nargs="*", default=list(SELLERS), choices=list(SELLERS))
    args = parser.parse_args()
    services = build(args.factor)
    rates = {op: rate * args.factor for op, rate in DOCUMENTED_RATES.items()}
    print(f"Sandbox: {LATENCY_MS} ms latency per call; quotas = documented × {args.factor:g}:")
    print("  " + ", ".join(f"{op} {rate:g}/s" for op, rate in rates.items()))
    try:
        for name in args.sellers:
            account = SELLERS[name]
            for backend in marketplace(services):
                backend.sellers.get(account)  # load the sample file before timing
            delegation_id = connect(services, account)
            clients = services.customer_access.for_delegation(rep(services), delegation_id)
            services.sandbox.control.set_config(latency_ms=LATENCY_MS)
            rtt = round_trip(clients)
            time.sleep(1.5)  # let the sandbox's buckets refill between runs
            screen = first_screen(services, delegation_id, args.factor)
            fast, extra = fast_sync(services, delegation_id, args.factor)
            fast.first_screen = screen
            time.sleep(1.5)
            naive = naive_sync(clients, None if args.full_naive else args.naive_budget)
            services.sandbox.control.set_config(latency_ms=0)  # fast set-up between sellers
            first_bound, full_bound, why = bounds(extra["job"], rtt, rates)
            report(name, fast, naive, first_bound, full_bound, why, rtt, extra["throttled"])
            time.sleep(1.5)
    finally:
        services.close()


if __name__ == "__main__":
    main()
