"""The contract between the sandbox wire layer and its service backends.

The wire layer (``server.py``/``wire.py``) receives real HTTP requests in each service's wire
protocol, resolves the caller from the SigV4 access key, enforces the caller's effective policy
(delegated session policy, role policies and boundary), then calls the backend handler with a
``SandboxCall`` whose ``params`` are the operation's input members as botocore names them. The
handler returns a dict shaped like the operation's output shape; the wire layer serialises it
exactly as AWS would (query/XML, json 1.0, rest-json). Handlers raise ``SandboxServiceError``
with the real AWS error code and HTTP status.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


@dataclass(frozen=True)
class Caller:
    """Who is calling, as AWS would see it."""

    account_id: str
    arn: str
    kind: str  # "user" | "root" | "assumed-role" | "delegated" | "anonymous"
    access_key_id: str | None = None
    # Rendered delegated policy (delegated credentials only): acts like a session policy.
    session_policy: dict[str, Any] | None = None
    # Permission boundary document of the role behind an assumed-role session, if any.
    boundary_policy: dict[str, Any] | None = None
    expires_at: datetime | None = None


@dataclass
class SandboxCall:
    """One parsed API call handed to a backend."""

    service: str  # botocore service name: iam, sts, marketplace-catalog, marketplace-agreement
    operation: str  # botocore operation name, e.g. "CreateDelegationRequest"
    params: dict[str, Any]
    caller: Caller
    region: str
    now: datetime
    request_id: str = ""


class SandboxServiceError(Exception):
    """An AWS error response: code, HTTP status, message and any extra error members."""

    def __init__(self, code: str, message: str, status: int = 400, **extra: Any) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.status = status
        self.extra: dict[str, Any] = extra


Handler = Callable[[SandboxCall], dict[str, Any]]


@dataclass
class ServiceBackend:
    """Operations a backend answers for one botocore service."""

    service: str
    handlers: dict[str, Handler] = field(default_factory=dict)
    # IAM action checked for each operation when it differs from "<prefix>:<Operation>".
    action_overrides: dict[str, str] = field(default_factory=dict)
