"""Pure shaping of Marketplace API results into what the live-demo page renders.

Input is a :class:`MarketplaceSnapshot`: the parsed boto3 responses the sync service has
collected so far (Catalog summaries and DescribeEntity documents with PascalCase keys and
ISO-string dates; Agreement summaries, DescribeAgreement output and GetAgreementTerms items with
camelCase keys and ``datetime`` timestamps). Output is DataFrames and small dataclasses. Nothing
here calls AWS, the store or Streamlit, so every figure can be checked by hand in unit tests.

Money is ``Decimal`` throughout (prices and ``agreementValue`` are decimal strings); totals are
kept per currency because a seller may sell in USD and EUR. Details that have not streamed in
yet show as ``None``, never as zero.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

import pandas as pd

from vell_core.domain.clock import ensure_utc
from vell_core.domain.listing_health import HealthReport, check_product
from vell_core.domain.marketplace import MarketplaceSnapshot, catalog_time
from vell_core.domain.numbers import percent
from vell_core.views.formatting import (
    count,
    day,
    display_frame,
    iso_duration_text,
    minutes_text,
    money,
    text,
    unique_labels,
    when_minute,
    words,
    yes_no,
)

RENEWAL_BUCKETS: tuple[tuple[str, int, int], ...] = (
    ("≤30 days", 0, 30),
    ("31–60 days", 31, 60),
    ("61–90 days", 61, 90),
)
RENEWAL_BUCKET_LABELS: tuple[str, ...] = tuple(label for label, _, _ in RENEWAL_BUCKETS)
EXPIRING_DAYS = 90  # AMMP's derived "Expiring": ACTIVE with under 90 days left
DAYS_PER_YEAR = Decimal("365.25")
MIN_CONTRACT_YEARS = Decimal(1) / Decimal(12)  # ACV floors the contract length at one month
UNKNOWN_MEMBER = "SDK_UNKNOWN_MEMBER"


# -- small parsers ------------------------------------------------------------------------------


def decimal_or_none(value: Any) -> Decimal | None:
    """A decimal string as ``Decimal`` (never via float); None when missing or malformed."""
    if value is None:
        return None
    try:
        return Decimal(str(value))
    except InvalidOperation:
        return None


def _duration(duration: str | None) -> str:
    """An ISO duration in words for a one-line summary (empty when there is none)."""
    return iso_duration_text(duration) if duration else ""


# -- products -----------------------------------------------------------------------------------


def product_title(snapshot: MarketplaceSnapshot, product_id: str) -> str:
    """Title from the detail document, else the summary, else the id."""
    details = snapshot.product_details.get(product_id, {}).get("DetailsDocument") or {}
    title = (details.get("Description") or {}).get("ProductTitle")
    if title:
        return str(title)
    summary = snapshot.products.get(product_id)
    if summary is not None:
        return str(_product_summary(summary).get("ProductTitle") or summary.get("Name") or "")
    return product_id


def _product_summary(summary: dict[str, Any]) -> dict[str, Any]:
    """The per-type summary block (``SaaSProductSummary`` …) of an EntitySummary."""
    return summary.get(f"{summary.get('EntityType', '')}Summary") or {}


def offers_by_product(snapshot: MarketplaceSnapshot) -> dict[str, list[str]]:
    """Product id → offer ids (from the offer summaries)."""
    grouped: dict[str, list[str]] = {}
    for offer_id, summary in snapshot.offers.items():
        product_id = (summary.get("OfferSummary") or {}).get("ProductId")
        if product_id:
            grouped.setdefault(product_id, []).append(offer_id)
    return grouped


def product_health(snapshot: MarketplaceSnapshot, product_id: str, now: datetime) -> HealthReport:
    """The listing health check of one product (details must have been fetched)."""
    detail = snapshot.product_details.get(product_id, {})
    offer_ids = offers_by_product(snapshot).get(product_id, [])
    return check_product(
        details=detail.get("DetailsDocument") or {},
        visibility=_visibility(snapshot, product_id),
        offers=[snapshot.offers[o] for o in offer_ids],
        change_sets=[cs for cs in snapshot.change_sets if product_id in cs.get("EntityIdList", [])],
        now=now,
    )


def _visibility(snapshot: MarketplaceSnapshot, product_id: str) -> str:
    summary = snapshot.products.get(product_id, {})
    return str(_product_summary(summary).get("Visibility") or summary.get("Visibility") or "")


def products_frame(snapshot: MarketplaceSnapshot, now: datetime) -> pd.DataFrame:
    """One row per product: type, visibility, last change, offers, health once detailed."""
    offers = offers_by_product(snapshot)
    rows = []
    for product_id, summary in snapshot.products.items():
        detailed = product_id in snapshot.product_details
        health = product_health(snapshot, product_id, now) if detailed else None
        rows.append(
            {
                "Product id": product_id,
                "Title": product_title(snapshot, product_id),
                "Type": summary.get("EntityType", ""),
                "Visibility": _visibility(snapshot, product_id),
                "Last change": catalog_time(summary.get("LastModifiedDate")),
                "Offers": len(offers.get(product_id, [])),
                "Health score": health.score if health else None,
                "Issues": len(health.findings) if health else None,
            }
        )
    columns = ["Product id", "Title", "Type", "Visibility", "Last change", "Offers"]
    frame = pd.DataFrame(rows, columns=[*columns, "Health score", "Issues"])
    return frame.sort_values("Last change", ascending=False, ignore_index=True)


@dataclass(frozen=True)
class ProductDetail:
    """Everything the product detail view shows."""

    product_id: str
    title: str
    entity_type: str
    visibility: str
    last_change: datetime | None
    loaded: bool
    short_description: str = ""
    long_description: str = ""
    highlights: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    keywords: tuple[str, ...] = ()
    support: str = ""
    dimensions: pd.DataFrame = field(default_factory=pd.DataFrame)
    versions: pd.DataFrame = field(default_factory=pd.DataFrame)
    offers: pd.DataFrame = field(default_factory=pd.DataFrame)
    health: HealthReport | None = None


def product_detail(snapshot: MarketplaceSnapshot, product_id: str, now: datetime) -> ProductDetail:
    """The detail of one product; ``loaded`` is False until DescribeEntity has answered."""
    summary = snapshot.products.get(product_id, {})
    detail = snapshot.product_details.get(product_id)
    base = {
        "product_id": product_id,
        "title": product_title(snapshot, product_id),
        "entity_type": str(summary.get("EntityType") or (detail or {}).get("EntityType", "")),
        "visibility": _visibility(snapshot, product_id),
        "last_change": catalog_time(
            (detail or {}).get("LastModifiedDate") or summary.get("LastModifiedDate")
        ),
        "offers": offers_frame(snapshot, now, product_id=product_id),
    }
    if detail is None:
        return ProductDetail(loaded=False, **base)
    document = detail.get("DetailsDocument") or {}
    description = document.get("Description") or {}
    return ProductDetail(
        loaded=True,
        short_description=str(description.get("ShortDescription") or ""),
        long_description=str(description.get("LongDescription") or ""),
        highlights=tuple(description.get("Highlights") or ()),
        categories=tuple(description.get("Categories") or ()),
        keywords=tuple(description.get("SearchKeywords") or ()),
        support=str((document.get("SupportInformation") or {}).get("Description") or ""),
        dimensions=dimensions_frame(document),
        versions=versions_frame(document),
        health=product_health(snapshot, product_id, now),
        **base,
    )


def dimensions_frame(document: dict[str, Any]) -> pd.DataFrame:
    """A product's pricing dimensions."""
    rows = [
        {
            "Key": dim.get("Key", ""),
            "Name": dim.get("Name", ""),
            "Description": dim.get("Description", ""),
            "Unit": dim.get("Unit", ""),
            "Types": ", ".join(dim.get("Types") or ()),
        }
        for dim in document.get("Dimensions") or ()
    ]
    return pd.DataFrame(rows, columns=["Key", "Name", "Description", "Unit", "Types"])


def versions_frame(document: dict[str, Any]) -> pd.DataFrame:
    """One row per (version, delivery option)."""
    rows = []
    for version in document.get("Versions") or ():
        options = version.get("DeliveryOptions") or [{}]
        for option in options:
            rows.append(
                {
                    "Version": version.get("VersionTitle") or version.get("Id", ""),
                    "Created": version.get("CreationDate") or "",
                    "Delivery option": option.get("Type") or option.get("Title") or "",
                    "Fulfillment / launch": option.get("FulfillmentUrl")
                    or option.get("LaunchUrl")
                    or option.get("AmiAlias")
                    or "",
                }
            )
    return pd.DataFrame(
        rows, columns=["Version", "Created", "Delivery option", "Fulfillment / launch"]
    )


# -- offers -------------------------------------------------------------------------------------


def offer_audience(summary: dict[str, Any]) -> str:
    """``Public`` for an untargeted offer, else ``Private``."""
    offer = summary.get("OfferSummary") or {}
    targeting = [t for t in offer.get("Targeting") or () if t and t != "None"]
    if targeting or offer.get("BuyerAccounts") or summary.get("Visibility") == "Private":
        return "Private"
    return "Public"


def offer_status(summary: dict[str, Any], now: datetime) -> str:
    """AMMP's offer status: Draft, Active, or Expired once its availability has ended."""
    offer = summary.get("OfferSummary") or {}
    if offer.get("State") == "Draft":
        return "Draft"
    end = catalog_time(offer.get("AvailabilityEndDate"))
    return "Expired" if end is not None and end <= now else "Active"


def targeting_text(summary: dict[str, Any]) -> str:
    """Who the offer targets, in words."""
    offer = summary.get("OfferSummary") or {}
    kinds = [t for t in offer.get("Targeting") or () if t and t != "None"]
    accounts = list(offer.get("BuyerAccounts") or ())
    if accounts:
        shown = ", ".join(accounts[:3]) + (f" +{len(accounts) - 3}" if len(accounts) > 3 else "")
        return f"Buyer accounts: {shown}"
    return ", ".join(kinds) if kinds else "Everyone (public)"


def _grant_text(grants: Iterable[dict[str, Any]]) -> str:
    return ", ".join(f"{g.get('DimensionKey')}×{g.get('MaxQuantity', 1)}" for g in grants)


def _term_summary(term: dict[str, Any]) -> str | None:
    kind = term.get("Type")
    currency = term.get("CurrencyCode", "USD")
    if kind == "ConfigurableUpfrontPricingTerm":
        cards = term.get("RateCards") or []
        durations = [_duration((c.get("Selector") or {}).get("Value")) for c in cards]
        prices = [
            decimal_or_none(item.get("Price")) for c in cards for item in c.get("RateCard") or ()
        ]
        known = [p for p in prices if p is not None and p > 0]
        low = f" from {money(min(known), currency)}" if known else ""
        return f"Contract ({', '.join(d for d in durations if d)}){low}"
    if kind == "FixedUpfrontPricingTerm":
        price = decimal_or_none(term.get("Price"))
        if not price:
            return None  # a payment schedule carries the money
        return f"Upfront {money(price, currency)}" + (
            f" ({_grant_text(term.get('Grants') or [])})" if term.get("Grants") else ""
        )
    if kind == "PaymentScheduleTerm":
        schedule = term.get("Schedule") or []
        amounts = [decimal_or_none(i.get("ChargeAmount")) or Decimal(0) for i in schedule]
        return f"{len(schedule)} installments, {money(sum(amounts, Decimal(0)), currency)} total"
    if kind == "UsageBasedPricingTerm":
        items = [i for c in term.get("RateCards") or () for i in c.get("RateCard") or ()]
        shown = ", ".join(
            f"{i.get('DimensionKey')} {money(decimal_or_none(i.get('Price')), currency)}"
            for i in items[:3]
        )
        return f"Usage: {shown}" + (f" +{len(items) - 3}" if len(items) > 3 else "")
    if kind == "RecurringPaymentTerm":
        recurring = money(decimal_or_none(term.get("Price")), currency)
        return f"{term.get('BillingPeriod', 'Monthly')} {recurring}"
    if kind == "FreeTrialPricingTerm":
        return f"Free trial {_duration(term.get('Duration'))}".strip()
    if kind == "ByolPricingTerm":
        return "BYOL"
    return None


def pricing_summary(terms: Sequence[dict[str, Any]]) -> str:
    """One line for an offer's pricing terms (DescribeEntity ``Terms``), e.g. ``Contract…``."""
    parts = [text for text in (_term_summary(t) for t in terms) if text]
    return " + ".join(parts) if parts else "No pricing terms"


def offer_renewal_allowed(terms: Sequence[dict[str, Any]]) -> bool:
    """A RenewalTerm on an offer means auto-renew is allowed."""
    return any(t.get("Type") == "RenewalTerm" for t in terms)


OFFER_COLUMNS = [
    "Offer id",
    "Name",
    "Product id",
    "Product",
    "Audience",
    "State",
    "Status",
    "Targeting",
    "Released",
    "Available until",
    "Pricing",
    "Agreements",
]


def offers_frame(
    snapshot: MarketplaceSnapshot, now: datetime, *, product_id: str | None = None
) -> pd.DataFrame:
    """One row per offer: public/private, state, targeting, pricing once detailed."""
    agreements_per_offer: dict[str, int] = {}
    for summary in snapshot.agreements.values():
        offer_id = (summary.get("proposalSummary") or {}).get("offerId")
        if offer_id:
            agreements_per_offer[offer_id] = agreements_per_offer.get(offer_id, 0) + 1
    rows = []
    for offer_id, summary in snapshot.offers.items():
        offer = summary.get("OfferSummary") or {}
        if product_id is not None and offer.get("ProductId") != product_id:
            continue
        detail = snapshot.offer_details.get(offer_id)
        terms = ((detail or {}).get("DetailsDocument") or {}).get("Terms") or []
        rows.append(
            {
                "Offer id": offer_id,
                "Name": offer.get("Name") or summary.get("Name", ""),
                "Product id": offer.get("ProductId", ""),
                "Product": product_title(snapshot, offer.get("ProductId", "")),
                "Audience": offer_audience(summary),
                "State": offer.get("State", ""),
                "Status": offer_status(summary, now),
                "Targeting": targeting_text(summary),
                "Released": catalog_time(offer.get("ReleaseDate")),
                "Available until": catalog_time(offer.get("AvailabilityEndDate")),
                "Pricing": pricing_summary(terms) if detail is not None else None,
                "Agreements": agreements_per_offer.get(offer_id, 0),
            }
        )
    frame = pd.DataFrame(rows, columns=OFFER_COLUMNS)
    return frame.sort_values(["Audience", "Status", "Name"], ignore_index=True)


def offer_mix(offers: pd.DataFrame) -> pd.DataFrame:
    """Offer counts per audience and status (for a chart)."""
    if offers.empty:
        return pd.DataFrame(columns=["Audience", "Status", "Offers"])
    counts = offers.groupby(["Audience", "Status"]).size().reset_index(name="Offers")
    return counts.sort_values(["Audience", "Status"], ignore_index=True)


# -- agreements ---------------------------------------------------------------------------------


def _term_key(item: dict[str, Any]) -> str | None:
    """The union key of one AcceptedTerm (``legalTerm`` …), None for unknown members."""
    keys = [k for k in item if k != UNKNOWN_MEMBER]
    return keys[0] if keys else None


def known_terms(terms: Sequence[dict[str, Any]]) -> list[tuple[str, dict[str, Any]]]:
    """(union key, body) for every term this SDK knows; ``SDK_UNKNOWN_MEMBER`` is skipped."""
    result = []
    for item in terms:
        key = _term_key(item)
        if key is not None and isinstance(item[key], dict):
            result.append((key, item[key]))
    return result


def pricing_model(terms: Sequence[dict[str, Any]]) -> str:
    """Contract / Contract + usage / Usage / Subscription / Free trial / BYOL (AWS sample logic)."""
    keys = {key for key, _ in known_terms(terms)}
    contract = bool(keys & {"configurableUpfrontPricingTerm", "fixedUpfrontPricingTerm"})
    if contract:
        return "Contract + usage" if "usageBasedPricingTerm" in keys else "Contract"
    if "usageBasedPricingTerm" in keys:
        return "Usage"
    if "recurringPaymentTerm" in keys:
        return "Subscription"
    if "freeTrialPricingTerm" in keys:
        return "Free trial"
    if "byolPricingTerm" in keys:
        return "BYOL"
    return "—"


def auto_renew(terms: Sequence[dict[str, Any]]) -> bool | None:
    """The buyer's auto-renew choice; None when there is no renewal term."""
    for key, body in known_terms(terms):
        if key == "renewalTerm":
            return bool((body.get("configuration") or {}).get("enableAutoRenew"))
    return None


def contract_years(start: datetime | None, end: datetime | None) -> Decimal | None:
    """(end − start) / 365.25 days, floored at one month; None without an end."""
    if start is None or end is None:
        return None
    days = Decimal(str((end - start) / timedelta(days=1)))
    return max(days / DAYS_PER_YEAR, MIN_CONTRACT_YEARS)


def annual_value(
    tcv: Decimal | None, start: datetime | None, end: datetime | None
) -> Decimal | None:
    """ACV = TCV ÷ contract years (reference §5); None for open-ended agreements."""
    years = contract_years(start, end)
    if tcv is None or years is None:
        return None
    return (tcv / years).quantize(Decimal("0.01"))


def _time(value: Any) -> datetime | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        return ensure_utc(value)
    if isinstance(value, int | float):
        return ensure_utc(datetime.fromtimestamp(value).astimezone())
    return catalog_time(str(value))


AGREEMENT_COLUMNS = [
    "Agreement id",
    "Status",
    "Derived status",
    "Product id",
    "Product",
    "Offer id",
    "Buyer account",
    "Accepted",
    "Start",
    "End",
    "Currency",
    "TCV",
    "ACV",
    "Pricing model",
    "Auto-renew",
]


def agreements_frame(snapshot: MarketplaceSnapshot, now: datetime) -> pd.DataFrame:
    """One row per agreement; TCV/ACV/pricing fill in as DescribeAgreement and terms arrive."""
    rows = [_agreement_row(snapshot, agreement_id, now) for agreement_id in snapshot.agreements]
    frame = pd.DataFrame(rows, columns=AGREEMENT_COLUMNS)
    return frame.sort_values("End", ascending=False, na_position="first", ignore_index=True)


def _agreement_row(snapshot: MarketplaceSnapshot, agreement_id: str, now: datetime) -> dict:
    summary = snapshot.agreements[agreement_id]
    detail = snapshot.agreement_details.get(agreement_id)
    terms = snapshot.agreement_terms.get(agreement_id)
    proposal = summary.get("proposalSummary") or {}
    resources = proposal.get("resources") or [{}]
    product_id = str(resources[0].get("id") or "")
    start, end = _time(summary.get("startTime")), _time(summary.get("endTime"))
    charges = (detail or {}).get("estimatedCharges") or {}
    tcv = decimal_or_none(charges.get("agreementValue")) if detail is not None else None
    status = str(summary.get("status", ""))
    derived = status
    if status == "ACTIVE" and end is not None and now < end <= now + timedelta(days=EXPIRING_DAYS):
        derived = "Expiring"
    return {
        "Agreement id": agreement_id,
        "Status": status,
        "Derived status": derived,
        "Product id": product_id,
        "Product": product_title(snapshot, product_id) if product_id else "",
        "Offer id": proposal.get("offerId", ""),
        "Buyer account": (summary.get("acceptor") or {}).get("accountId", ""),
        "Accepted": _time(summary.get("acceptanceTime")),
        "Start": start,
        "End": end,
        "Currency": charges.get("currencyCode") if detail is not None else None,
        "TCV": tcv,
        "ACV": annual_value(tcv, start, end),
        "Pricing model": pricing_model(terms) if terms is not None else None,
        "Auto-renew": auto_renew(terms) if terms is not None else None,
    }


def _decimal_sum(values: Iterable[Any]) -> Decimal:
    return sum((v for v in values if isinstance(v, Decimal)), Decimal(0))


# The aggregations below run on every rerun of the live demo over a few dozen agreements, so
# they group plain records in Python: pandas' groupby costs milliseconds per call at this size.


def _rows(frame: pd.DataFrame) -> list[dict[str, Any]]:
    return frame.to_dict("records") if not frame.empty else []


def _currency(row: Mapping[str, Any]) -> str:
    """The row's currency; "—" until DescribeAgreement has answered."""
    currency = row.get("Currency")
    return "—" if currency is None or currency != currency else str(currency)  # NaN != NaN


def _group(rows: Iterable[dict[str, Any]], *keys: Any) -> dict[tuple[Any, ...], list[dict]]:
    """Rows by the values of ``keys`` (callables or column names), keys sorted."""
    groups: dict[tuple[Any, ...], list[dict]] = {}
    for row in rows:
        key = tuple(k(row) if callable(k) else row[k] for k in keys)
        groups.setdefault(key, []).append(row)
    return dict(sorted(groups.items(), key=lambda item: tuple(str(k) for k in item[0])))


def _is_active(row: Mapping[str, Any]) -> bool:
    return row["Status"] == "ACTIVE"


def _tcv_known(row: Mapping[str, Any]) -> bool:
    return isinstance(row["TCV"], Decimal)


def pipeline_by_status(agreements: pd.DataFrame) -> pd.DataFrame:
    """Agreements and TCV per status and currency (TCV counts described agreements only)."""
    columns = ["Status", "Currency", "Agreements", "Described", "TCV"]
    rows = [
        {
            "Status": status,
            "Currency": currency,
            "Agreements": len(group),
            "Described": sum(1 for row in group if _tcv_known(row)),
            "TCV": _decimal_sum(row["TCV"] for row in group),
        }
        for (status, currency), group in _group(_rows(agreements), "Status", _currency).items()
    ]
    return pd.DataFrame(rows, columns=columns)


def status_counts(agreements: pd.DataFrame) -> pd.DataFrame:
    """Agreements per status, all currencies together (for the pipeline chart)."""
    groups = _group(_rows(agreements), "Status")
    counts = sorted(
        ((len(group), status) for (status,), group in groups.items()), key=lambda cs: -cs[0]
    )
    rows = [  # a chart reads "Active"
        {"Status": status_text(status), "Agreements": count} for count, status in counts
    ]
    return pd.DataFrame(rows, columns=["Status", "Agreements"])


def value_totals(agreements: pd.DataFrame) -> pd.DataFrame:
    """Per currency: active agreements, active TCV and ACV, and TCV across all statuses."""
    columns = ["Currency", "Active agreements", "Active TCV", "Active ACV", "All-time TCV"]
    described = [row for row in _rows(agreements) if _currency(row) != "—"]
    rows = []
    for (currency,), group in _group(described, _currency).items():
        active = [row for row in group if _is_active(row)]
        rows.append(
            {
                "Currency": currency,
                "Active agreements": len(active),
                "Active TCV": _decimal_sum(row["TCV"] for row in active),
                "Active ACV": _decimal_sum(row["ACV"] for row in active),
                "All-time TCV": _decimal_sum(row["TCV"] for row in group),
            }
        )
    return pd.DataFrame(rows, columns=columns)


def renewal_bucket(end: datetime | None, now: datetime) -> str | None:
    """Which 30/60/90-day bucket an end date falls in (whole days from now), or None."""
    if end is None or pd.isna(end) or end <= now:
        return None
    days = (end - now).days
    for label, low, high in RENEWAL_BUCKETS:
        if low <= days <= high:
            return label
    return None


def renewals_frame(agreements: pd.DataFrame, now: datetime) -> pd.DataFrame:
    """ACTIVE agreements ending within 90 days, soonest first, with their bucket."""
    columns = ["Bucket", *AGREEMENT_COLUMNS]
    due = []
    for row in _rows(agreements):
        bucket = renewal_bucket(row["End"], now) if _is_active(row) else None
        if bucket is not None:
            due.append({"Bucket": bucket, **row})
    due.sort(key=lambda row: row["End"])
    return pd.DataFrame(due, columns=columns)


def renewal_buckets(renewals: pd.DataFrame) -> pd.DataFrame:
    """Per bucket (all three, even when empty): agreements, USD TCV, auto-renew share."""
    groups = _group(_rows(renewals), "Bucket")
    rows = []
    for label in RENEWAL_BUCKET_LABELS:
        group = groups.get((label,), [])
        choices = [row["Auto-renew"] for row in group if isinstance(row["Auto-renew"], bool)]
        rows.append(
            {
                "Bucket": label,
                "Agreements": len(group),
                "TCV (USD)": _decimal_sum(row["TCV"] for row in group if _currency(row) == "USD"),
                "Auto-renew share": sum(choices) / len(choices) if choices else None,
            }
        )
    return pd.DataFrame(rows, columns=["Bucket", "Agreements", "TCV (USD)", "Auto-renew share"])


def by_product(agreements: pd.DataFrame) -> pd.DataFrame:
    """Per product and currency: agreements, active ones, active TCV and ACV, all-time TCV.

    Active TCV sums exactly the agreements the *Active TCV* headline sums, so the per-product
    figures add up to it; the all-time TCV (every status) is a separate, named column.
    """
    columns = [
        "Product",
        "Product id",
        "Currency",
        "Agreements",
        "Active",
        "Active TCV",
        "Active ACV",
        "All-time TCV",
    ]
    rows = []
    for (product_id, currency), group in _group(_rows(agreements), "Product id", _currency).items():
        active = [row for row in group if _is_active(row)]
        rows.append(
            {
                "Product": group[0]["Product"],
                "Product id": product_id,
                "Currency": currency,
                "Agreements": len(group),
                "Active": len(active),
                "Active TCV": _decimal_sum(row["TCV"] for row in active),
                "Active ACV": _decimal_sum(row["ACV"] for row in active),
                "All-time TCV": _decimal_sum(row["TCV"] for row in group),
            }
        )
    rows.sort(key=lambda row: (row["Active TCV"], row["All-time TCV"]), reverse=True)
    return pd.DataFrame(rows, columns=columns)


def chart_frame(frame: pd.DataFrame, *money_columns: str) -> pd.DataFrame:
    """A copy with Decimal columns as floats: charts only, never for totals."""
    copy = frame.copy()
    for column in money_columns:
        copy[column] = [float(v) if isinstance(v, Decimal) else None for v in copy[column]]
    return copy


def _leaves(value: Any, prefix: str = "") -> list[tuple[str, Any]]:
    """(dotted path, scalar) pairs; list items are numbered from 1."""
    if isinstance(value, dict):
        pairs: list[tuple[str, Any]] = []
        for key, item in value.items():
            if key in ("type", "id"):
                continue
            pairs.extend(_leaves(item, f"{prefix}.{key}" if prefix else key))
        return pairs
    if isinstance(value, list):
        pairs = []
        for index, item in enumerate(value, start=1):
            pairs.extend(_leaves(item, f"{prefix}[{index}]"))
        return pairs
    if isinstance(value, datetime):
        value = ensure_utc(value).strftime("%Y-%m-%d %H:%M:%S UTC")
    return [(prefix, value)]


def agreement_terms_frame(terms: Sequence[dict[str, Any]]) -> pd.DataFrame:
    """Every accepted term flattened to (term, id, field, value) rows; unknown members skipped."""
    rows = []
    for key, body in known_terms(terms):
        name = str(body.get("type") or key[0].upper() + key[1:])
        leaves = _leaves(body) or [("—", "")]
        for path, value in leaves:
            rows.append(
                {"Term": name, "Term id": body.get("id", ""), "Field": path, "Value": str(value)}
            )
    return pd.DataFrame(rows, columns=["Term", "Term id", "Field", "Value"])


@dataclass(frozen=True)
class AgreementDetail:
    """One agreement with its value and every accepted term."""

    agreement_id: str
    row: dict[str, Any]
    loaded: bool
    terms: pd.DataFrame
    skipped_unknown_terms: int


def agreement_detail(
    snapshot: MarketplaceSnapshot, agreement_id: str, now: datetime
) -> AgreementDetail:
    """The agreement's row plus flattened terms (``loaded`` once describe and terms are in)."""
    terms = snapshot.agreement_terms.get(agreement_id) or []
    skipped = sum(1 for item in terms if _term_key(item) is None)
    return AgreementDetail(
        agreement_id=agreement_id,
        row=_agreement_row(snapshot, agreement_id, now),
        loaded=agreement_id in snapshot.agreement_details
        and agreement_id in snapshot.agreement_terms,
        terms=agreement_terms_frame(terms),
        skipped_unknown_terms=skipped,
    )


# -- change sets --------------------------------------------------------------------------------


def change_sets_frame(snapshot: MarketplaceSnapshot) -> pd.DataFrame:
    """Change-set history, newest first, with the titles of the entities they touch."""
    titles = {pid: product_title(snapshot, pid) for pid in snapshot.products}
    titles.update(
        {
            oid: str((s.get("OfferSummary") or {}).get("Name") or oid)
            for oid, s in snapshot.offers.items()
        }
    )
    rows = []
    for item in snapshot.change_sets:
        start, end = catalog_time(item.get("StartTime")), catalog_time(item.get("EndTime"))
        entities = list(item.get("EntityIdList") or ())
        rows.append(
            {
                "Change set id": item.get("ChangeSetId", ""),
                "Name": item.get("ChangeSetName", ""),
                "Status": item.get("Status", ""),
                "Started": start,
                "Ended": end,
                "Minutes": round((end - start).total_seconds() / 60, 1) if start and end else None,
                "Entities": ", ".join(titles.get(e, e) for e in entities),
                "Failure": item.get("FailureCode") or "",
            }
        )
    columns = [
        "Change set id",
        "Name",
        "Status",
        "Started",
        "Ended",
        "Minutes",
        "Entities",
        "Failure",
    ]
    frame = pd.DataFrame(rows, columns=columns)
    return frame.sort_values("Started", ascending=False, ignore_index=True)


def change_set_status_counts(change_sets: pd.DataFrame) -> pd.DataFrame:
    """Change sets per status."""
    if change_sets.empty:
        return pd.DataFrame(columns=["Status", "Change sets"])
    counts = change_sets.groupby("Status").size().reset_index(name="Change sets")
    counts["Status"] = counts["Status"].map(status_text)
    return counts.sort_values("Change sets", ascending=False, ignore_index=True)


def change_set_changes_frame(described: dict[str, Any]) -> pd.DataFrame:
    """The changes inside one DescribeChangeSet answer, with their errors."""
    rows = []
    for change in described.get("ChangeSet") or ():
        entity = change.get("Entity") or {}
        errors = change.get("ErrorDetailList") or []
        rows.append(
            {
                "Change type": change.get("ChangeType", ""),
                "Change name": change.get("ChangeName") or "",
                "Entity type": entity.get("Type", ""),
                "Entity": entity.get("Identifier", ""),
                "Errors": "; ".join(
                    f"{e.get('ErrorCode')}: {e.get('ErrorMessage')}" for e in errors
                ),
            }
        )
    columns = ["Change type", "Change name", "Entity type", "Entity", "Errors"]
    return pd.DataFrame(rows, columns=columns)


def offer_terms_frame(detail: dict[str, Any] | None) -> pd.DataFrame:
    """Every term and rule of an offer's DetailsDocument as (term, field, value) rows."""
    document = (detail or {}).get("DetailsDocument") or {}
    rows = []
    for item in [*(document.get("Terms") or ()), *(document.get("Rules") or ())]:
        name = str(item.get("Type", ""))
        body = {k: v for k, v in item.items() if k != "Type"}
        for path, value in _leaves(body) or [("—", "")]:
            rows.append({"Term": name, "Field": path, "Value": str(value)})
    return pd.DataFrame(rows, columns=["Term", "Field", "Value"])


# -- what a person reads: tables and pickers ----------------------------------------------------
#
# The frames above are the data (and the CSV downloads): numbers stay numbers, ids are kept.
# The functions below turn them into the text on screen with the shared formatting helpers:
# human headers, money with its currency, shares as percentages, dates as days, ids last, and
# an em dash wherever a value is missing or has not streamed in yet.

PRODUCT_TYPE_WORDS = {
    "SaaSProduct": "SaaS",
    "AmiProduct": "AMI",
    "ContainerProduct": "Container",
    "DataProduct": "Data",
    "MachineLearningProduct": "Machine learning",
}
# Words for path segments whose generic spelling would read oddly ("Rate card 1 · Rate card 2").
FIELD_WORDS = {"ratecard": "Rate", "schedule": "Payment"}
PRICE_FIELDS = {"price", "chargeamount", "amount"}


def status_text(status: Any) -> str:
    """``ACTIVE`` → ``Active``; other words kept as written (``Expiring``)."""
    value = text(status)
    return value.capitalize() if value.isupper() else value


def product_type_text(entity_type: Any) -> str:
    """``SaaSProduct`` → ``SaaS``."""
    return PRODUCT_TYPE_WORDS.get(str(entity_type), text(entity_type))


def _format_money(
    frame: pd.DataFrame, columns: Sequence[str], currency_column: str | None = "Currency"
) -> pd.DataFrame:
    """A copy whose money ``columns`` are text in each row's currency."""
    copy = frame.copy()
    currencies = (
        copy[currency_column].tolist()
        if currency_column and currency_column in copy.columns
        else ["USD"] * len(copy)
    )
    for column in columns:
        copy[column] = [
            # "—": no value has streamed in for this group yet, so there is no sum to show
            money(value, currency) if currency not in (None, "—") else text(None)
            for value, currency in zip(copy[column].tolist(), currencies, strict=True)
        ]
    return copy


def products_table(products: pd.DataFrame) -> pd.DataFrame:
    """The products as shown: title first, type in words, the product id last."""
    return display_frame(
        products,
        {"Type": product_type_text, "Last change": day, "Offers": count, "Issues": count},
        columns=[
            "Title",
            "Type",
            "Visibility",
            "Last change",
            "Offers",
            "Health score",
            "Issues",
            "Product id",
        ],
        rename={"Health score": "Health (of 100)"},
    )


# The offer columns a rep reads on screen at 1280 px; targeting, release date and the id are in
# the CSV and in the offer opened below the table.
OFFER_SCREEN_COLUMNS = ("Name", "Product", "Audience", "Status", "Pricing", "Agreements")


def offers_table(offers: pd.DataFrame) -> pd.DataFrame:
    """The offers as shown: name, product, who it is for, status, pricing; ids last."""
    return display_frame(
        offers,
        {"Released": day, "Available until": day, "Agreements": count},
        columns=[
            "Name",
            "Product",
            "Audience",
            "Status",
            "Pricing",
            "Agreements",
            "Available until",
            "Targeting",
            "Released",
            "Offer id",
        ],
    )


# What fits beside each other at 1280 px (issue 13: the grid scrolled sideways); the pricing
# model, acceptance date and the ids are in the CSV and in the agreement opened below.
AGREEMENT_TABLE_COLUMNS = [
    "Product",
    "Buyer account",
    "Derived status",
    "Start",
    "End",
    "TCV",
    "ACV",
    "Auto-renew",
]


# What a renewal conversation needs (when, what, how much, will it renew), narrow enough to fit
# at 1280 px; the agreement's id and pricing model are in *All agreements* and the CSV.
RENEWAL_TABLE_COLUMNS = [
    "Bucket",
    "Product",
    "Buyer account",
    "End",
    "TCV",
    "ACV",
    "Auto-renew",
]


def agreements_table(agreements: pd.DataFrame, *, bucket: bool = False) -> pd.DataFrame:
    """Agreements as shown: product and buyer first, money in its currency, ids last.

    With ``bucket`` (renewals due) only what matters for a renewal: when, what, how much.
    """
    columns = RENEWAL_TABLE_COLUMNS if bucket else AGREEMENT_TABLE_COLUMNS
    return display_frame(
        _format_money(agreements, ["TCV", "ACV"]),
        {
            "Derived status": status_text,
            "Start": day,
            "End": day,
            "Accepted": day,
            "Auto-renew": yes_no,
        },
        columns=columns,
        rename={"Derived status": "Status", "Bucket": "Due in"},
    )


def pipeline_table(pipeline: pd.DataFrame) -> pd.DataFrame:
    """Agreements and TCV per status, as shown."""
    return display_frame(
        _format_money(pipeline, ["TCV"]),
        {"Status": status_text, "Agreements": count, "Described": count},
        rename={"Described": "With a value"},
    )


def totals_table(totals: pd.DataFrame) -> pd.DataFrame:
    """Contract value per currency, as shown."""
    return display_frame(
        _format_money(totals, ["Active TCV", "Active ACV", "All-time TCV"]),
        {"Active agreements": count},
    )


def buckets_table(buckets: pd.DataFrame) -> pd.DataFrame:
    """Renewals due per bucket, as shown (auto-renew as a percentage)."""
    return display_frame(
        _format_money(buckets, ["TCV (USD)"], None),
        {"Agreements": count, "Auto-renew share": percent},
        rename={"Bucket": "Due in"},
    )


def by_product_table(products: pd.DataFrame) -> pd.DataFrame:
    """Per product, as shown: active TCV beside the all-time TCV, the product id last."""
    return display_frame(
        _format_money(products, ["Active TCV", "Active ACV", "All-time TCV"]),
        {"Agreements": count, "Active": count},
        columns=[
            "Product",
            "Agreements",
            "Active",
            "Active TCV",
            "Active ACV",
            "All-time TCV",
            "Product id",
        ],
        rename={"Active": "Active agreements"},
    )


# On screen at 1280 px: what, how it went, when and how long; the end time and the id are in
# the CSV and in the change set opened below the table.
CHANGE_SET_SCREEN_COLUMNS = ("Name", "Status", "Started", "Took", "Entities", "Failure")


def change_sets_table(history: pd.DataFrame) -> pd.DataFrame:
    """Change-set history, as shown: name and status first, how long it took, the id last."""
    return display_frame(
        history,
        {
            "Status": status_text,
            "Started": when_minute,
            "Ended": when_minute,
            "Minutes": minutes_text,
        },
        columns=[
            "Name",
            "Status",
            "Started",
            "Ended",
            "Minutes",
            "Entities",
            "Failure",
            "Change set id",
        ],
        rename={"Minutes": "Took"},
    )


def changes_table(changes: pd.DataFrame) -> pd.DataFrame:
    """The changes of one change set, as shown."""
    return display_frame(changes, {"Change type": lambda v: words(str(v)) if v else text(v)})


def term_name(name: str) -> str:
    """``FixedUpfrontPricingTerm`` → ``Fixed upfront pricing``; ``AvailabilityRule`` kept whole."""
    spoken = words(name)
    return spoken[: -len(" term")] if spoken.endswith(" term") else spoken


def field_label(path: str) -> str:
    """``Documents[1].Type`` → ``Document 1 · type``; ``rateCards[1].rateCard[2].price`` →
    ``Rate card 1 · rate 2 · price``."""
    if path in ("", "—"):
        return text(path)
    parts: list[str] = []
    for segment in path.split("."):
        name, _, index = segment.partition("[")
        spoken = FIELD_WORDS.get(name.lower()) if index else None
        if spoken is None:
            spoken = words(name)
            if index and spoken.endswith("s") and not spoken.endswith("ss"):
                spoken = spoken[:-1]
        label = f"{spoken} {index.rstrip(']')}" if index else spoken
        parts.append(label if not parts else label[:1].lower() + label[1:])
    return " · ".join(parts)


def term_value(field: str, value: Any, currency: str | None) -> str:
    """One term value in words: durations spelled out, prices as money, booleans Yes/No."""
    raw = text(value)
    last = field.rsplit(".", 1)[-1].split("[", 1)[0].lower()
    if raw in ("True", "False"):
        return yes_no(raw == "True")
    if last in PRICE_FIELDS and decimal_or_none(raw) is not None:
        return money(decimal_or_none(raw), currency or "USD")
    if raw.startswith("P") and iso_duration_text(raw) != raw:
        return iso_duration_text(raw)
    if len(raw) >= 20 and raw[4:5] == "-" and raw[10:11] == "T":
        try:
            return when_minute(catalog_time(raw))
        except ValueError:
            return raw
    return raw


def terms_table(terms: pd.DataFrame) -> pd.DataFrame:
    """Agreement or offer terms as shown: term and field in words, the value beside them.

    A term's id (about 60 characters) goes last, so it never pushes the value off screen.
    """
    rows = []
    group_key = ["Term", "Term id"] if "Term id" in terms.columns else ["Term"]
    currencies: dict[tuple[Any, ...], str] = {}
    for record in terms.to_dict("records"):
        if str(record["Field"]).rsplit(".", 1)[-1].lower() == "currencycode":
            currencies[tuple(record[k] for k in group_key)] = str(record["Value"])
    for record in terms.to_dict("records"):
        currency = currencies.get(tuple(record[k] for k in group_key))
        row = {
            "Term": term_name(str(record["Term"])),
            "Field": field_label(str(record["Field"])),
            "Value": term_value(str(record["Field"]), record["Value"], currency),
        }
        if "Term id" in terms.columns:
            row["Term id"] = text(record["Term id"])
        rows.append(row)
    columns = ["Term", "Field", "Value"] + (["Term id"] if "Term id" in terms.columns else [])
    return pd.DataFrame(rows, columns=columns)


def product_choices(products: pd.DataFrame) -> dict[str, str]:
    """Product id → its title (made unique with the id where two titles match)."""
    labels = dict(zip(products["Product id"], products["Title"], strict=True))
    return unique_labels(labels, {key: key for key in labels})


def offer_choices(offers: pd.DataFrame) -> dict[str, str]:
    """Offer id → name · product · audience · status · pricing · availability, unique."""
    labels = {}
    for row in offers.to_dict("records"):
        until = row["Available until"]
        parts = [
            row["Name"],
            row["Product"],
            f"{row['Audience']} · {row['Status']}",
            row["Pricing"] or "",
            f"until {day(until)}" if until is not None and not pd.isna(until) else "",
        ]
        labels[row["Offer id"]] = " · ".join(p for p in parts if p)
    return unique_labels(labels, {key: key for key in labels})


def agreement_choices(agreements: pd.DataFrame) -> dict[str, str]:
    """Agreement id → product · buyer · status · value · dates, unique."""
    labels = {}
    for row in agreements.to_dict("records"):
        tcv = row["TCV"]
        value = money(tcv, row["Currency"] or "USD") if isinstance(tcv, Decimal) else ""
        dates = f"{day(row['Start'])} → {day(row['End'])}"
        parts = [
            row["Product"] or row["Product id"],
            f"buyer {row['Buyer account']}",
            status_text(row["Derived status"]),
            value,
            dates,
        ]
        labels[row["Agreement id"]] = " · ".join(p for p in parts if p)
    return unique_labels(labels, {key: key for key in labels})


def agreement_title(row: Mapping[str, Any]) -> str:
    """The heading of one agreement: what was bought, by whom (the id goes in the caption)."""
    product = row.get("Product") or row.get("Product id") or "Agreement"
    buyer = row.get("Buyer account")
    return f"{product} — buyer {buyer}" if buyer else str(product)


def change_set_choices(history: pd.DataFrame) -> dict[str, str]:
    """Change-set id → name · status · when it started · what it touched, unique."""
    labels = {}
    for row in history.to_dict("records"):
        parts = [
            row["Name"] or "Unnamed change set",
            status_text(row["Status"]),
            f"started {when_minute(row['Started'])}",
            row["Entities"],
        ]
        labels[row["Change set id"]] = " · ".join(p for p in parts if p)
    return unique_labels(labels, {key: key for key in labels})
