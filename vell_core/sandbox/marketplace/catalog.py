"""Marketplace Catalog API handlers (``marketplace-catalog``, rest-json, PascalCase).

Each handler takes a ``SandboxCall`` whose params are botocore's input members and returns a
dict of the output members. Dates are the Catalog's 20-character ``YYYY-MM-DDTHH:MM:SSZ``
strings. The service validates what AWS validates server-side and botocore does not (Catalog
name, MaxResults maxima, filter/sort/type agreement, 20-entity batches).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime
from typing import Any

from vell_core.sandbox.contract import SandboxCall, SandboxServiceError
from vell_core.sandbox.marketplace.changesets import ChangeSetEngine
from vell_core.sandbox.marketplace.errors import catalog_error, catalog_validation
from vell_core.sandbox.marketplace.models import (
    CATALOG_NAME,
    PRODUCT_TYPES,
    ChangeSet,
    Entity,
    SellerState,
    change_set_arn,
    entity_arn,
    iso_z,
    parse_iso,
)
from vell_core.sandbox.marketplace.paging import fingerprint, paginate

LIST_ENTITIES_MAX, LIST_ENTITIES_DEFAULT = 50, 20
LIST_CHANGE_SETS_MAX = 20
BATCH_MAX = 20
RETENTION_DAYS = 60
# Every EntityType ListEntities accepts; types without data simply list nothing.
LISTABLE_TYPES = frozenset(
    PRODUCT_TYPES
    | {
        "Offer",
        "OfferSet",
        "ResaleAuthorization",
        "Experience",
        "Audience",
        "ProcurementPolicy",
        "BrandingSettings",
        "Seller",
        "Solution",
        "ExpressPrivateOfferConfiguration",
        "SubsidiaryAuthorization",
    }
)
# Entity types DescribeEntity refuses (ResourceNotSupportedException).
NOT_DESCRIBABLE = frozenset({"ProfessionalServicesProduct"})
CHANGE_SET_FILTERS = frozenset(
    {
        "ChangeSetName",
        "Status",
        "EntityId",
        "BeforeStartTime",
        "AfterStartTime",
        "BeforeEndTime",
        "AfterEndTime",
    }
)
LEGACY_SORT_KEYS = frozenset({"LastModifiedDate", "EntityId"})

SellerLookup = Callable[[str], SellerState]


def _check_catalog(value: Any) -> None:
    if value != CATALOG_NAME:
        raise catalog_validation(
            f"Catalog '{value}' is not valid. The only supported catalog is AWSMarketplace."
        )


def _max_results(value: Any, maximum: int, default: int) -> int:
    if value is None:
        return default
    if not isinstance(value, int) or not 1 <= value <= maximum:
        raise catalog_validation(f"MaxResults must be between 1 and {maximum}.")
    return value


def _bad_token() -> SandboxServiceError:
    return catalog_validation("The NextToken is not valid for this request.")


# ----------------------------------------------------------------------------------------------
# Entity views


def product_visibility(entity: Entity) -> str | None:
    """A product's visibility (from its Description)."""
    return entity.details.get("Description", {}).get("Visibility") or entity.meta.get("Visibility")


def _rules(entity: Entity) -> dict[str, dict[str, Any]]:
    return {rule.get("Type", ""): rule for rule in entity.details.get("Rules", []) or []}


def offer_summary(entity: Entity) -> dict[str, Any]:
    """``OfferSummary`` from an offer's document and meta."""
    details, rules = entity.details, _rules(entity)
    summary: dict[str, Any] = {
        "Name": details.get("Name"),
        "ProductId": details.get("ProductId"),
        "ResaleAuthorizationId": details.get("ResaleAuthorizationId"),
        "ReleaseDate": entity.meta.get("ReleaseDate"),
        "State": details.get("State"),
        "Targeting": list(entity.meta.get("Targeting") or ["None"]),
    }
    availability = rules.get("AvailabilityRule", {}).get("AvailabilityEndDate")
    if availability:
        summary["AvailabilityEndDate"] = iso_z(parse_iso(availability))
    buyers = rules.get("TargetingRule", {}).get("PositiveTargeting", {}).get("BuyerAccounts")
    if buyers:
        summary["BuyerAccounts"] = list(buyers)[:26]
    return {key: value for key, value in summary.items() if value is not None}


def resale_summary(entity: Entity) -> dict[str, Any]:
    """``ResaleAuthorizationSummary`` from the authorization's document."""
    details, rules = entity.details, _rules(entity)
    partner = rules.get("PartnerTargetingRule", {})
    summary = {
        "Name": details.get("Name"),
        "ProductId": details.get("ProductId"),
        "ProductName": details.get("ProductName"),
        "ManufacturerAccountId": details.get("ManufacturerAccountId"),
        "ManufacturerLegalName": details.get("ManufacturerLegalName"),
        "ResellerAccountID": partner.get("ResellerAccountId"),
        "ResellerLegalName": partner.get("ResellerLegalName"),
        "ResellerRole": partner.get("ResellerRole"),
        "Status": details.get("Status"),
        "OfferExtendedStatus": details.get("OfferDetails", {}).get("OfferExtendedStatus"),
        "CreatedDate": entity.meta.get("CreatedDate"),
    }
    end = rules.get("AvailabilityRule", {}).get("AvailabilityEndDate")
    if end:
        summary["AvailabilityEndDate"] = iso_z(parse_iso(end))
    return {key: value for key, value in summary.items() if value is not None}


def offer_set_summary(entity: Entity) -> dict[str, Any]:
    """``OfferSetSummary``."""
    details = entity.details
    summary = {
        "Name": details.get("Name"),
        "State": details.get("State"),
        "ReleaseDate": entity.meta.get("ReleaseDate"),
        "AssociatedOfferIds": details.get("AssociatedOfferIds"),
        "SolutionId": details.get("SolutionId"),
    }
    return {key: value for key, value in summary.items() if value is not None}


def type_summary(entity: Entity) -> dict[str, Any]:
    """The per-type summary member (``OfferSummary``, ``SaaSProductSummary`` …)."""
    if entity.entity_type in PRODUCT_TYPES:
        title = entity.details.get("Description", {}).get("ProductTitle")
        body = {"ProductTitle": title, "Visibility": product_visibility(entity)}
        return {k: v for k, v in body.items() if v is not None}
    builders = {
        "Offer": offer_summary,
        "ResaleAuthorization": resale_summary,
        "OfferSet": offer_set_summary,
    }
    builder = builders.get(entity.entity_type)
    return builder(entity) if builder else {}


def entity_name(entity: Entity) -> str:
    """``EntitySummary.Name``: the product title or the offer/authorization name."""
    description = entity.details.get("Description")
    if isinstance(description, dict) and description.get("ProductTitle"):
        return str(description["ProductTitle"])
    return str(entity.details.get("Name") or entity.entity_id)


def top_visibility(entity: Entity) -> str | None:
    """Top-level ``Visibility``: product enum values; ``Private``/``Public`` for offers."""
    if entity.entity_type in PRODUCT_TYPES:
        return product_visibility(entity)
    if entity.entity_type == "Offer":
        return "Private" if "BuyerAccounts" in (entity.meta.get("Targeting") or []) else "Public"
    return None


def entity_summary(account_id: str, entity: Entity) -> dict[str, Any]:
    """One ``EntitySummary``."""
    summary: dict[str, Any] = {
        "Name": entity_name(entity),
        "EntityType": entity.entity_type,
        "EntityId": entity.entity_id,
        "EntityArn": entity_arn(account_id, entity.entity_type, entity.entity_id),
        "LastModifiedDate": iso_z(entity.last_modified),
    }
    visibility = top_visibility(entity)
    if visibility:
        summary["Visibility"] = visibility
    body = type_summary(entity)
    if body:
        summary[f"{entity.entity_type}Summary"] = body
    return summary


def _field(entity: Entity, name: str) -> Any:
    """A filterable/sortable field of an entity, by the filter's member name."""
    if name == "EntityId":
        return entity.entity_id
    if name == "LastModifiedDate":
        return iso_z(entity.last_modified)
    if name == "DeliveryOptionTypes":
        return sorted(
            {
                d.get("Type", "")
                for v in entity.details.get("Versions", [])
                for d in v.get("DeliveryOptions", [])
            }
        )
    if name == "CompatibleAWSServices":
        return sorted(
            {
                s
                for v in entity.details.get("Versions", [])
                for d in v.get("DeliveryOptions", [])
                for s in d.get("Compatibility", {}).get("AWSServices", [])
            }
        )
    return type_summary(entity).get(name)


# ----------------------------------------------------------------------------------------------
# Filters and sorting


def _matches(value: Any, criterion: dict[str, Any]) -> bool:
    values = value if isinstance(value, list) else [value]
    values = [v for v in values if v is not None]
    if "ValueList" in criterion:
        return bool(set(map(str, values)) & set(map(str, criterion["ValueList"])))
    if "WildCardValue" in criterion:
        needle = str(criterion["WildCardValue"]).lower()
        return any(needle in str(v).lower() for v in values)
    if "DateRange" in criterion:
        span = criterion["DateRange"] or {}
        after, before = span.get("AfterValue"), span.get("BeforeValue")
        return any(
            (after is None or v >= after) and (before is None or v <= before) for v in values
        )
    raise catalog_validation("Each filter needs a ValueList, WildCardValue or DateRange.")


def _type_filters(entity_type: str, union: dict[str, Any] | None) -> dict[str, Any]:
    if not union:
        return {}
    if len(union) != 1:
        raise catalog_validation("EntityTypeFilters must set exactly one member.")
    ((member, filters),) = union.items()
    if member != f"{entity_type}Filters":
        raise catalog_validation(f"{member} cannot be used with EntityType {entity_type}.")
    return dict(filters or {})


def _offer_state_default(entity: Entity, filters: dict[str, Any], released_only: bool) -> bool:
    # Field note (UNVERIFIED): without a State filter only Released offers are listed.
    if not released_only or entity.entity_type != "Offer" or "State" in filters:
        return True
    return entity.details.get("State") == "Released"


def _legacy_ids(filter_list: list[dict[str, Any]] | None) -> set[str] | None:
    if not filter_list:
        return None
    ids: set[str] = set()
    for item in filter_list:
        if item.get("Name") != "EntityId":
            raise catalog_validation(
                f"Filter name '{item.get('Name')}' is not supported by ListEntities; "
                "use EntityTypeFilters."
            )
        ids |= set(item.get("ValueList") or [])
    return ids


def _sort_spec(entity_type: str, params: dict[str, Any]) -> tuple[str, bool]:
    union = params.get("EntityTypeSort")
    if union:
        if len(union) != 1:
            raise catalog_validation("EntityTypeSort must set exactly one member.")
        ((member, sort),) = union.items()
        if member != f"{entity_type}Sort":
            raise catalog_validation(f"{member} cannot be used with EntityType {entity_type}.")
        sort = sort or {}
        return sort.get("SortBy") or "LastModifiedDate", sort.get("SortOrder") != "ASCENDING"
    legacy = params.get("Sort") or {}
    sort_by = legacy.get("SortBy") or "LastModifiedDate"
    if sort_by not in LEGACY_SORT_KEYS:
        raise catalog_validation(f"SortBy '{sort_by}' is not supported; use EntityTypeSort.")
    return sort_by, legacy.get("SortOrder") != "ASCENDING"


def _sort_key(entity: Entity, sort_by: str) -> tuple[str, str]:
    value = _field(entity, sort_by)
    text = (
        ",".join(map(str, value))
        if isinstance(value, list)
        else ("" if value is None else str(value))
    )
    return text, entity.entity_id


# ----------------------------------------------------------------------------------------------
# The service


class CatalogService:
    """Catalog handlers over per-account seller state."""

    def __init__(
        self, sellers: SellerLookup, engine: ChangeSetEngine, *, released_offers_only: bool = False
    ) -> None:
        self.sellers = sellers
        self.engine = engine
        self.released_offers_only = released_offers_only

    def _seller(self, call: SandboxCall) -> SellerState:
        seller = self.sellers(call.caller.account_id)
        self.engine.refresh(seller, call.now)
        return seller

    # -- entities ---------------------------------------------------------------------------

    def list_entities(self, call: SandboxCall) -> dict[str, Any]:
        """ListEntities."""
        params = call.params
        _check_catalog(params.get("Catalog"))
        limit = _max_results(params.get("MaxResults"), LIST_ENTITIES_MAX, LIST_ENTITIES_DEFAULT)
        entity_type = params.get("EntityType")
        if entity_type not in LISTABLE_TYPES:
            raise catalog_validation(f"EntityType '{entity_type}' is not supported.")
        filters = _type_filters(entity_type, params.get("EntityTypeFilters"))
        legacy_ids = _legacy_ids(params.get("FilterList"))
        sort_by, descending = _sort_spec(entity_type, params)
        ownership = params.get("OwnershipType") or "SELF"
        seller = self._seller(call)
        with seller.lock:
            selected = [
                e
                for e in seller.entities.values()
                if e.entity_type == entity_type
                and e.ownership == ownership
                and (legacy_ids is None or e.entity_id in legacy_ids)
                and _offer_state_default(e, filters, self.released_offers_only)
                and all(_matches(_field(e, name), crit or {}) for name, crit in filters.items())
            ]
            selected.sort(key=lambda e: _sort_key(e, sort_by), reverse=descending)
            query = [
                seller.account_id,
                entity_type,
                ownership,
                filters,
                sorted(legacy_ids or []),
                sort_by,
                descending,
            ]
            page = paginate(
                selected,
                token=params.get("NextToken"),
                limit=limit,
                query_hash=fingerprint(query),
                on_invalid=_bad_token,
            )
            result: dict[str, Any] = {
                "EntitySummaryList": [entity_summary(seller.account_id, e) for e in page.items]
            }
        if page.next_token:
            result["NextToken"] = page.next_token
        return result

    def _entity(self, seller: SellerState, entity_id: Any) -> Entity:
        entity = seller.entities.get(str(entity_id))
        if entity is None:
            raise catalog_error(
                "ResourceNotFoundException", f"Requested entity '{entity_id}' does not exist."
            )
        return entity

    def describe_entity(self, call: SandboxCall) -> dict[str, Any]:
        """DescribeEntity: Details (string) and DetailsDocument, EntityIdentifier ``id@rev``."""
        params = call.params
        _check_catalog(params.get("Catalog"))
        entity_id = str(params.get("EntityId") or "")
        if not entity_id or not all(ch.isalnum() or ch in "_-" for ch in entity_id):
            raise catalog_validation(f"EntityId '{entity_id}' is not valid (pattern ^[\\w\\-]+$).")
        seller = self._seller(call)
        with seller.lock:
            entity = self._entity(seller, entity_id)
            if entity.entity_type in NOT_DESCRIBABLE:
                raise catalog_error(
                    "ResourceNotSupportedException",
                    f"Entity type {entity.entity_type} is not supported by DescribeEntity.",
                )
            detail = self._detail(seller, entity)
            detail["Details"] = json.dumps(entity.details, separators=(",", ":"))
        return detail

    def _detail(self, seller: SellerState, entity: Entity) -> dict[str, Any]:
        return {
            "EntityType": entity.versioned_type,
            "EntityIdentifier": entity.identifier,
            "EntityArn": entity_arn(seller.account_id, entity.entity_type, entity.entity_id),
            "LastModifiedDate": iso_z(entity.last_modified),
            "DetailsDocument": json.loads(json.dumps(entity.details)),  # a copy callers may keep
        }

    def batch_describe_entities(self, call: SandboxCall) -> dict[str, Any]:
        """BatchDescribeEntities: 1–20 ids; unknown ids are reported under ``Errors``."""
        requests = call.params.get("EntityRequestList") or []
        if not 1 <= len(requests) <= BATCH_MAX:
            raise catalog_validation(
                f"EntityRequestList must contain between 1 and {BATCH_MAX} items."
            )
        for request in requests:
            _check_catalog(request.get("Catalog"))
        seller = self._seller(call)
        details: dict[str, Any] = {}
        errors: dict[str, Any] = {}
        with seller.lock:
            for request in requests:
                entity_id = str(request.get("EntityId"))
                entity = seller.entities.get(entity_id)
                if entity is None:
                    errors[entity_id] = {
                        "ErrorCode": "ResourceNotFound",
                        "ErrorMessage": f"Requested entity '{entity_id}' does not exist.",
                    }
                else:
                    details[entity_id] = self._detail(seller, entity)
        return {"EntityDetails": details, "Errors": errors}

    # -- change sets ------------------------------------------------------------------------

    def list_change_sets(self, call: SandboxCall) -> dict[str, Any]:
        """ListChangeSets: the caller's sets of the last 60 days, filtered, sorted, paged."""
        params = call.params
        _check_catalog(params.get("Catalog"))
        limit = _max_results(params.get("MaxResults"), LIST_CHANGE_SETS_MAX, LIST_CHANGE_SETS_MAX)
        filters = _change_set_filters(params.get("FilterList"))
        sort = params.get("Sort") or {}
        sort_by = sort.get("SortBy") or "StartTime"
        if sort_by not in ("StartTime", "EndTime"):
            raise catalog_validation(
                f"SortBy '{sort_by}' is not supported; use StartTime or EndTime."
            )
        descending = sort.get("SortOrder") != "ASCENDING"
        seller = self._seller(call)
        with seller.lock:
            rows = [self._summary(seller, cs, call.now) for cs in self._retained(seller, call.now)]
            rows = [
                row
                for row in rows
                if all(_change_set_match(row, name, values) for name, values in filters.items())
            ]
            rows.sort(
                key=lambda row: (row.get(sort_by) or "", row["ChangeSetId"]), reverse=descending
            )
            query = [seller.account_id, filters, sort_by, descending]
            page = paginate(
                rows,
                token=params.get("NextToken"),
                limit=limit,
                query_hash=fingerprint(query),
                on_invalid=_bad_token,
            )
        result: dict[str, Any] = {"ChangeSetSummaryList": page.items}
        if page.next_token:
            result["NextToken"] = page.next_token
        return result

    def _retained(self, seller: SellerState, now: datetime) -> list[ChangeSet]:
        horizon = now.timestamp() - RETENTION_DAYS * 86400
        return [cs for cs in seller.change_sets.values() if cs.start_time.timestamp() >= horizon]

    def _summary(self, seller: SellerState, change_set: ChangeSet, now: datetime) -> dict[str, Any]:
        status = change_set.timeline_status(now)
        row: dict[str, Any] = {
            "ChangeSetId": change_set.change_set_id,
            "ChangeSetArn": change_set_arn(seller.account_id, change_set.change_set_id),
            "ChangeSetName": change_set.name,
            "StartTime": iso_z(change_set.start_time),
            "Status": status,
            "EntityIdList": change_set.entity_ids()[:20],
        }
        if change_set.end_time is not None and change_set.final_status is not None:
            row["EndTime"] = iso_z(change_set.end_time)
        if status == "FAILED" and change_set.failure_code:
            row["FailureCode"] = change_set.failure_code
        return row

    def _change_set(self, seller: SellerState, change_set_id: Any, now: datetime) -> ChangeSet:
        change_set = seller.change_sets.get(str(change_set_id))
        horizon = now.timestamp() - RETENTION_DAYS * 86400
        if change_set is None or change_set.start_time.timestamp() < horizon:
            raise catalog_error(
                "ResourceNotFoundException", f"Change set '{change_set_id}' does not exist."
            )
        return change_set

    def describe_change_set(self, call: SandboxCall) -> dict[str, Any]:
        """DescribeChangeSet."""
        params = call.params
        _check_catalog(params.get("Catalog"))
        seller = self._seller(call)
        with seller.lock:
            change_set = self._change_set(seller, params.get("ChangeSetId"), call.now)
            row = self._summary(seller, change_set, call.now)
            row.pop("EntityIdList")
            row["Intent"] = change_set.intent
            if row["Status"] == "FAILED" and change_set.failure_description:
                row["FailureDescription"] = change_set.failure_description
            row["ChangeSet"] = [
                self._change_summary(seller, change) for change in change_set.changes
            ]
        return row

    def _change_summary(self, seller: SellerState, change: Any) -> dict[str, Any]:
        entity = seller.entities.get(change.entity_id)
        revision = change.revision or (entity.revision if entity else None)
        identifier = f"{change.entity_id}@{revision}" if revision else change.entity_id
        summary: dict[str, Any] = {
            "ChangeType": change.change_type,
            "Entity": {"Type": change.entity_type, "Identifier": identifier},
            "Details": json.dumps(change.details, separators=(",", ":")),
            "DetailsDocument": change.details,
        }
        if change.errors:
            summary["ErrorDetailList"] = change.errors
        if change.change_name:
            summary["ChangeName"] = change.change_name
        return summary

    def start_change_set(self, call: SandboxCall) -> dict[str, Any]:
        """StartChangeSet."""
        _check_catalog(call.params.get("Catalog"))
        seller = self._seller(call)
        with seller.lock:
            change_set = self.engine.start(seller, call.params, call.now)
        return {
            "ChangeSetId": change_set.change_set_id,
            "ChangeSetArn": change_set_arn(seller.account_id, change_set.change_set_id),
        }

    def cancel_change_set(self, call: SandboxCall) -> dict[str, Any]:
        """CancelChangeSet (PREPARING only; otherwise ResourceInUseException)."""
        _check_catalog(call.params.get("Catalog"))
        seller = self._seller(call)
        with seller.lock:
            change_set = self.engine.cancel(seller, str(call.params.get("ChangeSetId")), call.now)
        return {
            "ChangeSetId": change_set.change_set_id,
            "ChangeSetArn": change_set_arn(seller.account_id, change_set.change_set_id),
        }

    # -- authorization context --------------------------------------------------------------

    def authz_context(self, call: SandboxCall) -> tuple[list[str], dict[str, Any]]:
        """Resource ARNs and condition keys the wire layer evaluates the policy against."""
        seller = self.sellers(call.caller.account_id)
        params = call.params
        if call.operation == "DescribeEntity":
            return self._entity_arns(seller, [params.get("EntityId")]), {}
        if call.operation == "BatchDescribeEntities":
            ids = [r.get("EntityId") for r in params.get("EntityRequestList") or []]
            return self._entity_arns(seller, ids), {}
        if call.operation in ("DescribeChangeSet", "CancelChangeSet"):
            return [change_set_arn(seller.account_id, str(params.get("ChangeSetId")))], {}
        if call.operation == "StartChangeSet":
            return self._start_context(seller, params)
        return ["*"], {}

    def _entity_arns(self, seller: SellerState, ids: list[Any]) -> list[str]:
        """ARNs the call is authorised against; AWS authorises before it looks entities up,
        so an unknown id still gets an ARN in the caller's account (then 404, not 403)."""
        arns = []
        for raw in ids:
            entity = seller.entities.get(str(raw))
            if entity is not None:
                arns.append(entity_arn(seller.account_id, entity.entity_type, entity.entity_id))
            else:
                arns.append(entity_arn(seller.account_id, "Entity", str(raw)))
        return arns or ["*"]

    def _start_context(
        self, seller: SellerState, params: dict[str, Any]
    ) -> tuple[list[str], dict[str, Any]]:
        arns: list[str] = []
        change_types: list[str] = []
        for change in params.get("ChangeSet") or []:
            change_types.append(str(change.get("ChangeType")))
            entity = change.get("Entity") or {}
            bare = str(entity.get("Type", "")).split("@", 1)[0]
            identifier = str(entity.get("Identifier") or "").split("@", 1)[0]
            if identifier and not identifier.startswith("$"):
                arns.append(entity_arn(seller.account_id, bare, identifier))
            else:  # a new entity: authorised against the type's ARN space
                arns.append(entity_arn(seller.account_id, bare, "*"))
        context: dict[str, Any] = {"catalog:ChangeType": sorted(set(change_types))}
        if params.get("Intent"):
            context["aws-marketplace:Intent"] = params["Intent"]
        return list(dict.fromkeys(arns)) or ["*"], context


def _change_set_filters(filter_list: list[dict[str, Any]] | None) -> dict[str, list[str]]:
    filters: dict[str, list[str]] = {}
    for item in filter_list or []:
        name = item.get("Name")
        if name not in CHANGE_SET_FILTERS:
            raise catalog_validation(f"Filter name '{name}' is not supported by ListChangeSets.")
        values = list(item.get("ValueList") or [])
        if not values:
            raise catalog_validation(f"Filter '{name}' needs a ValueList.")
        if name.endswith("Time"):
            try:
                values = [iso_z(parse_iso(values[0]))]
            except ValueError as error:
                raise catalog_validation(f"Filter '{name}' needs an ISO-8601 date.") from error
        filters[name] = values
    return filters


def _change_set_match(row: dict[str, Any], name: str, values: list[str]) -> bool:
    if name == "EntityId":
        return bool(set(row["EntityIdList"]) & set(values))
    if name in ("ChangeSetName", "Status"):
        return row.get(name) in values
    field = "StartTime" if "Start" in name else "EndTime"
    moment = row.get(field)
    if moment is None:
        return False
    return moment < values[0] if name.startswith("Before") else moment > values[0]
