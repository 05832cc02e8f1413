"""Shared browser steps for the end-to-end suite (Streamlit's own e2e style).

Every step goes through what a person sees: sidebar links, labelled widgets, buttons. Nothing here
imports ``vell_core``: the suite proves the journey without touching any internal API. The only
thing read besides the page is Streamlit's own "script finished" message on the browser's
websocket, to know when a rerun is over (see ``rerun_after``).
"""

from __future__ import annotations

import csv
import io
import re
import socket
import sys
import weakref
from collections.abc import Callable
from pathlib import Path

import pytest
import requests
from playwright.sync_api import Locator, Page, WebSocket, expect
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

REPO_ROOT = Path(__file__).resolve().parents[2]
# Debian's old headless shell (package chromium-headless-shell, the same Blink as chromium) when it
# is there: it draws the same pages for about 20 % less CPU than the full browser in headless
# mode, and the browser tests are CPU-bound on a 2-core machine. The full browser otherwise.
HEADLESS_SHELL = Path("/usr/bin/chromium-headless-shell")
CHROMIUM = HEADLESS_SHELL if HEADLESS_SHELL.exists() else Path("/usr/bin/chromium")
# Flags known to work on the CI machines: without the background-networking ones Chromium keeps
# dialling Google's hosts and the closed network refuses them.
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
SCREENSHOTS = REPO_ROOT / "test-results" / "screenshots"
# Toasts from the previous page would cover the top right of a screenshot.
HIDE_IN_SCREENSHOTS = '[data-testid="stToast"] { display: none !important; }'
VIEWPORT = {"width": 1280, "height": 860}

APP_RUN_TIMEOUT_MS = 30_000  # one script run, including the first one that builds the services
LIVE_TIMEOUT_MS = 45_000  # a notification travelling SNS → SQS → worker → store → fragment


def free_port() -> int:
    """A TCP port that nothing listens on right now (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for_app_run(page: Page, timeout: float = APP_RUN_TIMEOUT_MS) -> None:
    """Wait until the app is connected and its script is not running."""
    app = page.get_by_test_id("stApp")
    expect(app).to_have_attribute("data-test-connection-state", "CONNECTED", timeout=timeout)
    expect(app).to_have_attribute("data-test-script-state", "notRunning", timeout=timeout)


_SOCKETS: weakref.WeakKeyDictionary[Page, WebSocket] = weakref.WeakKeyDictionary()


def watch_runs(page: Page) -> None:
    """Remember the page's Streamlit websocket, so ``rerun_after`` can see runs finish."""

    def remember(socket: WebSocket) -> None:
        if socket.url.endswith("/_stcore/stream"):
            _SOCKETS[page] = socket

    page.on("websocket", remember)


def _finished(payload: str | bytes, *, fragment: bool) -> bool:
    """A frame saying a run finished: a whole script run (not one cut short for a rerun), or
    also a fragment's run when ``fragment``."""
    if isinstance(payload, str):
        return False
    message = ForwardMsg.FromString(payload)
    if message.WhichOneof("type") != "script_finished":
        return False
    done = {ForwardMsg.FINISHED_SUCCESSFULLY}
    if fragment:
        done.add(ForwardMsg.FINISHED_FRAGMENT_RUN_SUCCESSFULLY)
    return message.script_finished in done


def rerun_after(page: Page, action: Callable[[], None], *, fragment: bool = False) -> None:
    """Do ``action`` (a click, a commit) and wait until the rerun it causes has finished.

    Waiting for the "notRunning" state alone races the click's own rerun (a second interaction
    sent before it starts interrupts it and a button's one-shot click is lost), and a click that
    calls ``st.rerun()`` runs twice. The server's "script finished" message is unambiguous.
    Pass ``fragment=True`` for a widget inside a fragment or dialog, which reruns only that.
    """
    wait_for_app_run(page)
    socket = _SOCKETS.get(page)
    if socket is None:
        raise AssertionError("watch_runs(page) must be called before the app is opened")
    with socket.expect_event(
        "framereceived",
        predicate=lambda payload: _finished(payload, fragment=fragment),
        timeout=APP_RUN_TIMEOUT_MS,
    ):
        action()
    wait_for_app_run(page)


def screenshot(page: Page, name: str, *, toasts: bool = False) -> Path:
    """Save the current viewport as ``test-results/screenshots/<name>.png`` (toasts hidden,
    unless the toast is the point: ``toasts=True``)."""
    if not toasts:
        wait_for_app_run(page)  # a toast would be gone by the time a run has settled
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), style=None if toasts else HIDE_IN_SCREENSHOTS)
    return path


def main(page: Page) -> Locator:
    """The page body (everything but the sidebar)."""
    return page.get_by_test_id("stMain")


def button(page: Page, name: str) -> Locator:
    """The button labelled exactly ``name`` in the page body."""
    return main(page).get_by_role("button", name=name, exact=True)


def click(page: Page, name: str) -> None:
    """Click the body button labelled ``name`` and wait for the rerun to finish."""
    target = button(page, name)
    rerun_after(page, target.click)


def fill(page: Page, label: str, value: str) -> None:
    """Type ``value`` into the text input labelled ``label`` and commit it (Tab)."""
    field = main(page).get_by_label(label, exact=True)
    if field.input_value() == value:
        return  # nothing to commit, so no rerun would come
    field.fill(value)
    rerun_after(page, lambda: field.press("Tab"))


def choose(page: Page, label: str, option: str | re.Pattern[str], search: str = "") -> None:
    """Pick ``option`` in the select box labelled ``label``.

    Long option lists are virtualised (only the first options exist in the page), so ``search``
    is typed into the box first to filter them, as a person would.
    """
    box = page.get_by_role("combobox", name=label)
    current = box.input_value()
    if option.search(current) if isinstance(option, re.Pattern) else current == option:
        return  # already picked: picking it again would not rerun
    open_options(box, search)
    rerun_after(page, page.get_by_role("option", name=option).first.click)
    expect(box).to_have_value(option)


def open_options(box: Locator, search: str = "") -> None:
    """Open a select box's list (typing ``search`` filters it)."""
    box.click()
    if search:
        box.fill(search)
    elif box.get_attribute("aria-expanded") != "true":
        box.press("ArrowDown")  # a click on a box that already has focus leaves it closed
    expect(box).to_have_attribute("aria-expanded", "true")


def open_page(page: Page, title: str) -> None:
    """Go to another page through its sidebar link (same session, so state is kept)."""
    link = page.get_by_test_id("stSidebarNav").get_by_role("link", name=title)
    if link.get_attribute("aria-current") == "page":
        return  # already there: the link would not rerun
    rerun_after(page, link.click)


def open_app(page: Page, base_url: str) -> None:
    """Open the app signed out: the sign-in page, once its first run has finished."""
    page.goto(base_url)
    expect(page.get_by_text("Local sign-in")).to_be_visible(timeout=APP_RUN_TIMEOUT_MS)
    wait_for_app_run(page)


def sign_in_as(page: Page, member: str) -> None:
    """On the sign-in page, use the sandbox sign-in as ``member`` (e.g. ``"Maya Chen"``)."""
    choose(page, "Staff member", re.compile(rf"^{re.escape(member)} — "), search=member)
    click(page, "Sign in (sandbox)")
    expect(page.get_by_text(f"Signed in as {member}")).to_be_visible()
    wait_for_app_run(page)


def sign_in(page: Page, base_url: str, member: str) -> None:
    """Open the app and sign in as ``member`` through the sandbox sign-in."""
    open_app(page, base_url)
    sign_in_as(page, member)


def start_wizard(page: Page, company: str, account: str) -> None:
    """New delegation: Provider → Account information, up to the path cards."""
    open_page(page, "New delegation")
    click(page, "Continue")
    fill(page, "Company", company)
    fill(page, "Customer's AWS account id (12 digits)", account)
    click(page, "Continue")
    expect(main(page).get_by_text("Step 3 of 5: Choose onboarding path")).to_be_visible()


def choose_path(page: Page, card_title: str) -> None:
    """Click "Choose" on the path card whose title contains ``card_title``."""
    # Blocks nest, outermost first: the last block holding the title is the card itself.
    card = (
        main(page)
        .get_by_test_id("stVerticalBlock")
        .filter(has=page.get_by_role("heading", name=card_title))
        .last
    )
    rerun_after(page, card.get_by_role("button", name="Choose").click)


def send_request(page: Page) -> None:
    """Confirm the preview and wait for the Waiting step."""
    click(page, "Send request to AWS")
    expect(main(page).get_by_text("Step 4 of 5: Waiting for approval")).to_be_visible()


def pick_in_console(page: Page, company: str, path: str = "") -> None:
    """Customer console: pick the company's waiting request (on ``path``, if given)."""
    open_page(page, "Customer console")
    label = rf"^{re.escape(company)} · \d{{12}} · {re.escape(path) if path else '[a-z]+'} · "
    choose(page, "Request waiting for the customer", re.compile(label), search=company)


def open_in_console(page: Page, company: str, path: str = "") -> None:
    """Customer console: open the company's waiting request, as the owner."""
    pick_in_console(page, company, path)
    act_as(page, "owner")
    click(page, "Open request")
    expect(main(page).get_by_text("state ASSIGNED")).to_be_visible()


def allow_in_console(page: Page, company: str, path: str = "") -> None:
    """Customer console: allow access to the company's opened request, as its admin."""
    pick_in_console(page, company, path)
    act_as(page, "admin")
    click(page, "Allow access")


def approve_in_console(page: Page, company: str, path: str = "") -> None:
    """Customer console: open the company's request as owner, then allow access as admin."""
    open_in_console(page, company, path)
    allow_in_console(page, company, path)


def act_as(page: Page, persona: str) -> None:
    """Pick the customer persona on the customer console (no rerun if already picked)."""
    radio = main(page).get_by_test_id("stRadio")
    if radio.get_by_role("radio", name=persona, exact=True).is_checked():
        return
    rerun_after(page, radio.get_by_text(persona, exact=True).click)


def expect_connected(page: Page, company: str) -> None:
    """The wizard shows the Connected step for ``company`` (the live view moves it on)."""
    expect(main(page).get_by_text(f"Connected to {company}")).to_be_visible(timeout=LIVE_TIMEOUT_MS)


def launch(page: Page, company: str, account: str, card_title: str) -> None:
    """New delegation from Provider to Waiting, on the path card ``card_title``."""
    start_wizard(page, company, account)
    choose_path(page, card_title)
    send_request(page)


def connect(page: Page, company: str, account: str, card: str) -> None:
    """Signed in as a rep: launch on ``card``, approve in the customer console, see Connected."""
    launch(page, company, account, card)
    approve_in_console(page, company)
    open_page(page, "New delegation")
    expect_connected(page, company)


def sign_out(page: Page) -> None:
    """Sign out from the sidebar; the sign-in page comes back."""
    sidebar_button = page.get_by_test_id("stSidebar").get_by_role("button", name="Sign out")
    rerun_after(page, sidebar_button.click)
    expect(page.get_by_text("Local sign-in")).to_be_visible()


def switch_user(page: Page, member: str) -> None:
    """Sign out and sign back in as ``member`` (same browser session)."""
    sign_out(page)
    sign_in_as(page, member)


def download_csv(page: Page, button_name: str) -> list[dict[str, str]]:
    """Click a CSV download button and return the file's rows."""
    with page.expect_download() as info:
        button(page, button_name).click()
    text = Path(info.value.path()).read_text(encoding="utf-8")
    wait_for_app_run(page)
    return list(csv.DictReader(io.StringIO(text)))


def require_page_link(page: Page, title: str) -> None:
    """Skip the test, with the reason, while the page ``title`` is not in the navigation."""
    wait_for_app_run(page)
    if page.get_by_test_id("stSidebarNav").get_by_role("link", name=title).count() == 0:
        pytest.skip(f"the {title!r} page is not in the navigation yet")


def show_metrics_section(page: Page, name: str) -> None:
    """Leadership metrics: show one section (a segmented control; one section at a time)."""
    choice = main(page).get_by_test_id("stButtonGroup").get_by_role("radio", name=name, exact=True)
    if choice.get_attribute("aria-checked") != "true":
        rerun_after(page, choice.click)


def scroll_to(target: Locator) -> None:
    """Scroll so that ``target`` is at the top of the view (for a screenshot of that part)."""
    target.evaluate("element => element.scrollIntoView({block: 'start'})")


def sidebar_click(page: Page, name: str) -> None:
    """Click the sidebar button labelled ``name`` and wait for the rerun to finish."""
    target = page.get_by_test_id("stSidebar").get_by_role("button", name=name, exact=True)
    rerun_after(page, target.click)


def deny_in_console(page: Page, company: str, reason: str, path: str = "") -> None:
    """Customer console: open the company's request as owner, then deny it as admin."""
    open_in_console(page, company, path)
    act_as(page, "admin")
    fill(page, "Note (for forwarding to an admin, or the reason for denying)", reason)
    click(page, "Deny")


def advance_sandbox_time(page: Page) -> None:
    """Customer console's sidebar: advance sandbox time by the slider's default (1 h)."""
    open_page(page, "Customer console")
    sidebar_click(page, "Advance time")


def advance_sandbox_clock(sandbox_url: str, seconds: float) -> None:
    """Move the sandbox AWS's clock on (its control endpoint, as the console's "Advance time"
    does): what AWS takes time for (preparing a change set) is then done, without waiting."""
    answer = requests.post(
        f"{sandbox_url}/_sandbox/clock/advance", json={"seconds": seconds}, timeout=10
    )
    answer.raise_for_status()


def see_aws_apply_the_change(page: Page, sandbox_url: str) -> None:
    """The submitted change set's live progress, state by state: PREPARING, then (sandbox time
    moved past AWS's 20 s of preparing) APPLYING, then (10 s of applying) SUCCEEDED."""
    body = main(page)
    expect(body.get_by_text(re.compile(r": PREPARING$"))).to_be_visible(timeout=LIVE_TIMEOUT_MS)
    advance_sandbox_clock(sandbox_url, 20)
    expect(body.get_by_text(re.compile(r": APPLYING$"))).to_be_visible(timeout=LIVE_TIMEOUT_MS)
    advance_sandbox_clock(sandbox_url, 10)
    expect(body.get_by_text("AWS applied the update")).to_be_visible(timeout=LIVE_TIMEOUT_MS)


def set_slider_to_minimum(page: Page, label: str) -> None:
    """Move the body slider labelled ``label`` to its lowest value (keyboard Home)."""
    thumb = main(page).get_by_role("slider", name=label)
    rerun_after(page, lambda: thumb.press("Home"))


def select_table_row(page: Page, table: Locator, row: int = 0) -> None:
    """Tick the selection box of ``row`` in a selectable ``st.dataframe``.

    The grid is drawn on a canvas, so its cells are not elements: click the row marker where
    a person would, one header row plus ``row`` rows below the top.
    """
    box = table.bounding_box()
    assert box is not None, "the table is not on screen"
    row_height = 35  # Streamlit's default row (and header) height
    x = box["x"] + 18
    y = box["y"] + row_height * (row + 1) + row_height / 2
    rerun_after(page, lambda: page.mouse.click(x, y))


def streamlit_command(port: int) -> list[str]:
    """``streamlit run Home.py`` on ``port`` as the browser tests run it."""
    return [
        sys.executable,
        "-m",
        "streamlit",
        "run",
        "Home.py",
        "--server.port",
        str(port),
        "--server.address",
        "127.0.0.1",
        "--server.headless",
        "true",
        "--server.fileWatcherType",
        "none",  # engineers editing the repo must not reload the app mid-run
        "--browser.gatherUsageStats",
        "false",
    ]


def page_screenshot(page: Page, name: str) -> Path:
    """Screenshot of a page that is not the Streamlit app (e.g. the sandbox AWS console)."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def create_stack_in_sandbox_console(console: Page, account: str, shot: str = "") -> str:
    """The customer's part of the CloudFormation path, on the page the quick-create link
    opened: sign in to ``account``, tick the IAM acknowledgement, create the stack; returns the
    RoleArn output the stack page shows."""
    console.wait_for_load_state()
    expect(
        console.get_by_role("heading", name="Sign in to the sandbox AWS console")
    ).to_be_visible()
    console.get_by_label("AWS account ID (12 digits)").fill(account)
    console.get_by_role("button", name="Sign in").click()
    expect(console.get_by_role("heading", name="Quick create stack")).to_be_visible()
    console.get_by_label(re.compile("I acknowledge that AWS CloudFormation")).check()
    if shot:
        page_screenshot(console, shot)
    console.get_by_role("button", name="Create stack").click()
    expect(console.locator("#stack-status")).to_have_text("CREATE_COMPLETE")
    return console.locator("#output-RoleArn").inner_text()
