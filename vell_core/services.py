"""The composition root: settings → clock → engine → AWS client factory → services.

Everything else receives what it needs from here; nothing creates AWS clients at import time.
In sandbox mode this also starts the sandbox AWS (or joins one already serving on the port)
and the notification worker thread.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.engine import Engine

from vell_core.aws import ClientFactory, StaticCredentials
from vell_core.clock import Clock, OffsetClock, SystemClock
from vell_core.db import make_engine
from vell_core.logging_setup import configure_logging
from vell_core.overview import HomeFigures, home_figures
from vell_core.settings import Settings, load_settings
from vell_core.staff import StaffDirectory

log = logging.getLogger(__name__)


class OverviewService:
    """Home-page figures."""

    def __init__(self, engine: Engine, clock: Clock) -> None:
        self._engine = engine
        self._clock = clock

    def home(self) -> HomeFigures:
        """Figures as of now."""
        return home_figures(self._engine, self._clock.now())


@dataclass
class Services:
    """Every service the pages may call, wired once per process."""

    settings: Settings
    clock: Clock
    engine: Engine
    aws: ClientFactory
    staff: StaffDirectory
    overview: OverviewService
    sandbox: Any | None = None
    background: list[Any] = field(default_factory=list)

    def close(self) -> None:
        """Stop background threads and the sandbox (tests and CLI)."""
        for item in reversed(self.background):
            item.stop()
        if self.sandbox is not None:
            self.sandbox.stop()
        self.engine.dispose()


def build_services(
    settings: Settings | None = None,
    *,
    clock: Clock | None = None,
    engine: Engine | None = None,
    start_background: bool | None = None,
) -> Services:
    """Build the whole object graph; the one place that knows how things fit together."""
    settings = settings or load_settings()
    configure_logging(settings.vell_log_level)
    engine = engine or make_engine(settings.vell_database_url)
    sandbox = _start_sandbox(settings) if settings.is_sandbox else None
    clock = clock or _clock_for(settings, sandbox)
    aws = _client_factory(settings, sandbox)
    services = Services(
        settings=settings,
        clock=clock,
        engine=engine,
        aws=aws,
        staff=StaffDirectory(engine),
        overview=OverviewService(engine, clock),
        sandbox=sandbox,
    )
    return services


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
