"""Untrusted text renders as text (issue 15 item 4): ``ui_text.plain`` under a GFM renderer."""

from __future__ import annotations

import html
import re
import unicodedata

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from markdown_it import MarkdownIt

from tests.hostile import MARKDOWN, hostile_text
from vell_core.views.text import WORD_JOINER, plain

GFM = MarkdownIt("gfm-like")  # tables, strikethrough and bare-URL autolinks, as Streamlit has
LINE_BREAKS = re.compile(r"\r\n|[\r\n\u2028\u2029\x0b\x0c\x85]")


def shown(value: str) -> str:
    """What a reader should see: one line, spaces at the edges of each line dropped."""
    parts = [part.strip(" ") for part in LINE_BREAKS.split(value.replace("\t", " "))]
    return " ".join(part for part in parts if part)


def _trim(text: str) -> str:
    """Strip what CommonMark counts as whitespace at a paragraph's edges (Zs and ASCII)."""
    edge = [c for c in set(text) if c in " \t\n\r\f\v" or unicodedata.category(c) == "Zs"]
    return text.strip("".join(edge))


# Streamlit's renderer links bare URLs and e-mail addresses once more after parsing (remark-gfm's
# text pass, copied from Streamlit's bundle): JavaScript's ``\w`` is ASCII.
AFTER_PARSE_LINKS = (
    re.compile(r"(https?://|www(?=\.))([-.\w]+)([^ \t\r\n]*)", re.IGNORECASE | re.ASCII),
    re.compile(r"(?<![^\s\W])([-.\w+]+)@([-\w]+(?:\.[-\w]+)+)", re.ASCII),
)


def rendered(value: str) -> str:
    """The HTML, without the invisible word joiners ``plain`` adds against that pass."""
    output = GFM.render(plain(value)).strip().replace(WORD_JOINER, "")
    return "" if output == "<p></p>" else output  # only whitespace the renderer trims


def after_parse_links(value: str) -> list[str]:
    """What Streamlit's after-parse pass would link in the text ``plain(value)`` renders to."""
    text = html.unescape(re.sub(r"<[^>]+>", " ", GFM.render(plain(value))))
    return [m.group(0) for pattern in AFTER_PARSE_LINKS for m in pattern.finditer(text)]


def expected_html(value: str) -> str:
    # The renderer trims the paragraph of any whitespace (a no-break space too).
    # Word joiners are set aside on both sides (``rendered`` drops the ones plain adds).
    text = _trim(shown(value).replace("\x00", "\ufffd")).replace(WORD_JOINER, "")
    escaped = html.escape(text, quote=False).replace('"', "&quot;")
    return f"<p>{escaped}</p>" if text else ""


def streamlit_syntax_left(source: str) -> list[str]:
    """Streamlit's own extensions need an unescaped ``:`` (directives, icons, emoji) or ``$``."""
    unescaped = re.findall(r"(?<!\\)(?:\\\\)*[:$]", source)
    return unescaped + (["material/"] if ":material/" in source else [])


@pytest.mark.parametrize("value", MARKDOWN)
def test_markdown_payloads_render_as_their_own_text(value: str) -> None:
    assert rendered(value) == expected_html(value)
    assert streamlit_syntax_left(plain(value)) == []


def test_the_issue_company_name_is_not_bold_red_or_linked() -> None:
    value = "**Bold** :red[Evil] [link](https://evil.example)"
    output = rendered(value)
    assert "<strong>" not in output
    assert "<a " not in output
    assert output == f"<p>{value}</p>"
    assert streamlit_syntax_left(plain(value)) == []


def test_multiline_keeps_lines_without_starting_blocks() -> None:
    output = GFM.render(plain("# Title\n    code\n- item", multiline=True))
    assert output.strip() == "<p># Title<br />\ncode<br />\n- item</p>"


@settings(max_examples=120, deadline=None)
@given(st.one_of(hostile_text(), st.text()))
def test_any_text_renders_exactly_as_text(value: str) -> None:
    assert rendered(value) == expected_html(value)
    assert streamlit_syntax_left(plain(value)) == []
    assert after_parse_links(value) == []


@pytest.mark.parametrize(
    "value",
    [
        "[link](https://evil.example)",
        "see https://evil.example/path now",
        "HTTP://EVIL.EXAMPLE",
        "www.evil.example",
        "a.WWW.evil.example",
        "https://www.evil.example",
        "mail me: someone@evil.example",
    ],
)
def test_bare_urls_and_emails_are_not_linked_after_parsing_either(value: str) -> None:
    """What the browser showed linked (issue 15 item 4, found in Chromium)."""
    assert after_parse_links(value) == []
    assert rendered(value) == expected_html(value)
