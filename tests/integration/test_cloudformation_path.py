"""The CloudFormation production path in the sandbox: external ID, quick-create link, the
customer's stack (created with the real template as a customer persona), validation and its
plain-language explanations."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from tests import cfn_console
from tests.integration.test_promotion import Harness, harness, onboarding_ready, sandbox
from vell_core.domain.errors import ValidationFailed
from vell_core.domain.models import (
    ConnectionStatus,
    ConnectionVia,
    DelegationPath,
    DelegationStatus,
)
from vell_core.domain.policies import policy_path
from vell_core.services.cloudformation import CONSOLE_ORIGIN, quick_create_url
from vell_core.services.connection_identity import STACK_NAME, new_external_id

__all__ = ["harness", "sandbox"]  # fixtures used here

TEMPLATE = policy_path("cloudformation/vell-marketplace-connector-role.yaml").read_text()


def create_stack(h: Harness, external_id: str, partner: str = "253265132499") -> str:
    """The customer launches the stack; returns the RoleArn output."""
    cfn = h.customer("cloudformation")
    cfn.create_stack(
        StackName=STACK_NAME,
        TemplateBody=TEMPLATE,
        Parameters=[
            {"ParameterKey": "ExternalId", "ParameterValue": external_id},
            {"ParameterKey": "PartnerAccountId", "ParameterValue": partner},
        ],
        Capabilities=["CAPABILITY_NAMED_IAM"],
    )
    stack = cfn.describe_stacks(StackName=STACK_NAME)["Stacks"][0]
    assert stack["StackStatus"] == "CREATE_COMPLETE"
    outputs = {o["OutputKey"]: o["OutputValue"] for o in stack["Outputs"]}
    return str(outputs["RoleArn"])


def start(h: Harness, source: int | None = None) -> Any:
    return h.prod.production_setup.start(
        h.member(), company="Acme Analytics", aws_account_id=h.account, source_delegation_id=source
    )


def test_external_ids_are_random_and_iam_shaped() -> None:
    ids = {new_external_id() for _ in range(200)}
    assert len(ids) == 200
    assert all(i.startswith("vell-") and len(i) == 37 for i in ids)


def test_quick_create_link_prefills_template_stack_and_parameters(harness: Harness) -> None:
    setup = start(harness)
    real = quick_create_url(
        template_url=harness.settings.vell_cfn_template_url,
        external_id=setup.external_id,
        partner_account_id="253265132499",
    )
    parts = urlsplit(real)
    assert parts.netloc == "console.aws.amazon.com"
    assert parts.path == "/cloudformation/home"
    assert parse_qs(parts.query) == {"region": ["us-east-1"]}
    route, _, query = parts.fragment.partition("?")
    assert route == "/stacks/quickcreate"
    params = parse_qs(query)
    assert params["templateURL"] == [harness.settings.vell_cfn_template_url]
    assert params["stackName"] == [STACK_NAME]
    assert params["param_ExternalId"] == [setup.external_id]
    assert params["param_PartnerAccountId"] == ["253265132499"]
    # The sandbox's link is the same link on the sandbox's console: only the origin differs.
    assert setup.sandbox_console
    assert setup.quick_create_url == real.replace(CONSOLE_ORIGIN, harness.sandbox.endpoint)


def test_the_customer_creates_the_stack_from_the_link_in_the_sandbox_console(
    harness: Harness,
) -> None:
    h = harness
    setup = start(h)
    role_arn = cfn_console.create_stack(setup.quick_create_url, h.account)
    stack = h.customer("cloudformation").describe_stacks(StackName=STACK_NAME)["Stacks"][0]
    assert stack["StackStatus"] == "CREATE_COMPLETE"
    assert {p["ParameterKey"]: p["ParameterValue"] for p in stack["Parameters"]} == {
        "ExternalId": setup.external_id,
        "PartnerAccountId": "253265132499",
        "RoleName": "VellMarketplaceConnector",
    }
    report = h.prod.production_setup.validate(h.member(), setup.connection_id, role_arn)
    assert report.ok, report.explanations
    assert h.connections()[0].status is ConnectionStatus.ACTIVE


def test_the_sandbox_console_refuses_a_stack_without_the_iam_acknowledgement(
    harness: Harness,
) -> None:
    h = harness
    setup = start(h)
    _url, form = cfn_console.read_form(setup.quick_create_url, h.account)
    assert ("checkbox", "acknowledge", "yes") in form.inputs
    with pytest.raises(cfn_console.StackRefused) as refused:
        cfn_console.create_stack(setup.quick_create_url, h.account, acknowledge=False)
    assert refused.value.alerts == [
        "InsufficientCapabilitiesException: Requires capabilities : [CAPABILITY_NAMED_IAM]"
    ]
    assert h.customer("cloudformation").describe_stacks()["Stacks"] == []


def test_validating_without_a_role_arn_says_what_to_paste_and_tries_nothing(
    harness: Harness,
) -> None:
    h = harness
    setup = start(h)
    report = h.prod.production_setup.validate(h.member(), setup.connection_id, "   ")
    assert not report.ok
    assert [e.code for e in report.explanations] == ["role_arn_missing"]
    assert "Outputs" in report.explanations[0].fix
    connection = h.connections()[0]
    assert connection.status is ConnectionStatus.PENDING
    assert connection.last_validated_at is None


def test_quick_create_refuses_an_id_iam_would_refuse() -> None:
    with pytest.raises(ValidationFailed):
        quick_create_url(template_url="https://x", external_id="has space", partner_account_id="1")


def test_starting_twice_keeps_the_same_external_id(harness: Harness) -> None:
    first, second = start(harness), start(harness)
    assert first.connection_id == second.connection_id
    assert first.external_id == second.external_id


def test_stack_then_validation_gives_the_same_connection_as_the_hybrid_path(
    harness: Harness,
) -> None:
    h = harness
    setup = start(h)
    role_arn = create_stack(h, setup.external_id)
    report = h.prod.production_setup.validate(h.member(), setup.connection_id, f"  {role_arn} ")
    assert report.ok, report.explanations
    assert report.probe is not None
    assert not report.probe.denied
    connection = h.connections()[0]
    assert connection.status is ConnectionStatus.ACTIVE
    assert connection.created_via is ConnectionVia.CLOUDFORMATION
    assert connection.role_arn == role_arn
    assert connection.external_id == setup.external_id
    assert role_arn.startswith(f"arn:aws:iam::{h.account}:role/vell.ai/VellMarketplaceConnector-")
    assert connection.last_validation_ok is True


@pytest.mark.parametrize(
    ("arn", "code"),
    [
        ("not-an-arn", "role_arn_invalid"),
        ("arn:aws:iam::111122223333:role/vell.ai/VellMarketplaceConnector-abc", "wrong_account"),
        ("ACCOUNT_ROLE/SomethingElse", "wrong_role_name"),
    ],
)
def test_arn_mistakes_are_explained_before_calling_aws(
    harness: Harness, arn: str, code: str
) -> None:
    h = harness
    setup = start(h)
    arn = arn.replace("ACCOUNT_ROLE", f"arn:aws:iam::{h.account}:role")
    report = h.prod.production_setup.validate(h.member(), setup.connection_id, arn)
    assert not report.ok
    assert report.explanations[0].code == code
    assert h.connections()[0].status is ConnectionStatus.PENDING


def test_wrong_role_name_is_explained(harness: Harness) -> None:
    h = harness
    setup = start(h)
    create_stack(h, setup.external_id)
    missing = f"arn:aws:iam::{h.account}:role/vell.ai/VellMarketplaceConnector-doesnotexist"
    report = h.prod.production_setup.validate(h.member(), setup.connection_id, missing)
    assert not report.ok
    assert not report.assumed
    codes = [e.code for e in report.explanations]
    assert codes == ["role_not_found", "wrong_external_id", "wrong_trust_principal"]


def test_stack_with_an_old_external_id_is_refused_and_explained(harness: Harness) -> None:
    h = harness
    setup = start(h)
    role_arn = create_stack(h, new_external_id())  # e.g. launched from an older link
    report = h.prod.production_setup.validate(h.member(), setup.connection_id, role_arn)
    assert not report.assumed
    assert any(setup.external_id in e.fix for e in report.explanations)


def test_stack_trusting_another_account_is_refused(harness: Harness) -> None:
    h = harness
    setup = start(h)
    role_arn = create_stack(h, setup.external_id, partner="111122223333")
    report = h.prod.production_setup.validate(h.member(), setup.connection_id, role_arn)
    assert not report.assumed
    assert "wrong_trust_principal" in [e.code for e in report.explanations]


def test_promoting_a_trial_through_cloudformation_converts_it(harness: Harness) -> None:
    h = harness
    trial_id = h.launch(DelegationPath.TRIAL)
    setup = h.prod.trials.promote_cloudformation(h.member(), trial_id)
    role_arn = create_stack(h, setup.external_id)
    assert h.prod.production_setup.validate(h.member(), setup.connection_id, role_arn).ok
    row = h.row(trial_id)
    assert row.status is DelegationStatus.CONVERTED
    assert row.cloud_connection_id == setup.connection_id
    assert row.persistent_role_arn == role_arn


def test_a_trial_promoted_through_the_sandbox_console_is_converted(harness: Harness) -> None:
    h = harness
    trial_id = h.launch(DelegationPath.TRIAL)
    setup = h.prod.trials.promote_cloudformation(h.member(), trial_id)
    role_arn = cfn_console.create_stack(setup.quick_create_url, h.account)
    assert h.prod.production_setup.validate(h.member(), setup.connection_id, role_arn).ok
    row = h.row(trial_id)
    assert row.status is DelegationStatus.CONVERTED
    assert row.persistent_role_arn == role_arn
    assert h.delegations.in_production(h.account)


def test_an_account_with_an_active_connection_gets_no_second_setup(harness: Harness) -> None:
    h = harness
    view = h.prod.promotion.run(h.member(), onboarding_ready(h))
    assert view.done
    with pytest.raises(ValidationFailed):
        start(h)
