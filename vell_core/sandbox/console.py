"""The sandbox's AWS console for CloudFormation: the page a quick-create link opens.

Vell hands a customer ``<console>/cloudformation/home?region=…#/stacks/quickcreate?templateURL=…
&stackName=…&param_ExternalId=…&param_PartnerAccountId=…``. On real AWS ``<console>`` is
``https://console.aws.amazon.com``; in the sandbox it is this server, which answers the same path
with a small console: the customer signs in to their account, sees the template's parameters
prefilled, ticks the IAM acknowledgement and creates the stack. Every step is a real
CloudFormation call (``GetTemplateSummary``, ``CreateStack``, ``DescribeStacks``) signed with the
account's sandbox admin key and sent to this same endpoint, so moto builds the stack from the
template at ``templateURL`` and the sandbox's AWS checks (capabilities, parameter constraints)
apply. The stack page shows the ``RoleArn`` output the customer pastes back to Vell.

Like the ``/_sandbox/`` control plane it is unauthenticated: it binds to loopback and holds only
sandbox data. Every value it echoes is HTML-escaped (link parameters are attacker-controlled).
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError
from werkzeug.wrappers import Request, Response

from vell_core.config.sandbox_accounts import SANDBOX_CUSTOMERS
from vell_core.domain.validation import ACCOUNT_ID_RE

if TYPE_CHECKING:
    from vell_core.sandbox.server import SandboxState

CONSOLE_PATH = "/cloudformation/home"
REGION_RE = re.compile(r"\A[a-z]{2}(?:-[a-z]+)+-[0-9]\Z")
PARAM_PREFIX = "param_"
PERSONA = "admin"  # the customer's administrator creates the stack
# One attempt: a console shows AWS's answer; retrying a refused CreateStack changes nothing.
CLIENT_CONFIG = Config(retries={"max_attempts": 1, "mode": "standard"}, connect_timeout=5)

# Sends the quick-create route in the fragment (which browsers never send to a server) to the
# server-rendered page, keeping every parameter exactly as the link had it.
ROUTER_JS = """
const match = location.hash.match(/^#\\/stacks\\/quickcreate\\?(.*)$/);
if (match) {
  const query = new URLSearchParams(location.search);
  new URLSearchParams(match[1]).forEach((value, key) => query.set(key, value));
  location.replace(location.pathname + "/quickcreate?" + query.toString());
}
"""

STYLE = """
body { font-family: "Amazon Ember", Arial, sans-serif; margin: 0; background: #f2f3f3;
       color: #16191f; }
header { background: #232f3e; color: #fff; padding: 10px 24px; display: flex; gap: 24px; }
header .badge { background: #ff9900; color: #16191f; padding: 0 8px; border-radius: 3px; }
main { max-width: 960px; margin: 24px auto; background: #fff; padding: 20px 28px;
       border: 1px solid #d5dbdb; }
h1 { font-size: 24px; margin-top: 0; } h2 { font-size: 18px; margin-top: 28px; }
label { display: block; font-weight: bold; margin-top: 14px; }
.hint { color: #545b64; font-size: 13px; margin: 2px 0 4px; }
input[type=text] { width: 100%; padding: 6px; box-sizing: border-box; font-family: monospace; }
button { background: #ec7211; color: #fff; border: 0; padding: 8px 18px; margin-top: 18px;
         font-weight: bold; cursor: pointer; }
.error { background: #fde8e8; border-left: 4px solid #d13212; padding: 10px 14px; }
.ok { background: #e9f7ec; border-left: 4px solid #1d8102; padding: 10px 14px; }
.ack { background: #f1faff; border: 1px solid #0073bb; padding: 10px 14px; margin-top: 18px; }
table { border-collapse: collapse; width: 100%; } td, th { border-bottom: 1px solid #eaeded;
        padding: 6px 8px; text-align: left; vertical-align: top; }
code { background: #f2f3f3; padding: 2px 4px; word-break: break-all; }
"""


def handles(path: str) -> bool:
    """Whether ``path`` belongs to the console (the real console's path, nothing else)."""
    return path == CONSOLE_PATH or path.startswith(CONSOLE_PATH + "/")


def handle(state: SandboxState, request: Request) -> Response:
    """Answer one console request (HTML)."""
    route = request.path[len(CONSOLE_PATH) :].strip("/")
    console = _Console(state, request)
    if route == "":
        return console.home()
    if route == "quickcreate" and request.method == "POST":
        return console.create_stack()
    if route == "quickcreate":
        return console.quick_create()
    if route == "stack":
        return console.stack()
    if route == "stacks":
        return console.stacks()
    return _page("Not found", "<p>This sandbox console has no such page.</p>", status=404)


class _Console:
    """One request's view of the console: who is signed in, and their CloudFormation client."""

    def __init__(self, state: SandboxState, request: Request) -> None:
        self._state = state
        self._request = request
        self._values = request.form if request.method == "POST" else request.args
        self.account = self._values.get("account", "").strip()
        region = self._values.get("region", "").strip()
        self.region = region if REGION_RE.match(region) else state.config.region

    # -- pages -------------------------------------------------------------------------------

    def home(self) -> Response:
        body = (
            f"<script>{ROUTER_JS}</script>"
            "<p>Open the quick-create link Vell sent you, or list the stacks of an account.</p>"
            + self._account_form("/stacks", "List stacks")
        )
        return _page("CloudFormation", body)

    def quick_create(self, error: str | None = None) -> Response:
        if not self._signed_in():
            return self._sign_in(error)
        try:
            summary = self._cfn().get_template_summary(TemplateURL=self._template_url())
        except (ClientError, BotoCoreError) as exc:
            return self._page_as("Quick create stack", _error(exc), status=400)
        return self._page_as("Quick create stack", self._create_form(summary, error))

    def create_stack(self) -> Response:
        if not self._signed_in():
            return self._sign_in()
        summary_caps = [c for c in self._values.getlist("capability") if c.startswith("CAPAB")]
        kwargs: dict[str, Any] = {
            "StackName": self._values.get("stackName", ""),
            "TemplateURL": self._template_url(),
            "Parameters": [
                {"ParameterKey": key[len(PARAM_PREFIX) :], "ParameterValue": value}
                for key, value in self._values.items()
                if key.startswith(PARAM_PREFIX)
            ],
        }
        if self._values.get("acknowledge") == "yes":
            kwargs["Capabilities"] = summary_caps
        try:
            self._cfn().create_stack(**kwargs)
        except (ClientError, BotoCoreError) as exc:
            return self.quick_create(error=_error(exc))
        target = self._link("stack", stackName=kwargs["StackName"])
        return Response("", 303, headers={"Location": target})

    def stack(self) -> Response:
        if not self._signed_in():
            return self._sign_in()
        name = self._values.get("stackName", "")
        try:
            found = self._cfn().describe_stacks(StackName=name)["Stacks"][0]
        except (ClientError, BotoCoreError) as exc:
            return self._page_as("Stack", _error(exc), status=400)
        return self._page_as(f"Stack {name}", _stack_details(found))

    def stacks(self) -> Response:
        if not self._signed_in():
            return self._sign_in()
        try:
            found = self._cfn().describe_stacks()["Stacks"]
        except (ClientError, BotoCoreError) as exc:
            return self._page_as("Stacks", _error(exc), status=400)
        rows = "".join(
            f'<tr><td><a href="{_e(self._link("stack", stackName=s["StackName"]))}">'
            f"{_e(s['StackName'])}</a></td><td>{_e(s['StackStatus'])}</td></tr>"
            for s in found
        )
        body = (
            f"<table><tr><th>Stack name</th><th>Status</th></tr>{rows}</table>"
            if rows
            else "<p>No stacks in this account and region.</p>"
        )
        return self._page_as("Stacks", body)

    # -- pieces ------------------------------------------------------------------------------

    def _create_form(self, summary: dict[str, Any], error: str | None) -> str:
        fields = [
            _hidden("account", self.account),
            _hidden("region", self.region),
            _hidden("templateURL", self._template_url()),
        ]
        fields.append(
            "<h2>Template</h2>"
            f"<p class='hint'>Template URL</p><p><code>{_e(self._template_url())}</code></p>"
            f"<p class='hint'>{_e(summary.get('Description', ''))}</p>"
            + _text("stackName", "Stack name", self._values.get("stackName", ""))
        )
        fields.append("<h2>Parameters</h2>")
        for parameter in summary.get("Parameters", []):
            key = str(parameter["ParameterKey"])
            given = self._values.get(PARAM_PREFIX + key)
            value = given if given is not None else str(parameter.get("DefaultValue") or "")
            fields.append(
                _text(PARAM_PREFIX + key, key, value, str(parameter.get("Description", "")))
            )
        fields.append(_acknowledgement(summary))
        form = (
            f'<form method="post" action="{CONSOLE_PATH}/quickcreate">{"".join(fields)}'
            "<button type='submit'>Create stack</button></form>"
        )
        return (error or "") + form

    def _sign_in(self, error: str | None = None) -> Response:
        kept = "".join(_hidden(k, v) for k, v in self._values.items() if k != "account")
        path = self._request.path[len(CONSOLE_PATH) :] or "/"
        body = (
            (error or "")
            + "<p>Sign in to the AWS account that should get the stack (the customer's seller "
            "account). The sandbox signs you in as that account's administrator.</p>"
            + self._account_form(path, "Sign in", kept)
        )
        return _page("Sign in to the sandbox AWS console", body)

    def _account_form(self, path: str, button: str, kept: str = "") -> str:
        options = "".join(f"<option value='{_e(a)}'>" for a in self._known_accounts())
        return (
            f'<form method="get" action="{CONSOLE_PATH}{_e(path)}">{kept}'
            "<label for='account'>AWS account ID (12 digits)</label>"
            "<input type='text' id='account' name='account' list='accounts' "
            f"value='{_e(self.account)}' autocomplete='off'>"
            f"<datalist id='accounts'>{options}</datalist>"
            f"<button type='submit'>{_e(button)}</button></form>"
        )

    def _page_as(self, title: str, body: str, status: int = 200) -> Response:
        who = f"customer-admin @ {self.account}"
        stacks = self._link("stacks")
        nav = f"<p class='hint'>{_e(who)} · <a href=\"{_e(stacks)}\">All stacks</a></p>"
        return _page(title, nav + body, status=status)

    def _signed_in(self) -> bool:
        return bool(ACCOUNT_ID_RE.fullmatch(self.account))

    def _template_url(self) -> str:
        return self._values.get("templateURL", "")

    def _link(self, route: str, **extra: str) -> str:
        query = {"account": self.account, "region": self.region, **extra}
        return f"{CONSOLE_PATH}/{route}?{urlencode(query)}"

    def _known_accounts(self) -> list[str]:
        known = [c.account_id for c in SANDBOX_CUSTOMERS]
        return sorted({*known, *self._state.identities.persona_accounts()})

    def _cfn(self) -> Any:
        """CloudFormation as the signed-in account's admin, through this same endpoint."""
        creds = self._state.personas(self.account)[PERSONA].credentials
        return boto3.client(
            "cloudformation",
            endpoint_url=self._request.host_url.rstrip("/"),
            region_name=self.region,
            aws_access_key_id=creds.access_key_id,
            aws_secret_access_key=creds.secret_access_key,
            aws_session_token=creds.session_token,
            config=CLIENT_CONFIG,
        )


# -- rendering helpers ---------------------------------------------------------------------------


def _e(value: object) -> str:
    return html.escape(str(value), quote=True)


def _hidden(name: str, value: str) -> str:
    return f"<input type='hidden' name='{_e(name)}' value='{_e(value)}'>"


def _text(name: str, label: str, value: str, hint: str = "") -> str:
    hint_html = f"<p class='hint'>{_e(hint)}</p>" if hint else ""
    return (
        f"<label for='{_e(name)}'>{_e(label)}</label>{hint_html}"
        f"<input type='text' id='{_e(name)}' name='{_e(name)}' value='{_e(value)}'>"
    )


def _acknowledgement(summary: dict[str, Any]) -> str:
    capabilities: Iterable[str] = summary.get("Capabilities") or []
    if not capabilities:
        return ""
    hidden = "".join(_hidden("capability", c) for c in capabilities)
    return (
        f"<div class='ack'>{hidden}<p>{_e(summary.get('CapabilitiesReason', ''))}</p>"
        "<label><input type='checkbox' name='acknowledge' value='yes'> I acknowledge that AWS "
        "CloudFormation might create IAM resources with custom names.</label></div>"
    )


def _stack_details(stack: dict[str, Any]) -> str:
    status = str(stack.get("StackStatus", ""))
    banner = "ok" if status.endswith("_COMPLETE") and "ROLLBACK" not in status else "error"
    reason = stack.get("StackStatusReason")
    outputs = "".join(
        f"<tr><td>{_e(o['OutputKey'])}</td>"
        f"<td><code id='output-{_e(o['OutputKey'])}'>{_e(o['OutputValue'])}</code></td>"
        f"<td>{_e(o.get('Description', ''))}</td></tr>"
        for o in stack.get("Outputs") or []
    )
    parameters = "".join(
        f"<tr><td>{_e(p['ParameterKey'])}</td><td><code>{_e(p['ParameterValue'])}</code></td></tr>"
        for p in stack.get("Parameters") or []
    )
    return (
        f"<p class='{banner}'>Status: <strong id='stack-status'>{_e(status)}</strong>"
        + (f" — {_e(reason)}" if reason else "")
        + "</p><h2>Outputs</h2>"
        + (
            f"<table><tr><th>Key</th><th>Value</th><th>Description</th></tr>{outputs}</table>"
            if outputs
            else "<p>No outputs.</p>"
        )
        + "<p class='hint'>Copy the RoleArn value and give it to Vell: they paste it into "
        "Production setup, which checks the role by assuming it.</p>"
        + f"<h2>Parameters</h2><table>{parameters}</table>"
    )


def _error(exc: Exception) -> str:
    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        text = f"{error.get('Code', 'Error')}: {error.get('Message', '')}"
    else:
        text = "The sandbox AWS endpoint did not answer."
    return f"<p class='error' role='alert'>{_e(text)}</p>"


def _page(title: str, body: str, *, status: int = 200) -> Response:
    document = (
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>"
        f"<title>{_e(title)} | CloudFormation (sandbox)</title><style>{STYLE}</style></head>"
        "<body><header><strong>AWS</strong><span>CloudFormation</span>"
        "<span class='badge'>Sandbox console</span></header>"
        f"<main><h1>{_e(title)}</h1>{body}</main></body></html>"
    )
    return Response(document, status, mimetype="text/html")
