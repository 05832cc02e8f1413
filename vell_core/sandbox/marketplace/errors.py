"""Error constructors for the Marketplace backends, with the real codes and HTTP statuses.

Statuses are read from botocore's service models (they win over the reference notes: the
Agreement model answers 403/404/429 where older docs said 400), so a model update moves the
simulator with it.
"""

from __future__ import annotations

from functools import cache
from typing import Any

import botocore.session

from vell_core.sandbox.contract import SandboxServiceError

CATALOG = "marketplace-catalog"
AGREEMENT = "marketplace-agreement"
_FALLBACK_STATUS = {CATALOG: 400, AGREEMENT: 400}


@cache
def _statuses(service: str) -> dict[str, int]:
    model = botocore.session.get_session().get_service_model(service)
    statuses: dict[str, int] = {}
    for name in model.shape_names:
        shape = model.shape_for(name)
        if shape.metadata.get("exception"):
            statuses[name] = int(shape.metadata.get("error", {}).get("httpStatusCode", 400))
    return statuses


def status_of(service: str, code: str) -> int:
    """The HTTP status botocore's model gives the error ``code`` of ``service``."""
    return _statuses(service).get(code, _FALLBACK_STATUS.get(service, 400))


def catalog_error(code: str, message: str, **extra: Any) -> SandboxServiceError:
    """A Catalog (rest-json) error: a single ``Message`` plus optional model members."""
    return SandboxServiceError(code, message, status_of(CATALOG, code), **extra)


def catalog_validation(message: str, **extra: Any) -> SandboxServiceError:
    """Catalog ``ValidationException`` (HTTP 422)."""
    return catalog_error("ValidationException", message, **extra)


def agreement_error(code: str, message: str, **extra: Any) -> SandboxServiceError:
    """An Agreement (json 1.0) error with its camelCase extra members."""
    return SandboxServiceError(code, message, status_of(AGREEMENT, code), **extra)


def agreement_validation(
    reason: str, message: str, fields: list[tuple[str, str]] | None = None
) -> SandboxServiceError:
    """Agreement ``ValidationException`` with ``reason`` and ``fields[{name, message}]``."""
    field_list = [{"name": name, "message": text} for name, text in fields or []]
    return agreement_error("ValidationException", message, reason=reason, fields=field_list)


def throttling(service: str) -> SandboxServiceError:
    """``ThrottlingException`` in the service's own status (429 in both current models)."""
    return SandboxServiceError(
        "ThrottlingException", "Rate exceeded", status_of(service, "ThrottlingException")
    )
