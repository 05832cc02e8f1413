"""Benchmark: how snappy the app feels in a real browser (issue 13).

Starts the app exactly as ``make run`` serves it (``vell bootstrap``, then the Makefile's run
command with the repository's ``.streamlit/config.toml``), on a free port, over a freshly seeded
store in a temp directory and a private sandbox port. Drives Debian's Chromium through
Playwright and prints one figure per line, ``name=value``:

* ``ready_s`` — server process start → the first page rendered in a fresh browser context (no
  cached assets), median of ``--ready-runs`` fresh servers (goal ≤ 4); every run is printed
  (``ready_runs_s``);
* ``idle_cpu_pct`` — the server's CPU (its process and the sandbox child ``vell run`` starts;
  % of one core) over 30 s while one signed-in tab sits on the wizard's *Waiting for approval*
  step and another on *Live demo* (goal ≤ 3);
* ``click_p95_ms`` — click → page settled (the server's "script finished" message, then the app
  idle), p95 over at least 40 clicks across sales, customer-success and leadership pages
  (goal ≤ 400). Timed by a clock in the page, from the pointer or key going down to the app going
  idle, so Playwright's own work before a click is left out; the same clicks timed from Python
  are printed beside it (``click_p95_with_driver_ms``);
* ``metrics_cached_ms`` — median rerun of *Leadership metrics* with its dashboard already cached:
  the cohort grain toggled between month and week, both computed once before (goal ≤ 200);
  ``metrics_reopen_ms`` — the page reopened from Home, cached as well but mounted afresh in the
  browser — is printed beside it (no goal: it is a page open, not a rerender).

Then a goal / measured / PASS-or-FAIL line per figure, and the load average (the machine may be
shared; the server's own CPU % is still meaningful under load). With ``--check`` the exit code is
1 when a goal is missed.

    .venv/bin/python bench/ui_bench.py [--check] [--idle-seconds 30] [--clicks 40]
"""

from __future__ import annotations

import argparse
import os
import re
import shlex
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from playwright.sync_api import Browser, Locator, Page, WebSocket, expect, sync_playwright
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

REPO_ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
)
VIEWPORT = {"width": 1280, "height": 860}
RUN_TIMEOUT_MS = 60_000
LIVE_TIMEOUT_MS = 60_000
CLK_TCK = os.sysconf("SC_CLK_TCK")

# A clock in the page: when the person's input landed (pointer down, key down) and when the app
# last went idle. Timing in the page leaves out Playwright's own work before a click (finding
# the element, waiting for it to be stable: 30-80 ms here), which no person waits for.
PAGE_CLOCK = """
(() => {
  window.__vellClock = {input: null, idle: null};
  const input = () => {
    if (window.__vellClock.input === null) window.__vellClock.input = performance.now();
  };
  addEventListener('pointerdown', input, true);
  addEventListener('keydown', input, true);
  new MutationObserver(() => {
    const app = document.querySelector('[data-testid="stApp"]');
    if (app && app.getAttribute('data-test-script-state') === 'notRunning') {
      window.__vellClock.idle = performance.now();
    }
  }).observe(document, {subtree: true, attributes: true,
                        attributeFilter: ['data-test-script-state']});
})();
"""
# The sign-in page drawn and the app idle: connected, its script run finished.
SIGN_IN_SHOWN = """() => {
  const app = document.querySelector('[data-testid="stApp"]');
  return !!app && app.getAttribute('data-test-connection-state') === 'CONNECTED'
    && app.getAttribute('data-test-script-state') === 'notRunning'
    && document.body.innerText.includes('Local sign-in');
}"""
RESET_CLOCK = "() => { window.__vellClock.input = null; window.__vellClock.idle = null; }"
READ_CLOCK = "() => window.__vellClock"

REP, CS, LEADER = "Maya Chen", "Lena Fischer", "Rachel Kim"
WAIT_CO, LIVE_CO = ("Bench Waiting Co", "602341187520"), ("Bench Live Co", "602341187520")
# Pages each role clicks through, in the order a person would.
TOURS = {
    REP: ("New delegation", "Delegations", "Demo links", "Live demo", "Home"),
    CS: ("Trials desk", "Connections", "Support tickets", "Delegations", "Home"),
    LEADER: ("Leadership metrics", "Home"),
}
# name: (goal, comparison) — every goal here is an upper bound.
GOALS = {
    "idle_cpu_pct": 3.0,
    "click_p95_ms": 400.0,
    "ready_s": 4.0,
    "metrics_cached_ms": 200.0,
}


MAKE_RUN = "vell run"  # the Makefile's run recipe: `$(BIN)/vell run`


def make_run_command(app_command: str, port: int) -> list[str]:
    """``app_command`` (a program in the venv's bin, and its arguments) on the given port."""
    program, *rest = shlex.split(app_command)
    return [str(BIN / program), *rest, "--server.port", str(port), "--server.address", "127.0.0.1"]


# --- the server ------------------------------------------------------------------------------


def free_port() -> int:
    """A TCP port nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def app_env(store: Path, sandbox_port: int) -> dict[str, str]:
    """``make run``'s environment, but a temp store and a private sandbox port."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("VELL_", "AWS_DELEGATION_"))}
    env.update(
        VELL_AWS_MODE="sandbox",
        VELL_DATABASE_URL=f"sqlite:///{store}",
        VELL_SANDBOX_PORT=str(sandbox_port),
        AWS_ACCESS_KEY_ID="testing",
        AWS_SECRET_ACCESS_KEY="testing",
        AWS_DEFAULT_REGION="us-east-1",
        AWS_CONFIG_FILE=os.devnull,
        AWS_SHARED_CREDENTIALS_FILE=os.devnull,
    )
    return env


@dataclass
class Server:
    """The running app: its process, URL, log and start time."""

    process: subprocess.Popen[bytes]
    url: str
    log: Path
    started: float

    def cpu_seconds(self) -> float:
        """User + system CPU so far of every process the server started (its own threads and
        the sandbox AWS child ``vell run`` spawns): all of its session, which it leads."""
        total = 0
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                fields = stat.read_text().rsplit(")", 1)[1].split()
            except OSError:  # the process ended meanwhile
                continue
            if int(fields[3]) == self.process.pid:  # the session id
                total += int(fields[11]) + int(fields[12])
        return total / CLK_TCK

    def log_count(self, needle: str) -> int:
        """How often ``needle`` appears in the server's log so far."""
        return self.log.read_text(errors="replace").count(needle)


@contextmanager
def serve(workdir: Path, app_command: str, store_dir: Path | None) -> Iterator[Server]:
    """Bootstrap a fresh store, then start the app the way ``make run`` does."""
    port, sandbox_port = free_port(), free_port()
    store = (store_dir or workdir) / f"ui-bench-{os.getpid()}.db"
    env = app_env(store, sandbox_port)
    subprocess.run([str(BIN / "vell"), "bootstrap"], cwd=REPO_ROOT, env=env, check=True,
                   capture_output=True, timeout=300)  # fmt: skip
    log = workdir / "server.log"
    command = make_run_command(app_command, port)
    print(f"# server: {shlex.join(command)}", flush=True)
    with log.open("wb") as out:
        started = time.monotonic()
        process = subprocess.Popen(
            command, cwd=REPO_ROOT, env=env, stdout=out, stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip
        try:
            yield Server(process, f"http://127.0.0.1:{port}", log, started)
        finally:
            stop(process)
            for leftover in store.parent.glob(f"{store.name}*"):
                leftover.unlink()


def wait_healthy(server: Server) -> None:
    """Poll Streamlit's health endpoint (bounded)."""
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            sys.exit(f"the app exited with {server.process.returncode}; see {server.log}")
        try:
            with urllib.request.urlopen(f"{server.url}/_stcore/health", timeout=2) as answer:
                if answer.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(0.05)
    sys.exit(f"the app did not answer within 120 s; see {server.log}")


def stop(process: subprocess.Popen[bytes]) -> None:
    """Terminate the server's process group (SIGKILL if it lingers)."""
    if process.poll() is not None:
        return
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)


# --- driving the browser -----------------------------------------------------------------------


class Tab:
    """One browser session (its own context) that can time a click until the page settles."""

    def __init__(self, browser: Browser, url: str) -> None:
        self.context = browser.new_context(viewport=VIEWPORT, base_url=url)
        self.context.add_init_script(PAGE_CLOCK)
        self.context.set_default_timeout(RUN_TIMEOUT_MS)
        self.driver_ms: list[float] = []  # the same actions timed from Python, driver included
        self.page: Page = self.context.new_page()
        self.socket: WebSocket | None = None
        self.page.on("websocket", self._remember)

    def _remember(self, ws: WebSocket) -> None:
        if ws.url.endswith("/_stcore/stream"):
            self.socket = ws

    def idle(self) -> None:
        """Connected and no script running."""
        app = self.page.get_by_test_id("stApp")
        expect(app).to_have_attribute("data-test-connection-state", "CONNECTED")
        expect(app).to_have_attribute("data-test-script-state", "notRunning")

    def act(self, action: Callable[[], None]) -> float:
        """Do ``action``; return ms from the input landing in the page until its whole-script
        run finished and the app went idle (the page's own clock)."""
        self.idle()
        assert self.socket is not None, "the app's websocket is not open yet"
        self.page.evaluate(RESET_CLOCK)
        started = time.perf_counter()
        with self.socket.expect_event("framereceived", predicate=_run_finished,
                                      timeout=RUN_TIMEOUT_MS):  # fmt: skip
            action()
        self.idle()
        self.driver_ms.append((time.perf_counter() - started) * 1000)
        clock = self.page.evaluate(READ_CLOCK)
        if clock["input"] is None or clock["idle"] is None or clock["idle"] < clock["input"]:
            return self.driver_ms[-1]  # no input event seen (e.g. a navigation): Python's time
        return float(clock["idle"] - clock["input"])

    def main(self) -> Locator:
        return self.page.get_by_test_id("stMain")

    def click(self, name: str) -> float:
        """Click the body button ``name``."""
        return self.act(self.main().get_by_role("button", name=name, exact=True).click)

    def fill(self, label: str, value: str) -> None:
        field = self.main().get_by_label(label, exact=True)
        field.fill(value)
        self.act(lambda: field.press("Tab"))

    def choose(self, label: str, option: re.Pattern[str], search: str) -> None:
        box = self.page.get_by_role("combobox", name=label)
        if option.search(box.input_value()):
            return
        box.click()
        box.fill(search)
        self.act(self.page.get_by_role("option", name=option).first.click)

    def open_page(self, title: str) -> float | None:
        """Sidebar link ``title``; None when it is the current page (no rerun)."""
        link = self.page.get_by_test_id("stSidebarNav").get_by_role("link", name=title)
        if link.get_attribute("aria-current") == "page":
            return None
        return self.act(link.click)

    def sign_in(self, member: str) -> None:
        self.page.goto("/", wait_until="commit")
        expect(self.page.get_by_text("Local sign-in")).to_be_visible(timeout=RUN_TIMEOUT_MS)
        self.choose("Staff member", re.compile(rf"^{re.escape(member)} — "), member)
        self.click("Sign in (sandbox)")
        expect(self.page.get_by_text(f"Signed in as {member}")).to_be_visible()

    def launch_demo(self, company: str, account: str) -> None:
        """New delegation → Quick Start Demo → Send: ends on the Waiting step."""
        self.open_page("New delegation")
        self.click("Continue")
        self.fill("Company", company)
        self.fill("Customer's AWS account id (12 digits)", account)
        self.click("Continue")
        card = (
            self.main()
            .get_by_test_id("stVerticalBlock")
            .filter(has=self.page.get_by_role("heading", name="Quick Start Demo"))
            .last
        )
        self.act(card.get_by_role("button", name="Choose").click)
        self.click("Send request to AWS")
        expect(self.main().get_by_text("Step 4 of 5: Waiting for approval")).to_be_visible()

    def approve(self, company: str) -> None:
        """Customer console: the owner opens the request, the admin allows it."""
        self.open_page("Customer console")
        label = re.compile(rf"^{re.escape(company)} · \d{{12}} · demo · ")
        self.choose("Request waiting for the customer", label, company)
        for persona, button in (("owner", "Open request"), ("admin", "Allow access")):
            radio = self.main().get_by_test_id("stRadio")
            if not radio.get_by_role("radio", name=persona, exact=True).is_checked():
                self.act(radio.get_by_text(persona, exact=True).click)
            self.click(button)


def _run_finished(payload: str | bytes) -> bool:
    """A frame saying a whole script run finished successfully."""
    if isinstance(payload, str):
        return False
    message = ForwardMsg.FromString(payload)
    return (
        message.WhichOneof("type") == "script_finished"
        and message.script_finished == ForwardMsg.FINISHED_SUCCESSFULLY
    )


# --- the four figures --------------------------------------------------------------------------


def measure_ready(browser: Browser, server: Server) -> tuple[Tab, float]:
    """Process start → the sign-in page rendered in a browser opened when health answers.

    The page is watched on every animation frame (``SIGN_IN_SHOWN``): Playwright's ``expect``
    retries at growing intervals and would add up to a second the person never waits.
    """
    wait_healthy(server)
    tab = Tab(browser, server.url)
    tab.page.goto("/", wait_until="commit")
    tab.page.wait_for_function(SIGN_IN_SHOWN, polling="raf", timeout=RUN_TIMEOUT_MS)
    return tab, time.monotonic() - server.started


def measure_ready_on_fresh_servers(browser: Browser, args: argparse.Namespace,
                                   workdir: Path) -> list[float]:  # fmt: skip
    """``ready_s`` on ``args.ready_runs - 1`` more fresh servers (one sample is noise here)."""
    samples = []
    for _ in range(args.ready_runs - 1):
        with serve(workdir, args.app_command, args.store_dir) as server:
            tab, ready = measure_ready(browser, server)
            tab.context.close()
            samples.append(ready)
    return samples


def open_idle_tabs(browser: Browser, server: Server, first: Tab) -> list[Tab]:
    """One rep tab waiting for approval, one on Live demo with the customer's listings."""
    waiting = first
    waiting.sign_in(REP)
    waiting.launch_demo(*WAIT_CO)
    live = Tab(browser, server.url)
    live.sign_in(REP)
    live.launch_demo(*LIVE_CO)
    live.approve(LIVE_CO[0])
    live.open_page("New delegation")
    expect(live.main().get_by_text(f"Connected to {LIVE_CO[0]}")).to_be_visible(
        timeout=LIVE_TIMEOUT_MS
    )
    live.open_page("Live demo")
    live.choose("Customer", re.compile(re.escape(LIVE_CO[0])), LIVE_CO[0])
    expect(live.main().get_by_text("Products").first).to_be_visible()
    return [waiting, live]


def measure_idle_cpu(server: Server, seconds: float) -> tuple[float, int]:
    """Server CPU % of one core over ``seconds``, and inotify overflow warnings meanwhile."""
    time.sleep(5)  # let the first sync and the last reruns finish
    overflow = server.log_count("Inotify queue overflowed")
    cpu, wall = server.cpu_seconds(), time.monotonic()
    time.sleep(seconds)
    used = server.cpu_seconds() - cpu
    return 100 * used / (time.monotonic() - wall), server.log_count(
        "Inotify queue overflowed"
    ) - overflow


def measure_clicks(
    browser: Browser, server: Server, wanted: int
) -> tuple[dict[str, list[float]], list[float], Tab]:
    """Page-to-page clicks of a rep, a CS manager and a leader, round robin: ms by page, the
    same clicks timed from Python, and the leader's tab (still open)."""
    tabs = {}
    for member in TOURS:
        tabs[member] = Tab(browser, server.url)
        tabs[member].sign_in(member)
    times: dict[str, list[float]] = {}
    driver: list[float] = []  # the same clicks timed from Python, Playwright's work included
    while sum(map(len, times.values())) < wanted:
        for member, tour in TOURS.items():
            for title in tour:
                taken = tabs[member].open_page(title)
                if taken is not None:
                    times.setdefault(f"{member.split()[0]}: {title}", []).append(taken)
                    driver.append(tabs[member].driver_ms[-1])
    for member in (REP, CS):
        tabs[member].context.close()
    return times, driver, tabs[LEADER]


def measure_metrics_cached(leader: Tab, repeats: int = 8) -> list[float]:
    """Leadership metrics rerun on a filter whose dashboard is already cached: the cohort grain
    toggled between month and week, after each has been computed once."""
    leader.open_page("Leadership metrics")
    grains = leader.main().get_by_test_id("stRadio")
    for grain in ("month", "week"):  # compute both once: the timed runs are cache hits
        leader.act(grains.get_by_text(grain, exact=True).click)
    times = []
    for _ in range(repeats):
        for grain in ("month", "week"):
            times.append(leader.act(grains.get_by_text(grain, exact=True).click))
    return times


def measure_metrics_reopen(leader: Tab, repeats: int = 8) -> list[float]:
    """Leadership metrics reopened from Home (cached too, plus mounting the page in the
    browser): reported beside the goal's figure, not held to it."""
    leader.open_page("Leadership metrics")
    times = []
    for _ in range(repeats):
        leader.open_page("Home")
        taken = leader.open_page("Leadership metrics")
        assert taken is not None
        times.append(taken)
    return times


def phase(text: str) -> None:
    """Progress on stderr (stdout carries only the figures)."""
    print(f"# {time.strftime('%H:%M:%S')} {text}", file=sys.stderr, flush=True)


def p95(values: list[float]) -> float:
    """95th percentile (inclusive method)."""
    return statistics.quantiles(values, n=20, method="inclusive")[-1]


def show(figures: dict[str, float], name: str, value: float) -> None:
    """Record a figure and print its ``name=value`` line at once (a later failure keeps it)."""
    figures[name] = value
    print(f"{name}={value:.2f}" if name == "ready_s" else f"{name}={value:.1f}", flush=True)


def report(figures: dict[str, float]) -> bool:
    """Goal / measured / ratio / PASS-or-FAIL per figure; True when every goal is met."""
    print(f"{'figure':<20}{'goal':>10}{'measured':>12}{'ratio':>8}  result")
    passed = True
    for name, goal in GOALS.items():
        value = figures[name]
        ok = value <= goal
        passed &= ok
        print(f"{name:<20}{'≤ ' + f'{goal:g}':>10}{value:>12.2f}{value / goal:>8.2f}  "
              f"{'PASS' if ok else 'FAIL'}")  # fmt: skip
    print("load_average=" + " ".join(f"{x:.2f}" for x in os.getloadavg()))
    return passed


def run(args: argparse.Namespace, browser: Browser, workdir: Path) -> dict[str, float]:
    """The four measurements, in order, on one server."""
    figures: dict[str, float] = {}
    readies = measure_ready_on_fresh_servers(browser, args, workdir)
    with serve(workdir, args.app_command, args.store_dir) as server:
        first, ready = measure_ready(browser, server)
        readies.append(ready)
        show(figures, "ready_s", statistics.median(readies))
        print("ready_runs_s=" + ",".join(f"{value:.2f}" for value in readies), flush=True)
        phase(f"server pid {server.process.pid} ready; opening the idle tabs")
        idle_tabs = open_idle_tabs(browser, server, first)
        phase("idle")
        idle_cpu, overflows = measure_idle_cpu(server, args.idle_seconds)
        show(figures, "idle_cpu_pct", idle_cpu)
        print(f"inotify_overflow_warnings={overflows}", flush=True)
        phase("clicks")
        by_page, driver, leader = measure_clicks(browser, server, args.clicks)
        clicks = [taken for times in by_page.values() for taken in times]
        show(figures, "click_p95_ms", p95(clicks))
        print(f"clicks={len(clicks)}\nclick_median_ms={statistics.median(clicks):.0f}")
        print(f"click_p95_with_driver_ms={p95(driver):.0f}")
        for page, times in sorted(by_page.items(), key=lambda item: -max(item[1])):
            # Which pages make the tail: the slowest first (median and worst of its clicks).
            print(f"# click {page}: median {statistics.median(times):.0f} ms, "
                  f"max {max(times):.0f} ms, n={len(times)}")  # fmt: skip
        phase("metrics")
        cached = measure_metrics_cached(leader)
        show(figures, "metrics_cached_ms", statistics.median(cached))
        driver_cached = leader.driver_ms[-len(cached) :]
        print(f"metrics_cached_with_driver_ms={statistics.median(driver_cached):.0f}")
        reopen = statistics.median(measure_metrics_reopen(leader))
        print(f"metrics_reopen_ms={reopen:.1f}", flush=True)
        for tab in [*idle_tabs, leader]:
            tab.context.close()
    return figures


def main() -> int:
    """Run the four measurements; with --check, exit 1 when a goal is missed."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="exit 1 when a goal is missed")
    parser.add_argument("--idle-seconds", type=float, default=30.0)
    parser.add_argument("--clicks", type=int, default=40)
    parser.add_argument("--ready-runs", type=int, default=3,
                        help="fresh server starts whose median is ready_s")  # fmt: skip
    parser.add_argument("--app-command", default=MAKE_RUN, help="to measure another launcher")
    parser.add_argument("--store-dir", type=Path, help="where the fresh store goes (temp dir)")
    args = parser.parse_args()
    if not CHROMIUM.exists():
        sys.exit(f"ui_bench needs Chromium at {CHROMIUM}")
    with tempfile.TemporaryDirectory(prefix="vell-ui-bench-") as tmp, sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=list(CHROMIUM_FLAGS))
        try:
            figures = run(args, browser, Path(tmp))
        finally:
            browser.close()
    passed = report(figures)
    return 1 if args.check and not passed else 0


if __name__ == "__main__":
    sys.exit(main())
