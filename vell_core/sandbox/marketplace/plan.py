"""What the sample-seller generator works on: the seller being drafted and its agreement plan.

``SellerDraft`` is the generator's state as the data builders (``catalog_data``, ``terms``,
``changeset_data``) see it, so they depend on this module and not on the generator that calls
them (no import cycle). ``Slot`` is one planned agreement.
"""

from __future__ import annotations

import math
import random
from datetime import datetime
from typing import Any, Protocol

from vell_core.config.sandbox_accounts import SandboxCustomer
from vell_core.sandbox.marketplace.profiles import Profile
from vell_core.sandbox.marketplace.rand import IdMaker


class TermBodies(Protocol):
    """Converted offer-term bodies, cached per (offer, term object)."""

    def body(self, offer_id: str, term: dict[str, Any]) -> dict[str, Any]:
        """A fresh top-level copy of the converted term body."""
        ...


class SellerDraft(Protocol):
    """The seller document under construction (``SellerGenerator`` is one)."""

    customer: SandboxCustomer
    profile: Profile
    now: datetime
    seed: int
    rng: random.Random
    ids: IdMaker
    entities: list[dict[str, Any]]
    products: list[dict[str, Any]]
    public_offers: dict[str, dict[str, Any]]
    private_offers: list[dict[str, Any]]
    buyers: dict[str, str]
    agreements: list[dict[str, Any]]

    @property
    def term_cache(self) -> TermBodies:
        """Offer terms converted once per offer (read-only here, so any cache will do)."""
        ...


class Slot:
    """One agreement being planned: status, kind, links and (later) dates and terms."""

    def __init__(self, status: str, kind: str, bucket: str | None = None) -> None:
        self.status = status
        self.kind = kind  # contract | payg | trial
        self.bucket = bucket
        self.future = False
        self.buyer = ""
        self.product: dict[str, Any] | None = None
        self.offer: dict[str, Any] | None = None  # a private offer entity, when from one
        self.successor: Slot | None = None
        self.predecessor: Slot | None = None
        self.duration = "P12M"
        self.acceptance: datetime | None = None
        self.start: datetime | None = None
        self.end: datetime | None = None
        self.agreement_id = ""


def lognormal_tcv(rng: random.Random) -> int:
    """A contract value: log-normal, median ~$48k, p90 ~$250k, clipped to $6k–$1.2M."""
    value = math.exp(rng.gauss(math.log(48_000), 1.29))
    return int(min(1_200_000, max(6_000, round(value, -2))))
