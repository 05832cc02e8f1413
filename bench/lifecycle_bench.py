"""Benchmark: customer's Send → new state visible in the store, through SNS → SQS → worker.

Runs the real app graph against the sandbox (temp SQLite store, background worker) with
``--latency-ms`` (default 50) injected on **every** AWS call: the sandbox's ``latency_ms`` knob
sleeps in its request handler, before any service, so IAM, STS, SNS, SQS and Marketplace calls
all pay it. Launches N demo requests, approves each as the customer, and times from just before
the customer's ``SendDelegationToken`` until the store shows FINALIZED with the token
exchanged. Goal: p95 ≤ 2 s.

The app allows each staff member 10 launches per 10 minutes
(``vell_core.services.action_limits``); the
benchmark does not weaken that limit. It spreads the launches over as many bench sales reps as
it needs (``bench-rep-NN@vell.ai``, 10 launches each), and checks that the 11th launch by one
rep is still refused.

    .venv/bin/python bench/lifecycle_bench.py [--requests 50] [--latency-ms 50] [--quick] [--check]
"""

from __future__ import annotations

import math
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3
from benchlib import Report, load_average, parser
from sqlmodel import Session

from vell_core.app import Services, build_services
from vell_core.config.settings import load_settings
from vell_core.domain.errors import RateLimited
from vell_core.domain.models import (
    AwsDelegationState,
    DelegationPath,
    ExchangeState,
    StaffRole,
    StaffUser,
)
from vell_core.domain.roles import StaffMember
from vell_core.services import seed
from vell_core.services.action_limits import DEFAULT_LIMITS
from vell_core.services.delegation import LaunchRequest, new_launch_token
from vell_core.store import migrate
from vell_core.store.seed import SeedStore

CUSTOMER = "602341187520"
GOAL_P95_SECONDS = 2.0
LAUNCHES_PER_REP = DEFAULT_LIMITS["delegation.create"].count


def customer_iam(services: Services, persona: str) -> Any:
    creds = services.sandbox.persona_credentials(CUSTOMER, persona)
    return boto3.client(
        "iam",
        endpoint_url=services.sandbox.endpoint,
        region_name="us-east-1",
        aws_access_key_id=creds["AccessKeyId"],
        aws_secret_access_key=creds["SecretAccessKey"],
    )


def bench_reps(services: Services, count: int) -> list[StaffMember]:
    """``count`` sales reps of the benchmark's own (each gets the app's full launch limit)."""
    with Session(services.engine) as session:
        for index in range(count):
            session.add(
                StaffUser(
                    name=f"Bench Rep {index}",
                    email=f"bench-rep-{index:02d}@vell.ai",
                    role=StaffRole.SALES,
                    created_at=datetime.now(UTC),
                )
            )
        session.commit()
    reps = [services.staff.by_email(f"bench-rep-{i:02d}@vell.ai") for i in range(count)]
    return [rep for rep in reps if rep is not None]


def launch(services: Services, member: StaffMember) -> Any:
    return services.delegations.launch(
        member,
        LaunchRequest(
            company="Bench Co",
            aws_account_id=CUSTOMER,
            path=DelegationPath.DEMO,
            launch_token=new_launch_token(),
        ),
    )


def one_round(services: Services, member: StaffMember, owner: Any, admin: Any) -> float:
    view = launch(services, member)
    request_id = view.delegation_request_id
    owner.associate_delegation_request(DelegationRequestId=request_id)
    admin.accept_delegation_request(DelegationRequestId=request_id)
    started = time.perf_counter()
    owner.send_delegation_token(DelegationRequestId=request_id)
    while True:
        current = services.delegations.get(member, view.id)
        if (
            current.aws_state is AwsDelegationState.FINALIZED
            and current.exchange_state is ExchangeState.DONE
        ):
            return time.perf_counter() - started
        if time.perf_counter() - started > 30:
            raise TimeoutError(f"request {view.id} never reached FINALIZED")
        time.sleep(0.005)  # the benchmark polls the store; the app never sleeps


def limit_still_enforced(services: Services, member: StaffMember) -> bool:
    """The rep who used up their launches is refused the next one."""
    try:
        launch(services, member)
    except RateLimited:
        return True
    return False


def main() -> int:
    options = parser(__doc__.splitlines()[0])
    options.add_argument("--requests", type=int, default=None, help="default 50 (quick: 12)")
    options.add_argument("--latency-ms", type=int, default=50)
    args = options.parse_args()
    rounds = args.requests or (12 if args.quick else 50)
    report = Report("lifecycle", args)
    folder = Path(tempfile.mkdtemp(prefix="vell-lifecycle-bench-"))
    url = f"sqlite:///{folder / 'bench.db'}"
    migrate.upgrade(url)
    settings = load_settings(
        vell_database_url=url,
        vell_sandbox_port=0,
        vell_worker_wait_seconds=1,
        vell_log_level="WARNING",
    )
    services = build_services(settings, start_background=True)
    seed.seed(SeedStore(services.engine), datetime.now(UTC))
    owner, admin = customer_iam(services, "owner"), customer_iam(services, "admin")
    reps = bench_reps(services, math.ceil(rounds / LAUNCHES_PER_REP))
    services.sandbox.control.set_config(latency_ms=args.latency_ms)
    print(f"{rounds} requests over {len(reps)} bench reps; {args.latency_ms} ms on every AWS call")
    try:
        samples = [
            one_round(services, reps[i // LAUNCHES_PER_REP], owner, admin) for i in range(rounds)
        ]
        enforced = limit_still_enforced(services, reps[0]) if rounds >= LAUNCHES_PER_REP else None
    finally:
        services.close()
    samples.sort()
    p95 = samples[max(0, math.ceil(0.95 * len(samples)) - 1)]
    print(f"Send → FINALIZED + exchanged in the store (load average {load_average()}):")
    report.info("requests", f"{rounds} (SNS → SQS → worker, {args.latency_ms} ms per AWS call)")
    report.info("median", f"{statistics.median(samples) * 1000:.0f} ms")
    report.info("min / max", f"{samples[0] * 1000:.0f} / {samples[-1] * 1000:.0f} ms")
    report.under("p95 Send → FINALIZED + exchanged", p95, GOAL_P95_SECONDS)
    if enforced is not None:
        report.holds("11th launch by one rep refused", enforced, "it was accepted")
    return report.finish()


if __name__ == "__main__":
    sys.exit(main())
