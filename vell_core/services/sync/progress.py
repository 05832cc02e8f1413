"""What a sync reports: progress per kind of data, the demo state pages render, the picker."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from vell_core.domain.marketplace import MarketplaceSnapshot
from vell_core.domain.models import (
    DelegationPath,
)
from vell_core.services.delegation import DelegationView

log = logging.getLogger(__name__)


class Kind(StrEnum):
    """What a progress counter counts."""

    PRODUCTS = "Products"
    PRODUCT_DETAILS = "Product details"
    OFFERS = "Offers"
    OFFER_DETAILS = "Offer details"
    CHANGE_SETS = "Change sets"
    AGREEMENTS = "Agreements"
    AGREEMENT_DETAILS = "Agreement values"
    AGREEMENT_TERMS = "Agreement terms"


@dataclass(frozen=True)
class KindProgress:
    """How far one kind of data has got."""

    kind: Kind
    done: int
    total: int
    complete: bool

    @property
    def label(self) -> str:
        """``Offer details 120/500``."""
        return f"{self.kind.value} {self.done}/{self.total}" + ("" if self.complete else "…")


@dataclass(frozen=True)
class SyncStats:
    """Counters for the page's footer and the benchmark."""

    api_calls: int
    calls_by_operation: dict[str, int]
    retries: int
    throttled: int
    listed: dict[str, int]  # items received per listing, counting any duplicate twice
    first_screen_seconds: float | None
    full_seconds: float | None
    demo_ready_seconds: float | None = None  # products, offers, change sets, active agreements


@dataclass(frozen=True)
class SyncProgress:
    """What the progress fragment shows."""

    state: str  # "running" | "done" | "failed"
    first_screen_ready: bool
    kinds: tuple[KindProgress, ...]
    stats: SyncStats
    error: str | None = None

    @property
    def fraction(self) -> float:
        """Share of known items fetched (0–1)."""
        total = sum(k.total for k in self.kinds)
        done = sum(k.done for k in self.kinds)
        if self.state == "done":
            return 1.0
        return done / total if total else 0.0

    @property
    def finished(self) -> bool:
        """True once nothing more will arrive."""
        return self.state in ("done", "failed")


@dataclass(frozen=True)
class DemoState:
    """Everything a live-demo page needs from one service call."""

    delegation: DelegationView
    snapshot: MarketplaceSnapshot
    progress: SyncProgress
    now: datetime
    expires_at: datetime

    @property
    def writable(self) -> bool:
        """Listing updates are possible only in a trial (full-access policy)."""
        return self.delegation.path is DelegationPath.TRIAL

    @property
    def write_refusal(self) -> str | None:
        """Why the listing-update control is disabled, or None."""
        return write_refusal(self.delegation)


@dataclass(frozen=True)
class LiveHeader:
    """The live demo's header: sync progress and the access countdown (no customer data)."""

    progress: SyncProgress
    now: datetime
    expires_at: datetime
    writable: bool


def write_refusal(view: DelegationView) -> str | None:
    """Why listing updates are refused for this delegation, or None when allowed."""
    if view.path is DelegationPath.TRIAL:
        return None
    return (
        "Read-only demo: the customer approved read-only access (Quick Start Demo), so AWS "
        "refuses listing updates. Launch an Extended Trial to update listings."
    )


@dataclass(frozen=True)
class DelegationChoice:
    """A delegation the rep can browse."""

    delegation_id: int
    label: str
    live: bool
    expires_at: datetime | None
    renewable: bool = False
