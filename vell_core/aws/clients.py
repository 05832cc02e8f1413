"""The one way into AWS: a client factory, retry policy, and ClientError translation.

The factory owns one boto3 Session per credential set and a lock-guarded client cache, so
Streamlit's script threads never share a Session while creating clients. In sandbox mode every
client points at the sandbox endpoint; against real AWS the endpoint is AWS's own. That is the
only difference between the two modes.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import boto3
import botocore.session
from botocore import xform_name
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from vell_core.aws.messages import plain_message
from vell_core.domain.errors import AwsAccessDenied, AwsConflict, AwsError, AwsThrottled

log = logging.getLogger(__name__)

RETRY_CONFIG = Config(
    retries={"mode": "standard", "max_attempts": 4},
    connect_timeout=5,
    read_timeout=20,
    max_pool_connections=32,
)

ACCESS_DENIED_CODES = frozenset(
    {
        "AccessDenied",
        "AccessDeniedException",
        "UnauthorizedOperation",
        "ExpiredToken",
        "ExpiredTokenException",
        "InvalidClientTokenId",
        "UnrecognizedClientException",
    }
)
THROTTLED_CODES = frozenset({"Throttling", "ThrottlingException", "TooManyRequestsException"})
CONFLICT_CODES = frozenset(
    {"EntityAlreadyExists", "ConcurrentModification", "ResourceInUseException", "ConflictException"}
)


@dataclass(frozen=True)
class StaticCredentials:
    """An access key triple; ``repr`` never shows the secret parts."""

    access_key_id: str
    secret_access_key: str
    session_token: str | None = None
    expiration: datetime | None = None

    def __repr__(self) -> str:
        return f"StaticCredentials(access_key_id='{self.access_key_id[:4]}…', secret=***)"

    __str__ = __repr__


class ClientFactory:
    """Builds and caches boto3 clients for one credential set."""

    def __init__(
        self,
        *,
        region: str,
        endpoint_url: str | None = None,
        credentials: StaticCredentials | None = None,
        config: Config = RETRY_CONFIG,
        client_hook: Callable[[Any], None] | None = None,
        shared: _SharedSession | None = None,
    ) -> None:
        self._region = region
        self._endpoint_url = endpoint_url
        self._credentials = credentials
        self._config = config
        self._client_hook = client_hook
        self._lock = threading.Lock()
        self._clients: dict[tuple[str, str], Any] = {}
        self._shared = shared or _SharedSession(region)

    @property
    def region(self) -> str:
        """Default region of the clients."""
        return self._region

    @property
    def endpoint_url(self) -> str | None:
        """Endpoint override (the sandbox), or None for real AWS."""
        return self._endpoint_url

    def client(self, service: str, region: str | None = None) -> Any:
        """A cached, thread-safe client for ``service``."""
        key = (service, region or self._region)
        with self._lock:
            if key not in self._clients:
                self._clients[key] = self._build(service, key[1])
            return self._clients[key]

    def preload(self, *services: str) -> None:
        """Load the service models these clients will need (startup, off the first request)."""
        self._shared.preload(services)

    def page_config(self, service: str, operation: str) -> dict[str, Any]:
        """botocore's pagination model for one operation (token names, result key): a copy,
        from the process's one loaded model (see ``_SharedSession``)."""
        return dict(self._shared.page_config(service, operation))

    def with_credentials(
        self, credentials: StaticCredentials, client_hook: Callable[[Any], None] | None = None
    ) -> ClientFactory:
        """A sibling factory using other credentials (a customer's, or an assumed role's)."""
        return ClientFactory(
            region=self._region,
            endpoint_url=self._endpoint_url,
            credentials=credentials,
            config=self._config,
            client_hook=client_hook,
            shared=self._shared,
        )

    def with_config(self, config: Config) -> ClientFactory:
        """A sibling factory with the same credentials and another botocore ``Config``."""
        return ClientFactory(
            region=self._region,
            endpoint_url=self._endpoint_url,
            credentials=self._credentials,
            config=config,
            client_hook=self._client_hook,
        )

    def _build(self, service: str, region: str) -> Any:
        keys: dict[str, Any] = {}
        if self._credentials is not None:
            keys = {
                "aws_access_key_id": self._credentials.access_key_id,
                "aws_secret_access_key": self._credentials.secret_access_key,
                "aws_session_token": self._credentials.session_token,
            }
        client = self._shared.client(
            service,
            region_name=region,
            endpoint_url=self._endpoint_url,
            config=self._config,
            **keys,
        )
        if self._client_hook is not None:
            self._client_hook(client)
        return client


class _SharedSession:
    """One boto3 Session for every credential set of a process, clients created under a lock.

    Credentials go to each client, never onto the session, so a customer's keys cannot leak
    into another factory's clients. Sharing the session shares botocore's loaded service models
    and endpoint rules: a rep's first client for a new delegation costs a few milliseconds
    instead of re-reading the service's JSON model (Sessions are not thread-safe, hence the
    lock).
    """

    def __init__(self, region: str) -> None:
        self._region = region
        self._lock = threading.Lock()
        self._session: boto3.session.Session | None = None
        self._botocore: botocore.session.Session | None = None  # the boto3 session's own
        self._pages: dict[tuple[str, str], dict[str, Any]] = {}

    def client(self, service: str, **kwargs: Any) -> Any:
        """A new client from the shared session."""
        with self._lock:
            return self._boto3().client(service, **kwargs)

    def page_config(self, service: str, operation: str) -> dict[str, Any]:
        """One operation's pagination model, read once per process from the shared session's
        loader (``preload`` reads it at start-up, off the first rep's sync, instead of a second
        botocore session parsing the JSON while the first sync's threads wait on the GIL).
        """
        key = (service, operation)
        with self._lock:
            if key not in self._pages:
                model = self._core().get_paginator_model(service)
                self._pages[key] = dict(model.get_paginator(operation))
            return self._pages[key]

    def _core(self) -> botocore.session.Session:
        # Built on first use (caller holds the lock): factories are made at start-up.
        if self._botocore is None:
            self._botocore = botocore.session.get_session()
        return self._botocore

    def _boto3(self) -> boto3.session.Session:
        if self._session is None:
            self._session = boto3.session.Session(
                region_name=self._region, botocore_session=self._core()
            )
        return self._session

    def preload(self, services: tuple[str, ...]) -> None:
        """Build and drop one client per service, so the first real client is cheap.

        That loads the service model, endpoint rules, retry and paginator data once per
        process. The throwaway clients get dummy keys (no credential lookup, never used).
        """
        for service in services:
            self.client(service, aws_access_key_id="preload", aws_secret_access_key="preload")
            with self._lock:
                self._core().get_paginator_model(service)


def error_code(exc: ClientError) -> str:
    """The AWS error code of a ClientError."""
    return str(exc.response.get("Error", {}).get("Code", ""))


def translate(exc: ClientError | BotoCoreError, operation: str = "") -> AwsError:
    """Map a botocore error onto our error tree, keeping AWS's reason in plain language.

    AWS's message says why a call was refused; the code alone does not, so the message is kept
    (trimmed, access key ids masked) and known refusals are reworded (``aws_messages``).
    """
    if isinstance(exc, BotoCoreError):
        return AwsError(
            "Could not reach AWS; please try again.", code="Transport", operation=operation
        )
    code = error_code(exc)
    what = _action_text(operation)
    plain = plain_message(code, exc.response.get("Error", {}).get("Message", ""), what)
    if code in ACCESS_DENIED_CODES:
        return AwsAccessDenied(plain, code=code, operation=operation)
    if code in THROTTLED_CODES:
        return AwsThrottled(code=code, operation=operation)
    if code in CONFLICT_CODES:
        return AwsConflict(plain, code=code, operation=operation)
    return AwsError(plain or f"AWS refused {what} ({code}).", code=code, operation=operation)


def _action_text(operation: str) -> str:
    """``iam.AcceptDelegationRequest`` → "to accept delegation request" (for messages)."""
    name = operation.rsplit(".", 1)[-1]
    if not name:
        return "the request"
    return "to " + xform_name(name).replace("_", " ")


@contextmanager
def aws_errors(operation: str) -> Iterator[None]:
    """Translate botocore errors raised inside the block; log the code, never the payload."""
    try:
        yield
    except (ClientError, BotoCoreError) as exc:
        translated = translate(exc, operation)
        log.warning("AWS call %s failed: %s", operation, translated.code)
        raise translated from None
