"""AWS error messages in plain language, for the person who sees them.

AWS's own message says *why* a call was refused ("root users can approve requests of 4 hours or
less"); the error code alone ("ConcurrentModification") does not. ``plain_message`` keeps the
reason and, for the refusals people meet in the delegation flow, says what to do next. Messages
are matched on AWS's wording, which is stable per API; anything unknown is shown as AWS wrote it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# AWS messages can be long (a policy ARN list); the page needs the gist.
MAX_AWS_MESSAGE = 300
# Access key ids are not secret, but nothing about credentials belongs on a page.
_ACCESS_KEY = re.compile(r"\b(AKIA|ASIA)[A-Z0-9]{12,}\b")
# AWS validation errors echo the refused value ("Value 'eyJ…' at 'tradeInToken' failed…"): an
# exchange token must never reach a page or a log, so echoed values are always masked.
_ECHOED_VALUE = re.compile(r"(Value\s+)'[^']*'", re.IGNORECASE)


@dataclass(frozen=True)
class _Rule:
    """A known refusal: AWS's wording (regex) and what the person should read instead."""

    pattern: re.Pattern[str]
    plain: str
    lower: bool = False  # AWS's STATE names read better in lower case inside a sentence


RULES: tuple[_Rule, ...] = (
    _Rule(
        re.compile(r"root users can approve requests of (\d+) hours or less", re.IGNORECASE),
        "A root user can approve requests of {0} hours or less, and this one asks for longer. "
        "Approve it as an IAM user or role allowed iam:AcceptDelegationRequest (in the sandbox: "
        "Act as: admin), or ask Vell for a shorter request.",
    ),
    _Rule(
        re.compile(r"is (EXPIRED|REJECTED|FINALIZED) and cannot be", re.IGNORECASE),
        "This request is already {0} in AWS, so it cannot be changed any more. Ask Vell for a "
        "new request if access is still needed.",
        lower=True,
    ),
    _Rule(
        re.compile(r"not authorized to perform: (iam:\w+)", re.IGNORECASE),
        "This identity is not allowed {0}. Sign in as someone who is (in the sandbox: "
        "Act as: admin).",
    ),
)


def aws_message(raw: object) -> str:
    """AWS's message, trimmed, with anything that looks like an access key id masked."""
    text = " ".join(str(raw or "").split())
    text = _ACCESS_KEY.sub("…", text)
    text = _ECHOED_VALUE.sub(r"\1'…'", text)
    if len(text) > MAX_AWS_MESSAGE:
        text = text[: MAX_AWS_MESSAGE - 1] + "…"
    return text


def plain_message(code: str, message: str, what: str) -> str | None:
    """The plain-language sentence for AWS's ``message``, or None when AWS gave none.

    ``what`` names the action for the fallback ("AWS refused to accept the request: …").
    """
    text = aws_message(message)
    if not text:
        return None
    for rule in RULES:
        found = rule.pattern.search(text)
        if found:
            groups = [g.lower() if rule.lower else g for g in found.groups()]
            return rule.plain.format(*groups)
    return f"AWS refused {what}: {text}"
