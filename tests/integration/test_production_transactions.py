"""How many transactions a promotion commits: one per step, plus the writes that must come first.

A fresh promotion of an approved onboarding request commits, on the caller's thread:

* 1: the run and its pending connection, inserted with the lease taken;
* 1 per step (9): the step's outcome with what it learned and the next step's name, the last
  one finishing the run and releasing the lease;
* 1: the role name, written ahead of ``CreateRole``;
* 1: the connection's validation outcome (activate), 1: the conversion, 1: the funnel event.

A resumed one (the probe failed) commits the lease claim and the probe's and later steps'.
Audit rows are written by the recorder's own thread and are not counted here. Commits are
counted with SQLAlchemy's ``commit`` engine event; a transaction added back fails the count.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from sqlalchemy import event
from sqlalchemy.engine import Engine

from tests.integration.test_promotion import Harness, harness, onboarding_ready, sandbox
from vell_core.domain.errors import AwsError
from vell_core.domain.models import PromotionStatus

__all__ = ["harness", "sandbox"]  # fixtures used here

FRESH_COMMITS = 14  # was 39 before the steps shared one transaction each
RESUMED_COMMITS = 7  # was 21
FAILED_COMMITS = 9  # the attempt that fails at the probe (was 31)


@contextmanager
def commits(engine: Engine) -> Iterator[list[int]]:
    """Count the transactions committed on this thread while the block runs."""
    thread = threading.get_ident()
    counted: list[int] = []

    def on_commit(_connection: Any) -> None:
        if threading.get_ident() == thread:  # not the audit recorder's writer thread
            counted.append(1)

    event.listen(engine, "commit", on_commit)
    try:
        yield counted
    finally:
        event.remove(engine, "commit", on_commit)


def test_a_fresh_promotion_commits_once_per_step(harness: Harness) -> None:
    h = harness
    delegation_id = onboarding_ready(h)
    with commits(h.engine) as counted:
        view = h.prod.promotion.run(h.member(), delegation_id)
    assert view.done, view.last_error
    assert len(counted) == FRESH_COMMITS


def test_a_resumed_promotion_commits_only_for_the_steps_it_runs(
    harness: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    h = harness
    delegation_id = onboarding_ready(h)
    service = h.prod.promotion

    def fail(ctx: Any) -> str:
        raise AwsError("injected failure", code="Injected")

    monkeypatch.setattr(service.steps, "probe", fail)
    with commits(h.engine) as counted:
        failed = service.run(h.member(), delegation_id)
    assert failed.status is PromotionStatus.FAILED
    assert len(counted) == FAILED_COMMITS
    monkeypatch.undo()

    with commits(h.engine) as counted:
        finished = service.run(h.member(), delegation_id)
    assert finished.done, finished.last_error
    assert len(counted) == RESUMED_COMMITS


def test_reading_a_promotion_commits_nothing(harness: Harness) -> None:
    h = harness
    delegation_id = onboarding_ready(h)
    h.prod.promotion.run(h.member(), delegation_id)
    with commits(h.engine) as counted:
        h.prod.promotion.get(h.member(), delegation_id)
        h.prod.promotion.list(h.member())
        h.prod.connections.list(h.member())
    assert counted == []
