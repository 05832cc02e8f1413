"""Named fault points in the token exchange, for tests that kill or fail a worker mid-way.

The processor and the worker call their hook with each step name as they pass it. In the app
the hook does nothing. Tests inject one that raises at a step (an in-process "kill"), and the
test-only setting ``VELL_TEST_KILL_AT`` makes ``vell worker`` SIGKILL itself at that step, so a
real process death can be tested end to end. Settings refuse it outside the sandbox.
"""

from __future__ import annotations

import logging
import os
import signal
from collections.abc import Callable

log = logging.getLogger(__name__)

FaultHook = Callable[[str], None]

BEFORE_CLAIM = "before_claim"
AFTER_CLAIM = "after_claim"
AFTER_STS = "after_sts"
AFTER_VAULT_WRITE = "after_vault_write"
BEFORE_DELETE = "before_delete"
STEPS = (BEFORE_CLAIM, AFTER_CLAIM, AFTER_STS, AFTER_VAULT_WRITE, BEFORE_DELETE)


def no_faults(step: str) -> None:
    """The app's hook: every step passes."""


def kill_self_at(step: str) -> FaultHook:
    """A hook that SIGKILLs this very process when it reaches ``step`` (no cleanup runs)."""
    if step not in STEPS:
        raise ValueError(f"unknown fault step {step!r}; expected one of {', '.join(STEPS)}")

    def hook(reached: str) -> None:
        if reached == step:
            log.warning("Fault point %s reached: killing this process (test setting)", step)
            os.kill(os.getpid(), signal.SIGKILL)

    return hook
