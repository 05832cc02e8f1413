"""Generated change-set history: ~60 days of private-offer creation, listing edits,
deadline extensions, failures, cancellations and a few sets still in flight.

Revisions are replayed in time order so every ``Entity.Identifier`` (``id@rev``) in history
and every entity's final revision and ``LastModifiedDate`` agree (reference §4.2: revision
starts at 1 and grows by one per SUCCEEDED change that touches the entity).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from vell_core.sandbox.marketplace.models import PRODUCT_TYPES, iso_z, parse_iso
from vell_core.sandbox.marketplace.plan import SellerDraft

WINDOW = timedelta(days=60)
FAILURE_DESCRIPTION = "Change set preparation has failed. For details see 'ErrorDetailList'."
FAILURES = (
    (
        "UpdatePaymentScheduleTerms",
        "INCOMPATIBLE_TERMS",
        "Use either UpdatePaymentScheduleTerms with specific payment amount or UpdateMarkup with a "
        "single markup percentage for the scheduled dates.",
    ),
    (
        "UpdatePricingTerms",
        "INCOMPATIBLE_PRODUCT",
        "The pricing model of the offer is not compatible with the product's dimensions.",
    ),
    (
        "UpdateAvailability",
        "INVALID_INPUT",
        "AvailabilityEndDate must be later than the current date.",
    ),
)


@dataclass
class _Plan:
    start: datetime
    status: str
    changes: list[dict[str, Any]]
    name: str = ""
    duration: timedelta = field(default_factory=lambda: timedelta(minutes=11))
    failure: tuple[str, str, str] | None = None
    sim: dict[str, float] | None = None


class ChangeSetHistory:
    """Plans change sets for one generated seller and replays revisions."""

    def __init__(self, gen: SellerDraft, counts: dict[str, int]) -> None:
        self.gen = gen
        self.rng = gen.rng
        self.counts = counts
        self.account = gen.customer.account_id
        self.by_id = {e["EntityId"]: e for e in gen.entities}
        self.busy: set[str] = set()  # entities locked by generated in-flight sets

    # -- planning ---------------------------------------------------------------------------

    def build(self) -> tuple[list[dict[str, Any]], dict[str, Any]]:
        """(change-set documents, simulator timings) with entity revisions updated."""
        plans = self._in_flight()
        creations = self._creations()
        wanted = self.counts.get("SUCCEEDED", 0) - len(creations)
        plans += creations + self._updates(wanted) + self._failures()
        plans += self._cancellations()
        plans.sort(key=lambda plan: plan.start)
        for index, plan in enumerate(plans):
            plan.name = plan.name or self._name(index, plan)
        return self._replay(plans)

    def _products(self, *visibilities: str) -> list[dict[str, Any]]:
        return [
            e
            for e in self.gen.products
            if not visibilities or e["Meta"]["Visibility"] in visibilities
        ]

    def _offers(self, *kinds: str) -> list[dict[str, Any]]:
        return [o for o in self.gen.private_offers if o["Meta"].get("Kind") in kinds]

    def _when(self, low_days: float = 0.5, high_days: float = 59.0) -> datetime:
        return self.gen.now - timedelta(days=self.rng.uniform(low_days, high_days))

    def _in_flight(self) -> list[_Plan]:
        plans = []
        limited = self._products("Limited")
        for index in range(self.counts.get("PREPARING", 0)):
            if index == 0 and limited:  # AWS review of a visibility change takes days
                target, change = limited[0], _visibility_change(limited[0])
                start, prepare = self.gen.now - timedelta(days=1, hours=3), 4 * 86400.0
            else:
                target = self._free(self._products("Public", "Limited", "Restricted"))
                change = _information_change(target)
                start = self.gen.now - timedelta(minutes=self.rng.uniform(5, 50))
                prepare = 6 * 3600.0
            self.busy.add(target["EntityId"])
            plans.append(
                _Plan(
                    start,
                    "PREPARING",
                    [change],
                    sim={"PrepareSeconds": prepare, "ApplySeconds": 1800.0},
                )
            )
        for _ in range(self.counts.get("APPLYING", 0)):
            target = self._free(self._offers("open") or self._products())
            start = self.gen.now - timedelta(hours=2)
            self.busy.add(target["EntityId"])
            sim = {"PrepareSeconds": 3600.0, "ApplySeconds": 12 * 3600.0}
            plans.append(_Plan(start, "APPLYING", [_availability_change(target)], sim=sim))
        return plans

    def _free(self, pool: list[dict[str, Any]]) -> dict[str, Any]:
        free = [e for e in pool if e["EntityId"] not in self.busy]
        return self.rng.choice(free or pool)

    def _creations(self) -> list[_Plan]:
        offers = [
            o
            for o in self.gen.private_offers
            if parse_iso(o["Meta"]["CreatedDate"]) > self.gen.now - WINDOW + timedelta(days=1)
            and o["EntityId"] not in self.busy
        ]
        offers.sort(key=lambda o: o["Meta"]["CreatedDate"], reverse=True)
        budget = self.counts.get("SUCCEEDED", 0) * 3 // 4
        plans = []
        for offer in offers[:budget]:
            start = parse_iso(offer["Meta"]["CreatedDate"])
            plan = _Plan(
                start, "SUCCEEDED", _creation_changes(offer), duration=timedelta(minutes=25)
            )
            if "ReleaseDate" in offer["Meta"]:  # released by the set's ReleaseOffer change
                offer["Meta"]["ReleaseDate"] = iso_z(start + plan.duration)
            plans.append(plan)
        return plans

    def _updates(self, wanted: int) -> list[_Plan]:
        plans = []
        products = self._products("Public", "Limited", "Restricted") or self._products()
        offers = self._offers("open", "accepted") or products
        for index in range(max(0, wanted)):
            kind = index % 4
            if kind == 0:
                plans.append(
                    _Plan(
                        self._when(), "SUCCEEDED", [_information_change(self.rng.choice(products))]
                    )
                )
            elif kind == 1:
                plans.append(
                    _Plan(
                        self._when(), "SUCCEEDED", [_availability_change(self.rng.choice(offers))]
                    )
                )
            elif kind == 2:
                target = self.rng.choice(
                    [p for p in products if p["EntityType"] != "AmiProduct"] or products
                )
                plans.append(_Plan(self._when(), "SUCCEEDED", [_dimension_change(target, index)]))
            else:
                offer = self.rng.choice(offers)
                change = {
                    "ChangeType": "UpdateInformation",
                    "Entity": _entity(offer),
                    "DetailsDocument": {
                        "Name": offer["DetailsDocument"]["Name"],
                        "Description": offer["DetailsDocument"]["Description"],
                    },
                }
                plans.append(_Plan(self._when(), "SUCCEEDED", [change]))
        return plans

    def _failures(self) -> list[_Plan]:
        plans = []
        offers = self._offers("open", "accepted", "expired") or self._products()
        for index in range(self.counts.get("FAILED", 0)):
            change_type, code, message = FAILURES[index % len(FAILURES)]
            offer = self.rng.choice(offers)
            details = _failed_details(change_type, self.gen.now)
            change = {
                "ChangeType": change_type,
                "Entity": _entity(offer),
                "DetailsDocument": details,
                "ErrorDetailList": [{"ErrorCode": code, "ErrorMessage": message}],
            }
            plans.append(
                _Plan(self._when(), "FAILED", [change], failure=(change_type, code, message))
            )
        return plans

    def _cancellations(self) -> list[_Plan]:
        products = self._products("Public", "Limited", "Draft") or self._products()
        return [
            _Plan(
                self._when(),
                "CANCELLED",
                [_information_change(self.rng.choice(products))],
                duration=timedelta(minutes=3),
            )
            for _ in range(self.counts.get("CANCELLED", 0))
        ]

    def _name(self, index: int, plan: _Plan) -> str:
        if index % 2 == 0:
            return f"Submitted by {self.account}"
        first = plan.changes[0]
        target = self.by_id.get(first["Entity"].get("Identifier", ""), {})
        if first["ChangeType"] == "CreateOffer":
            buyer = self.gen.buyers.get(_buyers_of(plan)[0] if _buyers_of(plan) else "", "buyer")
            slug = buyer.split()[0].lower()
            return f"po-{slug}-{plan.start.year}"
        if first["ChangeType"] == "UpdateAvailability":
            return f"extend-{target.get('EntityId', 'offer')[-6:]}"
        return f"listing-refresh-{plan.start:%Y%m%d}"

    # -- replay -----------------------------------------------------------------------------

    def _replay(self, plans: list[_Plan]) -> tuple[list[dict[str, Any]], dict[str, Any]]:
        revisions: dict[str, int] = {}
        documents, sims = [], {}
        for plan in plans:
            change_set_id = self.gen.ids.make("", 25)
            changes = self._resolve(plan, revisions)
            document: dict[str, Any] = {
                "ChangeSetId": change_set_id,
                "ChangeSetName": plan.name,
                "Intent": "APPLY",
                "StartTime": iso_z(plan.start),
                "Status": plan.status,
                "ChangeSet": changes,
            }
            if plan.sim is None:
                document["EndTime"] = iso_z(plan.start + plan.duration)
            else:
                sims[change_set_id] = plan.sim
            if plan.failure is not None:
                document["FailureCode"] = "CLIENT_ERROR"
                document["FailureDescription"] = FAILURE_DESCRIPTION
            documents.append(document)
        self._settle(revisions)
        return documents, sims

    def _resolve(self, plan: _Plan, revisions: dict[str, int]) -> list[dict[str, Any]]:
        resolved = []
        for change in plan.changes:
            entity_id = change["Entity"]["Identifier"]
            if entity_id not in revisions:
                created = change["ChangeType"] == "CreateOffer"
                revisions[entity_id] = 0 if created else self._base_revision(entity_id)
            if plan.status == "SUCCEEDED":
                revisions[entity_id] += 1
                self.by_id[entity_id]["LastModifiedDate"] = iso_z(plan.start + plan.duration)
            item = {
                **change,
                "Entity": {
                    **change["Entity"],
                    "Identifier": f"{entity_id}@{max(1, revisions[entity_id])}",
                },
            }
            resolved.append(item)
        return resolved

    def _base_revision(self, entity_id: str) -> int:
        # History before the 60-day window: a few older revisions.
        return int(self.by_id[entity_id]["Revision"])

    def _settle(self, revisions: dict[str, int]) -> None:
        for entity_id, revision in revisions.items():
            self.by_id[entity_id]["Revision"] = max(1, revision)


def _entity(entity: dict[str, Any]) -> dict[str, str]:
    return {"Type": f"{entity['EntityType']}@1.0", "Identifier": entity["EntityId"]}


def _buyers_of(plan: _Plan) -> list[str]:
    for change in plan.changes:
        if change["ChangeType"] == "UpdateTargeting":
            return list(change["DetailsDocument"]["PositiveTargeting"]["BuyerAccounts"])
    return []


def _visibility_change(product: dict[str, Any]) -> dict[str, Any]:
    return {
        "ChangeType": "UpdateVisibility",
        "Entity": _entity(product),
        "DetailsDocument": {"TargetVisibility": "Public"},
    }


def _information_change(product: dict[str, Any]) -> dict[str, Any]:
    description = product["DetailsDocument"]["Description"]
    document = {
        key: description[key]
        for key in (
            "ProductTitle",
            "ShortDescription",
            "LongDescription",
            "Highlights",
            "SearchKeywords",
            "Categories",
        )
        if key in description
    }
    return {
        "ChangeType": "UpdateInformation",
        "Entity": _entity(product),
        "DetailsDocument": document,
    }


def _availability_change(offer: dict[str, Any]) -> dict[str, Any]:
    end = next(
        (
            r["AvailabilityEndDate"]
            for r in offer["DetailsDocument"].get("Rules", [])
            if r["Type"] == "AvailabilityRule"
        ),
        None,
    )
    if offer["EntityType"] != "Offer" or end is None:
        return (
            _information_change(offer)
            if offer["EntityType"] in PRODUCT_TYPES
            else {
                "ChangeType": "UpdateInformation",
                "Entity": _entity(offer),
                "DetailsDocument": {"Name": offer["DetailsDocument"]["Name"]},
            }
        )
    return {
        "ChangeType": "UpdateAvailability",
        "Entity": _entity(offer),
        "DetailsDocument": {"AvailabilityEndDate": end},
    }


def _dimension_change(product: dict[str, Any], index: int) -> dict[str, Any]:
    key = f"SeatPack{index}"
    document = [
        {
            "Key": key,
            "Description": "Seat pack",
            "Name": f"Seat pack {index}",
            "Types": ["Entitled"],
            "Unit": "Users",
        }
    ]
    dims = product["DetailsDocument"].setdefault("Dimensions", [])
    dims.append(document[0])
    return {"ChangeType": "AddDimensions", "Entity": _entity(product), "DetailsDocument": document}


def _failed_details(change_type: str, now: datetime) -> dict[str, Any]:
    if change_type == "UpdatePaymentScheduleTerms":
        return {
            "Terms": [
                {
                    "Type": "PaymentScheduleTerm",
                    "CurrencyCode": "USD",
                    "Schedule": [
                        {
                            "ChargeDate": iso_z(now - timedelta(days=90)).replace("Z", ".000Z"),
                            "ChargeAmount": "15000.00",
                        }
                    ],
                }
            ]
        }
    if change_type == "UpdatePricingTerms":
        return {
            "PricingModel": "Usage",
            "Terms": [
                {
                    "Type": "UsageBasedPricingTerm",
                    "CurrencyCode": "USD",
                    "RateCards": [{"RateCard": [{"DimensionKey": "unknown_dim", "Price": "0.10"}]}],
                }
            ],
        }
    return {"AvailabilityEndDate": iso_z(now - timedelta(days=120)).replace("Z", ".999Z")}


def _creation_changes(offer: dict[str, Any]) -> list[dict[str, Any]]:
    """CreateOffer … ReleaseOffer: the 8–10 changes that build one private offer."""
    details = offer["DetailsDocument"]
    entity = _entity(offer)
    by_type: dict[str, list[dict[str, Any]]] = {}
    for term in details["Terms"]:
        by_type.setdefault(term["Type"], []).append(term)
    rules = {r["Type"]: r for r in details["Rules"]}
    changes: list[dict[str, Any]] = [
        {
            "ChangeType": "CreateOffer",
            "ChangeName": "CreateOfferChange",
            "Entity": entity,
            "DetailsDocument": {"ProductId": details["ProductId"]},
        },
        {
            "ChangeType": "UpdateInformation",
            "Entity": entity,
            "DetailsDocument": {"Name": details["Name"], "Description": details["Description"]},
        },
        {
            "ChangeType": "UpdateTargeting",
            "Entity": entity,
            "DetailsDocument": {"PositiveTargeting": rules["TargetingRule"]["PositiveTargeting"]},
        },
        {
            "ChangeType": "UpdateLegalTerms",
            "Entity": entity,
            "DetailsDocument": {"Terms": by_type.get("LegalTerm", [])},
        },
        {
            "ChangeType": "UpdateSupportTerms",
            "Entity": entity,
            "DetailsDocument": {"Terms": by_type.get("SupportTerm", [])},
        },
    ]
    pricing = [
        t
        for t in details["Terms"]
        if t["Type"] in ("FixedUpfrontPricingTerm", "UsageBasedPricingTerm")
    ]
    changes.append(
        {
            "ChangeType": "UpdatePricingTerms",
            "Entity": entity,
            "DetailsDocument": {"PricingModel": "Contract", "Terms": pricing},
        }
    )
    changes.append(
        {
            "ChangeType": "UpdateValidityTerms",
            "Entity": entity,
            "DetailsDocument": {"Terms": by_type.get("ValidityTerm", [])},
        }
    )
    if "PaymentScheduleTerm" in by_type:
        changes.append(
            {
                "ChangeType": "UpdatePaymentScheduleTerms",
                "Entity": entity,
                "DetailsDocument": {"Terms": by_type["PaymentScheduleTerm"]},
            }
        )
    if "RenewalTerm" in by_type:
        changes.append(
            {
                "ChangeType": "UpdateRenewalTerms",
                "Entity": entity,
                "DetailsDocument": {"Terms": by_type["RenewalTerm"]},
            }
        )
    changes.append(
        {
            "ChangeType": "UpdateAvailability",
            "Entity": entity,
            "DetailsDocument": {
                "AvailabilityEndDate": rules["AvailabilityRule"]["AvailabilityEndDate"]
            },
        }
    )
    if details["State"] == "Released":
        changes.append({"ChangeType": "ReleaseOffer", "Entity": entity, "DetailsDocument": {}})
    return changes
