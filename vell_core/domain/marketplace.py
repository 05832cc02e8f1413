"""What a sync collects from a customer's Marketplace: the snapshot the live-demo views shape.

Plain API dicts, as boto3 returns them; pandas-free, so the sync (which builds snapshots on
every page) loads without the frame-shaping code in ``vell_core.views.marketplace``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from vell_core.domain.clock import ensure_utc

PRODUCT_TYPES: tuple[str, ...] = (
    "SaaSProduct",
    "AmiProduct",
    "ContainerProduct",
    "DataProduct",
    "MachineLearningProduct",
)


@dataclass(frozen=True)
class MarketplaceSnapshot:
    """Everything synced so far for one delegation (plain API dicts, never mutated)."""

    account_id: str
    taken_at: datetime
    products: Mapping[str, dict[str, Any]] = field(default_factory=dict)
    product_details: Mapping[str, dict[str, Any]] = field(default_factory=dict)
    offers: Mapping[str, dict[str, Any]] = field(default_factory=dict)
    offer_details: Mapping[str, dict[str, Any]] = field(default_factory=dict)
    change_sets: Sequence[dict[str, Any]] = ()
    agreements: Mapping[str, dict[str, Any]] = field(default_factory=dict)
    agreement_details: Mapping[str, dict[str, Any]] = field(default_factory=dict)
    agreement_terms: Mapping[str, list[dict[str, Any]]] = field(default_factory=dict)


def catalog_time(value: str | datetime | None) -> datetime | None:
    """A Catalog date string (``2026-09-05T14:20:11Z``, with or without ms) as aware UTC."""
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return ensure_utc(value)
    text = value.strip()
    if len(text) == 10:
        text += "T00:00:00Z"
    return ensure_utc(datetime.fromisoformat(text.replace("Z", "+00:00")))
