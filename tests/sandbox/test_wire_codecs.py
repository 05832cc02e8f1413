"""Where the wire layer departs from moto's codecs, it answers as AWS does.

``wire.py`` runs moto's routers, parsers and serialisers; each test here pins one piece kept on
top of them (the reason is beside each piece in ``wire.py``) and fails if it falls back to moto's
behaviour.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from vell_core.sandbox.contract import SandboxServiceError
from vell_core.sandbox.validation import validate_input
from vell_core.sandbox.wire import WireRequest, parse_request, serialize_response

FORM = {"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"}
REST = {"Content-Type": "application/json"}
AGREEMENT = {
    "Content-Type": "application/x-amz-json-1.0",
    "X-Amz-Target": "AWSMPCommerceService_v20200301.SearchAgreements",
}


def _error(service: str, request: WireRequest) -> SandboxServiceError:
    """The error ``parse_request`` then ``validate_input`` raise for ``request``."""
    with pytest.raises(SandboxServiceError) as caught:
        validate_input(service, *parse_request(service, request))
    return caught.value


def test_a_rest_call_missing_a_required_query_member_is_routed_and_refused() -> None:
    """moto's router matched no operation here; AWS names the missing member."""
    request = WireRequest("GET", "/DescribeEntity", "catalog=AWSMarketplace", {}, b"")
    assert parse_request("marketplace-catalog", request) == (
        "DescribeEntity",
        {"Catalog": "AWSMarketplace"},
    )
    error = _error("marketplace-catalog", request)
    assert (error.code, error.status) == ("ValidationException", 422)
    assert "Value null at 'entityId'" in error.message


@pytest.mark.parametrize(
    ("service", "path", "headers", "body", "member"),
    [
        (
            "marketplace-agreement",
            "/",
            AGREEMENT,
            b'{"catalog":"AWSMarketplace","maxResults":"5"}',
            "maxResults",
        ),
        (
            "marketplace-catalog",
            "/ListEntities",
            REST,
            b'{"Catalog":"AWSMarketplace","EntityType":"Offer","MaxResults":"7"}',
            "maxResults",
        ),
    ],
)
def test_a_json_number_sent_as_a_string_is_a_type_error(
    service: str, path: str, headers: dict[str, str], body: bytes, member: str
) -> None:
    """moto casts "5" to 5; AWS refuses the wrong JSON type."""
    error = _error(service, WireRequest("POST", path, "", headers, body))
    assert error.code == "ValidationException"
    assert f"at '{member}' must be of type integer" in error.message


@pytest.mark.parametrize(
    ("service", "path", "headers"),
    [("marketplace-agreement", "/", AGREEMENT), ("marketplace-catalog", "/ListEntities", REST)],
)
def test_a_malformed_json_body_is_a_serialization_exception(
    service: str, path: str, headers: dict[str, str]
) -> None:
    """moto reads it as ``{"message": body}`` and carries on."""
    error = _error(service, WireRequest("POST", path, "", headers, b"{not json"))
    assert (error.code, error.status) == ("SerializationException", 400)


def test_form_text_that_is_not_its_members_type_is_a_400_not_a_crash() -> None:
    """moto lets ``int("ten")`` escape, which the server would answer with a 500."""
    form = b"Action=ListDelegationRequests&Version=2010-05-08&MaxItems=ten"
    error = _error("iam", WireRequest("POST", "/", "", FORM, form))
    assert (error.code, error.status) == ("ValidationError", 400)
    assert "'ten' is not a valid integer" in error.message


def test_a_body_member_cannot_override_a_query_string_member() -> None:
    """moto's rest-json parser also reads query-string members from the body."""
    request = WireRequest(
        "GET", "/DescribeEntity", "catalog=AWSMarketplace&entityId=e-1", REST, b'{"catalog":"B"}'
    )
    assert parse_request("marketplace-catalog", request)[1]["Catalog"] == "AWSMarketplace"


def test_a_query_body_without_a_content_type_is_still_the_form() -> None:
    """werkzeug parses a form only under its Content-Type; the sandbox always read the body."""
    request = WireRequest(
        "POST", "/", "", {}, b"Action=ListDelegationRequests&Version=2010-05-08&MaxItems=5"
    )
    assert parse_request("iam", request) == ("ListDelegationRequests", {"MaxItems": 5})


def test_parsed_timestamps_are_aware_utc() -> None:
    """moto's parser returns naive datetimes; the backends compare with an aware clock."""
    target = "AWSMPCommerceService_v20200301.ListAgreementInvoiceLineItems"
    headers = {**AGREEMENT, "X-Amz-Target": target}
    body = b'{"agreementId":"agmt-1","groupBy":"INVOICE_ID","beforeIssuedTime":1767268800.5}'
    _op, params = parse_request(
        "marketplace-agreement", WireRequest("POST", "/", "", headers, body)
    )
    assert params["beforeIssuedTime"] == datetime(2026, 1, 1, 12, 0, 0, 500000, tzinfo=UTC)


def test_responses_carry_the_request_id_and_awss_content_types() -> None:
    """moto leaves the request id header to its server and gives Agreement (CBOR first) "text"."""
    when = datetime(2026, 1, 1, 12, 0, 0, 570123, tzinfo=UTC)
    agreement = serialize_response(
        "marketplace-agreement",
        "SearchAgreements",
        {"agreementViewSummaries": [{"agreementId": "agmt-1", "acceptanceTime": when}]},
        "req-9",
    )
    assert agreement.headers["Content-Type"] == "application/x-amz-json-1.0"
    assert agreement.headers["x-amzn-RequestId"] == "req-9"
    assert b'"acceptanceTime":1767268800.57' in agreement.body  # compact, millisecond precision
    catalog = serialize_response(
        "marketplace-catalog", "ListEntities", {"EntitySummaryList": []}, "req-8"
    )
    assert catalog.headers["x-amzn-RequestId"] == "req-8"
    assert catalog.body == b'{"EntitySummaryList":[]}'
    iam = serialize_response("iam", "ListDelegationRequests", {"DelegationRequests": []}, "r7")
    assert iam.headers == {"Content-Type": "text/xml", "x-amzn-RequestId": "r7"}
    assert b"<RequestId>r7</RequestId>" in iam.body


def test_iso_timestamps_are_utc_with_milliseconds() -> None:
    """moto writes six digits of microseconds, or no fraction at all."""
    local = timezone(timedelta(hours=2))
    output = {
        "DelegationRequests": [
            {"DelegationRequestId": "a" * 32, "CreateDate": datetime(2026, 1, 1, 2, tzinfo=local)},
            {
                "DelegationRequestId": "b" * 32,
                "CreateDate": datetime(2026, 1, 1, 0, 0, 0, 570123, tzinfo=UTC),
            },
        ]
    }
    body = serialize_response("iam", "ListDelegationRequests", output, "r").body
    assert b"<CreateDate>2026-01-01T00:00:00.000Z</CreateDate>" in body
    assert b"<CreateDate>2026-01-01T00:00:00.570Z</CreateDate>" in body
