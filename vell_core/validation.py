"""Edge validation against the real API constraints (botocore model, IAM docs).

botocore checks only required members, minimums and types; maximum lengths, patterns and enums
are enforced by the service alone, so we check them here before anything is sent.
"""

from __future__ import annotations

import re

from vell_core.errors import ValidationFailed

ACCOUNT_ID_RE = re.compile(r"^\d{12}$")
# IAM's shared text pattern: tab, LF, CR, printable ASCII and Latin-1.
IAM_TEXT_RE = re.compile(r"^[\u0009\u000A\u000D\u0020-\u007E\u00A1-\u00FF]*$")
REDIRECT_URL_RE = re.compile(
    r"^http(s?)://[a-zA-Z0-9._/-]*(\?[a-zA-Z0-9._=&-]*)?(#[a-zA-Z0-9._/-]*)?$"
)
DELEGATION_REQUEST_ID_RE = re.compile(r"^[\w-]{16,128}$")
NOTIFICATION_CHANNEL_RE = re.compile(r"^[a-zA-Z0-9:_.-]{2,400}$")
COMPANY_MAX = 80
DESCRIPTION_MAX = 1000
REQUEST_MESSAGE_MAX = 200
NOTES_MAX = 500
MIN_SESSION_DURATION = 300
MAX_SESSION_DURATION = 43200
ROOT_APPROVER_MAX_SECONDS = 14400


def account_id(value: str) -> str:
    """A 12-digit AWS account id (spaces and dashes people paste are removed)."""
    cleaned = re.sub(r"[\s-]", "", value or "")
    if not ACCOUNT_ID_RE.match(cleaned):
        raise ValidationFailed(fields={"AWS account id": "must be exactly 12 digits"})
    return cleaned


def company(value: str) -> str:
    """A company name the customer will recognise in the request message."""
    cleaned = " ".join((value or "").split())
    if not cleaned:
        raise ValidationFailed(fields={"Company": "is required"})
    if len(cleaned) > COMPANY_MAX:
        raise ValidationFailed(fields={"Company": f"must be at most {COMPANY_MAX} characters"})
    if not IAM_TEXT_RE.match(cleaned):
        raise ValidationFailed(
            fields={"Company": "may use only Latin letters, digits and common punctuation"}
        )
    return cleaned


def session_duration(seconds: int) -> int:
    """``SessionDuration`` in seconds, 300–43200."""
    if not MIN_SESSION_DURATION <= int(seconds) <= MAX_SESSION_DURATION:
        raise ValidationFailed(
            fields={"Duration": "must be between 5 minutes and 12 hours (300–43200 seconds)"}
        )
    return int(seconds)


def iam_text(label: str, value: str, maximum: int) -> str:
    """Free text IAM accepts (length and character set)."""
    if len(value) > maximum:
        raise ValidationFailed(fields={label: f"must be at most {maximum} characters"})
    if not IAM_TEXT_RE.match(value):
        raise ValidationFailed(fields={label: "contains characters AWS does not accept"})
    return value


def redirect_url(value: str) -> str:
    """A ``RedirectUrl`` IAM accepts: https, no port, no userinfo, a plain query."""
    if not 1 <= len(value) <= 255 or not REDIRECT_URL_RE.match(value):
        raise ValidationFailed(fields={"RedirectUrl": "is not a URL AWS accepts (no port allowed)"})
    return value


def delegation_request_id(value: str) -> str:
    """A delegation request id as the model defines it (checked before any lookup)."""
    if not DELEGATION_REQUEST_ID_RE.match(value or ""):
        raise ValidationFailed(fields={"DelegationRequestId": "is not a valid request id"})
    return value
