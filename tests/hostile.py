"""Hypothesis strategies for hostile input (issue 15), shared by the edge tests.

Every value mixes the pieces that broke the app: other scripts' digits, zero-width and
right-to-left characters, NUL and other control bytes, 10,000-character values, spreadsheet
formula prefixes and Markdown / Streamlit directives.
"""

from __future__ import annotations

from collections.abc import Iterator

from hypothesis import strategies as st

from vell_core.domain import validation
from vell_core.domain.errors import ValidationFailed

# Zero-digit code points of scripts whose digits Python's ``\d`` accepts.
DIGIT_ZEROS = {
    "arabic-indic": 0x0660,
    "extended-arabic-indic": 0x06F0,
    "devanagari": 0x0966,
    "full-width": 0xFF10,
}
ZERO_WIDTH = ["\u200b", "\u200c", "\u200d", "\u2060", "\ufeff"]
RIGHT_TO_LEFT = ["\u200f", "\u202b", "\u202e", "\u2067", "\u061c", "مرحبا", "שלום"]
CONTROL = ["\x00", "\x07", "\x1b", "\r", "\n", "\t", "\x85", "\u2028"]
FORMULAS = [
    '=HYPERLINK("https://evil.example","Click")',
    "+cmd|' /C calc'!A0",
    "-2+3",
    "@SUM(A1:A9)",
    "\t=1+1",
    "\r=1+1",
    "=",
]
MARKDOWN = [
    "**Bold** :red[Evil] [link](https://evil.example)",
    ":material/warning: _x_ ~~y~~ `z`",
    "# Heading",
    "<b>html</b>",
    "$x^2$",
    "https://evil.example",
    "www.evil.example",
    "![img](https://evil.example/p.png)",
    "\\*",
    "| a | b |\n|---|---|",
    "> quote",
    "1. item",
]
PIECES = ZERO_WIDTH + RIGHT_TO_LEFT + CONTROL + FORMULAS + MARKDOWN


def unicode_digit_accounts(account: str) -> Iterator[str]:
    """``account`` written in each script's digits (what ``\\d`` wrongly accepted)."""
    for zero in DIGIT_ZEROS.values():
        yield "".join(chr(zero + int(c)) for c in account)


def _sprinkle(base: str, piece: str, at: int) -> str:
    at = at % (len(base) + 1)
    return base[:at] + piece + base[at:]


def hostile_text(*, account_like: bool = False) -> st.SearchStrategy[str]:
    """Short mixes of hostile pieces and arbitrary text, or one 10,000-character value."""
    parts: list[st.SearchStrategy[str]] = [st.sampled_from(PIECES), st.text(max_size=12)]
    mixed = st.lists(st.one_of(*parts), max_size=6).map("".join)
    long = st.builds(
        lambda piece, filler: (piece + filler * 10_000)[:10_000],
        st.sampled_from([*PIECES, ""]),
        st.sampled_from(["a", "7", "\u0667", "\u200b", "=", "*"]),
    )
    if not account_like:
        return st.one_of(mixed, mixed, mixed, long)
    digits = st.text(alphabet="0123456789", min_size=12, max_size=12)
    other_script = digits.flatmap(lambda a: st.sampled_from(list(unicode_digit_accounts(a))))
    sprinkled = st.builds(
        _sprinkle, digits, st.sampled_from(ZERO_WIDTH + RIGHT_TO_LEFT + CONTROL), st.integers(0, 12)
    )
    # Mostly almost-valid accounts: those are what slipped past ``\d``.
    return st.one_of(other_script, other_script, sprinkled, digits, mixed, long)


def invalid_account(value: str) -> bool:
    """True when the one account validator refuses ``value``."""
    try:
        validation.account_id(value)
    except ValidationFailed:
        return True
    return False
