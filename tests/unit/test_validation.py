"""Edge validation mirrors the API constraints botocore does not check."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from vell_core import validation
from vell_core.errors import ValidationFailed

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
