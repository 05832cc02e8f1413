"""Settings: the one pydantic-settings class, and the only reader of the environment.

Environment names follow Vell's implementation guide (``AWS_DELEGATION_*``) plus ``VELL_*`` for
what the guide did not cover. In ``sandbox`` mode (the default) every AWS value has an embedded
sandbox default; in ``aws`` mode a missing or placeholder value stops start-up with one message
that names every missing variable.
"""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Any

from pydantic import AliasChoices, Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from vell_core.domain import validation
from vell_core.domain.errors import ConfigurationError, ValidationFailed

PROJECT_ROOT = Path(__file__).resolve().parents[2]
DATA_DIR = PROJECT_ROOT / "data"

VELL_PARTNER_ACCOUNT_ID = "253265132499"

# Values the sandbox registers for Vell. In aws mode these are refused as placeholders: the real
# ARNs are whatever AWS hands back at partner onboarding.
SANDBOX_DEFAULTS: dict[str, str] = {
    "aws_delegation_sns_topic_arn": (
        f"arn:aws:sns:us-east-1:{VELL_PARTNER_ACCOUNT_ID}:vell-delegation-notifications"
    ),
    "aws_delegation_read_only_template_arn": (
        "arn:aws:iam:::delegation-template/vell.ai/VellMarketplaceReadOnly"
    ),
    "aws_delegation_full_access_template_arn": (
        "arn:aws:iam:::delegation-template/vell.ai/VellMarketplaceFullAccess"
    ),
    "aws_delegation_onboarding_template_arn": (
        "arn:aws:iam:::delegation-template/vell.ai/VellMarketplaceOnboarding"
    ),
    "aws_delegation_permission_boundary_arn": (
        "arn:aws:iam::partner:policy/permission_boundary/vell.ai/"
        "VellMarketplaceConnectorBoundary_20251206"
    ),
    "vell_delegation_queue_url": (
        f"https://sqs.us-east-1.amazonaws.com/{VELL_PARTNER_ACCOUNT_ID}/vell-delegation-notifications"
    ),
    "vell_cfn_template_url": (
        "https://vell-public-templates.s3.amazonaws.com/vell-marketplace-connector-role.yaml"
    ),
}

# Environment variable that feeds each AWS-facing field, for the aws-mode refusal message.
ENV_NAMES: dict[str, str] = {
    "aws_delegation_sns_topic_arn": "AWS_DELEGATION_SNS_TOPIC_ARN",
    "aws_delegation_read_only_template_arn": "AWS_DELEGATION_READ_ONLY_TEMPLATE_ARN",
    "aws_delegation_full_access_template_arn": "AWS_DELEGATION_FULL_ACCESS_TEMPLATE_ARN",
    "aws_delegation_onboarding_template_arn": "AWS_DELEGATION_ONBOARDING_TEMPLATE_ARN",
    "aws_delegation_permission_boundary_arn": "AWS_DELEGATION_PERMISSION_BOUNDARY_ARN",
    "vell_delegation_queue_url": "VELL_DELEGATION_QUEUE_URL",
    "vell_cfn_template_url": "VELL_CFN_TEMPLATE_URL",
}

PLACEHOLDER_MARKERS = ("changeme", "change-me", "placeholder", "replace", "todo", "xxxx", "<", ">")


class AwsMode(StrEnum):
    """Where AWS calls go: the embedded sandbox or real AWS."""

    SANDBOX = "sandbox"
    AWS = "aws"


def _env(name: str) -> Any:
    """Field bound to exactly one environment variable name."""
    return AliasChoices(name, name.lower())


class Settings(BaseSettings):
    """Every knob of the app, read once from the environment (and ``.env``)."""

    model_config = SettingsConfigDict(
        env_file=".env", env_file_encoding="utf-8", extra="ignore", populate_by_name=True
    )

    aws_delegation_enabled: bool = Field(True, validation_alias=_env("AWS_DELEGATION_ENABLED"))
    aws_delegation_sns_topic_arn: str | None = Field(
        None, validation_alias=_env("AWS_DELEGATION_SNS_TOPIC_ARN")
    )
    aws_delegation_read_only_template_arn: str | None = Field(
        None, validation_alias=_env("AWS_DELEGATION_READ_ONLY_TEMPLATE_ARN")
    )
    aws_delegation_full_access_template_arn: str | None = Field(
        None, validation_alias=_env("AWS_DELEGATION_FULL_ACCESS_TEMPLATE_ARN")
    )
    aws_delegation_onboarding_template_arn: str | None = Field(
        None, validation_alias=_env("AWS_DELEGATION_ONBOARDING_TEMPLATE_ARN")
    )
    aws_delegation_permission_boundary_arn: str | None = Field(
        None, validation_alias=_env("AWS_DELEGATION_PERMISSION_BOUNDARY_ARN")
    )
    aws_delegation_demo_duration_seconds: int = Field(
        14400, ge=300, le=43200, validation_alias=_env("AWS_DELEGATION_DEMO_DURATION_SECONDS")
    )
    aws_delegation_trial_duration_seconds: int = Field(
        43200, ge=300, le=43200, validation_alias=_env("AWS_DELEGATION_TRIAL_DURATION_SECONDS")
    )

    vell_aws_mode: AwsMode = Field(AwsMode.SANDBOX, validation_alias=_env("VELL_AWS_MODE"))
    vell_database_url: str = Field(
        f"sqlite:///{DATA_DIR / 'vell.db'}", validation_alias=_env("VELL_DATABASE_URL")
    )
    vell_aws_region: str = Field("us-east-1", validation_alias=_env("VELL_AWS_REGION"))
    vell_partner_account_id: str = Field(
        VELL_PARTNER_ACCOUNT_ID, validation_alias=_env("VELL_PARTNER_ACCOUNT_ID")
    )
    vell_delegation_queue_url: str | None = Field(
        None, validation_alias=_env("VELL_DELEGATION_QUEUE_URL")
    )
    vell_cfn_template_url: str | None = Field(None, validation_alias=_env("VELL_CFN_TEMPLATE_URL"))
    vell_app_base_url: str = Field(
        "https://desk.vell.ai", validation_alias=_env("VELL_APP_BASE_URL")
    )
    vell_role_path: str = Field("/vell.ai/", validation_alias=_env("VELL_ROLE_PATH"))
    vell_log_level: str = Field("INFO", validation_alias=_env("VELL_LOG_LEVEL"))
    vell_vault_key: SecretStr | None = Field(None, validation_alias=_env("VELL_VAULT_KEY"))
    vell_link_signing_key: SecretStr | None = Field(
        None, validation_alias=_env("VELL_LINK_SIGNING_KEY")
    )
    vell_start_worker: bool = Field(True, validation_alias=_env("VELL_START_WORKER"))
    # SQS long polling answers as soon as a message arrives, so a longer wait adds no latency;
    # each empty answer is a round trip and a heartbeat write (1 s here was ~0.8 % of a core
    # idle). The cost is shutdown: ``NotificationWorker.stop`` lets the poll finish.
    vell_worker_wait_seconds: int = Field(
        10, ge=0, le=20, validation_alias=_env("VELL_WORKER_WAIT_SECONDS")
    )
    vell_worker_visibility_timeout: int = Field(
        30, ge=0, le=43200, validation_alias=_env("VELL_WORKER_VISIBILITY_TIMEOUT")
    )
    vell_exchange_max_attempts: int = Field(
        5, ge=1, le=20, validation_alias=_env("VELL_EXCHANGE_MAX_ATTEMPTS")
    )
    vell_exchange_lease_seconds: int = Field(
        60, ge=5, le=3600, validation_alias=_env("VELL_EXCHANGE_LEASE_SECONDS")
    )
    # Test-only: ``vell worker`` SIGKILLs itself at this exchange step (vell_core.services.faults).
    vell_test_kill_at: str | None = Field(None, validation_alias=_env("VELL_TEST_KILL_AT"))
    vell_live_refresh_seconds: float = Field(
        2.0, gt=0, validation_alias=_env("VELL_LIVE_REFRESH_SECONDS")
    )
    # true: CreateDelegationRequest sets OwnerAccountId, so only the customer's account may open
    # the link, and AWS shows its summary (GetHumanReadableSummary) to that account only. false:
    # Vell can read AWS's summary until the customer opens the link (request_summary.py);
    # notifications from any other account are quarantined, never exchanged (ingest.py).
    vell_pin_owner_account: bool = Field(False, validation_alias=_env("VELL_PIN_OWNER_ACCOUNT"))
    # How long a request may wait in a state before the rep is nudged, per AWS state (JSON,
    # e.g. {"UNASSIGNED": 900}); states left out use the history's median (desk_nudges.py).
    vell_nudge_after_seconds: dict[str, int] = Field(
        default_factory=dict, validation_alias=_env("VELL_NUDGE_AFTER_SECONDS")
    )

    # Sandbox knobs: only read when vell_aws_mode is sandbox.
    vell_sandbox_host: str = Field("127.0.0.1", validation_alias=_env("VELL_SANDBOX_HOST"))
    vell_sandbox_port: int = Field(4599, ge=0, le=65535, validation_alias=_env("VELL_SANDBOX_PORT"))
    vell_sandbox_duplicate_notifications: bool = Field(
        False, validation_alias=_env("VELL_SANDBOX_DUPLICATE_NOTIFICATIONS")
    )
    vell_sandbox_latency_ms: int = Field(0, ge=0, validation_alias=_env("VELL_SANDBOX_LATENCY_MS"))
    vell_sandbox_rate_limit_factor: float = Field(
        1.0, gt=0, validation_alias=_env("VELL_SANDBOX_RATE_LIMIT_FACTOR")
    )
    vell_sandbox_throttling: bool = Field(True, validation_alias=_env("VELL_SANDBOX_THROTTLING"))
    vell_sandbox_seed: int = Field(20261129, validation_alias=_env("VELL_SANDBOX_SEED"))
    # Where the app itself is reached in the sandbox (``make run`` serves it here), for the
    # links a rep hands out; AWS's RedirectUrl still uses vell_app_base_url (it allows no port).
    vell_sandbox_app_url: str = Field(
        "http://localhost:8501", validation_alias=_env("VELL_SANDBOX_APP_URL")
    )

    @property
    def links_base_url(self) -> str:
        """Base of the desk's own links (demo links): the local app in the sandbox."""
        base = self.vell_sandbox_app_url if self.is_sandbox else self.vell_app_base_url
        return base.rstrip("/")

    @field_validator("vell_partner_account_id")
    @classmethod
    def _partner_account(cls, value: str) -> str:
        """The one account-id rule (ASCII digits), not pydantic's Unicode-aware ``\\d``."""
        if not validation.is_account_id(value):
            raise ConfigurationError(
                f"VELL_PARTNER_ACCOUNT_ID must be {validation.ACCOUNT_ID_EXPECTED}."
            )
        return value

    @field_validator("vell_nudge_after_seconds")
    @classmethod
    def _nudge_after(cls, value: dict[str, int]) -> dict[str, int]:
        """Only the states a request waits in, each with a positive number of seconds."""
        waiting = ("UNASSIGNED", "ASSIGNED", "PENDING_APPROVAL", "ACCEPTED")
        unknown = sorted(set(value) - set(waiting))
        if unknown or any(seconds < 1 for seconds in value.values()):
            raise ConfigurationError(
                "VELL_NUDGE_AFTER_SECONDS maps AWS states a request waits in ("
                + ", ".join(waiting)
                + ") to whole seconds of at least 1"
                + (f"; unknown: {', '.join(unknown)}." if unknown else ".")
            )
        return value

    @field_validator("vell_app_base_url")
    @classmethod
    def _app_base_url(cls, value: str) -> str:
        """Refuse at start-up a base AWS would refuse in every launch's ``RedirectUrl``."""
        base = value.rstrip("/")
        try:
            validation.redirect_url(f"{base}/delegations?wf=check")
        except ValidationFailed:
            raise ConfigurationError(
                "VELL_APP_BASE_URL must be an http(s) URL without a port, user name, query or "
                "fragment (AWS refuses such a RedirectUrl), e.g. https://desk.vell.ai; "
                f"got {value!r}."
            ) from None
        return value

    @model_validator(mode="after")
    def _fill_or_refuse(self) -> Settings:
        """Fill sandbox defaults, or refuse missing and placeholder values in aws mode."""
        if self.vell_test_kill_at and self.vell_aws_mode is not AwsMode.SANDBOX:
            raise ConfigurationError("VELL_TEST_KILL_AT is a test setting: sandbox mode only")
        if self.vell_aws_mode is AwsMode.SANDBOX:
            for field_name, value in SANDBOX_DEFAULTS.items():
                if getattr(self, field_name) in (None, ""):
                    object.__setattr__(self, field_name, value)
            return self
        missing = [ENV_NAMES[name] for name in ENV_NAMES if _is_placeholder(getattr(self, name))]
        if missing:
            raise ConfigurationError(
                "VELL_AWS_MODE=aws needs real values for: " + ", ".join(missing)
            )
        return self

    @property
    def is_sandbox(self) -> bool:
        """True when AWS calls go to the embedded sandbox."""
        return self.vell_aws_mode is AwsMode.SANDBOX

    @property
    def sandbox_endpoint(self) -> str:
        """Base URL of the sandbox AWS endpoint."""
        return f"http://{self.vell_sandbox_host}:{self.vell_sandbox_port}"

    @property
    def template_arns(self) -> dict[str, str]:
        """Registered policy template ARN per template name in ``policies/``."""
        return {
            "read-only": str(self.aws_delegation_read_only_template_arn),
            "full-access": str(self.aws_delegation_full_access_template_arn),
            "onboarding": str(self.aws_delegation_onboarding_template_arn),
        }


def _is_placeholder(value: str | None) -> bool:
    """A value that is empty, a sandbox default, or obviously not filled in."""
    if value is None or not value.strip():
        return True
    if value in SANDBOX_DEFAULTS.values():
        return True
    lowered = value.lower()
    return any(marker in lowered for marker in PLACEHOLDER_MARKERS)


def load_settings(**overrides: Any) -> Settings:
    """Build settings from the environment; ``overrides`` win (tests and scripts)."""
    try:
        return Settings(**overrides)
    except ConfigurationError:
        raise
    except ValueError as exc:  # pydantic ValidationError subclasses ValueError
        raise ConfigurationError(f"Invalid configuration: {exc}") from exc
