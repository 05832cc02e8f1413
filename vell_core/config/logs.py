"""Logging that cannot leak secrets: noisy AWS loggers pinned at WARNING, redaction everywhere.

botocore at DEBUG prints TradeInToken, SecretAccessKey and SessionToken (security checklist
§3.1), so those loggers never go below WARNING and every handler carries ``RedactingFilter``,
which masks access keys, named secret fields and any exact secret registered at runtime (the
vault registers each exchanged credential and token).
"""

from __future__ import annotations

import logging
import re
import threading

NOISY_LOGGERS = ("botocore", "boto3", "urllib3", "s3transfer", "werkzeug")
_SECRET_FIELD_RE = re.compile(
    r"(?i)([\"']?(?:SecretAccessKey|SessionToken|TradeInToken|ExchangeToken"
    r"|aws_secret_access_key|aws_session_token)[\"']?\s*[:=]\s*[\"']?)([^\"'\s,}&]+)"
)
_SECRET_XML_RE = re.compile(
    r"(?i)(<(?:SecretAccessKey|SessionToken|TradeInToken|ExchangeToken)>)([^<]*)"
)
_ACCESS_KEY_RE = re.compile(r"\b(A[SK]IA|ASIA|AKIA)[A-Z0-9]{12,}\b")
_known_secrets: set[str] = set()
_known_lock = threading.Lock()
MASK = "***"


def register_secret(value: str | None) -> None:
    """Mask this exact string in every log record from now on."""
    if value and len(value) >= 8:
        with _known_lock:
            _known_secrets.add(value)


def forget_secret(value: str | None) -> None:
    """Stop tracking a secret that no longer exists (expired credentials)."""
    if value:
        with _known_lock:
            _known_secrets.discard(value)


def redact(text: str) -> str:
    """Return ``text`` with every known secret, access key and secret field masked."""
    with _known_lock:
        secrets = sorted(_known_secrets, key=len, reverse=True)
    for secret in secrets:
        if secret in text:
            text = text.replace(secret, MASK)
    text = _SECRET_FIELD_RE.sub(lambda m: m.group(1) + MASK, text)
    text = _SECRET_XML_RE.sub(lambda m: m.group(1) + MASK, text)
    return _ACCESS_KEY_RE.sub(lambda m: m.group(1) + "…" + MASK, text)


class RedactingFilter(logging.Filter):
    """Rewrites each record's message (and exception text) with secrets masked."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Render the message once, redact it, and freeze it on the record."""
        try:
            message = record.getMessage()
        except Exception:  # a broken format string must not break logging
            message = str(record.msg)
        record.msg = redact(message)
        record.args = None
        if record.exc_info:
            formatter = logging.Formatter()
            record.exc_text = redact(formatter.formatException(record.exc_info))
            record.exc_info = None
        return True


def install_redaction(logger: logging.Logger | None = None) -> None:
    """Attach the redaction filter to every handler of ``logger`` (root by default)."""
    target = logger or logging.getLogger()
    for handler in target.handlers:
        if not any(isinstance(f, RedactingFilter) for f in handler.filters):
            handler.addFilter(RedactingFilter())


def configure_logging(level: str = "INFO") -> None:
    """Configure root logging once; safe to call repeatedly."""
    root = logging.getLogger()
    if not root.handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        root.addHandler(handler)
    root.setLevel(level.upper())
    for name in NOISY_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)
    install_redaction(root)
