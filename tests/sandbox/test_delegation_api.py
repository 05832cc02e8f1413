"""IAM delegation operations over real HTTP: happy paths, output shapes, constraints, states."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.sandbox.conftest import (
    CONFIG,
    CUSTOMER,
    FULL_ACCESS_ARN,
    ONBOARDING_ARN,
    OTHER_CUSTOMER,
    READ_ONLY_ARN,
    ClientMaker,
    create_kwargs,
    finalize,
)
from vell_core.sandbox.wire import assert_matches_output_shape

DEEP_LINK_PREFIX = "https://us-east-1.console.aws.amazon.com/iam/account-access-requests/review/"


def _code(error: pytest.ExceptionInfo[ClientError]) -> str:
    return str(error.value.response["Error"]["Code"])


def _status(error: pytest.ExceptionInfo[ClientError]) -> int:
    return int(error.value.response["ResponseMetadata"]["HTTPStatusCode"])


def _create(partner_iam: Any, **overrides: Any) -> str:
    response = partner_iam.create_delegation_request(**create_kwargs(**overrides))
    return str(response["DelegationRequestId"])


def test_full_lifecycle_every_operation_matches_its_output_shape(
    partner_iam: Any, owner_iam: Any, admin_iam: Any
) -> None:
    """Create → Get → Associate → Update → Accept → Send → List, each response shape-valid."""
    created = partner_iam.create_delegation_request(**create_kwargs(OwnerAccountId=CUSTOMER))
    assert_matches_output_shape("iam", "CreateDelegationRequest", created)
    request_id = created["DelegationRequestId"]
    assert len(request_id) == 32
    assert created["ConsoleDeepLink"] == DEEP_LINK_PREFIX + request_id

    fetched = owner_iam.get_delegation_request(DelegationRequestId=request_id)
    assert_matches_output_shape("iam", "GetDelegationRequest", fetched)
    request = fetched["DelegationRequest"]
    assert request["State"] == "UNASSIGNED"
    assert request["RequestorId"] == CONFIG.partner_account_id
    assert request["RequestorName"] == "Vell"
    assert (request["ExpirationTime"] - request["CreateDate"]).total_seconds() == 86400

    associated = owner_iam.associate_delegation_request(DelegationRequestId=request_id)
    assert_matches_output_shape("iam", "AssociateDelegationRequest", associated)
    updated = owner_iam.update_delegation_request(
        DelegationRequestId=request_id, Notes="Please approve: Vell dashboard"
    )
    assert_matches_output_shape("iam", "UpdateDelegationRequest", updated)
    accepted = admin_iam.accept_delegation_request(DelegationRequestId=request_id)
    assert_matches_output_shape("iam", "AcceptDelegationRequest", accepted)
    sent = owner_iam.send_delegation_token(DelegationRequestId=request_id)
    assert_matches_output_shape("iam", "SendDelegationToken", sent)

    listed = owner_iam.list_delegation_requests()
    assert_matches_output_shape("iam", "ListDelegationRequests", listed)
    (only,) = listed["DelegationRequests"]
    assert only["State"] == "FINALIZED"
    assert only["OwnerId"].endswith(":user/customer-owner")
    assert only["ApproverId"].endswith(":user/customer-admin")
    assert only["Notes"] == "Please approve: Vell dashboard"
    assert listed["isTruncated"] is False


def test_reject_records_reason_and_matches_shape(partner_iam: Any, owner_iam: Any) -> None:
    request_id = _create(partner_iam)
    owner_iam.associate_delegation_request(DelegationRequestId=request_id)
    rejected = owner_iam.reject_delegation_request(DelegationRequestId=request_id, Notes="Not now")
    assert_matches_output_shape("iam", "RejectDelegationRequest", rejected)
    request = owner_iam.get_delegation_request(DelegationRequestId=request_id)["DelegationRequest"]
    assert request["State"] == "REJECTED"
    assert request["RejectionReason"] == "Not now"


def test_permission_check_answers_complete(partner_iam: Any, owner_iam: Any) -> None:
    request_id = _create(partner_iam)
    got = owner_iam.get_delegation_request(
        DelegationRequestId=request_id, DelegationPermissionCheck=True
    )
    assert_matches_output_shape("iam", "GetDelegationRequest", got)
    assert got["PermissionCheckStatus"] == "COMPLETE"


def test_rendered_policy_and_boundary_restriction(partner_iam: Any, owner_iam: Any) -> None:
    request_id = _create(
        partner_iam,
        Permissions={
            "PolicyTemplateArn": ONBOARDING_ARN,
            "Parameters": [{"Name": "AccountId", "Values": [CUSTOMER], "Type": "string"}],
        },
    )
    request = owner_iam.get_delegation_request(DelegationRequestId=request_id)["DelegationRequest"]
    assert f"arn:aws:iam::{CUSTOMER}:role/vell.ai/*" in request["PermissionPolicy"]
    assert request["RolePermissionRestrictionArns"] == [CONFIG.boundary_arn]
    read_only = _create(partner_iam, RequestorWorkflowId="wf-test-0002")
    plain = owner_iam.get_delegation_request(DelegationRequestId=read_only)["DelegationRequest"]
    assert "RolePermissionRestrictionArns" not in plain


@pytest.mark.parametrize(
    ("overrides", "fragment"),
    [
        ({"Description": "x" * 1001}, "length less than or equal to 1000"),
        ({"Description": "bad \u2603 snowman"}, "regular expression pattern"),
        ({"RequestMessage": "m" * 201}, "length less than or equal to 200"),
        ({"RequestorWorkflowId": "w" * 401}, "length less than or equal to 400"),
        ({"SessionDuration": 43201}, "value less than or equal to 43200"),
        ({"RedirectUrl": "http://localhost:8501/return"}, "regular expression pattern"),
        ({"RedirectUrl": "https://desk.vell.ai/r?x=a/b"}, "regular expression pattern"),
        ({"OwnerAccountId": "12345"}, "regular expression pattern"),
        ({"NotificationChannel": "arn:aws:sns:us-east-1:1:bad topic"}, "regular expression"),
        (
            {
                "Permissions": {
                    "PolicyTemplateArn": FULL_ACCESS_ARN,
                    "Parameters": [{"Name": "AccountId", "Values": ["1"], "Type": "String"}],
                }
            },
            "enum value set",
        ),
    ],
)
def test_create_enforces_model_constraints(
    partner_iam: Any, overrides: dict[str, Any], fragment: str
) -> None:
    """botocore lets these through; IAM refuses them with ValidationError (model constraints)."""
    with pytest.raises(ClientError) as error:
        partner_iam.create_delegation_request(**create_kwargs(**overrides))
    assert _code(error) == "ValidationError"
    assert _status(error) == 400
    assert fragment in error.value.response["Error"]["Message"]


def test_redirect_url_without_port_is_accepted(partner_iam: Any, owner_iam: Any) -> None:
    request_id = _create(partner_iam, RedirectUrl="https://desk.vell.ai/return?wf=abc-1#done")
    request = owner_iam.get_delegation_request(DelegationRequestId=request_id)["DelegationRequest"]
    assert request["RedirectUrl"] == "https://desk.vell.ai/return?wf=abc-1#done"


def test_duration_lower_bound_and_botocore_minimum(partner_iam: Any) -> None:
    from botocore.exceptions import ParamValidationError

    with pytest.raises(ParamValidationError):
        partner_iam.create_delegation_request(**create_kwargs(SessionDuration=299))
    _create(partner_iam, SessionDuration=300)


@pytest.mark.parametrize(
    ("overrides", "fragment"),
    [
        (
            {"Permissions": {"PolicyTemplateArn": "arn:aws:iam:::delegation-template/x/Unknown"}},
            "not registered",
        ),
        ({"Permissions": {"PolicyTemplateArn": FULL_ACCESS_ARN}}, "Missing template parameters"),
        (
            {
                "Permissions": {
                    "PolicyTemplateArn": READ_ONLY_ARN,
                    "Parameters": [{"Name": "Extra1", "Values": ["v"], "Type": "string"}],
                }
            },
            "Unknown template parameters",
        ),
        (
            {
                "Permissions": {
                    "PolicyTemplateArn": FULL_ACCESS_ARN,
                    "Parameters": [
                        {"Name": "AccountId", "Values": [CUSTOMER], "Type": "string"},
                        {
                            "Name": "Product",
                            "Values": [f"SaaSProduct/prod-{i:020d}" for i in range(40)],
                            "Type": "stringList",
                        },
                        {"Name": "AllowChanges", "Values": ["False"], "Type": "string"},
                    ],
                }
            },
            "limit is 2048",
        ),
        ({"NotificationChannel": "arn:aws:sqs:us-east-1:253265132499:q"}, "SNS topic ARN"),
        ({"NotificationChannel": f"arn:aws:sns:us-east-1:{CUSTOMER}:t"}, "partner account"),
        ({"NotificationChannel": "arn:aws:sns:us-east-1:253265132499:missing"}, "not exist"),
    ],
)
def test_create_refuses_bad_templates_and_channels(
    partner_iam: Any, overrides: dict[str, Any], fragment: str
) -> None:
    with pytest.raises(ClientError) as error:
        partner_iam.create_delegation_request(**create_kwargs(**overrides))
    assert _code(error) == "InvalidInput"
    assert fragment in error.value.response["Error"]["Message"]


def test_duplicate_workflow_id_is_entity_already_exists(partner_iam: Any) -> None:
    _create(partner_iam)
    with pytest.raises(partner_iam.exceptions.EntityAlreadyExistsException) as error:
        _create(partner_iam)
    assert _status(error) == 409


def test_only_onboarded_partner_may_create(owner_iam: Any) -> None:
    with pytest.raises(ClientError) as error:
        owner_iam.create_delegation_request(**create_kwargs())
    assert _code(error) == "AccessDenied"
    assert _status(error) == 403


def test_open_request_quota(sandbox: Any, partner_iam: Any) -> None:
    sandbox.state.delegation.max_open = 2
    try:
        _create(partner_iam, RequestorWorkflowId="wf-quota-1")
        _create(partner_iam, RequestorWorkflowId="wf-quota-2")
        with pytest.raises(partner_iam.exceptions.LimitExceededException):
            _create(partner_iam, RequestorWorkflowId="wf-quota-3")
    finally:
        sandbox.state.delegation.max_open = 100


@pytest.mark.parametrize("bad_id", ["short", "x" * 129, "has space in it!!!"])
def test_malformed_ids(partner_iam: Any, owner_iam: Any, bad_id: str) -> None:
    """An id breaking the model's length or pattern is a ValidationError on every operation
    (validated before any lookup, as IAM does); a well-formed unknown id is NoSuchEntity."""
    for call in (
        owner_iam.get_delegation_request,
        owner_iam.accept_delegation_request,
        owner_iam.associate_delegation_request,
    ):
        with pytest.raises(ClientError) as error:
            call(DelegationRequestId=bad_id.ljust(16, "!") + "x" * 16)
        assert _code(error) == "ValidationError"
    with pytest.raises(owner_iam.exceptions.NoSuchEntityException):
        owner_iam.get_delegation_request(DelegationRequestId="a" * 32)


def test_unknown_id_is_no_such_entity(owner_iam: Any) -> None:
    with pytest.raises(owner_iam.exceptions.NoSuchEntityException) as error:
        owner_iam.get_delegation_request(DelegationRequestId="0" * 32)
    assert _status(error) == 404


def test_preset_owner_account_binds_association(
    partner_iam: Any, make_client: ClientMaker, control: Any
) -> None:
    request_id = _create(partner_iam, OwnerAccountId=CUSTOMER)
    stranger = make_client("iam", control.personas(OTHER_CUSTOMER)["owner"])
    with pytest.raises(ClientError) as error:
        stranger.associate_delegation_request(DelegationRequestId=request_id)
    assert _code(error) == "AccessDenied"
    with pytest.raises(ClientError) as error:
        stranger.get_delegation_request(DelegationRequestId=request_id)
    assert _code(error) == "AccessDenied"
    with pytest.raises(ClientError):  # Q1: the partner lost Get once an owner account is set
        partner_iam.get_delegation_request(DelegationRequestId=request_id)


def test_partner_may_get_only_while_unowned(partner_iam: Any, owner_iam: Any) -> None:
    request_id = _create(partner_iam)
    assert partner_iam.get_delegation_request(DelegationRequestId=request_id)
    owner_iam.associate_delegation_request(DelegationRequestId=request_id)
    with pytest.raises(ClientError) as error:
        partner_iam.get_delegation_request(DelegationRequestId=request_id)
    assert _code(error) == "AccessDenied"
    assert _status(error) == 403


def test_wrong_state_calls(partner_iam: Any, owner_iam: Any) -> None:
    request_id = _create(partner_iam)
    with pytest.raises(ClientError) as error:
        owner_iam.send_delegation_token(DelegationRequestId=request_id)
    assert _code(error) == "InvalidInput"
    owner_iam.associate_delegation_request(DelegationRequestId=request_id)
    with pytest.raises(ClientError) as error:
        owner_iam.associate_delegation_request(DelegationRequestId=request_id)
    assert _code(error) == "InvalidInput"
    with pytest.raises(ClientError) as error:
        owner_iam.send_delegation_token(DelegationRequestId=request_id)
    assert _code(error) == "InvalidInput"
    owner_iam.reject_delegation_request(DelegationRequestId=request_id)
    with pytest.raises(owner_iam.exceptions.ConcurrentModificationException) as error:
        owner_iam.accept_delegation_request(DelegationRequestId=request_id)
    assert _status(error) == 409
    with pytest.raises(ClientError) as error:
        owner_iam.update_delegation_request(DelegationRequestId=request_id, Notes="again")
    assert _code(error) == "InvalidInput"


def test_finalized_cannot_be_rejected(partner_iam: Any, owner_iam: Any) -> None:
    request_id = finalize(partner_iam, owner_iam)
    with pytest.raises(ClientError) as error:
        owner_iam.reject_delegation_request(DelegationRequestId=request_id)
    assert _code(error) == "InvalidInput"


def test_notes_limit(partner_iam: Any, owner_iam: Any) -> None:
    request_id = _create(partner_iam)
    owner_iam.associate_delegation_request(DelegationRequestId=request_id)
    with pytest.raises(ClientError) as error:
        owner_iam.update_delegation_request(DelegationRequestId=request_id, Notes="n" * 501)
    assert _code(error) == "ValidationError"


def test_only_owner_may_forward(partner_iam: Any, owner_iam: Any, admin_iam: Any) -> None:
    request_id = _create(partner_iam)
    owner_iam.associate_delegation_request(DelegationRequestId=request_id)
    with pytest.raises(ClientError) as error:
        admin_iam.update_delegation_request(DelegationRequestId=request_id)
    assert _code(error) == "AccessDenied"


def test_root_may_not_approve_more_than_four_hours(partner_iam: Any, root_iam: Any) -> None:
    long_id = _create(partner_iam, SessionDuration=14401)
    root_iam.associate_delegation_request(DelegationRequestId=long_id)
    with pytest.raises(root_iam.exceptions.ConcurrentModificationException) as error:
        root_iam.accept_delegation_request(DelegationRequestId=long_id)
    assert "4 hours or less" in error.value.response["Error"]["Message"]
    short_id = _create(partner_iam, SessionDuration=14400, RequestorWorkflowId="wf-root-short")
    root_iam.associate_delegation_request(DelegationRequestId=short_id)
    root_iam.accept_delegation_request(DelegationRequestId=short_id)
    request = root_iam.get_delegation_request(DelegationRequestId=short_id)["DelegationRequest"]
    assert request["ApproverId"] == f"arn:aws:iam::{CUSTOMER}:root"


def test_only_send_by_owner(partner_iam: Any, owner_iam: Any, admin_iam: Any) -> None:
    request_id = _create(partner_iam, OnlySendByOwner=True)
    owner_iam.associate_delegation_request(DelegationRequestId=request_id)
    admin_iam.accept_delegation_request(DelegationRequestId=request_id)
    with pytest.raises(ClientError) as error:
        admin_iam.send_delegation_token(DelegationRequestId=request_id)
    assert _code(error) == "AccessDenied"
    owner_iam.send_delegation_token(DelegationRequestId=request_id)


def test_approver_may_send_by_default(partner_iam: Any, owner_iam: Any, admin_iam: Any) -> None:
    request_id = _create(partner_iam)
    owner_iam.associate_delegation_request(DelegationRequestId=request_id)
    admin_iam.accept_delegation_request(DelegationRequestId=request_id)
    admin_iam.send_delegation_token(DelegationRequestId=request_id)


def test_list_pages_with_marker_and_hides_unowned(partner_iam: Any, owner_iam: Any) -> None:
    ids = [_create(partner_iam, RequestorWorkflowId=f"wf-page-{i:03d}") for i in range(5)]
    for request_id in ids[:3]:
        owner_iam.associate_delegation_request(DelegationRequestId=request_id)
    first = owner_iam.list_delegation_requests(MaxItems=2)
    assert first["isTruncated"] is True
    assert len(first["DelegationRequests"]) == 2
    second = owner_iam.list_delegation_requests(MaxItems=2, Marker=first["Marker"])
    assert_matches_output_shape("iam", "ListDelegationRequests", second)
    assert second["isTruncated"] is False
    seen = [r["DelegationRequestId"] for r in first["DelegationRequests"]]
    seen += [r["DelegationRequestId"] for r in second["DelegationRequests"]]
    assert sorted(seen) == sorted(ids[:3])
    with pytest.raises(ClientError) as error:
        owner_iam.list_delegation_requests(Marker="not-a-marker")
    assert _code(error) == "InvalidInput"
    with pytest.raises(ClientError) as error:
        owner_iam.list_delegation_requests(MaxItems=1001)
    assert _code(error) == "ValidationError"
