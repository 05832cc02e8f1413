"""Settings: sandbox defaults, aws-mode refusal, and the single reader of the environment."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from vell_core.config.settings import (
    ENV_NAMES,
    PROJECT_ROOT,
    SANDBOX_DEFAULTS,
    AwsMode,
    load_settings,
)
from vell_core.domain.errors import ConfigurationError

REAL_VALUES = {
    "AWS_DELEGATION_SNS_TOPIC_ARN": "arn:aws:sns:us-east-1:253265132499:prod-delegations",
    "AWS_DELEGATION_READ_ONLY_TEMPLATE_ARN": "arn:aws:iam:::delegation-template/vell/ro",
    "AWS_DELEGATION_FULL_ACCESS_TEMPLATE_ARN": "arn:aws:iam:::delegation-template/vell/full",
    "AWS_DELEGATION_ONBOARDING_TEMPLATE_ARN": "arn:aws:iam:::delegation-template/vell/onb",
    "AWS_DELEGATION_PERMISSION_BOUNDARY_ARN": "arn:aws:iam::partner:policy/pb/vell.ai/B_20260101",
    "VELL_DELEGATION_QUEUE_URL": "https://sqs.us-east-1.amazonaws.com/253265132499/prod-q",
    "VELL_CFN_TEMPLATE_URL": "https://vell-templates.s3.amazonaws.com/role.yaml",
}


def test_sandbox_is_the_default_and_fills_every_aws_value() -> None:
    settings = load_settings()
    assert settings.vell_aws_mode is AwsMode.SANDBOX
    for field_name, value in SANDBOX_DEFAULTS.items():
        assert getattr(settings, field_name) == value
    assert settings.aws_delegation_demo_duration_seconds == 14400
    assert settings.aws_delegation_trial_duration_seconds == 43200
    assert settings.vell_partner_account_id == "253265132499"
    assert settings.vell_aws_region == "us-east-1"
    assert settings.vell_database_url.startswith("sqlite:///")
    assert settings.vell_database_url.endswith("data/vell.db")


def test_guide_names_are_read_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_DELEGATION_ENABLED", "false")
    monkeypatch.setenv("AWS_DELEGATION_DEMO_DURATION_SECONDS", "3600")
    monkeypatch.setenv("VELL_DATABASE_URL", "sqlite:///:memory:")
    settings = load_settings()
    assert settings.aws_delegation_enabled is False
    assert settings.aws_delegation_demo_duration_seconds == 3600
    assert settings.vell_database_url == "sqlite:///:memory:"


def test_aws_mode_names_every_missing_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VELL_AWS_MODE", "aws")
    with pytest.raises(ConfigurationError) as caught:
        load_settings()
    for env_name in ENV_NAMES.values():
        assert env_name in caught.value.message


def test_aws_mode_refuses_placeholders_and_sandbox_values(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VELL_AWS_MODE", "aws")
    for name, value in REAL_VALUES.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("AWS_DELEGATION_SNS_TOPIC_ARN", "arn:aws:sns:us-east-1:CHANGEME:topic")
    monkeypatch.setenv("VELL_DELEGATION_QUEUE_URL", SANDBOX_DEFAULTS["vell_delegation_queue_url"])
    with pytest.raises(ConfigurationError) as caught:
        load_settings()
    assert "AWS_DELEGATION_SNS_TOPIC_ARN" in caught.value.message
    assert "VELL_DELEGATION_QUEUE_URL" in caught.value.message
    assert "AWS_DELEGATION_READ_ONLY_TEMPLATE_ARN" not in caught.value.message


def test_aws_mode_with_real_values_starts(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VELL_AWS_MODE", "aws")
    for name, value in REAL_VALUES.items():
        monkeypatch.setenv(name, value)
    settings = load_settings()
    assert not settings.is_sandbox
    assert settings.aws_delegation_sns_topic_arn == REAL_VALUES["AWS_DELEGATION_SNS_TOPIC_ARN"]


@pytest.mark.parametrize("bad", ["300000", "100"])
def test_durations_are_bounded_like_session_duration(
    monkeypatch: pytest.MonkeyPatch, bad: str
) -> None:
    monkeypatch.setenv("AWS_DELEGATION_TRIAL_DURATION_SECONDS", bad)
    with pytest.raises(ConfigurationError):
        load_settings()


def test_nothing_else_reads_the_environment() -> None:
    offenders = []
    pattern = re.compile(r"os\.environ|os\.getenv|getenv\(")
    for folder in ("vell_core", "pages"):
        for path in (PROJECT_ROOT / folder).rglob("*.py"):
            if path.name == "settings.py" and path.parent.name == "vell_core":
                continue
            if pattern.search(path.read_text(encoding="utf-8")):
                offenders.append(str(path.relative_to(PROJECT_ROOT)))
    for path in [PROJECT_ROOT / "Home.py"]:
        if pattern.search(Path(path).read_text(encoding="utf-8")):
            offenders.append(path.name)
    assert offenders == []


def test_links_point_at_the_local_app_in_the_sandbox_and_at_the_desk_on_aws() -> None:
    from vell_core.config.settings import load_settings as load

    assert load().links_base_url == "http://localhost:8501"
    assert load(vell_sandbox_app_url="http://127.0.0.1:9000/").links_base_url == (
        "http://127.0.0.1:9000"
    )
    assert load().vell_app_base_url == "https://desk.vell.ai"  # AWS's RedirectUrl: no port
