"""Edge validation against the real API constraints (botocore model, IAM docs).

botocore checks only required members, minimums and types; maximum lengths, patterns and enums
are enforced by the service alone, so we check them here before anything is sent.
"""

from __future__ import annotations

import re
import unicodedata

from vell_core.domain.errors import ValidationFailed

# ASCII digits only: ``\d`` also matches Arabic-Indic, full-width and Devanagari digits, which
# AWS refuses (its patterns are ASCII) and which would reach the policy template and the store.
# ``\Z``, not ``$``: ``$`` also matches before a trailing newline.
ACCOUNT_ID_PATTERN = "[0-9]{12}"  # ASCII digits only: Python's \d accepts other scripts
ACCOUNT_ID_RE = re.compile(rf"\A{ACCOUNT_ID_PATTERN}\Z", re.ASCII)
ACCOUNT_ID_EXPECTED = "a 12-digit AWS account id (digits 0-9 only)"
PARTNER_ID_RE = re.compile(r"\AP-[A-Za-z0-9]{4,20}\Z", re.ASCII)
MARKETPLACE_PRODUCT_ID_RE = re.compile(r"\Aprod-[A-Za-z0-9]{4,40}\Z", re.ASCII)
# A deliberately plain address check (printable ASCII, one @, a dotted domain): the addresses are
# typed by Vell admins into an email to AWS, so anything fancier is a typo, not a real address.
EMAIL_RE = re.compile(
    r"\A[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]{1,64}@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+\Z", re.ASCII
)
EMAIL_LIST_MAX = 1000
# IAM's shared text pattern: tab, LF, CR, printable ASCII and Latin-1.
IAM_TEXT_RE = re.compile(r"^[\u0009\u000A\u000D\u0020-\u007E\u00A1-\u00FF]*$")
REDIRECT_URL_RE = re.compile(
    r"^http(s?)://[a-zA-Z0-9._/-]*(\?[a-zA-Z0-9._=&-]*)?(#[a-zA-Z0-9._/-]*)?$"
)
DELEGATION_REQUEST_ID_RE = re.compile(r"\A[\w-]{16,128}\Z", re.ASCII)
NOTIFICATION_CHANNEL_RE = re.compile(r"^[a-zA-Z0-9:_.-]{2,400}$")
COMPANY_MAX = 80
DESCRIPTION_MAX = 1000
REQUEST_MESSAGE_MAX = 200
NOTES_MAX = 500
MIN_SESSION_DURATION = 300
MAX_SESSION_DURATION = 43200
ROOT_APPROVER_MAX_SECONDS = 14400


def is_account_id(value: str | None) -> bool:
    """True for exactly 12 ASCII digits (no cleaning): for values that must already be exact."""
    return bool(value) and ACCOUNT_ID_RE.fullmatch(value or "") is not None


def is_partner_id(value: str) -> bool:
    """An AWS Partner Central partner id (``P-`` and 4-20 letters or digits)."""
    return PARTNER_ID_RE.fullmatch(value or "") is not None


def is_marketplace_product_id(value: str) -> bool:
    """An AWS Marketplace product id (``prod-`` and 4-40 letters or digits)."""
    return MARKETPLACE_PRODUCT_ID_RE.fullmatch(value or "") is not None


def is_email_list(value: str) -> bool:
    """One or more plain email addresses separated by commas."""
    if not value or len(value) > EMAIL_LIST_MAX:
        return False
    return all(EMAIL_RE.fullmatch(part.strip()) for part in value.split(","))


def account_id(value: str, label: str = "AWS account id") -> str:
    """A 12-digit AWS account id (spaces and dashes people paste are removed)."""
    cleaned = re.sub(r"[\s-]", "", value or "")
    if not is_account_id(cleaned):
        raise ValidationFailed(fields={label: "must be exactly 12 digits (0-9)"})
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


# Control characters (NUL above all: PostgreSQL refuses it in text while SQLite stores it),
# lone surrogates (not encodable as UTF-8) and line/paragraph separators have no place in a
# one-line value. Zero-width and right-to-left marks are letters' business and stay: the pages
# render every such value as plain text.
_REFUSED_CATEGORIES = frozenset({"Cc", "Cs", "Zl", "Zp"})


def text_problem(value: str, maximum: int, *, required: bool = True) -> str | None:
    """Why ``value`` is not acceptable one-line text (None when it is); expects it stripped."""
    if not value:
        return "is required" if required else None
    if len(value) > maximum:
        return f"is longer than {maximum} characters"
    for char in value:
        if unicodedata.category(char) in _REFUSED_CATEGORIES:
            return f"contains a control character (U+{ord(char):04X}); use plain text"
    return None


def plain_text(label: str, value: str | None, maximum: int, *, required: bool = True) -> str:
    """One line of customer or staff text: stripped, bounded, no control characters."""
    cleaned = (value or "").strip()
    problem = text_problem(cleaned, maximum, required=required)
    if problem is not None:
        raise ValidationFailed(fields={label: problem})
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
