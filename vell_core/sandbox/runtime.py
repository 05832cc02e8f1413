"""How the app gets its sandbox AWS: start one in this process, or join one already serving.

``make run`` starts the sandbox inside the Streamlit process on ``VELL_SANDBOX_PORT`` (4599).
A second app process, ``vell worker`` or a script finds it answering on that port and joins it
over HTTP instead, so everyone shares one sandbox AWS and one sandbox clock.
"""

from __future__ import annotations

import logging
import threading
import time
from datetime import datetime, timedelta
from typing import Any

import requests

from vell_core.config.settings import DATA_DIR, Settings
from vell_core.domain.clock import OffsetClock, ensure_utc
from vell_core.sandbox.control import SandboxControl
from vell_core.sandbox.server import RunningSandbox, SandboxConfig, start_sandbox

log = logging.getLogger(__name__)


class LocalSandbox:
    """A sandbox running in this process."""

    def __init__(self, running: RunningSandbox) -> None:
        self._running = running
        self.control = SandboxControl(running.endpoint)
        # Requests created before this moment never existed in this (in-memory) sandbox.
        self.started_at = running.state.clock.now()

    @property
    def endpoint(self) -> str:
        """Base URL for ``endpoint_url``."""
        return self._running.endpoint

    @property
    def clock(self) -> OffsetClock:
        """The sandbox clock itself (shared with the app's services)."""
        return self._running.state.clock

    @property
    def state(self) -> Any:
        """In-process sandbox state (tests)."""
        return self._running.state

    def partner_credentials(self) -> dict[str, str]:
        """Vell's partner access key in the sandbox."""
        return self.control.partner_credentials()

    def persona_credentials(self, account_id: str, persona: str) -> dict[str, str]:
        """Access key of the customer's owner, admin or root user."""
        return self.control.personas(account_id)[persona]

    def advance(self, seconds: float) -> datetime:
        """Move sandbox time forward and let AWS's timers fire."""
        self.control.advance(seconds)
        return self.clock.now()

    def stop(self) -> None:
        """Stop serving."""
        self._running.stop()


class RemoteClock:
    """The clock of a sandbox in another process: wall time plus its offset (cached 1 s)."""

    def __init__(self, control: SandboxControl) -> None:
        self._control = control
        self._offset = timedelta(0)
        self._fetched = 0.0
        self._lock = threading.Lock()

    def now(self) -> datetime:
        """Sandbox now."""
        with self._lock:
            if time.monotonic() - self._fetched > 1.0:
                answer = self._control.clock()
                self._offset = timedelta(seconds=float(answer["offset_seconds"]))
                self._fetched = time.monotonic()
            offset = self._offset
        return ensure_utc(datetime.now().astimezone()) + offset

    def refresh(self) -> None:
        """Forget the cached offset."""
        with self._lock:
            self._fetched = 0.0


class RemoteSandbox:
    """A sandbox served by another process on this machine."""

    def __init__(self, endpoint: str) -> None:
        self.endpoint = endpoint
        self.control = SandboxControl(endpoint)
        self.clock = RemoteClock(self.control)

    def partner_credentials(self) -> dict[str, str]:
        """Vell's partner access key in the sandbox."""
        return self.control.partner_credentials()

    def persona_credentials(self, account_id: str, persona: str) -> dict[str, str]:
        """Access key of the customer's owner, admin or root user."""
        return self.control.personas(account_id)[persona]

    def advance(self, seconds: float) -> datetime:
        """Move sandbox time forward."""
        self.control.advance(seconds)
        self.clock.refresh()
        return self.clock.now()

    def stop(self) -> None:
        """Nothing to stop: the other process owns it."""


def ensure_sandbox(settings: Settings) -> LocalSandbox | RemoteSandbox:
    """Join the sandbox on the configured port if one answers, else start one here."""
    if settings.vell_sandbox_port:
        endpoint = settings.sandbox_endpoint
        if _answers(endpoint):
            log.info("Joining the sandbox AWS already serving on %s", endpoint)
            return RemoteSandbox(endpoint)
    return start_local_sandbox(settings)


def start_local_sandbox(settings: Settings) -> LocalSandbox:
    """Start the whole sandbox AWS here: moto, IAM/STS delegation and Marketplace.

    The one way a sandbox is started, whether inside the app or alone (``vell sandbox`` and
    ``python -m vell_core.sandbox``), so every process sees the same APIs.
    """
    running = start_sandbox(SandboxConfig.from_settings(settings))
    backends = _marketplace_backends(settings, running.state.clock)
    for backend in backends:
        running.register(backend)
    running.state.config.knob_listeners.append(lambda config: _follow_knobs(config, backends))
    return LocalSandbox(running)


def _follow_knobs(config: SandboxConfig, backends: list[Any]) -> None:
    """Keep the Marketplace rate limiters in step with ``/_sandbox/config``."""
    for backend in backends:
        limiter = getattr(backend, "limiter", None)
        if limiter is not None:
            limiter.factor = config.rate_limit_factor
            limiter.enabled = config.throttling


def _answers(endpoint: str) -> bool:
    try:
        return requests.get(f"{endpoint}/_sandbox/health", timeout=1).status_code == 200
    except requests.RequestException:
        return False


def _marketplace_backends(settings: Settings, clock: OffsetClock) -> list[Any]:
    """The Marketplace Catalog and Agreement backends, on the sandbox clock."""
    try:
        from vell_core.sandbox.marketplace import build_marketplace_backends
    except ImportError:  # pragma: no cover - only while the package is absent
        log.warning("Sandbox Marketplace backends are not available")
        return []
    return list(
        build_marketplace_backends(
            clock,
            DATA_DIR,
            rate_limit_factor=settings.vell_sandbox_rate_limit_factor,
            throttling=settings.vell_sandbox_throttling,
            # The server injects VELL_SANDBOX_LATENCY_MS on every call already; adding it here
            # too would double it.
            latency_ms=0,
            seed=settings.vell_sandbox_seed,
        )
    )
