"""The state machine: forward-only moves, sticky terminal states, coarse statuses."""

from __future__ import annotations

import pytest

from vell_core.domain.lifecycle import is_forward, is_waiting, status_for
from vell_core.domain.models import AwsDelegationState as S
from vell_core.domain.models import DelegationStatus as D


@pytest.mark.parametrize(
    ("current", "reported"),
    [
        (None, S.UNASSIGNED),
        (S.UNASSIGNED, S.ASSIGNED),
        (S.ASSIGNED, S.PENDING_APPROVAL),
        (S.PENDING_APPROVAL, S.ACCEPTED),
        (S.ACCEPTED, S.FINALIZED),
        (S.ASSIGNED, S.REJECTED),
        (S.ACCEPTED, S.REJECTED),
        (S.FINALIZED, S.EXPIRED),
        (S.UNASSIGNED, S.FINALIZED),
        (None, S.FINALIZED),
    ],
)
def test_forward_moves_are_allowed(current: S | None, reported: S) -> None:
    assert is_forward(current, reported)


@pytest.mark.parametrize(
    ("current", "reported"),
    [
        (S.ASSIGNED, S.ASSIGNED),
        (S.ACCEPTED, S.ASSIGNED),
        (S.FINALIZED, S.ACCEPTED),
        (S.FINALIZED, S.REJECTED),
        (S.REJECTED, S.ACCEPTED),
        (S.EXPIRED, S.FINALIZED),
        (S.EXPIRED, S.EXPIRED),
        (S.REJECTED, S.FINALIZED),
        (S.FINALIZED, S.FINALIZED),
    ],
)
def test_backward_and_repeated_moves_are_refused(current: S, reported: S) -> None:
    assert not is_forward(current, reported)


def test_statuses_map_from_aws_states() -> None:
    assert status_for(S.UNASSIGNED) is D.PENDING
    assert status_for(S.PENDING_APPROVAL) is D.PENDING
    assert status_for(S.FINALIZED) is D.APPROVED
    assert status_for(S.REJECTED) is D.REJECTED
    assert status_for(S.EXPIRED) is D.EXPIRED
    assert status_for(S.EXPIRED, D.CONVERTED) is D.CONVERTED


def test_waiting_states() -> None:
    assert is_waiting(S.PENDING_APPROVAL)
    assert not is_waiting(S.FINALIZED)
    assert not is_waiting(S.REJECTED)
