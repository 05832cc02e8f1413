"""Per-account seller state for the Marketplace sandbox, and its JSON file format.

File format (``data/sellers/<account_id>.json``, written by ``generator.write_sample_sellers``):

- ``generated_at``: the "now" the sample was generated against (the anchor);
- ``entities``, ``change_sets``, ``agreements``: documents in the API's own member names, with
  every date written as an absolute ISO-8601 string (``YYYY-MM-DDTHH:MM:SSZ`` or with ``.mmm``);
- ``sim``: simulator-only members (change-set timings, term ids) that the API never returns;
- ``x-buyer-directory``: account id → invented company name (a side table the API never
  returns; the dashboard joins it in demo mode only).

Dates are relative in effect: on load every ISO date is shifted by the whole number of days
between ``generated_at`` and the clock's "now" (equivalent to storing offsets from the anchor),
so renewals due "in 30 days" stay 30 days out whenever the file is loaded. Whole days keep
midnight charge dates at midnight; flooring keeps past events in the past.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from vell_core.domain.clock import ensure_utc

FILE_FORMAT = 1
BUYER_DIRECTORY_KEY = "x-buyer-directory"
CATALOG_NAME = "AWSMarketplace"
MARKETPLACE_REGION = "us-east-1"
OPEN_STATUSES = frozenset({"PREPARING", "APPLYING"})
# Agreement members that are timestamps (datetime objects in handler output).
AGREEMENT_TIME_KEYS = frozenset(
    {
        "acceptanceTime",
        "startTime",
        "endTime",
        "chargeDate",
        "agreementStartDate",
        "agreementEndDate",
        "trialEndTime",
    }
)
PRODUCT_TYPES = frozenset(
    {"SaaSProduct", "AmiProduct", "ContainerProduct", "DataProduct", "MachineLearningProduct"}
)


# ----------------------------------------------------------------------------------------------
# Dates


def iso_z(moment: datetime) -> str:
    """``YYYY-MM-DDTHH:MM:SSZ``: the Catalog's summary date format (exactly 20 characters)."""
    return ensure_utc(moment).strftime("%Y-%m-%dT%H:%M:%SZ")


def iso_ms(moment: datetime) -> str:
    """``YYYY-MM-DDTHH:MM:SS.mmmZ``: the date format inside Catalog documents."""
    value = ensure_utc(moment)
    return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"


def parse_iso(text: str) -> datetime:
    """Parse ``…Z`` ISO-8601 (with or without milliseconds, or a bare date) as aware UTC."""
    value = text.strip()
    if len(value) == 10:
        value += "T00:00:00Z"
    return ensure_utc(datetime.fromisoformat(value.replace("Z", "+00:00")))


def _looks_like_iso(text: str) -> bool:
    # Cheap shape test first: only 20- and 24-character Z timestamps are dates in our files
    # (bare dates such as EULA versions "2022-07-14" must not move).
    return len(text) in (20, 24) and text[4] == "-" and text[10] == "T" and text[-1] == "Z"


def shift_dates(value: Any, delta: timedelta) -> Any:
    """Return ``value`` with every ISO timestamp string moved by ``delta``."""
    if isinstance(value, str):
        if not _looks_like_iso(value):
            return value
        moved = parse_iso(value) + delta
        return iso_z(moved) if len(value) == 20 else iso_ms(moved)
    if isinstance(value, dict):
        return {key: shift_dates(item, delta) for key, item in value.items()}
    if isinstance(value, list):
        return [shift_dates(item, delta) for item in value]
    return value


def anchor_delta(generated_at: datetime, now: datetime) -> timedelta:
    """Whole days from the generation anchor to ``now`` (floored)."""
    return timedelta(days=(ensure_utc(now) - ensure_utc(generated_at)) // timedelta(days=1))


def to_agreement_times(value: Any) -> Any:
    """Convert the ISO strings under Agreement timestamp keys to aware datetimes."""
    if isinstance(value, dict):
        return {
            key: parse_iso(item)
            if key in AGREEMENT_TIME_KEYS and isinstance(item, str)
            else to_agreement_times(item)
            for key, item in value.items()
        }
    if isinstance(value, list):
        return [to_agreement_times(item) for item in value]
    return value


# ----------------------------------------------------------------------------------------------
# State objects


def entity_arn(account_id: str, entity_type: str, entity_id: str) -> str:
    """``arn:aws:aws-marketplace:us-east-1:<acct>:AWSMarketplace/<Type>/<id>``."""
    return (
        f"arn:aws:aws-marketplace:{MARKETPLACE_REGION}:{account_id}:"
        f"{CATALOG_NAME}/{entity_type}/{entity_id}"
    )


def change_set_arn(account_id: str, change_set_id: str) -> str:
    """The ARN of a change set."""
    return entity_arn(account_id, "ChangeSet", change_set_id)


@dataclass
class Entity:
    """A Catalog entity: its DetailsDocument plus revision bookkeeping."""

    entity_id: str
    entity_type: str  # bare name, e.g. "Offer"
    details: dict[str, Any]
    revision: int
    last_modified: datetime
    ownership: str = "SELF"  # "SELF" or "SHARED" (shared with this account through AWS RAM)
    version: str = "1.0"
    # Simulator-only facts the API never returns as such (ReleaseDate, pricing, …).
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def versioned_type(self) -> str:
        """``Offer@1.0``: the form change sets and DescribeEntity use."""
        return f"{self.entity_type}@{self.version}"

    @property
    def identifier(self) -> str:
        """``EntityId@RevisionId``."""
        return f"{self.entity_id}@{self.revision}"

    def bump(self, when: datetime) -> None:
        """Record one applied change: next revision, new LastModifiedDate."""
        self.revision += 1
        self.last_modified = when


@dataclass
class Change:
    """One change inside a change set."""

    change_type: str
    entity_type: str  # versioned, e.g. "Offer@1.0"
    entity_id: str
    details: Any  # the DetailsDocument (object or, for AddDimensions, a list)
    change_name: str | None = None
    revision: int | None = None  # revision the change produced or targeted, once known
    errors: list[dict[str, str]] = field(default_factory=list)


@dataclass
class ChangeSet:
    """A change set and its (lazily evaluated) lifecycle timings."""

    change_set_id: str
    name: str
    intent: str
    start_time: datetime
    changes: list[Change]
    prepare_seconds: float
    apply_seconds: float
    final_status: str | None = None  # SUCCEEDED / FAILED / CANCELLED once terminal
    end_time: datetime | None = None
    failure_code: str | None = None
    failure_description: str | None = None
    client_token: str | None = None

    def timeline_status(self, now: datetime) -> str:
        """Status at ``now`` from the timings alone (terminal states win)."""
        if self.final_status is not None:
            return self.final_status
        elapsed = (now - self.start_time).total_seconds()
        if elapsed < self.prepare_seconds:
            return "PREPARING"
        if self.intent == "APPLY" and elapsed < self.prepare_seconds + self.apply_seconds:
            return "APPLYING"
        return "SUCCEEDED"

    def due_at(self) -> datetime:
        """When an open change set completes if nothing cancels it."""
        extra = self.apply_seconds if self.intent == "APPLY" else 0.0
        return self.start_time + timedelta(seconds=self.prepare_seconds + extra)

    def entity_ids(self) -> list[str]:
        """Entity ids the set touches, first-seen order."""
        return list(dict.fromkeys(change.entity_id for change in self.changes))


@dataclass
class Agreement:
    """A purchase agreement: summary members, estimated charges and what it accepted.

    Accepted terms are stored by reference (``spec`` names the offer's term types plus the
    buyer's choices) and materialised on first use; ``offer_terms`` is the offer's term list
    as it was at load time, so later offer edits do not rewrite signed agreements.
    """

    summary: dict[str, Any]  # AgreementViewSummary members, timestamps as datetimes
    estimated_charges: dict[str, str]
    spec: dict[str, Any]
    offer_terms: list[dict[str, Any]]
    cached_terms: list[dict[str, Any]] | None = None

    @property
    def agreement_id(self) -> str:
        """The ``agmt-…`` id."""
        return str(self.summary["agreementId"])

    @property
    def end_time(self) -> datetime | None:
        """``endTime`` (None for pay-as-you-go)."""
        return self.summary.get("endTime")


@dataclass
class SellerState:
    """Everything one seller account owns in the sandbox."""

    account_id: str
    company: str = ""
    entities: dict[str, Entity] = field(default_factory=dict)
    change_sets: dict[str, ChangeSet] = field(default_factory=dict)
    agreements: dict[str, Agreement] = field(default_factory=dict)
    buyers: dict[str, str] = field(default_factory=dict)
    lock: threading.RLock = field(default_factory=threading.RLock, repr=False)

    def open_change_sets(self, now: datetime) -> list[ChangeSet]:
        """Change sets still PREPARING or APPLYING at ``now``."""
        return [cs for cs in self.change_sets.values() if cs.timeline_status(now) in OPEN_STATUSES]

    def locking_change_set(self, entity_id: str, now: datetime) -> ChangeSet | None:
        """The open change set that locks ``entity_id``, if any."""
        for change_set in self.open_change_sets(now):
            if entity_id in change_set.entity_ids():
                return change_set
        return None


# ----------------------------------------------------------------------------------------------
# Loading


def _entity_from_doc(doc: dict[str, Any]) -> Entity:
    return Entity(
        entity_id=doc["EntityId"],
        entity_type=doc["EntityType"],
        details=doc["DetailsDocument"],
        revision=int(doc["Revision"]),
        last_modified=parse_iso(doc["LastModifiedDate"]),
        ownership=doc.get("OwnershipType", "SELF"),
        meta=dict(doc.get("Meta", {})),
    )


def _change_from_doc(doc: dict[str, Any]) -> Change:
    entity_id, _, revision = doc["Entity"]["Identifier"].partition("@")
    return Change(
        change_type=doc["ChangeType"],
        entity_type=doc["Entity"]["Type"],
        entity_id=entity_id,
        details=doc["DetailsDocument"],
        change_name=doc.get("ChangeName"),
        revision=int(revision) if revision else None,
        errors=list(doc.get("ErrorDetailList", [])),
    )


def _change_set_from_doc(doc: dict[str, Any], sim: dict[str, Any]) -> ChangeSet:
    status = doc["Status"]
    return ChangeSet(
        change_set_id=doc["ChangeSetId"],
        name=doc["ChangeSetName"],
        intent=doc.get("Intent", "APPLY"),
        start_time=parse_iso(doc["StartTime"]),
        changes=[_change_from_doc(change) for change in doc["ChangeSet"]],
        prepare_seconds=float(sim.get("PrepareSeconds", 0)),
        apply_seconds=float(sim.get("ApplySeconds", 0)),
        final_status=None if status in OPEN_STATUSES else status,
        end_time=parse_iso(doc["EndTime"]) if doc.get("EndTime") else None,
        failure_code=doc.get("FailureCode"),
        failure_description=doc.get("FailureDescription"),
    )


def _agreement_from_doc(doc: dict[str, Any], entities: dict[str, Entity]) -> Agreement:
    summary = {k: v for k, v in doc.items() if k not in ("estimatedCharges", "termSpec")}
    spec = doc["termSpec"]
    offer = entities.get(spec["offerId"])
    return Agreement(
        summary=to_agreement_times(summary),
        estimated_charges=dict(doc["estimatedCharges"]),
        spec=spec,
        offer_terms=list(offer.details.get("Terms", [])) if offer else [],
    )


def seller_from_document(document: dict[str, Any], now: datetime) -> SellerState:
    """Build live state from a seller file's document, re-anchored to ``now``."""
    delta = anchor_delta(parse_iso(document["generated_at"]), now)
    shifted = shift_dates(
        {k: document[k] for k in ("entities", "change_sets", "agreements")}, delta
    )
    sims = document.get("sim", {}).get("change_sets", {})
    state = SellerState(
        account_id=document["account_id"],
        company=document.get("company", ""),
        buyers=dict(document.get(BUYER_DIRECTORY_KEY, {})),
    )
    for doc in shifted["entities"]:
        entity = _entity_from_doc(doc)
        state.entities[entity.entity_id] = entity
    for doc in shifted["change_sets"]:
        change_set = _change_set_from_doc(doc, sims.get(doc["ChangeSetId"], {}))
        state.change_sets[change_set.change_set_id] = change_set
    for doc in shifted["agreements"]:
        agreement = _agreement_from_doc(doc, state.entities)
        state.agreements[agreement.agreement_id] = agreement
    return state


def load_seller_file(path: Path, now: datetime) -> SellerState:
    """Load one ``data/sellers/<account>.json`` file re-anchored to ``now``."""
    return seller_from_document(json.loads(path.read_text(encoding="utf-8")), now)


def utc_now() -> datetime:
    """Wall-clock UTC (only for CLI defaults; handlers use the injected clock)."""
    return datetime.now(UTC)
