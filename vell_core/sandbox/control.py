"""The sandbox's ``/_sandbox/*`` control plane: the server side and a small HTTP client.

Endpoints (JSON in, JSON out):

==========================  ====  =========================================================
``/_sandbox/health``        GET   ``{"status": "ok", "now": iso}``
``/_sandbox/reset``         POST  wipe moto and every backend, bootstrap the partner again
``/_sandbox/clock``         GET   ``{"now": iso, "offset_seconds": n}``
``/_sandbox/clock/advance`` POST  ``{"seconds": n}``; then every backend's timers run
``/_sandbox/personas``      POST  ``{"account_id": "…"}`` → owner/admin/root credentials
``/_sandbox/partner-credentials`` GET  the partner app's access key (IAM user ``vell-desk``)
``/_sandbox/config``        GET/POST  runtime knobs: duplicate_notifications, latency_ms,
                                  rate_limit_factor, throttling, summary_seconds,
                                  summary_failures
==========================  ====  =========================================================

The control plane is unauthenticated on purpose: the sandbox binds to loopback and holds no
real data. Secrets it returns are sandbox-only keys.
"""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING, Any

import boto3
import requests

from vell_core.domain.validation import ACCOUNT_ID_RE

if TYPE_CHECKING:
    from werkzeug.wrappers import Request

    from vell_core.sandbox.state import SandboxState

ACCOUNT_RE = ACCOUNT_ID_RE  # ASCII digits, as AWS accepts
DEFAULT_TIMEOUT = 10.0


# --------------------------------------------------------------------------------------------
# Server side


def handle_control(state: SandboxState, request: Request) -> tuple[int, dict[str, Any]]:
    """Answer one ``/_sandbox/*`` request with (HTTP status, JSON document)."""
    route = (request.method, request.path.rstrip("/"))
    handler = _ROUTES.get(route)
    if handler is None:
        return 404, {"error": f"no control endpoint {request.method} {request.path}"}
    body = request.get_json(silent=True) or {}
    try:
        return 200, handler(state, body)
    except (ValueError, TypeError, KeyError) as error:
        return 400, {"error": str(error)}


def _health(state: SandboxState, _body: dict[str, Any]) -> dict[str, Any]:
    from vell_core.sandbox.wire import iso8601  # server side only: clients skip moto's codecs

    return {"status": "ok", "now": iso8601(state.clock.now())}


def _reset(state: SandboxState, _body: dict[str, Any]) -> dict[str, Any]:
    state.reset()
    return {"status": "reset"}


def _clock(state: SandboxState, _body: dict[str, Any]) -> dict[str, Any]:
    from vell_core.sandbox.wire import iso8601

    return {
        "now": iso8601(state.clock.now()),
        "offset_seconds": state.clock.offset.total_seconds(),
    }


def _advance(state: SandboxState, body: dict[str, Any]) -> dict[str, Any]:
    seconds = float(body["seconds"])
    state.clock.advance(timedelta(seconds=seconds))
    state.tick()
    return _clock(state, body)


def _personas(state: SandboxState, body: dict[str, Any]) -> dict[str, Any]:
    account_id = str(body.get("account_id", ""))
    if not ACCOUNT_RE.match(account_id):
        raise ValueError("account_id must be 12 digits")
    return {
        role: {**identity.credentials.to_api(), "arn": identity.caller.arn}
        for role, identity in state.personas(account_id).items()
    }


def _partner_credentials(state: SandboxState, _body: dict[str, Any]) -> dict[str, Any]:
    creds = state.partner_credentials
    return {
        **creds.to_api(),
        "account_id": state.config.partner_account_id,
        "arn": f"arn:aws:iam::{state.config.partner_account_id}:user/vell-desk",
    }


def _get_config(state: SandboxState, _body: dict[str, Any]) -> dict[str, Any]:
    return state.config.knobs()


def _set_config(state: SandboxState, body: dict[str, Any]) -> dict[str, Any]:
    state.config.update_knobs(body)
    return state.config.knobs()


_ROUTES = {
    ("GET", "/_sandbox/health"): _health,
    ("POST", "/_sandbox/reset"): _reset,
    ("GET", "/_sandbox/clock"): _clock,
    ("POST", "/_sandbox/clock/advance"): _advance,
    ("POST", "/_sandbox/personas"): _personas,
    ("GET", "/_sandbox/partner-credentials"): _partner_credentials,
    ("GET", "/_sandbox/config"): _get_config,
    ("POST", "/_sandbox/config"): _set_config,
}


# --------------------------------------------------------------------------------------------
# Client side


class SandboxControl:
    """HTTP client for the control plane (the app's sandbox badge, scripts, tests)."""

    def __init__(self, endpoint: str, *, timeout: float = DEFAULT_TIMEOUT) -> None:
        self.endpoint = endpoint.rstrip("/")
        self.timeout = timeout

    def _call(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        """``method`` the control endpoint ``/_sandbox/<path>`` (``path`` without the prefix)."""
        response = requests.request(
            method, f"{self.endpoint}/_sandbox/{path}", json=body, timeout=self.timeout
        )
        response.raise_for_status()
        return response.json()

    def health(self) -> dict[str, Any]:
        """Liveness and the sandbox's current time."""
        return dict(self._call("GET", "health"))

    def reset(self) -> None:
        """Wipe all sandbox state (the partner's credentials stay the same)."""
        self._call("POST", "reset")

    def clock(self) -> dict[str, Any]:
        """``{"now": iso, "offset_seconds": n}``: the sandbox clock and its offset."""
        return dict(self._call("GET", "clock"))

    def now(self) -> str:
        """The sandbox clock, ISO-8601."""
        return str(self.clock()["now"])

    def advance(self, seconds: float) -> str:
        """Move the sandbox clock forward and run due timers; returns the new time."""
        return str(self._call("POST", "clock/advance", {"seconds": seconds})["now"])

    def personas(self, account_id: str) -> dict[str, dict[str, str]]:
        """``{"owner"|"admin"|"root": {AccessKeyId, SecretAccessKey, arn}}`` for an account."""
        return dict(self._call("POST", "personas", {"account_id": account_id}))

    def partner_credentials(self) -> dict[str, str]:
        """The partner app's credentials (IAM user ``vell-desk``)."""
        return dict(self._call("GET", "partner-credentials"))

    def get_config(self) -> dict[str, Any]:
        """Runtime knobs."""
        return dict(self._call("GET", "config"))

    def set_config(self, **knobs: Any) -> dict[str, Any]:
        """Change runtime knobs (duplicate_notifications, latency_ms, …)."""
        return dict(self._call("POST", "config", knobs))


def customer_session(
    endpoint: str, account_id: str, persona: str = "owner", region: str = "us-east-1"
) -> boto3.Session:
    """A boto3 ``Session`` acting as a customer persona (clients still need ``endpoint_url``)."""
    creds = SandboxControl(endpoint).personas(account_id)[persona]
    return boto3.Session(
        aws_access_key_id=creds["AccessKeyId"],
        aws_secret_access_key=creds["SecretAccessKey"],
        aws_session_token=creds.get("SessionToken"),
        region_name=region,
    )
