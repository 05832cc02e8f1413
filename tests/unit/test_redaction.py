"""Logs never carry secrets: access keys, named secret fields and registered values."""

from __future__ import annotations

import logging

import pytest

from vell_core.config.logs import RedactingFilter, configure_logging, redact, register_secret


def test_redact_masks_keys_fields_and_registered_values() -> None:
    register_secret("opaque-token-value-123456")
    text = (
        '{"SecretAccessKey": "abc/def+ghi", "SessionToken":"zzz", "TradeInToken=tok123"} '
        "AKIAABCDEFGHIJKLMNOP opaque-token-value-123456"
    )
    cleaned = redact(text)
    for secret in ("abc/def+ghi", "zzz", "tok123", "ABCDEFGHIJKLMNOP", "opaque-token-value-123456"):
        assert secret not in cleaned


def test_aws_loggers_are_pinned_at_warning_and_handlers_redact(
    caplog: pytest.LogCaptureFixture,
) -> None:
    configure_logging("DEBUG")
    assert logging.getLogger("botocore").level == logging.WARNING
    assert logging.getLogger("urllib3").level == logging.WARNING
    assert all(
        any(isinstance(f, RedactingFilter) for f in handler.filters)
        for handler in logging.getLogger().handlers
    )
    caplog.handler.addFilter(RedactingFilter())
    logging.getLogger("vell.test").warning("creds %s", {"SecretAccessKey": "s3cr3t-value"})
    assert "s3cr3t-value" not in caplog.text
