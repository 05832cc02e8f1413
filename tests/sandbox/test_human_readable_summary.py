"""IAM ``GetHumanReadableSummary`` over real HTTP, against botocore's model.

Plain boto3 calls as the partner and as customer personas: the summary states the model
enumerates (generation is asynchronous on the sandbox clock), who may call it when (Get's
rules), the console locales, and malformed input answered by the model-driven validation.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from tests.sandbox.conftest import (
    CONFIG,
    CUSTOMER,
    FULL_ACCESS_ARN,
    ONBOARDING_ARN,
    OTHER_CUSTOMER,
    ClientMaker,
    create_kwargs,
)
from vell_core.sandbox.iam.summary import LOCALES
from vell_core.sandbox.server import RunningSandbox
from vell_core.sandbox.wire import assert_matches_output_shape, service_model

PARTNER = CONFIG.partner_account_id
RAW = Config(parameter_validation=False, retries={"max_attempts": 1, "mode": "standard"})


def _create(partner_iam: Any, **overrides: Any) -> str:
    created = partner_iam.create_delegation_request(**create_kwargs(**overrides))
    return str(created["DelegationRequestId"])


def _arn(request_id: str, account: str = PARTNER) -> str:
    return f"arn:aws:iam::{account}:delegation-request/{request_id}"


def _summary(client: Any, request_id: str, **kwargs: Any) -> dict[str, Any]:
    answer = client.get_human_readable_summary(EntityArn=_arn(request_id), **kwargs)
    assert_matches_output_shape("iam", "GetHumanReadableSummary", answer)
    return dict(answer)


def _ready(client: Any, control: Any, request_id: str, **kwargs: Any) -> dict[str, Any]:
    """Ask once (starting the generation), let sandbox time pass, ask again."""
    first = _summary(client, request_id, **kwargs)
    assert first["SummaryState"] == "NOT_AVAILABLE"
    control.advance(CONFIG.summary_seconds + 1)
    return _summary(client, request_id, **kwargs)


def _code(error: pytest.ExceptionInfo[ClientError]) -> str:
    return str(error.value.response["Error"]["Code"])


def _status(error: pytest.ExceptionInfo[ClientError]) -> int:
    return int(error.value.response["ResponseMetadata"]["HTTPStatusCode"])


@pytest.fixture
def raw_iam(sandbox: RunningSandbox, partner: dict[str, str]) -> Any:
    """The partner's IAM client without client-side validation: the server answers alone."""
    return boto3.client(
        "iam",
        endpoint_url=sandbox.endpoint,
        region_name="us-east-1",
        aws_access_key_id=partner["AccessKeyId"],
        aws_secret_access_key=partner["SecretAccessKey"],
        config=RAW,
    )


@pytest.fixture
def stranger_iam(make_client: ClientMaker, control: Any) -> Any:
    """The owner of an unrelated customer account."""
    return make_client("iam", control.personas(OTHER_CUSTOMER)["owner"])


# -- the model -------------------------------------------------------------------------------


def test_the_operation_is_the_one_botocore_1_44_models() -> None:
    """Inputs, outputs, states and declared errors are read from the model, not assumed."""
    operation = service_model("iam").operation_model("GetHumanReadableSummary")
    assert set(operation.input_shape.members) == {"EntityArn", "Locale"}
    assert operation.input_shape.required_members == ["EntityArn"]
    output = operation.output_shape.members
    assert set(output) == {"SummaryContent", "Locale", "SummaryState"}
    assert output["SummaryState"].enum == ["AVAILABLE", "NOT_AVAILABLE", "NOT_SUPPORTED", "FAILED"]
    errors = {shape.metadata["error"]["code"] for shape in operation.error_shapes}
    assert errors == {"InvalidInput", "NoSuchEntity", "ServiceFailure"}


# -- states and generation -------------------------------------------------------------------


def test_first_call_is_not_available_then_available_on_the_sandbox_clock(
    partner_iam: Any, control: Any
) -> None:
    """Generation starts at the first call and needs sandbox time, not wall time."""
    request_id = _create(partner_iam)
    first = _summary(partner_iam, request_id)
    assert first["SummaryState"] == "NOT_AVAILABLE"
    assert first.get("SummaryContent", "") == ""  # non-empty only when AVAILABLE
    assert first["Locale"] == "en-US"
    control.advance(CONFIG.summary_seconds - 1)
    assert _summary(partner_iam, request_id)["SummaryState"] == "NOT_AVAILABLE"
    control.advance(2)
    ready = _summary(partner_iam, request_id)
    assert ready["SummaryState"] == "AVAILABLE"
    assert ready["SummaryContent"]


def test_even_instant_generation_answers_not_available_first(
    partner_iam: Any, control: Any
) -> None:
    control.set_config(summary_seconds=0)
    request_id = _create(partner_iam)
    assert _summary(partner_iam, request_id)["SummaryState"] == "NOT_AVAILABLE"
    assert _summary(partner_iam, request_id)["SummaryState"] == "AVAILABLE"


def test_a_failed_generation_answers_failed_with_no_text(partner_iam: Any, control: Any) -> None:
    """The knob decides when generation starts; turning it off later changes nothing."""
    control.set_config(summary_failures=True)
    request_id = _create(partner_iam)
    _summary(partner_iam, request_id)
    control.set_config(summary_failures=False)
    control.advance(CONFIG.summary_seconds + 1)
    failed = _summary(partner_iam, request_id)
    assert failed["SummaryState"] == "FAILED"
    assert failed.get("SummaryContent", "") == ""
    other = _create(partner_iam, RequestorWorkflowId="wf-test-0002")
    assert _ready(partner_iam, control, other)["SummaryState"] == "AVAILABLE"


def test_another_entity_type_is_not_supported(partner_iam: Any) -> None:
    answer = partner_iam.get_human_readable_summary(
        EntityArn=f"arn:aws:iam::{PARTNER}:role/vell.ai/SomeRole"
    )
    assert_matches_output_shape("iam", "GetHumanReadableSummary", answer)
    assert answer["SummaryState"] == "NOT_SUPPORTED"
    bucket = partner_iam.get_human_readable_summary(EntityArn="arn:aws:s3:::vell-some-bucket")
    assert bucket["SummaryState"] == "NOT_SUPPORTED"


# -- the text --------------------------------------------------------------------------------


def test_text_is_built_from_the_rendered_policy_duration_and_requester(
    partner_iam: Any, control: Any
) -> None:
    """Actions, resources (with the rendered account), conditions, duration and requester."""
    request_id = _create(
        partner_iam,
        SessionDuration=14400,
        Permissions={
            "PolicyTemplateArn": FULL_ACCESS_ARN,
            "Parameters": [
                {"Name": "AccountId", "Values": [CUSTOMER], "Type": "string"},
                {"Name": "Product", "Values": ["prod-abc123"], "Type": "string"},
                {"Name": "AllowChanges", "Values": ["False"], "Type": "string"},
            ],
        },
    )
    text = _ready(partner_iam, control, request_id)["SummaryContent"]
    assert text.startswith(f"Vell (AWS account {PARTNER}) asks for temporary access")
    assert "for 4 hours" in text
    assert "View in AWS Marketplace: DescribeEntity, ListEntities" in text
    assert f"only on arn:aws:aws-marketplace:us-east-1:{CUSTOMER}:AWSMarketplace/prod-abc123" in (
        text
    )
    assert "StartChangeSet" not in text  # its statement is switched off (AllowChanges False)
    assert "@{" not in text  # rendered, not the template


def test_conditions_denies_and_the_boundary_are_spelled_out(partner_iam: Any, control: Any) -> None:
    request_id = _create(
        partner_iam,
        Permissions={
            "PolicyTemplateArn": ONBOARDING_ARN,
            "Parameters": [{"Name": "AccountId", "Values": [CUSTOMER], "Type": "string"}],
        },
    )
    text = _ready(partner_iam, control, request_id)["SummaryContent"]
    assert "Change in IAM: CreateRole, PutRolePolicy" in text
    assert f"when iam:PermissionsBoundary is {CONFIG.boundary_arn}" in text
    assert f"capped by the permission boundary {CONFIG.boundary_arn}" in text


def test_the_same_request_always_reads_the_same(partner_iam: Any, control: Any) -> None:
    first = _create(partner_iam)
    second = _create(partner_iam, RequestorWorkflowId="wf-test-0002")
    one = _ready(partner_iam, control, first)["SummaryContent"]
    assert _summary(partner_iam, first)["SummaryContent"] == one
    assert _ready(partner_iam, control, second)["SummaryContent"] == one


# -- who may call ----------------------------------------------------------------------------


def test_any_account_may_read_it_while_the_request_has_no_owner_account(
    partner_iam: Any, stranger_iam: Any, owner_iam: Any, control: Any
) -> None:
    request_id = _create(partner_iam)
    for client in (partner_iam, stranger_iam, owner_iam):
        assert _summary(client, request_id)["SummaryState"] in ("NOT_AVAILABLE", "AVAILABLE")
    control.advance(CONFIG.summary_seconds + 1)
    assert _summary(stranger_iam, request_id)["SummaryState"] == "AVAILABLE"


def test_once_owned_only_the_owner_account_may_read_it(
    partner_iam: Any, stranger_iam: Any, owner_iam: Any, admin_iam: Any, control: Any
) -> None:
    """Associating binds it: the partner (and any other account) get AccessDenied."""
    request_id = _create(partner_iam)
    assert _ready(partner_iam, control, request_id)["SummaryState"] == "AVAILABLE"
    owner_iam.associate_delegation_request(DelegationRequestId=request_id)
    for client in (partner_iam, stranger_iam):
        with pytest.raises(ClientError) as error:
            _summary(client, request_id)
        assert _code(error) == "AccessDenied"
        assert _status(error) == 403
        assert "iam:GetHumanReadableSummary" in error.value.response["Error"]["Message"]
    assert _summary(owner_iam, request_id)["SummaryState"] == "AVAILABLE"
    assert _summary(admin_iam, request_id)["SummaryState"] == "AVAILABLE"


def test_an_owner_account_set_at_creation_locks_out_the_partner_at_once(
    partner_iam: Any, stranger_iam: Any, owner_iam: Any
) -> None:
    """With OwnerAccountId and no owner yet, only identities of that account may read it."""
    request_id = _create(partner_iam, OwnerAccountId=CUSTOMER)
    for client in (partner_iam, stranger_iam):
        with pytest.raises(ClientError) as error:
            _summary(client, request_id)
        assert _code(error) == "AccessDenied"
    assert _summary(owner_iam, request_id)["SummaryState"] == "NOT_AVAILABLE"


def test_the_owner_account_may_name_the_request_in_its_own_account(
    partner_iam: Any, owner_iam: Any, control: Any
) -> None:
    """The ARN's account may be the requestor's or the owner's; any other is not found."""
    request_id = _create(partner_iam, OwnerAccountId=CUSTOMER)
    answer = owner_iam.get_human_readable_summary(EntityArn=_arn(request_id, CUSTOMER))
    assert answer["SummaryState"] == "NOT_AVAILABLE"
    with pytest.raises(owner_iam.exceptions.NoSuchEntityException):
        owner_iam.get_human_readable_summary(EntityArn=_arn(request_id, OTHER_CUSTOMER))


# -- locales ---------------------------------------------------------------------------------


@pytest.mark.parametrize("locale", sorted(LOCALES))
def test_every_console_locale_is_accepted_and_echoed(
    partner_iam: Any, control: Any, locale: str
) -> None:
    request_id = _create(partner_iam)
    ready = _ready(partner_iam, control, request_id, Locale=locale)
    assert ready["Locale"] == locale
    assert ready["SummaryState"] == "AVAILABLE"
    assert "253265132499" in ready["SummaryContent"]


def test_the_text_is_written_in_the_locale_asked_for(partner_iam: Any, control: Any) -> None:
    request_id = _create(partner_iam)
    english = _ready(partner_iam, control, request_id, Locale="en-US")["SummaryContent"]
    japanese = _ready(partner_iam, control, request_id, Locale="ja-JP")["SummaryContent"]
    german = _ready(partner_iam, control, request_id, Locale="de-DE")["SummaryContent"]
    assert "時間" in japanese
    assert "アクセス" in japanese
    assert "vorübergehenden Zugriff" in german
    assert len({english, japanese, german}) == 3
    assert "ListEntities" in japanese  # action names are not translated


def test_underscore_and_case_spellings_read_as_the_tag(partner_iam: Any, control: Any) -> None:
    request_id = _create(partner_iam)
    tagged = _ready(partner_iam, control, request_id, Locale="pt-BR")["SummaryContent"]
    spelled = _summary(partner_iam, request_id, Locale="PT_br")  # the same generation
    assert spelled["Locale"] == "PT_br"  # "maps to the input locale"
    assert spelled["SummaryContent"] == tagged


@pytest.mark.parametrize("locale", ["xx-YY", "en", "en-GB", "klingon"])
def test_an_unsupported_locale_is_invalid_input(partner_iam: Any, locale: str) -> None:
    request_id = _create(partner_iam)
    with pytest.raises(partner_iam.exceptions.InvalidInputException) as error:
        _summary(partner_iam, request_id, Locale=locale)
    assert _status(error) == 400
    assert f"Locale {locale} is not supported" in error.value.response["Error"]["Message"]


# -- malformed input -------------------------------------------------------------------------


def _raw_error(call: Callable[[], Any]) -> dict[str, Any]:
    with pytest.raises(ClientError) as caught:
        call()
    return caught.value.response


def test_a_missing_entity_arn_is_a_validation_error(raw_iam: Any) -> None:
    response = _raw_error(lambda: raw_iam.get_human_readable_summary(Locale="en-US"))
    assert response["Error"]["Code"] == "ValidationError"
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert response["Error"]["Message"] == (
        "1 validation error detected: Value null at 'entityArn' failed to satisfy constraint: "
        "Member must not be null"
    )


@pytest.mark.parametrize(
    ("kwargs", "fragments"),
    [
        ({"EntityArn": "arn:aws:iam::1"}, ["'entityArn'", "length greater than or equal to 20"]),
        ({"EntityArn": "a" * 2049}, ["'entityArn'", "length less than or equal to 2048"]),
        (
            {"EntityArn": f"arn:aws:iam::{PARTNER}:delegation-request/" + "a" * 32, "Locale": "e"},
            ["'locale'", "length greater than or equal to 2"],
        ),
        (
            {
                "EntityArn": f"arn:aws:iam::{PARTNER}:delegation-request/" + "a" * 32,
                "Locale": "en-US-x-private",
            },
            ["'locale'", "length less than or equal to 12"],
        ),
    ],
)
def test_model_constraints_are_validation_errors(
    raw_iam: Any, kwargs: dict[str, str], fragments: list[str]
) -> None:
    """botocore checks only minimum lengths client-side; the sandbox checks the whole shape."""
    response = _raw_error(lambda: raw_iam.get_human_readable_summary(**kwargs))
    assert response["Error"]["Code"] == "ValidationError"
    for fragment in fragments:
        assert fragment in response["Error"]["Message"]


def test_botocore_refuses_what_it_can_check_before_sending(partner_iam: Any) -> None:
    """A too-short EntityArn never leaves the client (min length is checked client-side)."""
    from botocore.exceptions import ParamValidationError

    with pytest.raises(ParamValidationError):
        partner_iam.get_human_readable_summary(EntityArn="arn:aws:iam::1")


@pytest.mark.parametrize(
    "arn",
    [
        "this is not an ARN at all, just text",
        f"arn:aws:iam:us-east-1:{PARTNER}:delegation-request/" + "a" * 32,  # IAM has no region
        f"arn:aws:iam::{PARTNER}:delegation-request/",
    ],
)
def test_a_malformed_arn_is_invalid_input(partner_iam: Any, arn: str) -> None:
    with pytest.raises(partner_iam.exceptions.InvalidInputException) as error:
        partner_iam.get_human_readable_summary(EntityArn=arn)
    assert _status(error) == 400


def test_a_malformed_request_id_is_invalid_input(partner_iam: Any) -> None:
    with pytest.raises(partner_iam.exceptions.InvalidInputException) as error:
        partner_iam.get_human_readable_summary(EntityArn=_arn("short!"))
    assert "delegationRequestId" in error.value.response["Error"]["Message"]


def test_an_unknown_or_deleted_request_is_no_such_entity(partner_iam: Any, control: Any) -> None:
    with pytest.raises(partner_iam.exceptions.NoSuchEntityException) as error:
        _summary(partner_iam, "0" * 32)
    assert _status(error) == 404
    request_id = _create(partner_iam)
    control.advance(86400 + 1)  # UNASSIGNED → EXPIRED after a day ...
    assert _summary(partner_iam, request_id)["SummaryState"] == "NOT_AVAILABLE"
    control.advance(30 * 86400 + 1)  # ... and gone after the retention
    with pytest.raises(partner_iam.exceptions.NoSuchEntityException):
        _summary(partner_iam, request_id)
