"""How the app gets its sandbox AWS: start one here, in a child process, or join one serving.

``make run`` (``vell run``) starts the sandbox in a child process on ``VELL_SANDBOX_PORT``
(4599) and joins it over HTTP: the sandbox's start-up (moto, the sample sellers) runs on the
other core while the app imports, and its request handling never holds the app's GIL. A
second app process, ``vell worker`` or a script finds it answering on that port and joins it
the same way, so everyone shares one sandbox AWS and one sandbox clock. Tests and a bare
``streamlit run Home.py`` start it inside their own process.
"""

from __future__ import annotations

import logging
import selectors
import subprocess
import sys
import threading
import time
from datetime import datetime, timedelta
from typing import IO, TYPE_CHECKING, Any

import requests

from vell_core.config.settings import DATA_DIR, Settings
from vell_core.domain.clock import OffsetClock, ensure_utc
from vell_core.domain.errors import ConfigurationError
from vell_core.sandbox.control import SandboxControl

if TYPE_CHECKING:
    from vell_core.sandbox.server import RunningSandbox, SandboxConfig

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
    # Local: a process that joins a sandbox never loads moto or the sandbox's services.
    from vell_core.sandbox.server import SandboxConfig, start_sandbox

    running = start_sandbox(SandboxConfig.from_settings(settings))
    backends = _marketplace_backends(settings, running.state.clock)
    for backend in backends:
        running.register(backend)
    running.state.config.knob_listeners.append(lambda config: _follow_knobs(config, backends))
    return LocalSandbox(running)


READY_PREFIX = "Sandbox AWS on "  # the line ``vell sandbox`` prints once it listens
CHILD_START_SECONDS = 120  # a cold machine imports moto and writes sample sellers slowly


class SandboxProcess:
    """The whole sandbox AWS served by a child ``vell sandbox`` process (what ``vell run`` uses).

    The child dies with this process (``PR_SET_PDEATHSIG`` on Linux, ``stop`` otherwise), so a
    killed app never leaves a stale sandbox holding the port.
    """

    def __init__(self, settings: Settings) -> None:
        self._process = subprocess.Popen(
            [sys.executable, "-m", "vell_core.cli", "sandbox",
             "--port", str(settings.vell_sandbox_port)],
            stdout=subprocess.PIPE, text=True, preexec_fn=_die_with_parent,
        )  # fmt: skip

    def wait_ready(self, timeout: float = CHILD_START_SECONDS) -> str:
        """Block until the child prints that it listens; return its endpoint."""
        assert self._process.stdout is not None
        line = _read_line(self._process.stdout, timeout)
        if not line.startswith(READY_PREFIX):
            self.stop()
            raise ConfigurationError(
                "The sandbox AWS did not start; see the log above (is its port taken?)."
            )
        threading.Thread(target=_drain, args=(self._process.stdout,), daemon=True).start()
        return line.removeprefix(READY_PREFIX).strip()

    def stop(self) -> None:
        """Stop the child (SIGTERM, then SIGKILL if it lingers)."""
        if self._process.poll() is None:
            self._process.terminate()
            try:
                self._process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()


def sandbox_is_serving(settings: Settings) -> bool:
    """Whether a sandbox already answers on the configured port (then it is joined, not run)."""
    return bool(settings.vell_sandbox_port) and _answers(settings.sandbox_endpoint)


def _die_with_parent() -> None:  # pragma: no cover - runs in the child between fork and exec
    if sys.platform.startswith("linux"):
        import ctypes
        import signal

        ctypes.CDLL(None).prctl(1, signal.SIGTERM)  # 1 = PR_SET_PDEATHSIG


def _read_line(stream: IO[str], timeout: float) -> str:
    """One line from ``stream``, or "" when none arrives within ``timeout`` seconds."""
    with selectors.DefaultSelector() as selector:
        selector.register(stream, selectors.EVENT_READ)
        if not selector.select(timeout):
            return ""
    return stream.readline()


def _drain(stream: IO[str]) -> None:
    """Pass the child's later output through, so a full pipe never blocks it."""
    for line in stream:
        sys.stdout.write(line)


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
