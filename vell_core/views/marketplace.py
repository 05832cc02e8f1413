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

PRODUCT_TYPES: tuple[str, ...] = (
    "SaaSProduct",
    "AmiProduct",
    "ContainerProduct",
    "DataProduct",
    "MachineLearningProduct",
)
RENEWAL_BUCKETS: tuple[tuple[str, int, int], ...] = (
    ("≤30 days", 0, 30),
    ("31–60 days", 31, 60),
    ("61–90 days", 61, 90),
)
EXPIRING_DAYS = 90  # AMMP's derived "Expiring": ACTIVE with under 90 days left
DAYS_PER_YEAR = Decimal("365.25")
MIN_CONTRACT_YEARS = Decimal(1) / Decimal(12)  # ACV floors the contract length at one month
UNKNOWN_MEMBER = "SDK_UNKNOWN_MEMBER"


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


# -- small parsers ------------------------------------------------------------------------------


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


def decimal_or_none(value: Any) -> Decimal | None:
    """A decimal string as ``Decimal`` (never via float); None when missing or malformed."""
    if value is None:
        return None
    try:
        return Decimal(str(value))
    except InvalidOperation:
        return None


def money(value: Decimal | None, currency: str = "USD") -> str:
    """``$84,000.00`` / ``EUR 1,200.00``; an em dash when unknown."""
    if value is None:
        return "—"
    text = f"{value.quantize(Decimal('0.01')):,}"
    return f"${text}" if currency == "USD" else f"{currency} {text}"


def _months(duration: str | None) -> str:
    """``P12M`` → ``12 mo``; ``P30D`` → ``30 days``; anything else unchanged."""
    if not duration:
        return ""
    if duration.startswith("P") and duration.endswith("M"):
        return f"{duration[1:-1]} mo"
    if duration.startswith("P") and duration.endswith("D"):
        return f"{duration[1:-1]} days"
    return duration


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
        durations = [_months((c.get("Selector") or {}).get("Value")) for c in cards]
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
        return f"Free trial {_months(term.get('Duration'))}".strip()
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


def pipeline_by_status(agreements: pd.DataFrame) -> pd.DataFrame:
    """Agreements and TCV per status and currency (TCV counts described agreements only)."""
    columns = ["Status", "Currency", "Agreements", "Described", "TCV"]
    if agreements.empty:
        return pd.DataFrame(columns=columns)
    rows = []
    keyed = agreements.assign(Currency=agreements["Currency"].fillna("—"))
    for (status, currency), group in keyed.groupby(["Status", "Currency"], sort=True):
        rows.append(
            {
                "Status": status,
                "Currency": currency,
                "Agreements": len(group),
                "Described": int(group["TCV"].notna().sum()),
                "TCV": _decimal_sum(group["TCV"]),
            }
        )
    return pd.DataFrame(rows, columns=columns)


def status_counts(agreements: pd.DataFrame) -> pd.DataFrame:
    """Agreements per status, all currencies together (for the pipeline chart)."""
    if agreements.empty:
        return pd.DataFrame(columns=["Status", "Agreements"])
    counts = agreements.groupby("Status").size().reset_index(name="Agreements")
    return counts.sort_values("Agreements", ascending=False, ignore_index=True)


def value_totals(agreements: pd.DataFrame) -> pd.DataFrame:
    """Per currency: active agreements, active TCV and ACV, and TCV across all statuses."""
    columns = ["Currency", "Active agreements", "Active TCV", "Active ACV", "All-time TCV"]
    described = agreements[agreements["Currency"].notna()] if not agreements.empty else agreements
    if described.empty:
        return pd.DataFrame(columns=columns)
    rows = []
    for currency, group in described.groupby("Currency", sort=True):
        active = group[group["Status"] == "ACTIVE"]
        rows.append(
            {
                "Currency": currency,
                "Active agreements": len(active),
                "Active TCV": _decimal_sum(active["TCV"]),
                "Active ACV": _decimal_sum(active["ACV"]),
                "All-time TCV": _decimal_sum(group["TCV"]),
            }
        )
    return pd.DataFrame(rows, columns=columns)


def renewal_bucket(end: datetime | None, now: datetime) -> str | None:
    """Which 30/60/90-day bucket an end date falls in (whole days from now), or None."""
    if end is None or end <= now:
        return None
    days = (end - now).days
    for label, low, high in RENEWAL_BUCKETS:
        if low <= days <= high:
            return label
    return None


def renewals_frame(agreements: pd.DataFrame, now: datetime) -> pd.DataFrame:
    """ACTIVE agreements ending within 90 days, soonest first, with their bucket."""
    columns = ["Bucket", *AGREEMENT_COLUMNS]
    if agreements.empty:
        return pd.DataFrame(columns=columns)
    active = agreements[agreements["Status"] == "ACTIVE"].copy()
    active["Bucket"] = [renewal_bucket(end, now) for end in active["End"]]
    due = active[active["Bucket"].notna()].sort_values("End", ignore_index=True)
    return due[columns]


def renewal_buckets(renewals: pd.DataFrame) -> pd.DataFrame:
    """Per bucket (all three, even when empty): agreements, USD TCV, auto-renew share."""
    rows = []
    for label, _, _ in RENEWAL_BUCKETS:
        group = renewals[renewals["Bucket"] == label] if not renewals.empty else renewals
        usd = group[group["Currency"] == "USD"] if not group.empty else group
        choices = [v for v in (group["Auto-renew"] if not group.empty else []) if v is not None]
        rows.append(
            {
                "Bucket": label,
                "Agreements": len(group),
                "TCV (USD)": _decimal_sum(usd["TCV"]) if not usd.empty else Decimal(0),
                "Auto-renew share": (sum(bool(v) for v in choices) / len(choices))
                if choices
                else None,
            }
        )
    return pd.DataFrame(rows, columns=["Bucket", "Agreements", "TCV (USD)", "Auto-renew share"])


def by_product(agreements: pd.DataFrame) -> pd.DataFrame:
    """Per product and currency: agreements, active ones, TCV and active ACV."""
    columns = ["Product", "Product id", "Currency", "Agreements", "Active", "TCV", "Active ACV"]
    if agreements.empty:
        return pd.DataFrame(columns=columns)
    rows = []
    keyed = agreements.assign(Currency=agreements["Currency"].fillna("—"))
    for (product_id, currency), group in keyed.groupby(["Product id", "Currency"], sort=True):
        active = group[group["Status"] == "ACTIVE"]
        rows.append(
            {
                "Product": group["Product"].iloc[0],
                "Product id": product_id,
                "Currency": currency,
                "Agreements": len(group),
                "Active": len(active),
                "TCV": _decimal_sum(group["TCV"]),
                "Active ACV": _decimal_sum(active["ACV"]),
            }
        )
    frame = pd.DataFrame(rows, columns=columns)
    return frame.sort_values("TCV", ascending=False, ignore_index=True)


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
