"""Edge validation mirrors the API constraints botocore does not check."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.hostile import unicode_digit_accounts
from vell_core.domain import validation
from vell_core.domain.errors import ValidationFailed

MODEL_REDIRECT = re.compile(
    r"^http(s?)://[a-zA-Z0-9._/-]*(\?[a-zA-Z0-9._=&-]*)?(#[a-zA-Z0-9._/-]*)?$"
)


def test_account_id_accepts_pasted_forms() -> None:
    assert validation.account_id(" 1234-5678-9012 ") == "123456789012"


@pytest.mark.parametrize("bad", ["", "12345678901", "1234567890123", "12345678901a", "x" * 12])
def test_account_id_refuses_anything_but_12_digits(bad: str) -> None:
    with pytest.raises(ValidationFailed):
        validation.account_id(bad)


@pytest.mark.parametrize("bad", ["", "   ", "a" * 81, "Acme 🚀", "Acme\u0007Corp"])
def test_company_refuses_empty_long_and_non_latin1(bad: str) -> None:
    with pytest.raises(ValidationFailed):
        validation.company(bad)


@pytest.mark.parametrize("seconds", [299, 43201, 0, -5])
def test_session_duration_bounds(seconds: int) -> None:
    with pytest.raises(ValidationFailed):
        validation.session_duration(seconds)


@pytest.mark.parametrize(
    "bad",
    [
        "http://localhost:8501/x",
        "https://user@desk.vell.ai/",
        "https://desk.vell.ai/%20",
        "https://desk.vell.ai/?a=b:c",
        "ftp://desk.vell.ai/",
        "https://desk.vell.ai/" + "a" * 300,
    ],
)
def test_redirect_url_refuses_what_iam_refuses(bad: str) -> None:
    with pytest.raises(ValidationFailed):
        validation.redirect_url(bad)


@given(st.text(max_size=80))
def test_redirect_validator_agrees_with_the_model_pattern(text: str) -> None:
    candidate = "https://desk.vell.ai/" + text
    accepted = True
    try:
        validation.redirect_url(candidate)
    except ValidationFailed:
        accepted = False
    assert accepted == bool(MODEL_REDIRECT.match(candidate) and len(candidate) <= 255)


def test_request_id_pattern() -> None:
    assert validation.delegation_request_id("e4bdcdae-4f66-11eD-ELEG-ATIONEXAMPLE")
    for bad in ["short", "a" * 129, "has space in it here", "../../etc/passwd/xx"]:
        with pytest.raises(ValidationFailed):
            validation.delegation_request_id(bad)


# --- issue 15: one ASCII account-id rule, everywhere -----------------------------------------

UNICODE_ACCOUNTS = list(unicode_digit_accounts("602341187520"))


@pytest.mark.parametrize("account", UNICODE_ACCOUNTS)
def test_account_id_refuses_other_scripts_digits(account: str) -> None:
    with pytest.raises(ValidationFailed, match="0-9"):
        validation.account_id(account)
    assert not validation.is_account_id(account)


@pytest.mark.parametrize("account", UNICODE_ACCOUNTS)
def test_ingest_and_sandbox_use_the_same_ascii_rule(account: str) -> None:
    from vell_core.sandbox.control import ACCOUNT_RE as SANDBOX_ACCOUNT_RE
    from vell_core.services.ingest import ACCOUNT_RE

    assert ACCOUNT_RE.match(account) is None
    assert SANDBOX_ACCOUNT_RE.match(account) is None
    assert ACCOUNT_RE.match("602341187520\n") is None  # ``$`` would have allowed this
    assert ACCOUNT_RE.match("602341187520")


@pytest.mark.parametrize("account", UNICODE_ACCOUNTS)
def test_settings_refuse_a_unicode_digit_partner_account(account: str) -> None:
    from vell_core.config.settings import load_settings
    from vell_core.domain.errors import ConfigurationError

    with pytest.raises(ConfigurationError, match="VELL_PARTNER_ACCOUNT_ID"):
        load_settings(vell_partner_account_id=account)


def test_the_account_id_pattern_is_defined_once() -> None:
    """Every entry point uses ``validation``: no other module spells out a 12-digit regex."""
    root = Path(validation.__file__).parent
    pattern = re.compile(r"\\d\{\{?12\}|\[0-9\]\{12\}")
    offenders = [
        str(path.relative_to(root))
        for path in root.rglob("*.py")
        if path.name != "validation.py"
        and pattern.search(path.read_text(encoding="utf-8"))
        and "ROLE_ARN_RE" not in path.read_text(encoding="utf-8")  # an ARN, not an account id
        and "ARN_PATTERNS" not in path.read_text(encoding="utf-8")
    ]
    assert offenders == []


@given(st.text(max_size=14))
def test_account_id_accepts_only_ascii_digits(text: str) -> None:
    try:
        cleaned = validation.account_id(text)
    except ValidationFailed:
        return
    assert re.fullmatch(r"[0-9]{12}", cleaned, re.ASCII)


@pytest.mark.parametrize("bad", ["a\x00b", "a\nb", "a\rb", "a\u2028b", "x" * 201, ""])
def test_plain_text_refuses_controls_and_lengths(bad: str) -> None:
    with pytest.raises(ValidationFailed):
        validation.plain_text("Subject", bad, 200)


def test_plain_text_keeps_zero_width_and_right_to_left_text() -> None:
    value = "\u202eمرحبا\u200b"
    assert validation.plain_text("Subject", f"  {value} ", 200) == value
