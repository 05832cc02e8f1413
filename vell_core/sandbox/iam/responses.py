"""IAM delegation operations: parsed call → backend method → output dict for the wire layer."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from vell_core.domain.policies import load_template
from vell_core.sandbox.contract import SandboxCall
from vell_core.sandbox.iam.models import DelegationBackend, request_arn
from vell_core.sandbox.wire import WiredServiceBackend

logger = logging.getLogger(__name__)

Method = Callable[..., dict[str, Any]]


def load_registered_templates(template_arns: dict[str, str]) -> dict[str, dict[str, Any]]:
    """Templates registered for the partner: ``policies/templates/<name>.json`` by ARN.

    Templates whose file does not exist yet are skipped (with a warning) rather than failing
    start-up: creating a request with that ARN then answers ``InvalidInput``, as AWS does for
    an unregistered template.
    """
    registered: dict[str, dict[str, Any]] = {}
    for name, arn in template_arns.items():
        try:
            registered[arn] = load_template(name)
        except (KeyError, FileNotFoundError):
            logger.warning("Delegation template %s (%s) is not available", name, arn)
    return registered


def _handler(method: Method) -> Callable[[SandboxCall], dict[str, Any]]:
    def handle(call: SandboxCall) -> dict[str, Any]:
        return method(call.caller, call.params, call.now)

    return handle


def _authz_context(call: SandboxCall) -> tuple[list[str], dict[str, Any]]:
    entity = call.params.get("EntityArn")
    if entity:  # GetHumanReadableSummary names its resource by ARN
        return [str(entity)], {}
    request_id = call.params.get("DelegationRequestId")
    if request_id:
        return [request_arn(call.caller.account_id, str(request_id))], {}
    return ["*"], {}


def build_iam_backend(backend: DelegationBackend) -> WiredServiceBackend:
    """The ``ServiceBackend`` answering IAM's delegation operations."""
    return WiredServiceBackend(
        service="iam",
        handlers={
            "CreateDelegationRequest": _handler(backend.create),
            "GetDelegationRequest": _handler(backend.get),
            "GetHumanReadableSummary": _handler(backend.summary),
            "ListDelegationRequests": _handler(backend.list),
            "AssociateDelegationRequest": _handler(backend.associate),
            "UpdateDelegationRequest": _handler(backend.update),
            "AcceptDelegationRequest": _handler(backend.accept),
            "SendDelegationToken": _handler(backend.send),
            "RejectDelegationRequest": _handler(backend.reject),
        },
        authz_context=_authz_context,
        on_reset=backend.reset,
        on_tick=backend.tick,
    )
