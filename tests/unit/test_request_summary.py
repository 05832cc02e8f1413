"""AWS's summary as the desk reads it: AWS's states and errors mapped, final answers kept;
and the sandbox's templated text (pure functions)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from vell_core.aws.request_summary import (
    NOTICES,
    AwsSummary,
    SummaryStatus,
    delegation_request_arn,
    fetch_summary,
    from_meta,
)
from vell_core.sandbox.iam.summary import (
    LOCALES,
    TEXT,
    SummaryFacts,
    duration_text,
    resolve_locale,
    summarize,
)

NOW = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)
ARN = delegation_request_arn("253265132499", "a" * 32)


def iam_answering(method: str = "add_response", **stub: Any) -> tuple[Any, Stubber]:
    client = boto3.client("iam", region_name="us-east-1")
    stubber = Stubber(client)
    expected = {"EntityArn": ARN, "Locale": "en-US"}
    if method == "add_response":
        stubber.add_response("get_human_readable_summary", stub["answer"], expected)
    else:
        stubber.add_client_error(
            "get_human_readable_summary",
            service_error_code=stub["code"],
            http_status_code=stub["status"],
            expected_params=expected,
        )
    stubber.activate()
    return client, stubber


@pytest.mark.parametrize(
    ("state", "status", "final"),
    [
        ("NOT_AVAILABLE", SummaryStatus.GENERATING, False),
        ("AVAILABLE", SummaryStatus.AVAILABLE, True),
        ("NOT_SUPPORTED", SummaryStatus.NOT_SUPPORTED, True),
        ("FAILED", SummaryStatus.FAILED, True),
    ],
)
def test_every_aws_summary_state_is_mapped(state: str, status: SummaryStatus, final: bool) -> None:
    content = "Vell asks for 4 hours." if state == "AVAILABLE" else ""
    client, stubber = iam_answering(
        answer={"SummaryContent": content, "Locale": "en-US", "SummaryState": state}
    )
    summary = fetch_summary(client, ARN, NOW)
    stubber.assert_no_pending_responses()
    assert summary.status is status
    assert summary.final is final
    assert summary.content == content
    assert summary.checked_at == NOW


@pytest.mark.parametrize(
    ("code", "status", "http", "final"),
    [
        ("AccessDenied", SummaryStatus.OUT_OF_REACH, 403, True),
        ("NoSuchEntity", SummaryStatus.OUT_OF_REACH, 404, True),
        ("ServiceFailure", SummaryStatus.UNREACHABLE, 500, False),
        ("Throttling", SummaryStatus.UNREACHABLE, 400, False),
    ],
)
def test_aws_errors_become_a_state_not_a_crash(
    code: str, status: SummaryStatus, http: int, final: bool
) -> None:
    client, _ = iam_answering("add_client_error", code=code, status=http)
    summary = fetch_summary(client, ARN, NOW)
    assert summary.status is status
    assert summary.final is final
    assert summary.notice == NOTICES[status]


def test_kept_summaries_round_trip_through_row_metadata() -> None:
    kept = AwsSummary(SummaryStatus.AVAILABLE, "text", "en-US", NOW)
    meta = {"parameters": [], "aws_summary": kept.to_meta()}
    assert from_meta(json.loads(json.dumps(meta))) == kept
    assert from_meta(None) is None
    assert from_meta({"aws_summary": {"status": "bogus"}}) is None
    assert from_meta({"aws_summary": "text"}) is None


def test_only_final_states_stop_the_polling() -> None:
    finals = {s for s in SummaryStatus if AwsSummary(s).final}
    assert finals == {
        SummaryStatus.AVAILABLE,
        SummaryStatus.NOT_SUPPORTED,
        SummaryStatus.FAILED,
        SummaryStatus.OUT_OF_REACH,
    }


# -- the sandbox's text ------------------------------------------------------------------------

POLICY = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Action": ["aws-marketplace:ListEntities", "aws-marketplace:DescribeEntity"],
            "Resource": "*",
        },
        {
            "Effect": "Allow",
            "Action": "aws-marketplace:StartChangeSet",
            "Resource": "arn:aws:aws-marketplace:us-east-1:602341187520:AWSMarketplace/*",
            "Condition": {
                "StringEquals": {"catalog:ChangeType": ["UpdateInformation", "UpdateAvailability"]}
            },
        },
        {"Effect": "Deny", "NotAction": ["aws-marketplace:*"], "Resource": "*"},
        {"Effect": "Allow", "Action": "iam:*", "Resource": "*"},
        {"Effect": "Deny", "Action": ["iam:DeleteRole"], "Resource": "*"},
    ],
}


def facts(duration: int = 14400, boundary: tuple[str, ...] = ()) -> SummaryFacts:
    return SummaryFacts("Vell", "253265132499", duration, json.dumps(POLICY), boundary)


def test_the_summary_says_who_how_long_and_what_in_plain_words() -> None:
    text = summarize(facts(boundary=("arn:aws:iam::partner:policy/b",)), "en-US")
    assert text.splitlines()[0] == (
        "Vell (AWS account 253265132499) asks for temporary access to your AWS account for 4 hours."
    )
    assert "• View in AWS Marketplace: DescribeEntity, ListEntities (on any resource)" in text
    assert (
        "• Change in AWS Marketplace: StartChangeSet (only on "
        "arn:aws:aws-marketplace:us-east-1:602341187520:AWSMarketplace/*; when "
        "catalog:ChangeType is UpdateInformation or UpdateAvailability)"
    ) in text
    assert "• Do anything in IAM (on any resource)" in text
    allowed, never = text.split("Even with this access, Vell could never:")
    assert "Do anything outside AWS Marketplace" in never
    assert "Delete in IAM: DeleteRole" in never
    assert "Delete in IAM" not in allowed
    assert text.endswith("capped by the permission boundary arn:aws:iam::partner:policy/b.")


def test_durations_read_in_whole_hours_or_minutes() -> None:
    english = TEXT["en"]
    assert duration_text(english, 3600) == "1 hour"
    assert duration_text(english, 43200) == "12 hours"
    assert duration_text(english, 300) == "5 minutes"
    assert duration_text(english, 5400) == "90 minutes"
    assert duration_text(TEXT["ja"], 14400) == "4 時間"


def test_every_locale_has_every_phrase_and_reads_differently() -> None:
    keys = set(TEXT["en"])
    texts = set()
    for locale, language in LOCALES.items():
        assert set(TEXT[language]) == keys, locale
        texts.add(summarize(facts(), locale))
    assert len(texts) == len(LOCALES)


def test_locale_spellings() -> None:
    assert resolve_locale(None) == "en-US"
    assert resolve_locale("ja_jp") == "ja-JP"
    assert resolve_locale("ZH-tw") == "zh-TW"
    assert resolve_locale("en") is None
    assert resolve_locale("en-GB") is None


def test_long_lists_are_cut_with_a_count() -> None:
    many = {
        "Statement": [
            {
                "Effect": "Allow",
                "Action": [f"aws-marketplace:List{n}" for n in "ABCDEFGH"],
                "Resource": "*",
            }
        ]
    }
    text = summarize(SummaryFacts("Vell", "253265132499", 3600, json.dumps(many)), "en-US")
    assert "ListA, ListB, ListC, ListD, ListE and 3 more" in text
    six = json.loads(json.dumps(many))
    six["Statement"][0]["Action"] = six["Statement"][0]["Action"][:6]
    text = summarize(SummaryFacts("Vell", "253265132499", 3600, json.dumps(six)), "en-US")
    assert "ListA, ListB, ListC, ListD, ListE, ListF (on any resource)" in text
