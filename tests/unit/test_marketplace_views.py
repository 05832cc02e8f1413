"""View functions on a hand-built snapshot; every expected figure is computed by hand below."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pyarrow as pa

from vell_core.views import marketplace as views

NOW = datetime(2026, 9, 10, 12, 0, tzinfo=UTC)
DAY = timedelta(days=1)


def product(pid: str, title: str, visibility: str, modified: str) -> dict:
    return {
        "EntityId": pid,
        "EntityType": "SaaSProduct",
        "LastModifiedDate": modified,
        "SaaSProductSummary": {"ProductTitle": title, "Visibility": visibility},
    }


def offer(oid: str, pid: str, state: str, targeting: list[str], end: str | None = None) -> dict:
    summary = {"Name": f"Offer {oid}", "ProductId": pid, "State": state, "Targeting": targeting}
    if end:
        summary["AvailabilityEndDate"] = end
    return {"EntityId": oid, "EntityType": "Offer", "OfferSummary": summary}


def agreement(aid: str, status: str, start: datetime, end: datetime | None, pid: str) -> dict:
    return {
        "agreementId": aid,
        "status": status,
        "acceptanceTime": start,
        "startTime": start,
        "endTime": end,
        "acceptor": {"accountId": "111122223333"},
        "proposalSummary": {
            "offerId": "offer-1",
            "resources": [{"id": pid, "type": "SaaSProduct"}],
        },
    }


def charges(value: str, currency: str = "USD") -> dict:
    return {"estimatedCharges": {"currencyCode": currency, "agreementValue": value}}


def snapshot() -> views.MarketplaceSnapshot:
    return views.MarketplaceSnapshot(
        account_id="418295730164",
        taken_at=NOW,
        products={
            "prod-a": product("prod-a", "Trace", "Public", "2026-09-01T10:00:00Z"),
            "prod-b": product("prod-b", "Metrics", "Limited", "2026-09-05T10:00:00Z"),
        },
        offers={
            "offer-1": offer("offer-1", "prod-a", "Released", ["None"]),
            "offer-2": offer(
                "offer-2", "prod-a", "Released", ["BuyerAccounts"], "2026-09-01T00:00:00Z"
            ),
            "offer-3": offer("offer-3", "prod-b", "Draft", ["BuyerAccounts"]),
        },
        agreements={
            # 12-month contract ending in 20 days: $12,000 → ACV 12,000 / (365/365.25)
            "agmt-1": agreement("agmt-1", "ACTIVE", NOW - 345 * DAY, NOW + 20 * DAY, "prod-a"),
            # 24-month contract ending in 45 days: $48,000 → ACV ≈ 24,000
            "agmt-2": agreement("agmt-2", "ACTIVE", NOW - 685 * DAY, NOW + 45 * DAY, "prod-a"),
            # ends in 200 days: not in any renewal bucket
            "agmt-3": agreement("agmt-3", "ACTIVE", NOW - 165 * DAY, NOW + 200 * DAY, "prod-b"),
            "agmt-4": agreement("agmt-4", "EXPIRED", NOW - 400 * DAY, NOW - 35 * DAY, "prod-b"),
            "agmt-5": agreement("agmt-5", "ACTIVE", NOW - 10 * DAY, None, "prod-a"),  # PAYG
        },
        agreement_details={
            "agmt-1": charges("12000.00"),
            "agmt-2": charges("48000"),
            "agmt-3": charges("9000.00", "EUR"),
            "agmt-4": charges("5000.50"),
            # agmt-5 not described yet
        },
        agreement_terms={
            "agmt-1": [
                {"fixedUpfrontPricingTerm": {"type": "FixedUpfrontPricingTerm", "price": "0"}},
                {
                    "renewalTerm": {
                        "type": "RenewalTerm",
                        "configuration": {"enableAutoRenew": True},
                    }
                },
            ],
            "agmt-2": [
                {"configurableUpfrontPricingTerm": {"type": "ConfigurableUpfrontPricingTerm"}},
                {"usageBasedPricingTerm": {"type": "UsageBasedPricingTerm"}},
                {
                    "renewalTerm": {
                        "type": "RenewalTerm",
                        "configuration": {"enableAutoRenew": False},
                    }
                },
                {"SDK_UNKNOWN_MEMBER": {"name": "netPaymentTerm"}},
            ],
        },
        change_sets=(
            {
                "ChangeSetId": "cs-1",
                "ChangeSetName": "Submitted by 418295730164",
                "Status": "FAILED",
                "StartTime": "2026-09-05T14:20:11Z",
                "EndTime": "2026-09-05T14:31:41Z",
                "EntityIdList": ["prod-a"],
                "FailureCode": "CLIENT_ERROR",
            },
            {
                "ChangeSetId": "cs-2",
                "ChangeSetName": "x",
                "Status": "PREPARING",
                "StartTime": "2026-09-09T10:00:00Z",
                "EntityIdList": ["offer-2"],
            },
        ),
    )


def test_products_frame_newest_change_first_with_offer_counts() -> None:
    frame = views.products_frame(snapshot(), NOW)
    assert list(frame["Product id"]) == ["prod-b", "prod-a"]
    assert list(frame["Offers"]) == [1, 2]
    assert list(frame["Visibility"]) == ["Limited", "Public"]
    assert frame["Health score"].isna().all()  # no details yet: no score, not zero


def test_offers_public_private_status_and_agreement_join() -> None:
    frame = views.offers_frame(snapshot(), NOW).set_index("Offer id")
    assert frame.loc["offer-1", "Audience"] == "Public"
    assert frame.loc["offer-1", "Status"] == "Active"
    assert frame.loc["offer-2", "Audience"] == "Private"
    assert frame.loc["offer-2", "Status"] == "Expired"  # availability ended 2026-09-01
    assert frame.loc["offer-3", "Status"] == "Draft"
    assert frame.loc["offer-1", "Agreements"] == 5
    assert frame.loc["offer-1", "Pricing"] is None  # not described yet
    mix = views.offer_mix(views.offers_frame(snapshot(), NOW))
    assert mix.to_dict("records") == [
        {"Audience": "Private", "Status": "Draft", "Offers": 1},
        {"Audience": "Private", "Status": "Expired", "Offers": 1},
        {"Audience": "Public", "Status": "Active", "Offers": 1},
    ]


def test_pricing_summary_of_offer_terms() -> None:
    terms = [
        {"Type": "LegalTerm"},
        {"Type": "FixedUpfrontPricingTerm", "CurrencyCode": "USD", "Price": "0.00"},
        {
            "Type": "UsageBasedPricingTerm",
            "CurrencyCode": "USD",
            "RateCards": [{"RateCard": [{"DimensionKey": "gb", "Price": "0.12"}]}],
        },
        {
            "Type": "PaymentScheduleTerm",
            "CurrencyCode": "USD",
            "Schedule": [{"ChargeAmount": "22500.00"}] * 4,
        },
    ]
    assert views.pricing_summary(terms) == "Usage: gb $0.12 + 4 installments, $90,000.00 total"
    contract = {
        "Type": "ConfigurableUpfrontPricingTerm",
        "CurrencyCode": "USD",
        "RateCards": [
            {"Selector": {"Value": "P12M"}, "RateCard": [{"Price": "24000"}, {"Price": "480"}]},
            {"Selector": {"Value": "P36M"}, "RateCard": [{"Price": "60000"}]},
        ],
    }
    assert views.pricing_summary([contract]) == "Contract (12 months, 36 months) from $480.00"
    assert views.pricing_summary([]) == "No pricing terms"


def test_agreement_values_acv_and_pricing_model() -> None:
    frame = views.agreements_frame(snapshot(), NOW).set_index("Agreement id")
    assert frame.loc["agmt-1", "TCV"] == Decimal("12000.00")
    # 365 days = 365/365.25 years → 12000 × 365.25 / 365 = 12008.22
    assert frame.loc["agmt-1", "ACV"] == Decimal("12008.22")
    # 730 days → 48000 × 365.25 / 730 = 24016.44
    assert frame.loc["agmt-2", "ACV"] == Decimal("24016.44")
    assert frame.loc["agmt-1", "Derived status"] == "Expiring"
    assert frame.loc["agmt-3", "Derived status"] == "ACTIVE"
    assert frame.loc["agmt-1", "Pricing model"] == "Contract"
    assert frame.loc["agmt-2", "Pricing model"] == "Contract + usage"
    assert frame.loc["agmt-1", "Auto-renew"] is True
    assert frame.loc["agmt-2", "Auto-renew"] is False
    assert frame.loc["agmt-5", "TCV"] is None  # not described: unknown, never $0
    assert frame.loc["agmt-5", "ACV"] is None


def test_short_contracts_floor_at_one_month() -> None:
    start = NOW
    assert views.contract_years(start, start + 5 * DAY) == Decimal(1) / Decimal(12)
    assert views.annual_value(Decimal("1000"), start, start + 5 * DAY) == Decimal("12000.00")
    assert views.annual_value(Decimal("1000"), start, None) is None


def test_totals_per_currency_and_pipeline() -> None:
    frame = views.agreements_frame(snapshot(), NOW)
    totals = views.value_totals(frame).set_index("Currency")
    assert totals.loc["USD", "Active agreements"] == 2  # agmt-5 has no currency yet
    assert totals.loc["USD", "Active TCV"] == Decimal("60000.00")
    assert totals.loc["USD", "Active ACV"] == Decimal("36024.66")  # 12008.22 + 24016.44
    assert totals.loc["USD", "All-time TCV"] == Decimal("65000.50")
    assert totals.loc["EUR", "Active TCV"] == Decimal("9000.00")
    pipeline = views.pipeline_by_status(frame)
    active_usd = pipeline[(pipeline["Status"] == "ACTIVE") & (pipeline["Currency"] == "USD")]
    assert active_usd["Agreements"].iloc[0] == 2
    undescribed = pipeline[pipeline["Currency"] == "—"]
    assert undescribed[["Agreements", "Described"]].values.tolist() == [[1, 0]]
    counts = views.status_counts(frame)
    assert counts.to_dict("records") == [
        {"Status": "Active", "Agreements": 4},
        {"Status": "Expired", "Agreements": 1},
    ]


def test_renewal_buckets_30_60_90() -> None:
    frame = views.agreements_frame(snapshot(), NOW)
    renewals = views.renewals_frame(frame, NOW)
    assert list(renewals["Agreement id"]) == ["agmt-1", "agmt-2"]
    assert list(renewals["Bucket"]) == ["≤30 days", "31–60 days"]
    buckets = views.renewal_buckets(renewals)
    assert buckets["Bucket"].tolist() == ["≤30 days", "31–60 days", "61–90 days"]
    assert buckets["Agreements"].tolist() == [1, 1, 0]
    assert buckets["TCV (USD)"].tolist() == [Decimal("12000.00"), Decimal("48000"), Decimal(0)]
    assert buckets["Auto-renew share"].tolist()[:2] == [1.0, 0.0]
    assert views.renewal_bucket(NOW + 30 * DAY + timedelta(hours=1), NOW) == "≤30 days"
    assert views.renewal_bucket(NOW + 31 * DAY, NOW) == "31–60 days"
    assert views.renewal_bucket(NOW + 91 * DAY, NOW) is None
    assert views.renewal_bucket(NOW - DAY, NOW) is None


def test_by_product() -> None:
    frame = views.by_product(views.agreements_frame(snapshot(), NOW))
    rows = {(r["Product id"], r["Currency"]): r for r in frame.to_dict("records")}
    assert rows[("prod-a", "USD")]["All-time TCV"] == Decimal("60000.00")
    assert rows[("prod-a", "USD")]["Active TCV"] == Decimal("60000.00")
    assert rows[("prod-a", "USD")]["Active"] == 2
    assert rows[("prod-b", "USD")]["All-time TCV"] == Decimal("5000.50")
    assert rows[("prod-b", "USD")]["Active TCV"] == Decimal(0)
    assert rows[("prod-b", "USD")]["Active"] == 0
    assert rows[("prod-b", "EUR")]["Active ACV"] > 0
    assert rows[("prod-a", "USD")]["Product"] == "Trace"


def test_terms_are_flattened_and_unknown_members_skipped() -> None:
    detail = views.agreement_detail(snapshot(), "agmt-2", NOW)
    assert detail.skipped_unknown_terms == 1
    assert "netPaymentTerm" not in detail.terms.to_string()
    assert set(detail.terms["Term"]) == {
        "ConfigurableUpfrontPricingTerm",
        "UsageBasedPricingTerm",
        "RenewalTerm",
    }
    renewal = detail.terms[detail.terms["Term"] == "RenewalTerm"]
    assert renewal[["Field", "Value"]].values.tolist() == [
        ["configuration.enableAutoRenew", "False"]
    ]
    schedule = views.agreement_terms_frame(
        [
            {
                "paymentScheduleTerm": {
                    "type": "PaymentScheduleTerm",
                    "id": "term-1",
                    "schedule": [
                        {"chargeDate": NOW, "chargeAmount": "10"},
                        {"chargeDate": NOW, "chargeAmount": "20"},
                    ],
                }
            }
        ]
    )
    assert schedule["Field"].tolist() == [
        "schedule[1].chargeDate",
        "schedule[1].chargeAmount",
        "schedule[2].chargeDate",
        "schedule[2].chargeAmount",
    ]
    assert schedule["Value"].tolist()[0] == "2026-09-10 12:00:00 UTC"


def test_change_set_history_newest_first_with_titles() -> None:
    frame = views.change_sets_frame(snapshot())
    assert frame["Change set id"].tolist() == ["cs-2", "cs-1"]
    assert frame.loc[1, "Minutes"] == 11.5
    assert frame.loc[1, "Entities"] == "Trace"
    assert frame.loc[0, "Entities"] == "Offer offer-2"
    assert views.change_set_status_counts(frame)["Change sets"].sum() == 2


def test_product_detail_before_and_after_describe() -> None:
    snap = snapshot()
    assert not views.product_detail(snap, "prod-a", NOW).loaded
    described = views.MarketplaceSnapshot(
        **{
            **snap.__dict__,
            "product_details": {
                "prod-a": {
                    "EntityType": "SaaSProduct@1.0",
                    "DetailsDocument": {
                        "Description": {"ProductTitle": "Trace Cloud", "Highlights": ["h1"]},
                        "Dimensions": [{"Key": "Pro", "Name": "Pro tier", "Types": ["Entitled"]}],
                        "Versions": [
                            {
                                "Id": "version-1",
                                "DeliveryOptions": [
                                    {"Type": "SoftwareRegistration", "FulfillmentUrl": "https://x"}
                                ],
                            }
                        ],
                    },
                }
            },
        },
    )
    detail = views.product_detail(described, "prod-a", NOW)
    assert detail.loaded
    assert detail.title == "Trace Cloud"
    assert detail.highlights == ("h1",)
    assert detail.dimensions["Types"].tolist() == ["Entitled"]
    assert detail.versions["Fulfillment / launch"].tolist() == ["https://x"]
    assert len(detail.offers) == 2
    assert detail.health is not None
    assert "failed_change_sets" in detail.health.rules  # cs-1 failed on prod-a 5 days ago


# -- issue 13: screens that read like a product -----------------------------------------------


def test_active_tcv_by_product_adds_up_to_the_active_tcv_headline() -> None:
    frame = views.agreements_frame(snapshot(), NOW)
    products = views.by_product(frame)
    totals = views.value_totals(frame)
    for currency, group in products.groupby("Currency"):
        if currency == "—":
            continue
        headline = totals.loc[totals["Currency"] == currency, "Active TCV"].iloc[0]
        assert sum(group["Active TCV"], Decimal(0)) == headline, currency


def test_agreement_table_reads_like_a_product() -> None:
    shown = views.agreements_table(views.agreements_frame(snapshot(), NOW))
    assert list(shown.columns)[:3] == ["Product", "Buyer account", "Status"]
    # Ids are secondary: in the CSV and the agreement's detail, not pushing the value off screen.
    assert not {"Offer id", "Agreement id"} & set(shown.columns)
    cells = set(shown.to_numpy().ravel().tolist())
    assert not cells & {"None", "nan", "NaT"}
    assert "$48,000.00" in cells
    assert "EUR 9,000.00" in cells
    assert {"Active", "Expiring", "Expired"} <= cells
    assert "ACTIVE" not in cells
    buckets = views.buckets_table(
        views.renewal_buckets(views.renewals_frame(views.agreements_frame(snapshot(), NOW), NOW))
    )
    assert buckets["Auto-renew share"].tolist() == ["100%", "0%", "—"]  # not 1.0 / 0.0 / None


def test_offer_terms_show_fields_and_durations_in_words() -> None:
    """``Documents[1].Type`` and ``P12M`` were shown as they come from the API."""
    detail = {
        "DetailsDocument": {
            "Terms": [
                {"Type": "LegalTerm", "Documents": [{"Type": "StandardEula", "Version": "2022"}]},
                {
                    "Type": "FixedUpfrontPricingTerm",
                    "CurrencyCode": "USD",
                    "Price": "79900.00",
                    "Duration": "P12M",
                    "Grants": [{"DimensionKey": "EnterpriseTier", "MaxQuantity": 1}],
                },
                {"Type": "ValidityTerm", "AgreementDuration": "P36M"},
            ],
            "Rules": [
                {"Type": "AvailabilityRule", "AvailabilityEndDate": "2025-01-26T23:59:59.999Z"}
            ],
        }
    }
    shown = views.terms_table(views.offer_terms_frame(detail))
    rows = {(r["Term"], r["Field"]): r["Value"] for r in shown.to_dict("records")}
    assert rows[("Legal", "Document 1 · type")] == "StandardEula"
    assert rows[("Fixed upfront pricing", "Duration")] == "12 months"
    assert rows[("Fixed upfront pricing", "Price")] == "$79,900.00"
    assert rows[("Fixed upfront pricing", "Grant 1 · max quantity")] == "1"
    assert rows[("Validity", "Agreement duration")] == "36 months"
    assert rows[("Availability rule", "Availability end date")] == "2025-01-26 23:59 UTC"
    assert not any("[" in field or "." in field for field in shown["Field"])


def test_agreement_terms_keep_the_value_beside_the_field() -> None:
    """A 60-character term id pushed the Value column off screen: the id goes last."""
    terms = [
        {
            "renewalTerm": {
                "type": "RenewalTerm",
                "id": "term-" + "a" * 64,
                "configuration": {"enableAutoRenew": False},
            }
        },
        {
            "usageBasedPricingTerm": {
                "type": "UsageBasedPricingTerm",
                "id": "term-" + "b" * 64,
                "currencyCode": "USD",
                "rateCards": [{"rateCard": [{"dimensionKey": "gb", "price": "0.12"}]}],
            }
        },
    ]
    shown = views.terms_table(views.agreement_terms_frame(terms))
    assert list(shown.columns) == ["Term", "Field", "Value", "Term id"]
    rows = {(r["Term"], r["Field"]): r["Value"] for r in shown.to_dict("records")}
    assert rows[("Renewal", "Configuration · enable auto renew")] == "No"
    assert rows[("Usage based pricing", "Rate card 1 · rate 1 · dimension key")] == "gb"
    assert rows[("Usage based pricing", "Rate card 1 · rate 1 · price")] == "$0.12"


def test_pickers_show_what_a_person_recognises_and_are_unique() -> None:
    snap = snapshot()
    agreements = views.agreements_frame(snap, NOW)
    labels = views.agreement_choices(agreements)
    assert len(set(labels.values())) == len(labels)
    assert (
        labels["agmt-2"]
        == "Trace · buyer 111122223333 · Expiring · $48,000.00 · 2024-10-25 → 2026-10-25"
    )
    offers = views.offers_frame(snap, NOW)
    twin = offers.assign(
        Name="Same name", Status="Active", Audience="Private"
    )  # two offers, one name
    offer_labels = views.offer_choices(twin)
    assert len(set(offer_labels.values())) == len(offer_labels)
    assert all(label.startswith("Same name · ") for label in offer_labels.values())
    history = views.change_sets_frame(snap)
    change_labels = views.change_set_choices(history)
    assert change_labels["cs-1"].startswith(
        "Submitted by 418295730164 · Failed · started 2026-09-05"
    )
    assert not set(change_labels.values()) & set(history["Change set id"])


def test_demo_charts_count_in_whole_numbers_and_keep_bucket_order() -> None:
    from vell_core.views.demo_charts import bar_spec

    counts = bar_spec(
        views.status_counts(views.agreements_frame(snapshot(), NOW)),
        value="Agreements",
        category="Status",
        title="Agreements by status",
    )
    assert counts is not None
    assert counts["encoding"]["x"]["axis"] == {"format": "d", "tickMinStep": 1}
    buckets = views.renewal_buckets(
        views.renewals_frame(views.agreements_frame(snapshot(), NOW), NOW)
    )
    spec = bar_spec(
        buckets.iloc[::-1],  # whatever order the rows come in
        value="TCV (USD)",
        category="Bucket",
        title="Renewals",
        money=True,
        order=views.RENEWAL_BUCKET_LABELS,
    )
    assert spec is not None
    assert spec["encoding"]["y"]["sort"] == ["≤30 days", "31–60 days", "61–90 days"]
    rows = pa.ipc.open_stream(spec["datasets"][spec["data"]["name"]]).read_pandas()
    assert rows["TCV (USD)"].tolist() == [0.0, 48000.0, 12000.0]  # as Arrow bytes, built once
    assert bar_spec(buckets.iloc[0:0], value="TCV (USD)", category="Bucket", title="x") is None
