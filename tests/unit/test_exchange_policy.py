"""Exchange policy: botocore's classification of STS errors, backoff, and the rep's notice."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from botocore.exceptions import ClientError, EndpointConnectionError, ReadTimeoutError

from vell_core.aws.exchange import (
    ErrorKind,
    ExchangeFacts,
    NoticeLevel,
    RetryPolicy,
    classify,
    exchange_notice,
)

NOW = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)


def error(code: str, status: int) -> ClientError:
    return ClientError(
        {"Error": {"Code": code, "Message": "m"}, "ResponseMetadata": {"HTTPStatusCode": status}},
        "GetDelegatedAccessToken",
    )


@pytest.mark.parametrize(
    ("exc", "kind"),
    [
        (error("ServiceUnavailable", 503), ErrorKind.TRANSIENT),
        (error("InternalFailure", 500), ErrorKind.TRANSIENT),
        (error("Throttling", 400), ErrorKind.TRANSIENT),
        (error("RequestTimeout", 400), ErrorKind.TRANSIENT),
        (error("IDPCommunicationError", 400), ErrorKind.TRANSIENT),
        (EndpointConnectionError(endpoint_url="https://sts"), ErrorKind.TRANSIENT),
        (ReadTimeoutError(endpoint_url="https://sts"), ErrorKind.TRANSIENT),
        (error("ExpiredTradeInTokenException", 400), ErrorKind.FINAL),
        (error("AccessDenied", 403), ErrorKind.FINAL),
        (error("ValidationError", 400), ErrorKind.FINAL),
        (error("InvalidParameterValue", 400), ErrorKind.FINAL),
        (error("RegionDisabledException", 403), ErrorKind.FINAL),
    ],
)
def test_errors_are_classified_by_botocore_standard_conditions(exc: Exception, kind) -> None:
    assert classify(exc) is kind


def test_backoff_grows_and_throttling_waits_longer() -> None:
    policy = RetryPolicy()
    unavailable = error("ServiceUnavailable", 503)
    # botocore's jittered exponential backoff: rand(0,1) * base * 2**(attempt-1).
    assert 0 <= policy.backoff(1, unavailable, "GetDelegatedAccessToken") <= 0.05
    assert 0 <= policy.backoff(3, unavailable, "GetDelegatedAccessToken") <= 0.2
    assert 0 <= policy.backoff(3, error("Throttling", 400), "GetDelegatedAccessToken") <= 4


def facts(state: str, **extra) -> ExchangeFacts:
    values = {
        "company": "Acme",
        "approved": True,
        "state": state,
        "attempts": 1,
        "error_code": None,
        "token_expires_at": NOW + timedelta(hours=4),
    }
    return ExchangeFacts(**{**values, **extra})


def test_a_final_failure_says_why_and_what_next() -> None:
    notice = exchange_notice(facts("failed", error_code="AccessDenied"), NOW)
    assert notice is not None
    assert notice.level is NoticeLevel.ERROR
    assert notice.final
    assert notice.message == (
        "AWS would not exchange the token: Vell's partner account was not allowed to redeem "
        "it (AccessDenied). Start a new request for Acme."
    )
    assert notice.action_label == "Start a new request for Acme"


def test_retrying_shows_the_attempts_and_turns_final_once_the_token_expired() -> None:
    retrying = exchange_notice(facts("retrying", attempts=5, error_code="Throttling"), NOW)
    assert retrying is not None
    assert retrying.level is NoticeLevel.WARNING
    assert "retrying: 5 attempts so far" in retrying.message
    late = exchange_notice(facts("retrying", attempts=5), NOW + timedelta(hours=5))
    assert late is not None
    assert late.final
    assert "AWS stayed unavailable until the token expired" in late.message


def test_nothing_to_say_before_approval_or_once_done() -> None:
    assert exchange_notice(facts("none", approved=False), NOW) is None
    assert exchange_notice(facts("done"), NOW) is None
    waiting = exchange_notice(facts("none"), NOW)
    assert waiting is not None
    assert "waiting for AWS to hand over the exchange token" in waiting.message
