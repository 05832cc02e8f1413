"""IAM error responses the delegation operations return (code, HTTP status, message)."""

from __future__ import annotations

from vell_core.sandbox.contract import SandboxServiceError


def invalid_input(message: str) -> SandboxServiceError:
    """``InvalidInput`` 400."""
    return SandboxServiceError("InvalidInput", message, 400)


def no_such_entity(request_id: str) -> SandboxServiceError:
    """``NoSuchEntity`` 404 for an unknown (or deleted, or malformed) request id."""
    return SandboxServiceError(
        "NoSuchEntity", f"The delegation request with id {request_id} cannot be found.", 404
    )


def entity_already_exists(workflow_id: str) -> SandboxServiceError:
    """``EntityAlreadyExists`` 409 for a reused ``RequestorWorkflowId``."""
    return SandboxServiceError(
        "EntityAlreadyExists",
        f"A delegation request with RequestorWorkflowId {workflow_id} already exists.",
        409,
    )


def limit_exceeded(limit: int) -> SandboxServiceError:
    """``LimitExceeded`` 409 when the partner has too many open requests."""
    return SandboxServiceError(
        "LimitExceeded", f"Cannot exceed quota for open delegation requests: {limit}", 409
    )


def concurrent_modification(message: str) -> SandboxServiceError:
    """``ConcurrentModification`` 409 (Accept's state errors, reference §8 Q5)."""
    return SandboxServiceError("ConcurrentModification", message, 409)


def access_denied(caller_arn: str, action: str, resource: str) -> SandboxServiceError:
    """``AccessDenied`` 403 in IAM's wording."""
    return SandboxServiceError(
        "AccessDenied",
        f"User: {caller_arn} is not authorized to perform: {action} on resource: {resource}",
        403,
    )
