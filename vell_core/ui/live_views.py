"""Live views that cost next to nothing while nothing changes.

Pages refresh their live parts with ``st.fragment(run_every=…)`` every couple of seconds, in
every open tab, whether anything happened or not. Each tick first asks its service for a cheap
change token (one small query, or an in-memory counter); the full read and shaping run only
when the token moved, and otherwise the value shaped last time is drawn again.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, MutableMapping
from typing import Any, TypeVar

T = TypeVar("T")


def reuse_unless_changed(
    store: MutableMapping[str, Any], key: str, token: Hashable, load: Callable[[], T]
) -> T:
    """``load()`` when ``token`` differs from the one kept under ``key``, else the kept value.

    ``store`` is per browser session (``st.session_state``), so nothing crosses users; keep
    only values that may be shown to that session (no secrets).
    """
    kept = store.get(key)
    if kept is not None and kept[0] == token:
        return kept[1]
    value = load()
    store[key] = (token, value)
    return value
