"""Wire codecs against botocore's own serialisers/parsers, and backends plugged in by others."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

import pytest
from botocore.exceptions import ClientError
from botocore.serialize import create_serializer

from tests.sandbox.conftest import CUSTOMER, ClientMaker, exchange_token, finalize
from vell_core.sandbox.contract import SandboxCall, SandboxServiceError
from vell_core.sandbox.wire import (
    WiredServiceBackend,
    WireRequest,
    assert_matches_output_shape,
    parse_request,
    parse_response,
    protocol_of,
    serialize_error,
    serialize_response,
    service_model,
)


def _wire(service: str, operation: str, params: dict[str, Any]) -> WireRequest:
    """Serialise ``params`` with botocore exactly as a client would."""
    model = service_model(service)
    protocol = protocol_of(model)
    serialized = create_serializer(protocol).serialize_to_request(
        params, model.operation_model(operation)
    )
    body = serialized["body"]
    if isinstance(body, dict):
        body = urlencode(body)
    query = serialized["query_string"]
    return WireRequest(
        method=serialized["method"],
        path=serialized["url_path"],
        query_string=urlencode(query, doseq=True) if query else "",
        headers=dict(serialized["headers"]),
        body=body.encode() if isinstance(body, str) else body,
    )


def test_query_request_round_trip_with_nested_lists() -> None:
    params = {
        "Description": "d",
        "Permissions": {
            "PolicyTemplateArn": "arn:aws:iam:::delegation-template/x/Y",
            "Parameters": [
                {"Name": "Regions", "Values": ["us-east-1", "eu-west-1"], "Type": "stringList"},
                {"Name": "AccountId", "Values": ["602341187520"], "Type": "string"},
            ],
        },
        "RequestorWorkflowId": "wf-12345",
        "NotificationChannel": "arn:aws:sns:us-east-1:253265132499:t",
        "SessionDuration": 900,
        "OnlySendByOwner": True,
    }
    operation, parsed = parse_request("iam", _wire("iam", "CreateDelegationRequest", params))
    assert operation == "CreateDelegationRequest"
    assert parsed == params


def test_query_response_round_trip_through_botocore_parser() -> None:
    when = datetime(2026, 11, 29, 12, 0, 0, 570000, tzinfo=UTC)
    output = {
        "DelegationRequests": [
            {
                "DelegationRequestId": "a" * 32,
                "State": "ASSIGNED",
                "CreateDate": when,
                "RolePermissionRestrictionArns": ["arn:aws:iam::partner:policy/x/y_20251206"],
                "OnlySendByOwner": False,
            }
        ],
        "isTruncated": True,
        "Marker": "m1",
    }
    response = serialize_response("iam", "ListDelegationRequests", output, "req-1")
    assert b"<isTruncated>true</isTruncated>" in response.body
    assert b"2026-11-29T12:00:00.570Z" in response.body
    parsed = parse_response("iam", "ListDelegationRequests", response)
    assert parsed["DelegationRequests"][0]["CreateDate"] == when
    assert parsed["ResponseMetadata"]["RequestId"] == "req-1"
    assert_matches_output_shape("iam", "ListDelegationRequests", parsed)


def test_error_envelopes_per_protocol() -> None:
    error = SandboxServiceError("ValidationException", "bad", 400, reason="OTHER")
    query = serialize_error("iam", SandboxServiceError("InvalidInput", "x <y>", 400), "r")
    assert b"<Code>InvalidInput</Code>" in query.body
    assert b"x &lt;y&gt;" in query.body
    rest = serialize_error("marketplace-catalog", error, "r")
    assert rest.headers["x-amzn-ErrorType"] == "ValidationException"
    json_error = serialize_error("marketplace-agreement", error, "r")
    assert b'"__type":"ValidationException"' in json_error.body
    assert b'"reason":"OTHER"' in json_error.body


def test_rest_json_routing_with_querystring_members() -> None:
    request = _wire(
        "marketplace-catalog", "DescribeEntity", {"Catalog": "AWSMarketplace", "EntityId": "e-1"}
    )
    assert parse_request("marketplace-catalog", request) == (
        "DescribeEntity",
        {"Catalog": "AWSMarketplace", "EntityId": "e-1"},
    )
    cancel = _wire(
        "marketplace-catalog",
        "CancelChangeSet",
        {"Catalog": "AWSMarketplace", "ChangeSetId": "cs-1"},
    )
    assert parse_request("marketplace-catalog", cancel)[0] == "CancelChangeSet"


# -- a fake Marketplace plugged in through ServiceBackend ------------------------------------

SUMMARY_TIME = datetime(2026, 1, 1, tzinfo=UTC)


def _describe_entity(call: SandboxCall) -> dict[str, Any]:
    if call.params["Catalog"] != "AWSMarketplace":
        raise SandboxServiceError("ValidationException", "Unsupported catalog", 400)
    return {
        "EntityType": "SaaSProduct",
        "EntityIdentifier": f"{call.params['EntityId']}@1",
        "EntityArn": f"arn:aws:aws-marketplace:us-east-1:{call.caller.account_id}:"
        f"AWSMarketplace/SaaSProduct/{call.params['EntityId']}",
        "LastModifiedDate": "2026-01-01T00:00:00Z",
        "DetailsDocument": {"Description": {"ProductTitle": "Acme"}},
    }


def _list_entities(call: SandboxCall) -> dict[str, Any]:
    return {"EntitySummaryList": [{"Name": "Acme", "EntityId": "prod-1"}]}


def _search_agreements(call: SandboxCall) -> dict[str, Any]:
    return {
        "agreementViewSummaries": [
            {"agreementId": "agmt-1", "acceptanceTime": SUMMARY_TIME, "status": "ACTIVE"}
        ]
    }


@pytest.fixture
def marketplace(sandbox: Any) -> Iterator[None]:
    """Fake catalog (rest-json) and agreement (json 1.0) backends on the running sandbox."""
    sandbox.register(
        WiredServiceBackend(
            service="marketplace-catalog",
            handlers={"DescribeEntity": _describe_entity, "ListEntities": _list_entities},
        )
    )
    sandbox.register(
        WiredServiceBackend(
            service="marketplace-agreement", handlers={"SearchAgreements": _search_agreements}
        )
    )
    yield
    sandbox.state.backends.pop("marketplace-catalog", None)
    sandbox.state.backends.pop("marketplace-agreement", None)


@pytest.mark.usefixtures("marketplace")
def test_plugged_in_backends_serve_boto3(
    make_client: ClientMaker, personas: dict[str, dict[str, str]]
) -> None:
    catalog = make_client("marketplace-catalog", personas["admin"])
    entity = catalog.describe_entity(Catalog="AWSMarketplace", EntityId="prod-1")
    assert_matches_output_shape("marketplace-catalog", "DescribeEntity", entity)
    assert entity["DetailsDocument"] == {"Description": {"ProductTitle": "Acme"}}
    assert CUSTOMER in entity["EntityArn"]
    with pytest.raises(catalog.exceptions.ValidationException):
        catalog.describe_entity(Catalog="Other", EntityId="prod-1")
    agreement = make_client("marketplace-agreement", personas["admin"])
    found = agreement.search_agreements(catalog="AWSMarketplace")
    assert_matches_output_shape("marketplace-agreement", "SearchAgreements", found)
    assert found["agreementViewSummaries"][0]["acceptanceTime"] == SUMMARY_TIME
    with pytest.raises(ClientError) as error:
        agreement.get_agreement_terms(agreementId="agmt-1")
    assert error.value.response["Error"]["Code"] == "UnknownOperationException"


@pytest.mark.usefixtures("marketplace")
def test_delegated_policy_applies_to_plugged_in_services(
    partner_iam: Any, owner_iam: Any, make_client: ClientMaker, partner: dict[str, str]
) -> None:
    finalize(partner_iam, owner_iam)
    token = exchange_token(make_client, partner)
    creds = make_client("sts", partner).get_delegated_access_token(TradeInToken=token)[
        "Credentials"
    ]
    catalog = make_client("marketplace-catalog", creds)
    catalog.list_entities(Catalog="AWSMarketplace", EntityType="SaaSProduct")
    with pytest.raises(ClientError) as error:
        catalog.describe_entity(Catalog="AWSMarketplace", EntityId="prod-1")
    assert error.value.response["Error"]["Code"] == "AccessDeniedException"
    assert error.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
    with pytest.raises(ClientError) as error:
        make_client("marketplace-agreement", creds).search_agreements(catalog="AWSMarketplace")
    assert error.value.response["Error"]["Code"] == "AccessDeniedException"
