"""The change-set state machine for trial mode, on the injected (domain) clock.

``StartChangeSet`` validates synchronously (422 for malformed input, 404 for unknown
entities, 423 when an entity is locked by an open set), then the set moves
``PREPARING`` → ``APPLYING`` → ``SUCCEEDED`` after ``prepare_seconds`` and ``apply_seconds``
of clock time. Nothing runs in the background: every read calls ``refresh(now)``, which
applies, in due order, each set whose time has come. That keeps the state a pure function of
the clock, so advancing a FrozenClock or the sandbox's OffsetClock is all a test or a demo needs.
"""

from __future__ import annotations

import json
import random
import re
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from vell_core.sandbox.marketplace.errors import catalog_error, catalog_validation
from vell_core.sandbox.marketplace.models import (
    PRODUCT_TYPES,
    Change,
    ChangeSet,
    Entity,
    SellerState,
    iso_ms,
    iso_z,
    parse_iso,
)
from vell_core.sandbox.marketplace.rand import IdMaker

DEFAULT_PREPARE_SECONDS = 20.0
DEFAULT_APPLY_SECONDS = 10.0
MAX_CHANGES = 20
MAX_OPEN_CHANGE_SETS = 50  # "maximum number of open requests per account" (demo value)
REFERENCE = re.compile(r"^\$([A-Za-z0-9_]+)\.Entity\.Identifier$")
CHANGE_TYPES: dict[str, frozenset[str]] = {
    "SaaSProduct": frozenset(
        {
            "CreateProduct",
            "UpdateInformation",
            "UpdateTargeting",
            "UpdateVisibility",
            "ReleaseProduct",
            "AddDimensions",
            "UpdateDimensions",
            "RestrictDimensions",
            "AddDeliveryOptions",
            "UpdateDeliveryOptions",
            "UpdateDeliveryOptionsVisibility",
        }
    ),
    "AmiProduct": frozenset(
        {
            "CreateProduct",
            "UpdateInformation",
            "UpdateTargeting",
            "UpdateVisibility",
            "ReleaseProduct",
            "AddDimensions",
            "RestrictDimensions",
            "AddRegions",
            "RestrictRegions",
            "UpdateFutureRegionSupport",
            "AddInstanceTypes",
            "RestrictInstanceTypes",
            "AddDeliveryOptions",
            "UpdateDeliveryOptions",
            "RestrictDeliveryOptions",
        }
    ),
    "ContainerProduct": frozenset(
        {
            "CreateProduct",
            "UpdateInformation",
            "UpdateTargeting",
            "UpdateVisibility",
            "ReleaseProduct",
            "AddRepositories",
            "AddDimensions",
            "UpdateDimensions",
            "AddDeliveryOptions",
            "UpdateDeliveryOptions",
            "UpdateDeliveryOptionsVisibility",
            "RestrictDeliveryOptions",
        }
    ),
    "Offer": frozenset(
        {
            "CreateOffer",
            "CreateReplacementOffer",
            "UpdateInformation",
            "UpdateTargeting",
            "UpdatePricingTerms",
            "UpdateLegalTerms",
            "UpdateSupportTerms",
            "UpdateRenewalTerms",
            "UpdateValidityTerms",
            "UpdatePaymentScheduleTerms",
            "UpdateAvailability",
            "UpdateCustomerVerificationTerms",
            "ReleaseOffer",
            "UpdateMarkup",
            "CreateOfferUsingResaleAuthorization",
            "CreateReplacementOfferUsingResaleAuthorization",
        }
    ),
    "ResaleAuthorization": frozenset(
        {
            "CreateResaleAuthorization",
            "ReleaseResaleAuthorization",
            "RestrictResaleAuthorization",
            "UpdateBuyerTargetingTerms",
        }
    ),
}
CREATE_TYPES = frozenset(
    {
        "CreateProduct",
        "CreateOffer",
        "CreateReplacementOffer",
        "CreateResaleAuthorization",
        "CreateOfferUsingResaleAuthorization",
        "CreateReplacementOfferUsingResaleAuthorization",
    }
)
# UpdateInformation limits for products (reference §1.7): (max items, max length).
PRODUCT_TEXT_LIMITS = {
    "ProductTitle": 72,
    "ShortDescription": 1000,
    "LongDescription": 5000,
    "Sku": 100,
    "SupportDescription": 2000,
}
PRODUCT_LIST_LIMITS = {
    "Highlights": (1, 3, 500),
    "SearchKeywords": (1, 15, 50),
    "Categories": (1, 3, 100),
    "VideoUrls": (0, 1, 2048),
    "AdditionalResources": (0, 3, 2048),
}
OFFER_TEXT_LIMITS = {"Name": 150, "Description": 255}
VISIBILITY_TARGETS = frozenset({"Public", "Restricted", "Limited"})


class ChangeSetEngine:
    """Starts, cancels and lazily completes change sets for one backend."""

    def __init__(
        self,
        rng: random.Random,
        *,
        prepare_seconds: float = DEFAULT_PREPARE_SECONDS,
        apply_seconds: float = DEFAULT_APPLY_SECONDS,
    ) -> None:
        self.ids = IdMaker(rng)
        self.prepare_seconds = prepare_seconds
        self.apply_seconds = apply_seconds

    # -- lifecycle --------------------------------------------------------------------------

    def refresh(self, seller: SellerState, now: datetime) -> None:
        """Complete every open change set that is due at ``now``, oldest first."""
        due = [
            cs
            for cs in seller.change_sets.values()
            if cs.final_status is None and cs.due_at() <= now
        ]
        for change_set in sorted(due, key=lambda cs: cs.due_at()):
            self._complete(seller, change_set)

    def _complete(self, seller: SellerState, change_set: ChangeSet) -> None:
        finished = change_set.due_at()
        if change_set.intent == "APPLY":
            for change in change_set.changes:
                apply_change(seller, change, finished)
        change_set.final_status = "SUCCEEDED"
        change_set.end_time = finished

    def cancel(self, seller: SellerState, change_set_id: str, now: datetime) -> ChangeSet:
        """Cancel a PREPARING set; 404 when unknown, 423 once it is APPLYING or finished."""
        self.refresh(seller, now)
        change_set = seller.change_sets.get(change_set_id)
        if change_set is None:
            raise catalog_error(
                "ResourceNotFoundException", f"Change set '{change_set_id}' does not exist."
            )
        status = change_set.timeline_status(now)
        if status != "PREPARING":
            raise catalog_error(
                "ResourceInUseException",
                f"Change set '{change_set_id}' is {status} and can no longer be cancelled.",
            )
        change_set.final_status = "CANCELLED"
        change_set.end_time = now
        return change_set

    # -- start ------------------------------------------------------------------------------

    def start(self, seller: SellerState, params: dict[str, Any], now: datetime) -> ChangeSet:
        """Validate and open a new change set (or return the one with the same token)."""
        self.refresh(seller, now)
        token = params.get("ClientRequestToken")
        if token:
            for existing in seller.change_sets.values():
                if existing.client_token == token:
                    return existing
        requested = params.get("ChangeSet") or []
        if not 1 <= len(requested) <= MAX_CHANGES:
            raise catalog_validation(f"ChangeSet must contain between 1 and {MAX_CHANGES} changes.")
        changes = self._build_changes(seller, requested)
        self._check_locks(seller, changes, now)
        if len(seller.open_change_sets(now)) >= MAX_OPEN_CHANGE_SETS:
            raise catalog_error(
                "ServiceQuotaExceededException",
                "The maximum number of open requests per account has been reached.",
            )
        intent = params.get("Intent") or "APPLY"
        change_set = ChangeSet(
            change_set_id=self.ids.make("", 25),
            name=params.get("ChangeSetName") or f"Submitted by {seller.account_id}",
            intent=intent,
            start_time=now,
            changes=changes,
            prepare_seconds=self.prepare_seconds,
            apply_seconds=self.apply_seconds,
            client_token=token,
        )
        seller.change_sets[change_set.change_set_id] = change_set
        return change_set

    def _build_changes(self, seller: SellerState, requested: list[dict[str, Any]]) -> list[Change]:
        names: dict[str, Change] = {}
        seen: set[tuple[str, str]] = set()
        changes = []
        for raw in requested:
            change = self._build_change(seller, raw, names)
            key = (change.change_type, change.entity_id)
            if key in seen:
                raise catalog_validation(
                    f"Change type {change.change_type} is used more than once "
                    f"for entity {change.entity_id}."
                )
            seen.add(key)
            if change.change_name:
                if change.change_name in names:
                    raise catalog_validation(
                        f"ChangeName '{change.change_name}' is used more than once."
                    )
                names[change.change_name] = change
            changes.append(change)
        return changes

    def _build_change(
        self, seller: SellerState, raw: dict[str, Any], names: dict[str, Change]
    ) -> Change:
        change_type = str(raw.get("ChangeType", ""))
        entity = raw.get("Entity") or {}
        bare_type, version = _split_type(str(entity.get("Type", "")))
        if change_type not in CHANGE_TYPES.get(bare_type, frozenset()):
            raise catalog_validation(
                f"Change type '{change_type}' is not supported for entity type '{bare_type}'."
            )
        details = _details_of(raw)
        entity_id = self._target(seller, change_type, bare_type, entity.get("Identifier"), names)
        _validate_details(seller, change_type, bare_type, entity_id, details)
        return Change(
            change_type=change_type,
            entity_type=f"{bare_type}@{version}",
            entity_id=entity_id,
            details=details,
            change_name=raw.get("ChangeName"),
        )

    def _target(
        self,
        seller: SellerState,
        change_type: str,
        bare_type: str,
        identifier: Any,
        names: dict[str, Change],
    ) -> str:
        if change_type in CREATE_TYPES:
            prefix = {"Offer": "offer-", "ResaleAuthorization": "resaleauthz-"}.get(
                bare_type, "prod-"
            )
            return self.ids.make(prefix, 13)
        if not identifier:
            raise catalog_validation(
                f"Entity.Identifier is required for change type {change_type}."
            )
        reference = REFERENCE.match(str(identifier))
        if reference:
            earlier = names.get(reference.group(1))
            if earlier is None:
                raise catalog_validation(
                    f"Reference '{identifier}' does not name an earlier change."
                )
            return earlier.entity_id
        entity_id = str(identifier).split("@", 1)[0]
        entity = seller.entities.get(entity_id)
        if entity is None or entity.ownership != "SELF":
            raise catalog_error(
                "ResourceNotFoundException", f"Requested entity '{entity_id}' does not exist."
            )
        if entity.entity_type != bare_type:
            raise catalog_validation(
                f"Entity '{entity_id}' is a {entity.entity_type}, not a {bare_type}."
            )
        return entity_id

    def _check_locks(self, seller: SellerState, changes: list[Change], now: datetime) -> None:
        for change in changes:
            holder = seller.locking_change_set(change.entity_id, now)
            if holder is not None:
                raise catalog_error(
                    "ResourceInUseException",
                    f"Requested entity '{change.entity_id}' is in use by change set "
                    f"'{holder.change_set_id}'.",
                )


# ----------------------------------------------------------------------------------------------
# Validation


def _split_type(value: str) -> tuple[str, str]:
    bare, _, version = value.partition("@")
    return bare, version or "1.0"


def _details_of(raw: dict[str, Any]) -> Any:
    has_text, has_doc = raw.get("Details") is not None, raw.get("DetailsDocument") is not None
    if has_text and has_doc:
        raise catalog_validation(
            "Details and DetailsDocument are mutually exclusive; provide only one."
        )
    if not has_text and not has_doc:
        raise catalog_validation("Either Details or DetailsDocument is required for each change.")
    if has_doc:
        return raw["DetailsDocument"]
    try:
        return json.loads(raw["Details"])
    except (TypeError, ValueError) as error:
        raise catalog_validation("Details is not valid JSON.") from error


def _field_error(change_type: str, entity_id: str, field: str, message: str) -> Exception:
    fields = [
        {
            "Reason": "INVALID_VALUE",
            "ChangeType": change_type,
            "EntityId": entity_id,
            "Field": field,
            "Message": message,
        }
    ]
    return catalog_validation(
        f"{change_type}: {field} {message}", ValidationExceptionFieldList=fields
    )


def _validate_details(
    seller: SellerState, change_type: str, bare_type: str, entity_id: str, details: Any
) -> None:
    if change_type == "AddDimensions":
        if not isinstance(details, list | dict):
            raise catalog_validation("AddDimensions takes a list of dimensions.")
        return
    if not isinstance(details, dict):
        raise catalog_validation(f"{change_type} details must be a JSON object.")
    validator = _VALIDATORS.get(
        (change_type, "product" if bare_type in PRODUCT_TYPES else bare_type)
    )
    if validator is not None:
        validator(change_type, entity_id, details)


def _check_texts(
    change_type: str, entity_id: str, details: dict[str, Any], limits: dict[str, int]
) -> None:
    for field, limit in limits.items():
        value = details.get(field)
        if value is None:
            continue
        if not isinstance(value, str) or not 1 <= len(value) <= limit:
            raise _field_error(
                change_type, entity_id, field, f"must be a string of 1 to {limit} characters."
            )


def _validate_product_information(
    change_type: str, entity_id: str, details: dict[str, Any]
) -> None:
    _check_texts(change_type, entity_id, details, PRODUCT_TEXT_LIMITS)
    for field, (low, high, length) in PRODUCT_LIST_LIMITS.items():
        value = details.get(field)
        if value is None:
            continue
        if not isinstance(value, list) or not low <= len(value) <= high:
            raise _field_error(change_type, entity_id, field, f"must list {low} to {high} items.")
        if any(not isinstance(item, str) or not 1 <= len(item) <= length for item in value):
            raise _field_error(
                change_type, entity_id, field, f"items must be 1 to {length} characters."
            )


def _validate_offer_information(change_type: str, entity_id: str, details: dict[str, Any]) -> None:
    _check_texts(change_type, entity_id, details, OFFER_TEXT_LIMITS)


def _validate_availability(change_type: str, entity_id: str, details: dict[str, Any]) -> None:
    value = details.get("AvailabilityEndDate")
    try:
        parse_iso(str(value))
    except ValueError as error:
        raise _field_error(
            change_type, entity_id, "AvailabilityEndDate", "must be a date (YYYY-MM-DD)."
        ) from error


def _validate_visibility(change_type: str, entity_id: str, details: dict[str, Any]) -> None:
    if details.get("TargetVisibility") not in VISIBILITY_TARGETS:
        raise _field_error(
            change_type,
            entity_id,
            "TargetVisibility",
            f"must be one of {sorted(VISIBILITY_TARGETS)}.",
        )


_VALIDATORS: dict[tuple[str, str], Callable[[str, str, dict[str, Any]], None]] = {
    ("UpdateInformation", "product"): _validate_product_information,
    ("UpdateInformation", "Offer"): _validate_offer_information,
    ("UpdateAvailability", "Offer"): _validate_availability,
    ("UpdateVisibility", "product"): _validate_visibility,
}


# ----------------------------------------------------------------------------------------------
# Applying a SUCCEEDED change


def apply_change(seller: SellerState, change: Change, when: datetime) -> None:
    """Apply one change to the seller's entities, bumping the touched entity's revision."""
    entity = seller.entities.get(change.entity_id)
    if entity is None:
        entity = _create_entity(seller, change, when)
    else:
        applier = _APPLIERS.get(change.change_type)
        if applier is not None:
            applier(entity, change.details, when)
        entity.bump(when)
    change.revision = entity.revision


def _create_entity(seller: SellerState, change: Change, when: datetime) -> Entity:
    bare, _, version = change.entity_type.partition("@")
    details: dict[str, Any] = {"Id": change.entity_id, "State": "Draft", "Terms": [], "Rules": []}
    if bare == "Offer":
        details["ProductId"] = (
            change.details.get("ProductId") if isinstance(change.details, dict) else None
        )
    elif bare in PRODUCT_TYPES:
        details = {
            "Description": {"Visibility": "Draft", "ProductTitle": "Untitled product"},
            "Dimensions": [],
        }
    meta = {"CreatedDate": iso_z(when), "Targeting": []}
    entity = Entity(change.entity_id, bare, details, 1, when, version=version or "1.0", meta=meta)
    seller.entities[entity.entity_id] = entity
    return entity


def _update_information(entity: Entity, details: dict[str, Any], when: datetime) -> None:
    if entity.entity_type == "Offer":
        for key in ("Name", "Description", "PreExistingAgreement"):
            if key in details:
                entity.details[key] = details[key]
        return
    description = dict(entity.details.get("Description", {}))
    for key in (
        "ProductTitle",
        "ShortDescription",
        "LongDescription",
        "Sku",
        "Highlights",
        "SearchKeywords",
        "Categories",
    ):
        if key in details:
            description[key] = details[key]
    entity.details["Description"] = description
    promo = dict(entity.details.get("PromotionalResources") or {})
    if "LogoUrl" in details:
        promo["LogoUrl"] = details["LogoUrl"]
    if "VideoUrls" in details:
        promo["Videos"] = [
            {"Type": "Link", "Title": "Product video", "Url": url} for url in details["VideoUrls"]
        ]
    if "AdditionalResources" in details:
        promo["AdditionalResources"] = details["AdditionalResources"]
    entity.details["PromotionalResources"] = promo
    if "SupportDescription" in details:
        entity.details["SupportInformation"] = {
            "Description": details["SupportDescription"],
            "Resources": [],
        }


def _update_availability(entity: Entity, details: dict[str, Any], when: datetime) -> None:
    end = parse_iso(str(details["AvailabilityEndDate"]))
    if len(str(details["AvailabilityEndDate"])) == 10:  # a bare date means the end of that day
        end += timedelta(days=1, milliseconds=-1)
    rules = [r for r in entity.details.get("Rules", []) if r.get("Type") != "AvailabilityRule"]
    rules.insert(0, {"Type": "AvailabilityRule", "AvailabilityEndDate": iso_ms(end)})
    entity.details["Rules"] = rules


def _update_visibility(entity: Entity, details: dict[str, Any], when: datetime) -> None:
    description = dict(entity.details.get("Description", {}))
    description["Visibility"] = details["TargetVisibility"]
    if details.get("ReplacementProductId"):
        description["ReplacementProductId"] = details["ReplacementProductId"]
    entity.details["Description"] = description
    entity.meta["Visibility"] = details["TargetVisibility"]


def _release_product(entity: Entity, details: dict[str, Any], when: datetime) -> None:
    _update_visibility(entity, {"TargetVisibility": "Limited"}, when)


def _release_offer(entity: Entity, details: dict[str, Any], when: datetime) -> None:
    entity.details["State"] = "Released"
    entity.meta["ReleaseDate"] = iso_z(when)


def _update_targeting(entity: Entity, details: dict[str, Any], when: datetime) -> None:
    positive = details.get("PositiveTargeting") or {}
    if entity.entity_type != "Offer":
        entity.details["Targeting"] = {"PositiveTargeting": positive}
        return
    rules = [r for r in entity.details.get("Rules", []) if r.get("Type") != "TargetingRule"]
    rules.append({"Type": "TargetingRule", "PositiveTargeting": positive})
    entity.details["Rules"] = rules
    entity.meta["Targeting"] = [
        key for key in ("BuyerAccounts", "CountryCodes") if positive.get(key)
    ] or ["None"]


def _replace_terms(entity: Entity, details: dict[str, Any], when: datetime) -> None:
    # New list objects on purpose: agreements keep a reference to the terms they accepted.
    incoming = [t for t in details.get("Terms", []) if isinstance(t, dict)]
    kinds = {t.get("Type") for t in incoming}
    kept = [t for t in entity.details.get("Terms", []) if t.get("Type") not in kinds]
    entity.details["Terms"] = kept + incoming


def _add_dimensions(entity: Entity, details: Any, when: datetime) -> None:
    added = details if isinstance(details, list) else details.get("Dimensions", [])
    entity.details["Dimensions"] = list(entity.details.get("Dimensions", [])) + list(added)


_APPLIERS: dict[str, Callable[[Entity, Any, datetime], None]] = {
    "UpdateInformation": _update_information,
    "UpdateAvailability": _update_availability,
    "UpdateVisibility": _update_visibility,
    "ReleaseProduct": _release_product,
    "ReleaseOffer": _release_offer,
    "UpdateTargeting": _update_targeting,
    "UpdatePricingTerms": _replace_terms,
    "UpdateLegalTerms": _replace_terms,
    "UpdateSupportTerms": _replace_terms,
    "UpdateRenewalTerms": _replace_terms,
    "UpdateValidityTerms": _replace_terms,
    "UpdatePaymentScheduleTerms": _replace_terms,
    "UpdateCustomerVerificationTerms": _replace_terms,
    "AddDimensions": _add_dimensions,
}
