"""The composition root: settings → clock → engine → AWS client factory → services.

Everything else receives what it needs from here; nothing creates AWS clients at import time.
In sandbox mode this also starts the sandbox AWS (or joins one already serving on the port);
``Services.start_background`` starts the notification worker thread.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from sqlalchemy.engine import Engine

from vell_core.aws.clients import ClientFactory, StaticCredentials
from vell_core.aws.exchange import SINGLE_ATTEMPT, RetryPolicy
from vell_core.aws.sns_verify import SnsVerifier, requests_certificate_fetcher, routed_session
from vell_core.aws.vault import CredentialVault
from vell_core.config.logs import configure_logging
from vell_core.config.settings import Settings, load_settings
from vell_core.domain.clock import Clock, OffsetClock, SystemClock
from vell_core.domain.signed_tokens import SessionTokens
from vell_core.services.access_record import AccessRecordService
from vell_core.services.action_limits import ActionLimiter
from vell_core.services.audit import AuditRecorder
from vell_core.services.audit_query import AuditQuery
from vell_core.services.aws_health import AwsHealthService
from vell_core.services.cloudformation import CONSOLE_ORIGIN, ProductionSetupService
from vell_core.services.connections import ConnectionService
from vell_core.services.customer_access import CustomerAccess
from vell_core.services.customer_console import CustomerConsoleService
from vell_core.services.delegation import DelegationService
from vell_core.services.demo_links import DemoLinkService
from vell_core.services.faults import FaultHook, kill_self_at, no_faults
from vell_core.services.ingest import NotificationProcessor
from vell_core.services.listing_update import ListingUpdateService
from vell_core.services.metrics import MetricsService
from vell_core.services.nudges import DeskNudges
from vell_core.services.overview import OverviewService
from vell_core.services.partner_onboarding import PartnerOnboardingService
from vell_core.services.promotion import PromotionService
from vell_core.services.promotion_steps import OnboardingAccess, PromotionSteps
from vell_core.services.staff import StaffDirectory
from vell_core.services.sync.service import LIVE_DEMO_SERVICES, SyncService
from vell_core.services.tickets import TicketService
from vell_core.services.trials import TrialsDeskService
from vell_core.services.worker import NotificationWorker
from vell_core.store.action_limits import ActionCountStore
from vell_core.store.audit_log import AuditLogStore
from vell_core.store.connections import ConnectionStore
from vell_core.store.credentials import CredentialStore
from vell_core.store.delegations import DelegationStore, FirstSyncMarks
from vell_core.store.demo_links import DemoLinkStore
from vell_core.store.engine import make_engine
from vell_core.store.funnel import FunnelRecorder
from vell_core.store.health import HealthStore
from vell_core.store.inbox import InboxStore
from vell_core.store.metrics import MetricsStore
from vell_core.store.nudges import NudgesStore
from vell_core.store.onboarding import OnboardingStore
from vell_core.store.overview import OverviewStore
from vell_core.store.promotions import PromotionStore
from vell_core.store.staff import StaffStore
from vell_core.store.tickets import TicketStore
from vell_core.store.trials import TrialsStore

log = logging.getLogger(__name__)


@dataclass
class Services:
    """Every service the pages may call, wired once per process."""

    settings: Settings
    clock: Clock
    engine: Engine
    aws: ClientFactory
    staff: StaffDirectory
    overview: OverviewService
    funnel: FunnelRecorder
    audit: AuditRecorder
    vault: CredentialVault
    delegations: DelegationService
    customer_access: CustomerAccess
    processor: NotificationProcessor
    inbox: InboxStore
    customer_console: CustomerConsoleService
    rate_limiter: ActionLimiter
    aws_health: AwsHealthService
    partner_onboarding: PartnerOnboardingService
    audit_query: AuditQuery
    demo_links: DemoLinkService
    access_records: AccessRecordService
    connections: ConnectionService
    production_setup: ProductionSetupService
    promotion: PromotionService
    trials: TrialsDeskService
    metrics: MetricsService
    tickets: TicketService
    sync: SyncService
    listing_updates: ListingUpdateService
    nudges: DeskNudges
    sandbox: Any | None = None
    owns_sandbox: bool = True  # False when the caller handed in a running sandbox
    background: list[Any] = field(default_factory=list)
    # Local sign-in sessions run on the wall clock: advancing sandbox time must not sign you out.
    session_tokens: SessionTokens = field(default_factory=lambda: SessionTokens(SystemClock()))
    _background_lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    _background_started: bool = field(default=False, repr=False)

    @property
    def runs_worker_here(self) -> bool:
        """Whether this process polls the notification queue itself (the sandbox's default;
        against real AWS, ``vell worker`` processes do)."""
        return self.settings.is_sandbox and self.settings.vell_start_worker

    def start_background(self) -> None:
        """Start the notification worker and load the Marketplace models, once per graph.

        The UI calls this when its first page is drawn (``bridge.after_page``), so neither
        competes with that page for the GIL while the browser waits; the worker's first poll
        is a second later, and a notification waits in the queue meanwhile, losing nothing.
        """
        with self._background_lock:
            if self._background_started:
                return
            self._background_started = True
        self.start_worker()
        # Off the first rep's path: load the Marketplace models while nobody waits yet.
        threading.Thread(target=self.aws.preload, args=LIVE_DEMO_SERVICES, daemon=True).start()

    def new_worker(self) -> NotificationWorker:
        """A worker on the configured queue (not started)."""
        return NotificationWorker(
            sqs=self.aws.client("sqs"),
            queue_url=str(self.settings.vell_delegation_queue_url),
            processor=self.processor,
            inbox=self.inbox,
            clock=self.clock,
            wait_seconds=self.settings.vell_worker_wait_seconds,
            visibility_timeout=self.settings.vell_worker_visibility_timeout,
            fault_hook=_fault_hook(self.settings),
        )

    def start_worker(self) -> NotificationWorker:
        """Start a background worker; ``close`` stops it."""
        worker = self.new_worker().start()
        self.background.append(worker)
        return worker

    def close(self) -> None:
        """Stop background threads and the sandbox (tests and CLI)."""
        self.sync.close()
        for item in reversed(self.background):
            item.stop()
        self.audit.close()
        if self.sandbox is not None and self.owns_sandbox:
            self.sandbox.stop()
        self.engine.dispose()


def build_services(
    settings: Settings | None = None,
    *,
    clock: Clock | None = None,
    engine: Engine | None = None,
    start_background: bool = False,
    sandbox: Any | None = None,
) -> Services:
    """Build the whole object graph; the one place that knows how things fit together.

    ``start_background`` starts the worker and the model preload at once (tests, benchmarks);
    otherwise the caller does (``Services.start_background``): the UI once its first page is
    drawn, ``vell worker`` at start.

    ``sandbox`` is a sandbox AWS already running (tests share one per module): the graph uses
    it and ``close`` leaves it running for its owner.
    """
    settings = settings or load_settings()
    configure_logging(settings.vell_log_level)
    engine = engine or make_engine(settings.vell_database_url)
    owns_sandbox = sandbox is None
    if sandbox is None and settings.is_sandbox:
        sandbox = _start_sandbox(settings)
    clock = clock or _clock_for(settings, sandbox)
    aws = _client_factory(settings, sandbox)
    staff = StaffDirectory(StaffStore(engine))
    audit_log = AuditLogStore(engine)  # the audit recorder's writes; the audit page's reads
    funnel = FunnelRecorder(engine, clock)
    audit = AuditRecorder(audit_log, clock)
    vault = CredentialVault(store=CredentialStore(engine), clock=clock, key=_vault_key(settings))
    rate_limiter = ActionLimiter(clock=clock, store=ActionCountStore(engine))
    inbox = InboxStore(engine, funnel)
    delegations = DelegationService(
        settings=settings,
        store=DelegationStore(engine, funnel),
        clock=clock,
        aws=aws,
        staff=staff,
        funnel=funnel,
        rate_limiter=rate_limiter,
    )
    customer_access = CustomerAccess(
        delegations=delegations, vault=vault, aws=aws, audit=audit, clock=clock
    )
    production = build_production_services(
        settings=settings,
        engine=engine,
        clock=clock,
        aws=aws,
        staff=staff,
        funnel=funnel,
        audit=audit,
        delegations=delegations,
        customer_access=customer_access,
        # The sandbox AWS serves the console's quick-create page too, at the same path.
        console_origin=sandbox.endpoint if sandbox is not None else CONSOLE_ORIGIN,
    )
    sync = SyncService(
        customer_access=customer_access,
        delegations=delegations,
        funnel=funnel,
        first_sync=FirstSyncMarks(engine),
        clock=clock,
        rate_limit_factor=settings.vell_sandbox_rate_limit_factor if settings.is_sandbox else 1.0,
    )
    processor = NotificationProcessor(
        store=inbox,
        clock=clock,
        verifier=_verifier(settings, sandbox),
        # One attempt per call: the exchange's own loop retries (and counts, and backs off).
        partner_aws=aws.with_config(SINGLE_ATTEMPT),
        vault=vault,
        audit=audit,
        retry=RetryPolicy(max_attempts=settings.vell_exchange_max_attempts),
        lease=timedelta(seconds=settings.vell_exchange_lease_seconds),
        fault_hook=_fault_hook(settings),
    )
    services = Services(
        settings=settings,
        clock=clock,
        engine=engine,
        aws=aws,
        staff=staff,
        overview=OverviewService(OverviewStore(engine), clock),
        funnel=funnel,
        audit=audit,
        vault=vault,
        delegations=delegations,
        customer_access=customer_access,
        processor=processor,
        inbox=inbox,
        customer_console=CustomerConsoleService(
            sandbox=sandbox, aws=aws, staff=staff, delegations=delegations
        ),
        rate_limiter=rate_limiter,
        aws_health=AwsHealthService(
            settings=settings, store=HealthStore(engine), clock=clock, aws=aws, staff=staff
        ),
        partner_onboarding=PartnerOnboardingService(
            settings=settings, store=OnboardingStore(engine), clock=clock, staff=staff
        ),
        audit_query=AuditQuery(store=audit_log, staff=staff, audit=audit),
        demo_links=DemoLinkService(
            settings=settings,
            store=DemoLinkStore(engine),
            clock=clock,
            staff=staff,
            delegations=delegations,
            rate_limiter=rate_limiter,
            audit=audit,
        ),
        access_records=AccessRecordService(
            settings=settings,
            audit_log=audit_log,
            clock=clock,
            delegations=delegations,
            audit=audit,
            rate_limiter=rate_limiter,
        ),
        connections=production.connections,
        production_setup=production.production_setup,
        promotion=production.promotion,
        trials=production.trials,
        metrics=MetricsService(MetricsStore(engine), clock, staff),
        tickets=TicketService(TicketStore(engine), clock, staff),
        sync=sync,
        listing_updates=ListingUpdateService(customer_access=customer_access, sync=sync),
        nudges=DeskNudges(
            store=NudgesStore(engine),
            clock=clock,
            staff=staff,
            overrides=settings.vell_nudge_after_seconds,
            refresh=timedelta(seconds=settings.vell_live_refresh_seconds),
        ),
        sandbox=sandbox,
        owns_sandbox=owns_sandbox,
    )
    if start_background:
        services.start_background()
    return services


@dataclass(frozen=True)
class ProductionServices:
    """The production-path services, built together (they depend on each other)."""

    connections: ConnectionService
    production_setup: ProductionSetupService
    promotion: PromotionService
    trials: TrialsDeskService


def build_production_services(
    *,
    settings: Settings,
    engine: Engine,
    clock: Clock,
    aws: ClientFactory,
    staff: StaffDirectory,
    funnel: FunnelRecorder,
    audit: AuditRecorder,
    delegations: DelegationService,
    customer_access: CustomerAccess,
    console_origin: str = CONSOLE_ORIGIN,
) -> ProductionServices:
    """Connections, CloudFormation setup, promotion and the trials desk, wired.

    ``console_origin`` is where quick-create links point: AWS's console, or the sandbox's.
    """
    connection_store = ConnectionStore(engine)
    connections = ConnectionService(
        settings=settings, store=connection_store, clock=clock, aws=aws, staff=staff, audit=audit
    )
    setup = ProductionSetupService(
        settings=settings,
        store=connection_store,
        clock=clock,
        staff=staff,
        audit=audit,
        funnel=funnel,
        connections=connections,
        console_origin=console_origin,
    )
    promotions = PromotionStore(engine)
    promotion = PromotionService(
        store=promotions,
        clock=clock,
        staff=staff,
        delegations=delegations,
        connections=connections,
        audit=audit,
        steps=PromotionSteps(
            settings=settings,
            store=promotions,
            clock=clock,
            access=OnboardingAccess(
                store=promotions,
                clock=clock,
                delegations=delegations,
                customer_access=customer_access,
            ),
            connections=connections,
            funnel=funnel,
        ),
    )
    trials = TrialsDeskService(
        store=TrialsStore(engine),
        clock=clock,
        staff=staff,
        audit=audit,
        delegations=delegations,
        promotion=promotion,
        setup=setup,
        connections=connections,
    )
    return ProductionServices(connections, setup, promotion, trials)


def _fault_hook(settings: Settings) -> FaultHook:
    """No faults, unless a test asked this process to die at an exchange step."""
    return kill_self_at(settings.vell_test_kill_at) if settings.vell_test_kill_at else no_faults


def _vault_key(settings: Settings) -> bytes | None:
    """The sealing key; without one each process generates its own (sandbox default)."""
    key = settings.vell_vault_key
    return key.get_secret_value().encode() if key is not None else None


def _verifier(settings: Settings, sandbox: Any | None) -> SnsVerifier:
    """SNS verification is identical in both modes; only the certificate transport differs.

    In the sandbox the pinned ``https://sns.<region>.amazonaws.com/...pem`` URL is fetched
    through a session routed to the sandbox endpoint, and signatures carry moto's wall-clock
    timestamps, so freshness is checked against the wall clock rather than the sandbox clock.
    """
    session = routed_session(sandbox.endpoint) if sandbox is not None else None
    return SnsVerifier(
        region=settings.vell_aws_region,
        allowed_topic_arns=frozenset({str(settings.aws_delegation_sns_topic_arn)}),
        clock=SystemClock(),
        fetch_certificate=requests_certificate_fetcher(session),
        # The issue allows v1 only in the sandbox; production accepts SignatureVersion 2 only.
        allow_signature_v1=settings.is_sandbox,
    )


def _clock_for(settings: Settings, sandbox: Any | None) -> Clock:
    """Sandbox time can be advanced from the UI; real AWS runs on the wall clock."""
    if sandbox is not None:
        return sandbox.clock
    return SystemClock() if not settings.is_sandbox else OffsetClock()


def _start_sandbox(settings: Settings) -> Any:
    """Start the sandbox AWS in this process, or join the one already on the port."""
    from vell_core.sandbox.runtime import ensure_sandbox  # local: sandbox is optional in aws mode

    return ensure_sandbox(settings)


def _client_factory(settings: Settings, sandbox: Any | None) -> ClientFactory:
    if sandbox is None:
        return ClientFactory(region=settings.vell_aws_region)
    creds = sandbox.partner_credentials()
    return ClientFactory(
        region=settings.vell_aws_region,
        endpoint_url=sandbox.endpoint,
        credentials=StaticCredentials(creds["AccessKeyId"], creds["SecretAccessKey"]),
    )
