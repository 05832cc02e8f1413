"""The sandbox's sign-in cookie: signed, expiring, revocable."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from vell_core.domain.clock import FrozenClock
from vell_core.domain.signed_tokens import SESSION_HOURS, SessionTokens

NOW = datetime(2026, 12, 2, 8, 0, tzinfo=UTC)


def test_a_token_names_its_staff_member_until_it_expires() -> None:
    clock = FrozenClock(NOW)
    tokens = SessionTokens(clock)
    token = tokens.issue(7)
    verified = tokens.verify(token)
    assert verified is not None
    assert verified.staff_id == 7
    clock.advance(timedelta(hours=SESSION_HOURS))
    assert tokens.verify(token) is None


def test_a_tampered_or_foreign_token_is_refused() -> None:
    tokens = SessionTokens(FrozenClock(NOW))
    _, rest = tokens.issue(7).split(".", 1)
    assert tokens.verify(f"1.{rest}") is None  # someone else's id, same signature
    assert SessionTokens(FrozenClock(NOW)).verify(tokens.issue(7)) is None  # another key
    assert tokens.verify("") is None
    assert tokens.verify("garbage") is None


def test_signing_out_revokes_the_token() -> None:
    tokens = SessionTokens(FrozenClock(NOW))
    token = tokens.issue(7)
    tokens.revoke(token)
    assert tokens.verify(token) is None
    assert tokens.verify(tokens.issue(7)) is not None  # a new sign-in works
