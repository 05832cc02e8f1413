"""Listing health rules on hand-built DetailsDocuments: each rule fires exactly when it should."""

from __future__ import annotations

from datetime import UTC, datetime

from vell_core.domain.listing_health import check_product

NOW = datetime(2026, 9, 10, 12, 0, tzinfo=UTC)
PUBLIC_OFFER = {"OfferSummary": {"State": "Released", "Targeting": ["None"]}}
PRIVATE_OFFER = {"OfferSummary": {"State": "Released", "Targeting": ["BuyerAccounts"]}}


def healthy() -> dict:
    return {
        "Description": {
            "ShortDescription": "x" * 150,
            "LongDescription": "y" * 400,
            "Highlights": ["a", "b", "c"],
            "SearchKeywords": [f"k{i}" for i in range(8)],
            "Categories": ["Monitoring", "Log Analysis", "DevOps"],
        },
        "PromotionalResources": {
            "Videos": [{"Type": "Link", "Url": "https://example.com/v"}],
            "AdditionalResources": [{"Type": "Link", "Text": "QS", "Url": "https://e.com/q"}],
        },
        "SupportInformation": {"Description": "24x7 email"},
        "Versions": [
            {"DeliveryOptions": [{"Type": "SoftwareRegistration", "FulfillmentUrl": "u"}]}
        ],
    }


def test_a_complete_public_listing_scores_100() -> None:
    report = check_product(details=healthy(), visibility="Public", offers=[PUBLIC_OFFER], now=NOW)
    assert report.findings == ()
    assert report.score == 100


def test_an_empty_listing_fails_the_content_rules_most_severe_first() -> None:
    report = check_product(details={}, visibility="Public", offers=[PRIVATE_OFFER], now=NOW)
    assert report.rules == (
        "missing_short_description",
        "missing_highlights",
        "no_support_information",
        "missing_categories",
        "no_released_public_offer",
        "few_keywords",
        "short_long_description",
        "no_video",
        "no_additional_resources",
    )
    # 5 high (20) + 2 medium (10) + 2 low (5) = 130 → floored at 0
    assert report.score == 0
    assert all(f.suggestion for f in report.findings)


def test_thresholds_are_exact() -> None:
    details = healthy()
    details["Description"]["ShortDescription"] = "x" * 99
    details["Description"]["Highlights"] = ["a", "b"]
    details["Description"]["SearchKeywords"] = ["a", "b", "c", "d"]
    report = check_product(details=details, visibility="Public", offers=[PUBLIC_OFFER], now=NOW)
    assert report.rules == ("short_description", "few_keywords", "few_highlights")
    assert report.score == 100 - 10 - 10 - 5
    details["Description"]["ShortDescription"] = "x" * 100
    details["Description"]["SearchKeywords"] = ["a", "b", "c", "d", "e"]
    report = check_product(details=details, visibility="Public", offers=[PUBLIC_OFFER], now=NOW)
    assert report.rules == ("few_highlights",)


def test_failed_change_sets_count_only_in_the_last_30_days_and_locks_show() -> None:
    sets = [
        {
            "ChangeSetId": "a",
            "Status": "FAILED",
            "StartTime": "2026-08-20T00:00:00Z",
            "FailureCode": "CLIENT_ERROR",
        },
        {"ChangeSetId": "b", "Status": "FAILED", "StartTime": "2026-07-01T00:00:00Z"},
        {"ChangeSetId": "c", "Status": "PREPARING", "StartTime": "2026-09-10T11:00:00Z"},
    ]
    report = check_product(
        details=healthy(), visibility="Public", offers=[PUBLIC_OFFER], change_sets=sets, now=NOW
    )
    assert report.rules == ("failed_change_sets", "pending_change_set")
    assert "1 change set(s) failed" in report.findings[0].problem
    assert "CLIENT_ERROR" in report.findings[0].problem
    assert "(c)" in report.findings[1].problem


def test_visibility_and_fulfillment_rules() -> None:
    details = healthy()
    details["Versions"] = [{"DeliveryOptions": [{"Type": "SoftwareRegistration"}]}]
    limited = check_product(details=details, visibility="Limited", offers=[], now=NOW)
    assert limited.rules == ("no_fulfillment_url", "no_released_public_offer", "limited_visibility")
    draft = check_product(details=healthy(), visibility="Draft", offers=[], now=NOW)
    assert draft.rules == ("draft",)  # a draft is not expected to have a released offer
