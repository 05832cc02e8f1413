"""Every sandbox handler answers malformed requests and crashes in its protocol's error shape.

botocore validates parameters client-side, so these clients switch that off
(``parameter_validation=False``) and send the malformed request as is: what comes back is the
server's own answer, as real AWS would give it to any SDK or a hand-written request.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from tests.sandbox.conftest import CONFIG, CUSTOMER, create_kwargs
from vell_core.sandbox.contract import SandboxCall, ServiceBackend
from vell_core.sandbox.server import RunningSandbox

RawClient = Callable[[str, dict[str, str]], Any]
RAW = Config(parameter_validation=False, retries={"max_attempts": 1, "mode": "standard"})


@pytest.fixture
def raw_client(sandbox: RunningSandbox) -> RawClient:
    """A boto3 client that sends whatever it is given (no client-side validation, no retry)."""

    def make(service: str, creds: dict[str, str]) -> Any:
        client = boto3.client(
            service,
            endpoint_url=sandbox.endpoint,
            region_name="us-east-1",
            aws_access_key_id=creds["AccessKeyId"],
            aws_secret_access_key=creds["SecretAccessKey"],
            config=RAW,
        )
        client.raw_answers = []
        client.meta.events.register(
            "after-call", lambda http_response, **_: client.raw_answers.append(http_response)
        )
        return client

    return make


def _error(call: Callable[[], Any]) -> tuple[dict[str, Any], Any]:
    with pytest.raises(ClientError) as caught:
        call()
    return caught.value.response, caught.value


def _assert_query_error(client: Any, response: dict[str, Any], code: str, status: int) -> None:
    assert response["Error"]["Code"] == code
    assert response["ResponseMetadata"]["HTTPStatusCode"] == status
    raw = client.raw_answers[-1]
    assert raw.headers["Content-Type"].startswith("text/xml")
    assert raw.content.startswith(b"<ErrorResponse")


# -- IAM / STS / SNS (query protocol) ----------------------------------------------------------


@pytest.mark.parametrize(
    ("missing", "path"),
    [
        ("Description", "description"),
        ("SessionDuration", "sessionDuration"),
        ("RequestorWorkflowId", "requestorWorkflowId"),
    ],
)
def test_create_without_a_required_member_is_a_validation_error(
    raw_client: RawClient, partner: dict[str, str], missing: str, path: str
) -> None:
    """Was an HTML 500 page; AWS answers ValidationError naming the null member."""
    iam = raw_client("iam", partner)
    kwargs = create_kwargs()
    del kwargs[missing]
    response, _ = _error(lambda: iam.create_delegation_request(**kwargs))
    _assert_query_error(iam, response, "ValidationError", 400)
    assert response["Error"]["Message"] == (
        f"1 validation error detected: Value null at '{path}' failed to satisfy constraint: "
        "Member must not be null"
    )


def test_out_of_range_and_too_long_members_are_all_reported(
    raw_client: RawClient, partner: dict[str, str]
) -> None:
    """Numeric range and string length, in one message, counted."""
    iam = raw_client("iam", partner)
    kwargs = create_kwargs(SessionDuration=50_000, RequestMessage="x" * 201)
    response, _ = _error(lambda: iam.create_delegation_request(**kwargs))
    _assert_query_error(iam, response, "ValidationError", 400)
    message = response["Error"]["Message"]
    assert message.startswith("2 validation errors detected: ")
    assert "at 'sessionDuration' failed to satisfy constraint: Member must have value " in message
    assert "less than or equal to 43200" in message
    assert "at 'requestMessage' failed to satisfy constraint: Member must have length" in message
    assert not iam.list_delegation_requests()["DelegationRequests"]


def test_sts_exchange_without_a_token_is_a_validation_error(
    raw_client: RawClient, partner: dict[str, str]
) -> None:
    """GetDelegatedAccessToken needs TradeInToken."""
    sts = raw_client("sts", partner)
    response, _ = _error(lambda: sts.get_delegated_access_token())
    _assert_query_error(sts, response, "ValidationError", 400)
    assert "Value null at 'tradeInToken'" in response["Error"]["Message"]


def test_sns_publish_without_a_message_is_invalid_parameter(
    raw_client: RawClient, partner: dict[str, str]
) -> None:
    """SNS names its validation error InvalidParameter."""
    sns = raw_client("sns", partner)
    response, _ = _error(lambda: sns.publish(TopicArn=CONFIG.topic_arn))
    _assert_query_error(sns, response, "InvalidParameter", 400)
    assert "Value null at 'message'" in response["Error"]["Message"]


# -- Marketplace Catalog (rest-json) and Agreement (json 1.0) -----------------------------------


@pytest.fixture
def marketplace_stub(sandbox: RunningSandbox) -> Iterator[list[SandboxCall]]:
    """Catalog and Agreement backends that record the calls reaching business logic."""
    reached: list[SandboxCall] = []

    def record(call: SandboxCall) -> dict[str, Any]:
        reached.append(call)
        return {}

    saved = {
        s: sandbox.state.backends.get(s) for s in ("marketplace-catalog", "marketplace-agreement")
    }
    for service, operations in (
        ("marketplace-catalog", ["ListEntities", "BatchDescribeEntities"]),
        ("marketplace-agreement", ["SearchAgreements", "DescribeAgreement"]),
    ):
        sandbox.state.backends[service] = ServiceBackend(
            service=service, handlers=dict.fromkeys(operations, record)
        )
    yield reached
    for service, backend in saved.items():
        if backend is None:
            sandbox.state.backends.pop(service, None)
        else:
            sandbox.state.backends[service] = backend


def _assert_catalog_validation(client: Any, call: Callable[[], Any], fragment: str) -> None:
    response, _ = _error(call)
    assert response["Error"]["Code"] == "ValidationException"
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 422
    assert client.raw_answers[-1].headers["x-amzn-ErrorType"] == "ValidationException"
    assert fragment in response["Error"]["Message"]


@pytest.mark.parametrize(
    ("params", "fragment"),
    [
        ({"Sort": {"SortBy": "Name", "SortOrder": "UP"}}, "at 'sort.sortOrder'"),
        ({"OwnershipType": "BOTH"}, "Member must satisfy enum value set: [SELF, SHARED]"),
        (
            {"FilterList": [{"Name": f"f{i}", "ValueList": ["x"]} for i in range(9)]},
            "at 'filterList' failed to satisfy constraint: Member must have length less than "
            "or equal to 8",
        ),
        ({"MaxResults": 51}, "at 'maxResults'"),
    ],
)
def test_catalog_list_entities_refuses_what_the_model_forbids(
    raw_client: RawClient,
    personas: dict[str, dict[str, str]],
    marketplace_stub: list[SandboxCall],
    params: dict[str, Any],
    fragment: str,
) -> None:
    """Enums, list limits and ranges are checked before the handler runs."""
    catalog = raw_client("marketplace-catalog", personas["owner"])
    _assert_catalog_validation(
        catalog,
        lambda: catalog.list_entities(Catalog="AWSMarketplace", EntityType="SaaSProduct", **params),
        fragment,
    )
    assert marketplace_stub == []


def test_batch_describe_with_an_item_missing_entity_id_is_refused(
    raw_client: RawClient, personas: dict[str, dict[str, str]], marketplace_stub: list[SandboxCall]
) -> None:
    """A required member inside a list item is checked too."""
    catalog = raw_client("marketplace-catalog", personas["owner"])
    _assert_catalog_validation(
        catalog,
        lambda: catalog.batch_describe_entities(EntityRequestList=[{"Catalog": "AWSMarketplace"}]),
        "Value null at 'entityRequestList.1.member.entityId'",
    )
    assert marketplace_stub == []


def test_a_valid_catalog_request_reaches_the_handler(
    raw_client: RawClient, personas: dict[str, dict[str, str]], marketplace_stub: list[SandboxCall]
) -> None:
    """The validator lets well-formed requests through (the tests above can fail)."""
    catalog = raw_client("marketplace-catalog", personas["owner"])
    catalog.list_entities(
        Catalog="AWSMarketplace",
        EntityType="SaaSProduct",
        OwnershipType="SELF",
        Sort={"SortBy": "Name", "SortOrder": "ASCENDING"},
    )
    assert [call.operation for call in marketplace_stub] == ["ListEntities"]


def test_agreement_validation_uses_json_type_and_fields(
    raw_client: RawClient, personas: dict[str, dict[str, str]], marketplace_stub: list[SandboxCall]
) -> None:
    """json 1.0: ``__type`` ValidationException with ``reason`` and ``fields``."""
    agreement = raw_client("marketplace-agreement", personas["owner"])
    response, _ = _error(
        lambda: agreement.search_agreements(catalog="AWSMarketplace", maxResults=0)
    )
    assert response["Error"]["Code"] == "ValidationException"
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 400
    body = agreement.raw_answers[-1].content.decode()
    assert '"__type":"ValidationException"' in body
    assert response["reason"] == "OTHER"
    assert response["fields"][0]["name"] == "maxResults"
    missing, _ = _error(lambda: agreement.describe_agreement())
    assert missing["fields"][0]["name"] == "agreementId"
    assert marketplace_stub == []


# -- Unexpected exceptions: the service's internal failure, never an HTML page -----------------


def _boom(call: SandboxCall) -> dict[str, Any]:
    raise RuntimeError("simulated bug")


def test_an_iam_handler_crash_is_service_failure(
    raw_client: RawClient,
    partner: dict[str, str],
    sandbox: RunningSandbox,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """IAM: ServiceFailure 500 in the query XML envelope."""
    monkeypatch.setitem(sandbox.state.backends["iam"].handlers, "ListDelegationRequests", _boom)
    iam = raw_client("iam", partner)
    response, _ = _error(lambda: iam.list_delegation_requests())
    _assert_query_error(iam, response, "ServiceFailure", 500)
    assert "simulated bug" not in response["Error"]["Message"]


def test_an_sns_crash_is_internal_error(
    raw_client: RawClient, partner: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """SNS: InternalError 500."""
    monkeypatch.setattr("vell_core.sandbox.server.check_publish", lambda *_: _boom(None))  # type: ignore[arg-type]
    sns = raw_client("sns", partner)
    response, _ = _error(lambda: sns.publish(TopicArn=CONFIG.topic_arn, Message="m"))
    _assert_query_error(sns, response, "InternalError", 500)


@pytest.mark.parametrize(
    ("service", "operation", "code", "call"),
    [
        (
            "marketplace-catalog",
            "ListEntities",
            "InternalServiceException",
            lambda c: c.list_entities(Catalog="AWSMarketplace", EntityType="SaaSProduct"),
        ),
        (
            "marketplace-agreement",
            "DescribeAgreement",
            "InternalServerException",
            lambda c: c.describe_agreement(agreementId="agmt-1111111111111111111111111"),
        ),
    ],
)
def test_a_marketplace_crash_is_the_services_internal_error(
    raw_client: RawClient,
    personas: dict[str, dict[str, str]],
    marketplace_stub: list[SandboxCall],
    sandbox: RunningSandbox,
    service: str,
    operation: str,
    code: str,
    call: Callable[[Any], Any],
) -> None:
    """Catalog: InternalServiceException; Agreement: InternalServerException (both 500)."""
    sandbox.state.backends[service].handlers[operation] = _boom
    client = raw_client(service, personas["owner"])
    response, _ = _error(lambda: call(client))
    assert response["Error"]["Code"] == code
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 500
    assert client.raw_answers[-1].headers["Content-Type"].startswith("application/")


def test_a_control_plane_crash_is_json_not_html(
    sandbox: RunningSandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Even the control plane never serves werkzeug's HTML error page."""
    import requests

    monkeypatch.setattr(type(sandbox.state), "personas", lambda *_: _boom(None))  # type: ignore[arg-type]
    answer = requests.post(
        f"{sandbox.endpoint}/_sandbox/personas", json={"account_id": CUSTOMER}, timeout=5
    )
    assert answer.status_code == 500
    assert answer.headers["Content-Type"] == "application/json"
    assert "error" in answer.json()
