"""Deterministic sample sellers: products, offers, agreements and change sets.

``generate_seller(customer, now, seed)`` builds the JSON document described in ``models.py``
for one sandbox customer; ``write_sample_sellers(data_dir, now)`` writes one file per customer
under ``data_dir/sellers/``. The same seed and "now" always give byte-identical files. Every
date is placed relative to ``now`` (renewals due in 30/60/90 days, offers closing soon, change
sets in the last 60 days) and the loader re-anchors them to the clock's "now".

Money follows the real rules (reference §4.3): offers carry the terms, agreements copy them,
and ``estimatedCharges.agreementValue`` is derived from the accepted terms, never the reverse.
"""

from __future__ import annotations

import json
import random
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from vell_core.config.sandbox_accounts import SANDBOX_CUSTOMERS, SandboxCustomer
from vell_core.domain.clock import ensure_utc
from vell_core.sandbox.marketplace import catalog_data as cd
from vell_core.sandbox.marketplace import terms as tm
from vell_core.sandbox.marketplace.models import (
    BUYER_DIRECTORY_KEY,
    FILE_FORMAT,
    iso_z,
)
from vell_core.sandbox.marketplace.plan import Slot
from vell_core.sandbox.marketplace.profiles import PROFILES, Profile
from vell_core.sandbox.marketplace.rand import IdMaker, add_months, day_end, day_start

DEFAULT_SEED = 20261129
SELLERS_DIRNAME = "sellers"
DAY = timedelta(days=1)
DURATION_WEIGHTS = (("P12M", 60), ("P36M", 20), ("P24M", 12), ("P1M", 8))
BUCKETS = {
    "within_30": (2, 30),
    "within_60": (31, 60),
    "within_90": (61, 90),
    "within_180": (91, 180),
    "later": (181, 1000),
}


class SellerGenerator:
    """Builds one seller's document; every random choice comes from one seeded RNG."""

    def __init__(self, customer: SandboxCustomer, now: datetime, seed: int) -> None:
        self.customer = customer
        self.profile: Profile = PROFILES[customer.seller_size]
        self.now = ensure_utc(now).replace(microsecond=0)
        self.seed = seed
        self.rng = random.Random(f"{seed}:{customer.account_id}")
        self.ids = IdMaker(self.rng)
        self.entities: list[dict[str, Any]] = []
        self.products: list[dict[str, Any]] = []
        self.public_offers: dict[str, dict[str, Any]] = {}
        self.private_offers: list[dict[str, Any]] = []
        self.buyers: dict[str, str] = {}
        self.agreements: list[dict[str, Any]] = []
        self.term_cache = tm.TermCache()

    # -- entry point ------------------------------------------------------------------------

    def build(self) -> dict[str, Any]:
        """The complete seller document."""
        self.buyers = cd.make_buyers(self.rng, self.profile.buyers)
        self._make_products()
        slots = self._plan_agreements()
        self._make_offers(slots)
        self._make_agreements(slots)
        change_sets, sims = cd.make_change_sets(self, self.profile.change_sets)
        return {
            "format": FILE_FORMAT,
            "account_id": self.customer.account_id,
            "company": self.customer.company,
            "seller_size": self.customer.seller_size,
            "generated_at": iso_z(self.now),
            "seed": self.seed,
            "entities": self.entities,
            "change_sets": change_sets,
            "agreements": self.agreements,
            "sim": {"change_sets": sims},
            BUYER_DIRECTORY_KEY: self.buyers,
        }

    # -- catalog ----------------------------------------------------------------------------

    def _make_products(self) -> None:
        for index, spec in enumerate(self.profile.products):
            product = cd.make_product(self, spec, index)
            self.products.append(product)
            self.entities.append(product)
        for product in self.products:
            if product["DetailsDocument"]["Description"].get("Visibility") == "Restricted":
                replacement = self._sellable(product["Meta"]["Pricing"]) or self.products[0]
                product["DetailsDocument"]["Description"]["ReplacementProductId"] = replacement[
                    "EntityId"
                ]

    def _sellable(self, pricing: str) -> dict[str, Any] | None:
        for product in self.products:
            meta = product["Meta"]
            if meta["Pricing"] == pricing and meta["Visibility"] in ("Public", "Limited"):
                return product
        return None

    def _make_offers(self, slots: list[Slot]) -> None:
        for product in self.products:
            offer = cd.make_public_offer(self, product)
            self.public_offers[product["EntityId"]] = offer
            self.entities.append(offer)
        self._make_private_offers(slots)
        cd.make_resale_and_offer_sets(self)

    def _make_private_offers(self, slots: list[Slot]) -> None:
        counts = self.profile.private_offers
        for slot in [s for s in slots if s.offer is not None]:
            self._add_private(cd.make_private_offer(self, slot, "accepted"))
        for state in ("open", "draft", "expired"):
            for _ in range(counts[state]):
                self._add_private(cd.make_private_offer(self, None, state))

    def _add_private(self, offer: dict[str, Any]) -> None:
        self.private_offers.append(offer)
        self.entities.append(offer)

    # -- agreements -------------------------------------------------------------------------

    def _plan_agreements(self) -> list[Slot]:
        slots = self._active_slots() + self._ended_slots()
        self._pair_renewals(slots)
        self._assign_products(slots)
        self._assign_buyers(slots)
        self._mark_private(slots)
        for slot in slots:
            self._schedule(slot)
        for slot in slots:
            slot.agreement_id = self.ids.make("agmt-", 25)
        return slots

    def _active_slots(self) -> list[Slot]:
        mix = self.profile.active
        slots: list[Slot] = []
        for bucket in BUCKETS:
            slots += [Slot("ACTIVE", "contract", bucket) for _ in range(getattr(mix, bucket))]
        slots += [Slot("ACTIVE", "payg") for _ in range(mix.payg)]
        slots += [Slot("ACTIVE", "trial") for _ in range(mix.trials)]
        for _ in range(mix.future_dated):
            slot = Slot("ACTIVE", "contract", "later")
            slot.future = True
            slots.append(slot)
        return slots

    def _ended_slots(self) -> list[Slot]:
        slots: list[Slot] = []
        for status, count in self.profile.ended.items():
            for index in range(count):
                slots.append(Slot(status, self._ended_kind(status, index)))
        return slots

    def _ended_kind(self, status: str, index: int) -> str:
        # Cancellations are mostly monthly SaaS subscriptions; renewals/replacements are contracts.
        if status in ("RENEWED", "REPLACED", "TERMINATED"):
            return "contract"
        share = 0.4 if status == "CANCELLED" else 0.2
        return "payg" if self.rng.random() < share else "contract"

    def _pair_renewals(self, slots: list[Slot]) -> None:
        successors = [
            s for s in slots if s.status == "ACTIVE" and s.kind == "contract" and not s.future
        ]
        self.rng.shuffle(successors)
        for status in ("RENEWED", "REPLACED"):
            for slot in [s for s in slots if s.status == status]:
                if not successors:
                    return
                successor = successors.pop()
                slot.successor, successor.predecessor = successor, slot

    def _assign_products(self, slots: list[Slot]) -> None:
        contract = [p for p in self.products if p["Meta"]["Pricing"] == "contract"]
        usage = [
            p for p in self.products if p["Meta"]["Pricing"] in ("usage", "subscription", "byol")
        ]
        contract = [p for p in contract if p["Meta"]["Visibility"] != "Draft"] or contract
        usage = [p for p in usage if p["Meta"]["Visibility"] != "Draft"] or contract
        for slot in slots:
            if slot.product is not None:
                continue
            pool = contract if slot.kind == "contract" else usage
            if slot.kind == "trial":
                pool = [p for p in usage if p["Meta"]["Pricing"] == "usage"] or usage
            slot.product = self._weighted_product(pool)
            if slot.successor is not None:
                slot.successor.product = slot.product

    def _weighted_product(self, pool: list[dict[str, Any]]) -> dict[str, Any]:
        # Earlier products are the seller's flagships: they carry most of the business.
        weights = [1.0 / (rank + 1) ** 0.7 for rank in range(len(pool))]
        return self.rng.choices(pool, weights)[0]

    def _assign_buyers(self, slots: list[Slot]) -> None:
        accounts = list(self.buyers)
        weights = [1.0 / (rank + 1) ** 0.6 for rank in range(len(accounts))]
        for index, slot in enumerate(slots):
            if slot.buyer:
                continue
            # Cover every buyer once before repeating, then favour the big accounts.
            slot.buyer = (
                accounts[index] if index < len(accounts) else self.rng.choices(accounts, weights)[0]
            )
            if slot.successor is not None:
                slot.successor.buyer = slot.buyer

    def _mark_private(self, slots: list[Slot]) -> None:
        wanted = self.profile.private_offers["accepted"]
        candidates = [
            s
            for s in slots
            if s.kind == "contract" and s.predecessor is None and s.status != "REPLACED"
        ]
        candidates = [s for s in candidates if s.product is not None]
        self.rng.shuffle(candidates)
        replaced = [s for s in slots if s.status == "REPLACED" and s.successor is not None]
        # Agreement-based offers (ABOs) are the private offers behind replacement agreements.
        abo = [s.successor for s in replaced[: self.profile.abo_offers] if s.successor]
        for slot in candidates[:wanted] + abo:
            slot.offer = {}  # placeholder: the offer entity is made once dates are known

    def _schedule(self, slot: Slot) -> None:
        if slot.start is not None:
            return
        if slot.predecessor is not None:
            self._schedule_contract(slot)
            self._schedule_predecessor(slot.predecessor, slot)
        elif slot.status == "ACTIVE":
            self._schedule_active(slot)
        elif slot.successor is None:
            self._schedule_ended(slot)

    def _schedule_active(self, slot: Slot) -> None:
        if slot.kind == "contract":
            self._schedule_contract(slot)
            return
        days_ago = 2 + self.rng.random() * 22 if slot.kind == "trial" else self._age_days()
        slot.acceptance = self._quarter_spike(self.now - timedelta(days=days_ago))
        slot.start = slot.acceptance
        slot.end = None

    def _schedule_contract(self, slot: Slot) -> None:
        if slot.future:
            slot.duration = "P12M"
            slot.acceptance = self.now - timedelta(days=self.rng.uniform(3, 45))
            slot.start = day_start(slot.acceptance + timedelta(days=30))
            slot.end = add_months(slot.start, 12) - timedelta(seconds=1)
            return
        low, high = BUCKETS[slot.bucket or "later"]
        slot.duration = self._duration_for(low, high)
        months = tm.months_of(slot.duration)
        span = (add_months(self.now, months) - self.now).days
        end_day = self.rng.randint(low, max(low, min(high, span - 1)))
        slot.end = day_end(self.now + timedelta(days=end_day))
        slot.start = add_months(slot.end + timedelta(seconds=1), -months)
        slot.acceptance = slot.start - timedelta(hours=self.rng.uniform(1, 72))

    def _duration_for(self, low: int, high: int) -> str:
        choices = [(d, w) for d, w in DURATION_WEIGHTS if tm.months_of(d) * 30 > low + 1]
        names, weights = zip(*choices, strict=True)
        return self.rng.choices(names, weights)[0]

    def _schedule_predecessor(self, slot: Slot, successor: Slot) -> None:
        assert successor.start is not None
        slot.duration = successor.duration
        if slot.status == "RENEWED":
            slot.end = successor.start - timedelta(seconds=1)
            slot.start = add_months(successor.start, -tm.months_of(slot.duration))
        else:  # REPLACED: the agreement-based offer ended it early
            slot.end = successor.start - timedelta(seconds=1)
            slot.start = slot.end - timedelta(days=self.rng.uniform(60, 300))
            slot.start = day_start(slot.start)
        slot.acceptance = slot.start - timedelta(hours=self.rng.uniform(1, 72))

    def _schedule_ended(self, slot: Slot) -> None:
        slot.duration = (
            "P1M"
            if slot.status == "CANCELLED" and self.rng.random() < 0.7
            else self.rng.choices(
                [d for d, _ in DURATION_WEIGHTS[:3]], [w for _, w in DURATION_WEIGHTS[:3]]
            )[0]
        )
        months = tm.months_of(slot.duration)
        if slot.status in ("EXPIRED", "ARCHIVED", "SUPERSEDED", "ROLLED_BACK"):
            end = day_end(self.now - timedelta(days=self.rng.uniform(1, 700)))
            slot.end = end
            slot.start = add_months(end + timedelta(seconds=1), -min(months, 24))
        else:  # CANCELLED / TERMINATED: ended early, at some point of the term
            start = day_start(self.now - timedelta(days=self._age_days()))
            nominal = min(add_months(start, months), self.now - DAY)
            slot.start = start
            slot.end = start + (nominal - start) * self.rng.uniform(0.2, 0.95)
        slot.acceptance = self._quarter_spike(slot.start - timedelta(hours=self.rng.uniform(1, 72)))

    def _age_days(self) -> float:
        # Acceptance over the last 36 months, weighted toward the last 12.
        if self.rng.random() < 0.6:
            return self.rng.uniform(10, 365)
        return self.rng.uniform(365, 1080)

    def _quarter_spike(self, moment: datetime) -> datetime:
        # About 30% of deals close in the last two weeks of a quarter.
        if self.rng.random() >= 0.3:
            return moment
        quarter_end_month = ((moment.month - 1) // 3) * 3 + 3
        quarter_end = add_months(moment.replace(day=1, month=quarter_end_month), 1) - DAY
        candidate = quarter_end - timedelta(days=self.rng.uniform(0, 13))
        return candidate if candidate < self.now else moment

    def _make_agreements(self, slots: list[Slot]) -> None:
        eur = set(self.rng.sample(range(len(slots)), min(self.profile.eur_agreements, len(slots))))
        variable = self.profile.variable_payment_agreements
        for index, slot in enumerate(slots):
            currency = "EUR" if index in eur and slot.kind == "contract" else "USD"
            with_variable = slot.kind == "contract" and slot.offer is not None and variable > 0
            variable -= int(with_variable)
            self.agreements.append(tm.make_agreement(self, slot, currency, with_variable))
        self.agreements.sort(key=lambda a: a["acceptanceTime"])


def generate_seller(customer: SandboxCustomer, now: datetime, seed: int = DEFAULT_SEED) -> dict:
    """The seller document for ``customer`` (deterministic in ``seed`` and ``now``)."""
    return SellerGenerator(customer, now, seed).build()


def seller_path(data_dir: Path, account_id: str) -> Path:
    """``<data_dir>/sellers/<account_id>.json``."""
    return Path(data_dir) / SELLERS_DIRNAME / f"{account_id}.json"


def write_sample_sellers(data_dir: Path, now: datetime, seed: int = DEFAULT_SEED) -> list[Path]:
    """Write ``data_dir/sellers/<account_id>.json`` for every sandbox customer."""
    paths = []
    for customer in SANDBOX_CUSTOMERS:
        path = seller_path(data_dir, customer.account_id)
        path.parent.mkdir(parents=True, exist_ok=True)
        document = generate_seller(customer, now, seed)
        path.write_text(json.dumps(document, separators=(",", ":")), encoding="utf-8")
        paths.append(path)
    return paths


def main(argv: list[str] | None = None) -> int:
    """CLI: ``python -m vell_core.sandbox.marketplace.generator [DATA_DIR] [--now ISO] [--seed N]``.

    The default anchor is fixed (2026-11-29T12:00:00Z) so the committed files regenerate
    byte-for-byte; loading re-anchors them to the clock's "now" anyway.
    """
    import argparse
    import logging

    from vell_core.config.settings import DATA_DIR
    from vell_core.sandbox.marketplace.models import parse_iso

    parser = argparse.ArgumentParser(description="Write the sandbox's sample seller files.")
    parser.add_argument("data_dir", nargs="?", default=str(DATA_DIR))
    parser.add_argument("--now", default="2026-11-29T12:00:00Z")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO)
    for path in write_sample_sellers(Path(args.data_dir), parse_iso(args.now), args.seed):
        logging.getLogger(__name__).info("wrote %s (%d bytes)", path, path.stat().st_size)
    return 0


if __name__ == "__main__":  # pragma: no cover - manual entry point
    raise SystemExit(main())
