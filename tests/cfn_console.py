"""Follow a quick-create link through the sandbox console over HTTP, as a browser would.

The link's fragment is moved into the query (what the console's router script does), the
signed-in quick-create form is read back and submitted as it stands (every field the page
rendered, nothing added), and the stack page's RoleArn output is returned.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser
from urllib.parse import parse_qsl, urlsplit

import requests

TIMEOUT = 30


class StackRefused(AssertionError):
    """The console showed AWS's refusal instead of a stack."""

    def __init__(self, alerts: list[str]) -> None:
        self.alerts = alerts
        super().__init__(f"no stack created: {alerts}")


class ConsoleForm(HTMLParser):
    """The inputs of the page's POST form, and every alert on the page."""

    def __init__(self) -> None:
        super().__init__()
        self.inputs: list[tuple[str, str, str]] = []  # (type, name, value)
        self.alerts: list[str] = []
        self._in_form = False
        self._in_alert = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {k: v or "" for k, v in attrs}
        if tag == "form" and values.get("method") == "post":
            self._in_form = True
        if tag == "input" and self._in_form:
            self.inputs.append(
                (values.get("type", "text"), values["name"], values.get("value", ""))
            )
        if values.get("role") == "alert":
            self._in_alert = True
            self.alerts.append("")

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self._in_form = False
        if tag == "p":
            self._in_alert = False

    def handle_data(self, data: str) -> None:
        if self._in_alert:
            self.alerts[-1] += data


def quick_create_page(link: str, account: str) -> tuple[str, dict[str, str]]:
    """(URL of the signed-in quick-create page, its query) for ``link`` as ``account``."""
    parts = urlsplit(link)
    route, _, fragment = parts.fragment.partition("?")
    assert route == "/stacks/quickcreate", parts.fragment
    query = dict(parse_qsl(parts.query)) | dict(parse_qsl(fragment)) | {"account": account}
    return f"{parts.scheme}://{parts.netloc}{parts.path}/quickcreate", query


def read_form(link: str, account: str) -> tuple[str, ConsoleForm]:
    """The quick-create form the console renders for ``link`` (its action URL and inputs)."""
    url, query = quick_create_page(link, account)
    page = requests.get(url, params=query, timeout=TIMEOUT)
    assert page.status_code == 200, page.text
    form = ConsoleForm()
    form.feed(page.text)
    return url, form


def create_stack(link: str, account: str, *, acknowledge: bool = True) -> str:
    """Submit the quick-create form; returns the stack page's RoleArn output (or raises)."""
    url, form = read_form(link, account)
    # A ticked checkbox sends its value; an unticked one sends nothing.
    data = [(name, value) for kind, name, value in form.inputs if kind != "checkbox" or acknowledge]
    answer = requests.post(url, data=data, timeout=TIMEOUT)
    answer.raise_for_status()
    stack = re.search(r"id='output-RoleArn'>([^<]+)<", answer.text)
    if stack is None:
        refused = ConsoleForm()
        refused.feed(answer.text)
        raise StackRefused(refused.alerts)
    return stack.group(1)
