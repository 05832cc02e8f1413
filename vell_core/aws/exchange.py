"""Token-exchange policy: which STS errors are worth retrying, how long to back off, and what
the rep is told about an exchange that is still running or has failed for good.

The exchange token is redeemable again and again until its ``ExpiresAt``
(``temporary-delegation.md`` §4.4), so only AWS's definitive answers about the token end an
exchange: ``ExpiredTradeInTokenException``, ``AccessDenied``, ``ValidationError``/
``InvalidParameter…`` and any other 4xx error that is not throttling. Anything transient
(throttling, 5xx, a dropped connection) is retried here with botocore's own standard-mode
retry conditions and exponential backoff, through an injected sleeper; when the attempts run
out the message goes back to the queue (``ExchangeRetryLater``) and SQS redelivers it.

The STS client used for the exchange makes a single attempt per call (``SINGLE_ATTEMPT``):
the retry loop lives here, so each attempt is counted on the row ("retrying, attempt n") and
tests do not sleep.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from functools import cache
from typing import Any

import botocore.session
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError
from botocore.retries.standard import (
    ExponentialBackoff,
    RetryContext,
    StandardRetryConditions,
    ThrottlingErrorDetector,
)

from vell_core.aws.clients import RETRY_CONFIG, error_code
from vell_core.domain.errors import VellError

# Our loop retries; botocore's own retry must not multiply the attempts (or sleep unseen).
SINGLE_ATTEMPT = RETRY_CONFIG.merge(Config(retries={"mode": "standard", "total_max_attempts": 1}))

# Our own final codes (not AWS's): the credentials could not be confirmed as the customer's.
IDENTITY_UNVERIFIED = "IdentityNotVerified"
# Derived, never stored: the token expired while transient errors kept the exchange retrying.
EXPIRED_WHILE_RETRYING = "ExpiredWhileRetrying"

PLAIN_REASONS: dict[str, str] = {
    "ExpiredTradeInTokenException": "the token had expired (it is valid only until the access "
    "ends)",
    "ExpiredTradeInToken": "the token had expired (it is valid only until the access ends)",
    "AccessDenied": "Vell's partner account was not allowed to redeem it (AccessDenied)",
    "AccessDeniedException": "Vell's partner account was not allowed to redeem it (AccessDenied)",
    "ValidationError": "AWS did not recognise the token as one issued to Vell",
    "InvalidParameterValue": "AWS did not recognise the token as one issued to Vell",
    "InvalidParameter": "AWS did not recognise the token as one issued to Vell",
    "RegionDisabledException": "STS is switched off in the configured Region",
    IDENTITY_UNVERIFIED: "the credentials could not be confirmed as the customer's",
    EXPIRED_WHILE_RETRYING: "AWS stayed unavailable until the token expired",
    "Unknown": "the exchange was interrupted before AWS answered",
}


class ExchangeRetryLater(VellError):
    """Transient errors used up this worker's attempts; leave the message for redelivery."""


class ErrorKind(StrEnum):
    """How an STS error bears on the exchange."""

    TRANSIENT = "transient"  # retry: the token is still good
    FINAL = "final"  # AWS's definitive answer about this token


@dataclass(frozen=True)
class RetryPolicy:
    """How many attempts one worker makes, and how it waits between them."""

    max_attempts: int = 5
    sleep: Callable[[float], None] = field(default=time.sleep)
    max_backoff_seconds: float = 20.0

    def backoff(self, attempt: int, exc: Exception, operation: str) -> float:
        """botocore's standard-mode delay after failed ``attempt`` (1-based) of ``operation``."""
        context = retry_context(exc, operation, attempt)
        backoff = ExponentialBackoff(
            max_backoff=int(self.max_backoff_seconds),
            service_name="sts",
            throttling_detector=ThrottlingErrorDetector(None),
        )
        return float(backoff.delay_amount(context))


@dataclass(frozen=True)
class _HttpStatus:
    """The bit of an HTTP response botocore's retry checkers read."""

    status_code: int
    headers: dict[str, str] = field(default_factory=dict)


@cache
def _operation_model(operation: str) -> Any:
    return botocore.session.get_session().get_service_model("sts").operation_model(operation)


def retry_context(exc: Exception, operation: str, attempt: int = 1) -> RetryContext:
    """The ``RetryContext`` botocore would build for this failure."""
    if isinstance(exc, ClientError):
        status = int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 400)
        headers = exc.response.get("ResponseMetadata", {}).get("HTTPHeaders") or {}
        return RetryContext(
            attempt_number=attempt,
            operation_model=_operation_model(operation),
            parsed_response=exc.response,
            http_response=_HttpStatus(status, headers),
        )
    return RetryContext(
        attempt_number=attempt, operation_model=_operation_model(operation), caught_exception=exc
    )


def classify(exc: Exception, operation: str = "GetDelegatedAccessToken") -> ErrorKind:
    """Transient or final, by botocore's standard retry conditions.

    A botocore error without an AWS answer (no connection, a timeout, anything local) never
    says the token is bad, so it is transient too: the message goes back to the queue.
    """
    if isinstance(exc, BotoCoreError):
        return ErrorKind.TRANSIENT
    if isinstance(exc, ClientError):
        retryable = StandardRetryConditions(max_attempts=2).is_retryable(
            retry_context(exc, operation)
        )
        return ErrorKind.TRANSIENT if retryable else ErrorKind.FINAL
    return ErrorKind.TRANSIENT


def code_of(exc: Exception) -> str:
    """AWS's error code, or the botocore exception's name."""
    if isinstance(exc, ClientError):
        return error_code(exc) or "ClientError"
    return type(exc).__name__


def plain_reason(code: str | None) -> str:
    """What an exchange error code means, in words a sales rep can pass on."""
    if not code:
        return "AWS gave no reason"
    return PLAIN_REASONS.get(code, f"AWS refused it ({code})")


# --- what the rep sees -------------------------------------------------------------------------


class NoticeLevel(StrEnum):
    """How a page should render an exchange notice."""

    INFO = "info"
    WARNING = "warning"
    ERROR = "error"


@dataclass(frozen=True)
class ExchangeNotice:
    """One line for the rep about the credentials, and the next action if there is one."""

    level: NoticeLevel
    message: str
    final: bool = False
    action_label: str | None = None
    action_company: str | None = None  # pre-fills the wizard's Company for a new request


@dataclass(frozen=True)
class ExchangeFacts:
    """The non-secret facts about one request's exchange."""

    company: str
    approved: bool  # AWS reported FINALIZED (access released)
    state: str  # ExchangeState value
    attempts: int
    error_code: str | None
    token_expires_at: datetime | None


def exchange_notice(facts: ExchangeFacts, now: datetime) -> ExchangeNotice | None:
    """What the rep should read about the exchange right now; None when there is nothing."""
    if facts.state == "done":
        return None
    failed_code = _final_code(facts, now)
    if failed_code is not None:
        return ExchangeNotice(
            level=NoticeLevel.ERROR,
            message=(
                f"AWS would not exchange the token: {plain_reason(failed_code)}. "
                f"Start a new request for {facts.company}."
            ),
            final=True,
            action_label=f"Start a new request for {facts.company}",
            action_company=facts.company,
        )
    if facts.state == "retrying":
        return ExchangeNotice(
            level=NoticeLevel.WARNING,
            message=(
                f"Approved — fetching credentials (retrying: {facts.attempts} "
                f"attempt{'s' if facts.attempts != 1 else ''} so far, AWS is not answering "
                "yet). Nothing to do: this page updates on its own."
            ),
        )
    if facts.state == "claimed":
        attempt = f" (attempt {facts.attempts})" if facts.attempts > 1 else ""
        return ExchangeNotice(
            level=NoticeLevel.INFO, message=f"Approved — fetching credentials{attempt}…"
        )
    if facts.approved:
        return ExchangeNotice(
            level=NoticeLevel.INFO,
            message="Approved — waiting for AWS to hand over the exchange token…",
        )
    return None


def _final_code(facts: ExchangeFacts, now: datetime) -> str | None:
    """The code of a final failure, recorded or derived (retries outlived the token)."""
    if facts.state in ("failed", "unknown"):
        return facts.error_code or "Unknown"
    expired = facts.token_expires_at is not None and now >= facts.token_expires_at
    if facts.state in ("retrying", "claimed") and expired:
        return EXPIRED_WHILE_RETRYING
    return None
