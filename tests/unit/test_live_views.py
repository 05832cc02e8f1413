"""Live views re-read only when their change token moves."""

from __future__ import annotations

from vell_core.ui.live_views import reuse_unless_changed


def test_loads_once_per_token_and_again_when_it_changes() -> None:
    store: dict = {}
    loads: list[int] = []

    def load() -> str:
        loads.append(1)
        return f"view {len(loads)}"

    assert reuse_unless_changed(store, "k", ("A", 1), load) == "view 1"
    assert reuse_unless_changed(store, "k", ("A", 1), load) == "view 1"
    assert len(loads) == 1
    assert reuse_unless_changed(store, "k", ("B", 2), load) == "view 2"
    assert len(loads) == 2


def test_keys_are_independent() -> None:
    store: dict = {}
    assert reuse_unless_changed(store, "a", 1, lambda: "first") == "first"
    assert reuse_unless_changed(store, "b", 1, lambda: "second") == "second"
