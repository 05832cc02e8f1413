r"""The one way to put untrusted text on a page: :func:`plain`.

Most Streamlit elements render their text as Markdown with Streamlit's extensions:
``st.markdown``, ``st.caption``, ``st.info``/``success``/``warning``/``error``, ``st.subheader``,
``st.write`` of a string, ``st.toast``, and the labels of buttons, expanders, radio options,
metrics and other widgets. A company name such as ``**Bold** :red[Evil] [link](https://x)``
would come out bold, red and clickable. Customer-controlled strings (company names, product
titles and descriptions read from the customer's Marketplace, ticket subjects, notes, AWS and
rejection messages) therefore always pass through :func:`plain` before they meet one of those
elements, e.g. ``st.caption(f"{plain(company)} · AWS account {account}")``. Tables
(``st.dataframe``), ``st.code`` and ``st.text`` do not parse Markdown and take values as they are.

:func:`plain` backslash-escapes (CommonMark: an escaped ASCII punctuation character is always
literal) every character that can start inline syntax — ``\ ` * _ [ ] < > | ~ & $ : @ { } !`` —
which also defeats Streamlit's own syntax: directives (``:red[…]``), icons (``:material/…:``),
emoji short codes and ``$…$`` math all need an unescaped ``:`` or ``$``, and CommonMark's GFM
autolinks need an unescaped ``://``, ``@`` or ``www.``. Streamlit's renderer (remark-gfm) links
bare URLs a second time, though: a pass over the parsed text, after escapes are resolved, links
anything matching ``https?://`` or ``www.`` followed by a domain, and ``name@domain``. Escaping
cannot stop that, so :func:`plain` also puts an invisible WORD JOINER (U+2060) where that pass
would match: after a ``:`` that precedes ``//``, between ``www`` and ``.``, and after ``@``.
Block syntax (headings, lists, quotes, rules, setext
underlines) only starts a line, so a line's leading marker is escaped too, and leading spaces
(indented code) are dropped. Full stops, commas, hyphens, slashes and brackets in running text
stay as they are, so messages stay readable in the page source and in tests.
"""

from __future__ import annotations

import re

_INLINE = re.compile(r"([\\`*_\[\]<>|~&$:@{}!])")
_LINE_START = re.compile(r"^(\d{1,9})([.)])|^([-+=>#])")
_ICON = re.compile(r"(material)/", re.IGNORECASE)
# Where Streamlit's after-parse autolinker would start a link (see the module docstring).
_AUTOLINK_STARTS = re.compile(r"(?<=:)(?=//)|(?<=www)(?=\.)|(?<=@)", re.IGNORECASE)
WORD_JOINER = "\u2060"
_LINE_BREAKS = re.compile(r"\r\n|[\r\n\u2028\u2029\x0b\x0c\x85]")


def plain(value: object, *, multiline: bool = False) -> str:
    """Markdown source that renders exactly ``value`` as text (no formatting, links or icons).

    One line by default (line breaks become spaces, for labels, captions and sentences);
    ``multiline=True`` keeps each line, as a hard line break.
    """
    text = "" if value is None else str(value)
    lines = [_escape_line(line) for line in _LINE_BREAKS.split(text.replace("\t", " "))]
    if multiline:
        return "  \n".join(line for line in lines)
    return " ".join(line for line in lines if line)


def _escape_line(line: str) -> str:
    # Leading spaces would make an indented code block; trailing ones a hard break.
    joined = _AUTOLINK_STARTS.sub(WORD_JOINER, line.strip(" "))
    escaped = _INLINE.sub(r"\\\1", joined)
    escaped = _ICON.sub(r"\1\\/", escaped)
    return _LINE_START.sub(_escape_marker, escaped, count=1)


def _escape_marker(match: re.Match[str]) -> str:
    if match.group(3):
        return "\\" + match.group(3)
    return f"{match.group(1)}\\{match.group(2)}"
