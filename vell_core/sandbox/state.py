"""The sandbox's in-process state: its configuration, clock, registries and backends.

``SandboxState`` is what both the HTTP endpoint (``server``) and the control plane
(``control``) act on; ``bootstrap`` creates the SNS topic and SQS queues Vell's account owns.
"""

from __future__ import annotations

import hashlib
import json
import logging
import secrets
import string
import weakref
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlparse

from moto.core import DEFAULT_ACCOUNT_ID
from moto.core.base_backend import BackendDict
from moto.core.model_instances import reset_model_data
from moto.sns.models import sns_backends
from moto.sqs.models import sqs_backends

from vell_core.config.sandbox_accounts import PARTNER_NAME
from vell_core.config.settings import SANDBOX_DEFAULTS, VELL_PARTNER_ACCOUNT_ID, Settings
from vell_core.domain.clock import OffsetClock
from vell_core.domain.policies import load_policy_file
from vell_core.domain.quotas import TokenBuckets
from vell_core.sandbox import authz, cloudformation
from vell_core.sandbox.contract import ServiceBackend
from vell_core.sandbox.iam import DelegationBackend, build_iam_backend, load_registered_templates
from vell_core.sandbox.identity import (
    PARTNER_USER,
    Credentials,
    Identity,
    IdentityRegistry,
    iam_backend,
)
from vell_core.sandbox.notifications import Notifier
from vell_core.sandbox.sns_topic_attributes import report_real_topic_attributes
from vell_core.sandbox.sts_exchange import DelegatedTokenExchange, TokenVault, build_sts_backend

logger = logging.getLogger(__name__)

DLQ_MAX_RECEIVE = 5
# AWS answers these whatever the policies say (GetCallerIdentity needs no permission).


@dataclass
class SandboxConfig:
    """Everything the sandbox needs to know; the knobs at the end can change at runtime."""

    partner_account_id: str = VELL_PARTNER_ACCOUNT_ID
    region: str = "us-east-1"
    topic_arn: str = SANDBOX_DEFAULTS["aws_delegation_sns_topic_arn"]
    queue_url: str = SANDBOX_DEFAULTS["vell_delegation_queue_url"]
    template_arns: dict[str, str] = field(
        default_factory=lambda: {
            "read-only": SANDBOX_DEFAULTS["aws_delegation_read_only_template_arn"],
            "full-access": SANDBOX_DEFAULTS["aws_delegation_full_access_template_arn"],
            "onboarding": SANDBOX_DEFAULTS["aws_delegation_onboarding_template_arn"],
        }
    )
    boundary_arn: str = SANDBOX_DEFAULTS["aws_delegation_permission_boundary_arn"]
    cfn_template_url: str = SANDBOX_DEFAULTS["vell_cfn_template_url"]
    duplicate_notifications: bool = False
    latency_ms: int = 0
    rate_limit_factor: float = 1.0
    throttling: bool = False
    # GetHumanReadableSummary: sandbox seconds a summary takes, and whether generation fails.
    summary_seconds: float = 3.0
    summary_failures: bool = False
    seed: int = 20261129
    host: str = "127.0.0.1"
    port: int = 0

    # Called after every runtime knob change (backends that keep their own copies, e.g. the
    # Marketplace rate limiters, follow the knobs through these).
    knob_listeners: list[Any] = field(default_factory=list, repr=False, compare=False)

    RUNTIME_KNOBS = (
        "duplicate_notifications",
        "latency_ms",
        "rate_limit_factor",
        "throttling",
        "summary_seconds",
        "summary_failures",
    )

    @classmethod
    def from_settings(cls, settings: Settings) -> SandboxConfig:
        """Build from the app's ``Settings`` (``aws_delegation_*`` and ``vell_sandbox_*``)."""
        return cls(
            partner_account_id=settings.vell_partner_account_id,
            region=settings.vell_aws_region,
            topic_arn=str(settings.aws_delegation_sns_topic_arn),
            queue_url=str(settings.vell_delegation_queue_url),
            template_arns=dict(settings.template_arns),
            boundary_arn=str(settings.aws_delegation_permission_boundary_arn),
            cfn_template_url=str(settings.vell_cfn_template_url),
            duplicate_notifications=settings.vell_sandbox_duplicate_notifications,
            latency_ms=settings.vell_sandbox_latency_ms,
            rate_limit_factor=settings.vell_sandbox_rate_limit_factor,
            throttling=settings.vell_sandbox_throttling,
            seed=settings.vell_sandbox_seed,
            host=settings.vell_sandbox_host,
            port=settings.vell_sandbox_port,
        )

    def knobs(self) -> dict[str, Any]:
        """The runtime-adjustable settings."""
        return {name: getattr(self, name) for name in self.RUNTIME_KNOBS}

    def update_knobs(self, values: dict[str, Any]) -> None:
        """Change runtime knobs (unknown names are refused)."""
        unknown = set(values) - set(self.RUNTIME_KNOBS)
        if unknown:
            raise ValueError(f"unknown sandbox settings: {sorted(unknown)}")
        for name, value in values.items():
            current = getattr(self, name)
            setattr(self, name, type(current)(value))
        for listener in list(self.knob_listeners):
            listener(self)


def _random_key_id() -> str:
    alphabet = string.ascii_uppercase + string.digits
    return "AKIA" + "".join(secrets.choice(alphabet) for _ in range(16))


def _partner_credentials(account_id: str, seed: int) -> Credentials:
    """Deterministic sandbox keys: every sandbox in a process shares moto's one partner user.

    These are sandbox-only values (moto does not check signatures), so being derivable is fine.
    """
    digest = hashlib.sha256(f"vell-sandbox:{account_id}:{seed}".encode()).hexdigest()
    return Credentials("AKIA" + digest[:16].upper(), digest[16:56])


# Every sandbox state in this process (they share moto's global backends).
_LIVE: weakref.WeakSet[SandboxState] = weakref.WeakSet()


class SandboxState:
    """The in-process objects behind the endpoint: clock, registries, backends."""

    def __init__(
        self,
        config: SandboxConfig,
        *,
        templates: dict[str, dict[str, Any]] | None = None,
        boundary_document: dict[str, Any] | None = None,
        clock: OffsetClock | None = None,
    ) -> None:
        self.config = config
        self.clock = clock or OffsetClock()
        self.identities = IdentityRegistry()
        self.vault = TokenVault()
        self.notifier = Notifier(
            seed=config.seed, duplicates=lambda: self.config.duplicate_notifications
        )
        self._boundary_document = boundary_document
        self.partner_credentials = _partner_credentials(config.partner_account_id, config.seed)
        self.delegation = DelegationBackend(
            partner_accounts={config.partner_account_id},
            partner_name=PARTNER_NAME,
            templates=templates
            if templates is not None
            else load_registered_templates(config.template_arns),
            boundary_arn=config.boundary_arn,
            clock=self.clock,
            notifier=self.notifier,
            vault=self.vault,
            topic_exists=_topic_exists,
            summary_seconds=lambda: self.config.summary_seconds,
            summary_failures=lambda: self.config.summary_failures,
        )
        self.exchange = DelegatedTokenExchange(self.vault, self.identities)
        self.backends: dict[str, ServiceBackend] = {}
        self.throttle = TokenBuckets()
        self.register(build_iam_backend(self.delegation))
        self.register(build_sts_backend(self.exchange))
        _LIVE.add(self)

    def forget(self) -> None:
        """This sandbox stopped: a later moto wipe need not bootstrap it again."""
        _LIVE.discard(self)

    def register(self, backend: ServiceBackend) -> None:
        """Plug in a backend; operations of an already registered service are merged."""
        existing = self.backends.get(backend.service)
        if existing is None:
            self.backends[backend.service] = backend
            return
        existing.handlers.update(backend.handlers)
        existing.action_overrides.update(backend.action_overrides)

    def all_backends(self) -> Iterable[ServiceBackend]:
        """Every registered backend."""
        return list(self.backends.values())

    def boundary_document(self, arn: str | None) -> dict[str, Any] | None:
        """The policy document of a boundary ARN (Vell's registered one or a moto policy)."""
        if not arn:
            return None
        if arn == self.config.boundary_arn:
            if self._boundary_document is None:
                try:  # policies/boundary.json is written separately; read it lazily
                    self._boundary_document = dict(load_policy_file("boundary.json"))
                except FileNotFoundError:
                    logger.warning("policies/boundary.json is missing; boundary not enforced")
                    return None
            return self._boundary_document
        return _managed_policy_document(arn)

    def tick(self) -> None:
        """Apply due timers in every backend."""
        now = self.clock.now()
        for backend in self.all_backends():
            hook = getattr(backend, "on_tick", None)
            if hook is not None:
                hook(now)

    def reset(self) -> None:
        """Wipe moto and every backend, then bootstrap the partner account again.

        moto's backends are process-global, so a wipe also takes the moto side (keys, topic,
        queues) of every other sandbox in this process: each of those re-bootstraps its
        partner account at once, as if it had just started on an empty AWS.
        """
        BackendDict.reset()
        reset_model_data()
        rebootstrap_after_moto_wipe(but=self)
        self.identities.reset()
        self.vault.reset()
        self.notifier.reseed(self.config.seed)
        self.throttle.reset()
        for backend in self.all_backends():
            hook = getattr(backend, "on_reset", None)
            if hook is not None:
                hook()
        bootstrap(self)

    def personas(self, account_id: str) -> dict[str, Identity]:
        """Owner/admin/root identities of a customer account."""
        return self.identities.personas(account_id)


def _topic_exists(arn: str) -> bool:
    parts = arn.split(":")
    return len(parts) == 6 and arn in sns_backends[parts[4]][parts[3]].topics


def _managed_policy_document(arn: str) -> dict[str, Any] | None:
    account = arn.split(":")[4] or "aws"
    backend = iam_backend(DEFAULT_ACCOUNT_ID if account == "aws" else account)
    policy = backend.managed_policies.get(arn)
    if policy is None:
        return None
    for version in policy.versions:
        if version.is_default_version:
            return authz.load_policy(version.document)
    return None


# --------------------------------------------------------------------------------------------
# Bootstrap: Vell's partner account as AWS onboarding leaves it


def rebootstrap_after_moto_wipe(*, but: SandboxState | None = None) -> None:
    """moto's backends were wiped (a sandbox reset, or ``moto.mock_aws`` in a test): every
    sandbox in this process bootstraps its partner account again, as on an empty AWS."""
    for state in list(_LIVE):
        if state is not but:
            state.identities.reset()
            bootstrap(state)


def bootstrap(state: SandboxState) -> None:
    """Partner user + key, the notification topic, its SQS queue and dead-letter queue, and
    Vell's public CloudFormation template at the URL the quick-create links name."""
    report_real_topic_attributes()
    config = state.config
    cloudformation.publish_template(
        config.cfn_template_url, config.partner_account_id, config.region
    )
    state.identities.ensure_user_key(
        config.partner_account_id, PARTNER_USER, pinned=state.partner_credentials
    )
    topic_arn = _create_topic(config.topic_arn)
    queue_arn = _create_queues(config.queue_url, topic_arn)
    region, account = topic_arn.split(":")[3], topic_arn.split(":")[4]
    sns_backends[account][region].subscribe(topic_arn, queue_arn, "sqs")


def _create_topic(topic_arn: str) -> str:
    _, _, _, region, account, name = topic_arn.split(":")
    backend = sns_backends[account][region]
    topic = backend.create_topic(name)
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "AllowIamDelegationNotifications",
                "Effect": "Allow",
                "Principal": {"Service": "iam.amazonaws.com"},
                "Action": "SNS:Publish",
                "Resource": topic.arn,
            }
        ],
    }
    backend.set_topic_attribute(topic.arn, "policy", json.dumps(policy))
    backend.set_topic_attribute(topic.arn, "signature_version", "2")
    return topic.arn


def _create_queues(queue_url: str, topic_arn: str) -> str:
    parsed = urlparse(queue_url)
    account, name = parsed.path.strip("/").split("/")[:2]
    region = parsed.netloc.split(".")[1] if parsed.netloc.count(".") >= 3 else "us-east-1"
    backend = sqs_backends[account][region]
    dlq = backend.create_queue(f"{name}-dlq")
    queue_policy = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": "sns.amazonaws.com"},
                "Action": "sqs:SendMessage",
                "Resource": f"arn:aws:sqs:{region}:{account}:{name}",
                "Condition": {"ArnEquals": {"aws:SourceArn": topic_arn}},
            }
        ],
    }
    queue = backend.create_queue(
        name,
        Policy=json.dumps(queue_policy),
        RedrivePolicy=json.dumps(
            {"deadLetterTargetArn": dlq.queue_arn, "maxReceiveCount": DLQ_MAX_RECEIVE}
        ),
    )
    return str(queue.queue_arn)
