"""Offer terms, their agreement-side copies, and the agreement value derived from them.

Offer terms use the Catalog's PascalCase shapes (``FixedUpfrontPricingTerm`` …); accepted
terms use the Agreement API's camelCase union items (``{"fixedUpfrontPricingTerm": {...}}``).
``agreement_value`` implements reference §2.3: upfront TCV, the installment sum for payment
schedules, only the committed part for contract plus usage, and ``0`` for pure usage.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from vell_core.sandbox.marketplace.models import iso_ms, iso_z, parse_iso
from vell_core.sandbox.marketplace.plan import SellerDraft, Slot, TermBodies, lognormal_tcv
from vell_core.sandbox.marketplace.rand import add_months, day_start, term_id

EULA_VERSIONS = ("2019-04-24", "2019-12-12", "2022-07-14")
REFUND_POLICIES = (
    "Refunds are pro-rated within 30 days of acceptance.",
    "No refunds after the first 14 days; contact billing@ for exceptions.",
    "Unused committed capacity is refundable within 60 days.",
)
DURATION_FACTOR = {1: Decimal("0.095"), 12: Decimal(1), 24: Decimal("1.9"), 36: Decimal("2.7")}
_DURATION = re.compile(r"^P(\d+)([MD])$")


def months_of(duration: str) -> int:
    """``P12M`` → 12 (day durations count as whole months, rounded up)."""
    match = _DURATION.match(duration)
    if not match:
        raise ValueError(f"unsupported duration {duration}")
    count = int(match.group(1))
    return count if match.group(2) == "M" else max(1, -(-count // 30))


def money(value: Decimal | int | float) -> str:
    """A decimal string with two places, as the APIs write prices."""
    return f"{Decimal(value).quantize(Decimal('0.01'))}"


def price_for(annual: str, months: int) -> str:
    """The rate-card price of one unit for a ``months`` commitment."""
    return money(Decimal(annual) * DURATION_FACTOR.get(months, Decimal(months) / 12))


# ----------------------------------------------------------------------------------------------
# Offer terms (Catalog shapes)


def legal_term(rng: Any, custom: bool = False) -> dict[str, Any]:
    """A ``LegalTerm`` with a standard or custom EULA."""
    if custom:
        document = {"Type": "CustomEula", "Url": "https://legal.example.com/eula-v3.pdf"}
    else:
        document = {"Type": "StandardEula", "Version": rng.choice(EULA_VERSIONS)}
    return {"Type": "LegalTerm", "Documents": [document]}


def support_term(rng: Any) -> dict[str, Any]:
    """A ``SupportTerm`` (the refund policy text)."""
    return {"Type": "SupportTerm", "RefundPolicy": rng.choice(REFUND_POLICIES)}


def usage_term(dimensions: list[dict[str, Any]], currency: str = "USD") -> dict[str, Any] | None:
    """``UsageBasedPricingTerm`` over the metered dimensions, if there are any."""
    cards = [
        {"DimensionKey": d["Key"], "Price": d["Meta"]["UnitPrice"]}
        for d in dimensions
        if d["Types"] != ["Entitled"]
    ]
    if not cards:
        return None
    return {
        "Type": "UsageBasedPricingTerm",
        "CurrencyCode": currency,
        "RateCards": [{"RateCard": cards}],
    }


def configurable_term(dimensions: list[dict[str, Any]]) -> dict[str, Any]:
    """Public contract pricing: one rate card per duration over the entitled dimensions."""
    entitled = [d for d in dimensions if d["Types"] == ["Entitled"]]
    cards = []
    for duration in ("P1M", "P12M", "P24M", "P36M"):
        months = months_of(duration)
        cards.append(
            {
                "Selector": {"Type": "Duration", "Value": duration},
                "Constraints": {
                    "MultipleDimensionSelection": "Allowed",
                    "QuantityConfiguration": "Allowed",
                },
                "RateCard": [
                    {"DimensionKey": d["Key"], "Price": price_for(d["Meta"]["AnnualPrice"], months)}
                    for d in entitled
                ],
            }
        )
    return {"Type": "ConfigurableUpfrontPricingTerm", "CurrencyCode": "USD", "RateCards": cards}


def private_contract_terms(
    gen: SellerDraft,
    slot: Slot,
    tcv: int,
    currency: str,
    dimensions: list[dict[str, Any]],
) -> list[dict[str, Any]]:
    """The terms of a private contract offer worth ``tcv`` (schedule 30%, usage 25%)."""
    rng = gen.rng
    assert slot.start is not None
    months = months_of(slot.duration)
    tier = max(
        (d for d in dimensions if d["Types"] == ["Entitled"]),
        key=lambda d: Decimal(d["Meta"]["AnnualPrice"]),
    )
    scheduled = rng.random() < 0.3 and months >= 12
    terms = [legal_term(rng, custom=rng.random() < 0.25), support_term(rng)]
    upfront = {
        "Type": "FixedUpfrontPricingTerm",
        "CurrencyCode": currency,
        "Price": money(0 if scheduled else tcv),
        "Duration": slot.duration,
        "Grants": [{"DimensionKey": tier["Key"], "MaxQuantity": 1}],
    }
    terms.append(upfront)
    if rng.random() < 0.25:
        usage = usage_term(dimensions, currency)
        if usage is not None:
            terms.append(usage)
    if scheduled:
        terms.append(payment_schedule(slot.start, months, tcv, currency, rng.randint(2, 12)))
    validity: dict[str, Any] = {"Type": "ValidityTerm", "AgreementDuration": slot.duration}
    if slot.future:
        validity["AgreementStartDate"] = iso_ms(slot.start)
    terms.append(validity)
    if rng.random() < 0.7:
        terms.append({"Type": "RenewalTerm"})
    return terms


def payment_schedule(
    start: datetime, months: int, tcv: int, currency: str, installments: int
) -> dict[str, Any]:
    """``PaymentScheduleTerm``: ``installments`` equal charges (the last absorbs rounding)."""
    installments = max(1, min(installments, months))
    share = Decimal(tcv) / installments
    amounts = [share.quantize(Decimal(1)) for _ in range(installments - 1)]
    amounts.append(Decimal(tcv) - sum(amounts, Decimal(0)))
    step = max(1, months // installments)
    schedule = [
        {
            "ChargeDate": iso_ms(day_start(add_months(start, index * step))),
            "ChargeAmount": money(amount),
        }
        for index, amount in enumerate(amounts)
    ]
    return {"Type": "PaymentScheduleTerm", "CurrencyCode": currency, "Schedule": schedule}


# ----------------------------------------------------------------------------------------------
# Agreement terms (Agreement API union items)


def _camel(name: str) -> str:
    return name[:1].lower() + name[1:]


def _camel_keys(value: Any) -> Any:
    if isinstance(value, dict):
        return {_camel(key): _camel_keys(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_camel_keys(item) for item in value]
    return value


def accepted_term(
    offer_id: str, term: dict[str, Any], extra: dict[str, Any] | None = None
) -> dict[str, Any]:
    """The accepted-term union item for an offer term, with its stable ``term-…`` id."""
    body = _camel_keys(term)
    body["id"] = term_id(offer_id, term["Type"])
    body.update(extra or {})
    return {_camel(term["Type"]): body}


def term_spec(
    offer_id: str,
    offer_terms: list[dict[str, Any]],
    slot: Slot,
    *,
    auto_renew: bool,
    configuration: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """What an agreement accepted, by reference to its offer's terms (kept compact on disk)."""
    assert slot.start is not None
    nominal_end = add_months(slot.start, months_of(slot.duration)) - timedelta(seconds=1)
    validity = next((t for t in offer_terms if t["Type"] == "ValidityTerm"), None)
    start = (
        parse_iso(validity["AgreementStartDate"])
        if validity and "AgreementStartDate" in validity
        else slot.start
    )
    spec: dict[str, Any] = {
        "offerId": offer_id,
        "types": [t["Type"] for t in offer_terms],
        "autoRenew": auto_renew,
        "validity": {
            "agreementDuration": slot.duration,
            "agreementStartDate": iso_z(start),
            "agreementEndDate": iso_z(nominal_end),
        },
    }
    if configuration:
        spec["configuration"] = configuration
    return spec


class TermCache:
    """Camel-cased offer terms, converted once per (offer, term object)."""

    def __init__(self) -> None:
        self._items: dict[tuple[str, str], tuple[dict[str, Any], dict[str, Any]]] = {}

    def body(self, offer_id: str, term: dict[str, Any]) -> dict[str, Any]:
        """A fresh top-level copy of the converted term body (nested values are shared)."""
        key = (offer_id, term["Type"])
        cached = self._items.get(key)
        if cached is None or cached[0] is not term:
            item = accepted_term(offer_id, term)
            _iso_schedule(item)
            cached = (term, next(iter(item.values())))
            self._items[key] = cached
        return dict(cached[1])


def materialize_terms(
    spec: dict[str, Any], offer_terms: list[dict[str, Any]], cache: TermBodies | None = None
) -> list[dict[str, Any]]:
    """The accepted-term union items an agreement's ``spec`` stands for."""
    cache = cache or TermCache()
    by_type = {term["Type"]: term for term in offer_terms}
    currency = spec.get("currency")
    items = []
    for kind in spec["types"]:
        body = cache.body(spec["offerId"], by_type.get(kind) or {"Type": kind})
        body.update(_extra_for(kind, spec))
        if currency and "currencyCode" in body:
            body["currencyCode"] = currency
        items.append({_camel(kind): body})
    items.extend(spec.get("extra", []))
    return items


def _extra_for(kind: str, spec: dict[str, Any]) -> dict[str, Any]:
    if kind == "RenewalTerm":
        return {"configuration": {"enableAutoRenew": bool(spec.get("autoRenew"))}}
    if kind == "ValidityTerm":
        return dict(spec["validity"])
    if kind == "ConfigurableUpfrontPricingTerm" and spec.get("configuration"):
        return {"configuration": spec["configuration"]}
    return {}


def _iso_schedule(item: dict[str, Any]) -> None:
    # Catalog documents write ``…T00:00:00.000Z``; agreements carry plain timestamps.
    body = item.get("paymentScheduleTerm")
    if body:
        for entry in body["schedule"]:
            entry["chargeDate"] = iso_z(parse_iso(entry["chargeDate"]))


def agreement_value(terms: list[dict[str, Any]]) -> tuple[str, str]:
    """(currency, committed value) from accepted terms: never stored independently."""
    currency = "USD"
    total = Decimal(0)
    for item in terms:
        ((kind, body),) = item.items()
        currency = body.get("currencyCode", currency)
        if kind == "fixedUpfrontPricingTerm":
            total += Decimal(body["price"])
        elif kind == "paymentScheduleTerm":
            total += sum((Decimal(e["chargeAmount"]) for e in body["schedule"]), Decimal(0))
        elif kind == "configurableUpfrontPricingTerm" and "configuration" in body:
            total += _configured_total(body)
    return currency, "0" if total == 0 else money(total)


def _configured_total(body: dict[str, Any]) -> Decimal:
    selected = body["configuration"]["selectorValue"]
    card = next(c for c in body["rateCards"] if c["selector"]["value"] == selected)
    prices = {item["dimensionKey"]: Decimal(item["price"]) for item in card["rateCard"]}
    return sum(
        (
            prices[d["dimensionKey"]] * d["dimensionValue"]
            for d in body["configuration"]["dimensions"]
        ),
        Decimal(0),
    )


# ----------------------------------------------------------------------------------------------
# Whole agreements


def _public_configuration(
    gen: SellerDraft, offer_terms: list[dict[str, Any]], duration: str, target: int
) -> dict[str, Any]:
    """Pick a tier and extra units so the configured total lands near ``target``."""
    term = next(t for t in offer_terms if t["Type"] == "ConfigurableUpfrontPricingTerm")
    card = next(c for c in term["RateCards"] if c["Selector"]["Value"] == duration)
    prices = sorted(card["RateCard"], key=lambda item: Decimal(item["Price"]))
    unit, tiers = prices[0], prices[1:] or prices
    affordable = [t for t in tiers if Decimal(t["Price"]) <= target] or tiers[:1]
    tier = affordable[-1] if gen.rng.random() < 0.7 else gen.rng.choice(affordable)
    dims = [{"dimensionKey": tier["DimensionKey"], "dimensionValue": 1}]
    remaining = Decimal(target) - Decimal(tier["Price"])
    if unit is not tier and remaining > 0:
        extra = int(remaining / Decimal(unit["Price"]))
        if extra > 0:
            dims.append({"dimensionKey": unit["DimensionKey"], "dimensionValue": min(extra, 5000)})
    return {"selectorValue": duration, "dimensions": dims}


def make_agreement(
    gen: SellerDraft, slot: Slot, currency: str, with_variable: bool
) -> dict[str, Any]:
    """The agreement document for a planned slot (times as ISO strings; see models.py)."""

    assert slot.product is not None
    assert slot.start is not None
    assert slot.acceptance is not None
    product_id = slot.product["EntityId"]
    auto_renew = gen.rng.random() < 0.4
    if slot.offer:
        offer = slot.offer
        offer_terms = offer["DetailsDocument"]["Terms"]
        spec = term_spec(offer["EntityId"], offer_terms, slot, auto_renew=auto_renew)
        if with_variable:
            spec["extra"] = [_variable_term(offer["EntityId"], currency)]
    else:
        offer = gen.public_offers[product_id]
        offer_terms = offer["DetailsDocument"]["Terms"]
        config = None
        if slot.kind == "contract":
            config = _public_configuration(gen, offer_terms, slot.duration, lognormal_tcv(gen.rng))
        chosen = _public_terms_for(slot, offer_terms)
        spec = term_spec(
            offer["EntityId"], chosen, slot, auto_renew=auto_renew, configuration=config
        )
        if currency != "USD":
            spec["currency"] = currency
    value_currency, value = agreement_value(materialize_terms(spec, offer_terms, gen.term_cache))
    document: dict[str, Any] = {
        "agreementId": slot.agreement_id,
        "acceptanceTime": iso_z(slot.acceptance),
        "startTime": iso_z(slot.start),
        "agreementType": "PurchaseAgreement",
        "acceptor": {"accountId": slot.buyer},
        "proposer": {"accountId": gen.customer.account_id},
        "proposalSummary": {
            "resources": [{"id": product_id, "type": slot.product["EntityType"]}],
            "offerId": offer["EntityId"],
        },
        "status": slot.status,
        "estimatedCharges": {"currencyCode": value_currency, "agreementValue": value},
        "termSpec": spec,
    }
    if slot.end is not None:
        document["endTime"] = iso_z(slot.end)
    return document


def _public_terms_for(slot: Slot, offer_terms: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The public-offer terms an agreement of this kind carries."""
    keep = {
        "LegalTerm",
        "SupportTerm",
        "UsageBasedPricingTerm",
        "RecurringPaymentTerm",
        "ByolPricingTerm",
    }
    if slot.kind == "contract":
        keep |= {"ConfigurableUpfrontPricingTerm", "RenewalTerm", "ValidityTerm"}
    if slot.kind == "trial":
        keep |= {"FreeTrialPricingTerm"}
    chosen = [t for t in offer_terms if t["Type"] in keep]
    if slot.kind == "contract" and not any(t["Type"] == "ValidityTerm" for t in chosen):
        chosen.append({"Type": "ValidityTerm", "AgreementDuration": slot.duration})
    return chosen


def _variable_term(offer_id: str, currency: str) -> dict[str, Any]:
    term = {
        "Type": "VariablePaymentTerm",
        "CurrencyCode": currency,
        "MaxTotalChargeAmount": "25000.00",
    }
    item = accepted_term(offer_id, term)
    item["variablePaymentTerm"]["configuration"] = {
        "paymentRequestApprovalStrategy": "WAIT_FOR_APPROVAL",
        "expirationDuration": "P7D",
    }
    return item
