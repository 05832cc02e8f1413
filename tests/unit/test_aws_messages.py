"""AWS's reason reaches the person, in plain language, with nothing secret in it."""

from __future__ import annotations

from botocore.exceptions import ClientError

from vell_core.aws.clients import translate
from vell_core.aws.messages import plain_message
from vell_core.domain.errors import AwsConflict


def client_error(code: str, message: str) -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": message}}, "AcceptDelegationRequest")


def test_root_approval_limit_is_explained_not_called_a_conflict() -> None:
    error = translate(
        client_error(
            "ConcurrentModification",
            "root users can approve requests of 4 hours or less; this request asks for 43200 "
            "seconds.",
        ),
        "iam.AcceptDelegationRequest",
    )
    assert isinstance(error, AwsConflict)
    assert "conflict" not in error.message
    assert "root user can approve requests of 4 hours or less" in error.message
    assert "iam:AcceptDelegationRequest" in error.message


def test_unknown_refusal_keeps_awss_own_words() -> None:
    error = translate(client_error("NoSuchEntity", "The role Foo cannot be found."), "iam.GetRole")
    assert error.message == "AWS refused to get role: The role Foo cannot be found."


def test_no_message_falls_back_to_the_code() -> None:
    error = translate(client_error("Weird", ""), "iam.GetRole")
    assert error.message == "AWS refused to get role (Weird)."


def test_echoed_values_and_access_keys_are_masked() -> None:
    text = plain_message(
        "ValidationError",
        "1 validation error detected: Value 'eyJhbGciOi.secret.sig' at 'tradeInToken' failed; "
        "key ASIAABCDEFGHIJKLMNOP",
        "to exchange the token",
    )
    assert text is not None
    assert "eyJ" not in text
    assert "ASIAABCDEFGHIJKLMNOP" not in text
