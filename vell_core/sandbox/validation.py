"""Input validation of every sandbox request against botocore's model, and AWS's error shapes.

AWS validates a request against the operation's input shape before any business logic and
answers in the protocol's error envelope. One walker serves every service, driven only by the
botocore model: required members (``Value null at 'x' … Member must not be null``), the types
a JSON body may carry, ``min``/``max`` on string and blob lengths, list and map sizes and
numeric ranges, ``pattern`` and ``enum``, and unions (exactly one member). Paths and wording
follow AWS: camelCase member names, ``list.N.member`` for items,
``N validation error(s) detected: …`` joined by ``; ``.

The error each protocol gives (codes and statuses read from the model where it declares them):

=======================  ======================================  ==================================
service / protocol       validation                              unexpected exception
=======================  ======================================  ==================================
IAM, STS (query)         ``ValidationError`` 400                 IAM ``ServiceFailure`` 500,
                                                                 STS ``InternalFailure`` 500
SNS (query)              ``InvalidParameter`` 400                ``InternalError`` 500
Catalog (rest-json)      ``ValidationException`` 422             ``InternalServiceException`` 500
Agreement (json 1.0)     ``ValidationException`` 400 with        ``InternalServerException`` 500
                         ``reason`` ``OTHER`` and ``fields``
=======================  ======================================  ==================================

moto 5.2 has request parsers (``moto.core.parse``) but no input-constraint validator, and
botocore's ``ParamValidator`` checks only what a client needs (required, types, ``min``) in
botocore's wording; so the constraints are walked here.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import Any

from botocore.model import ServiceModel, Shape

from vell_core.sandbox.contract import SandboxServiceError
from vell_core.sandbox.wire import QUERY_PROTOCOLS, protocol_of, service_model

# The query services whose validation error is not the common ``ValidationError``.
QUERY_VALIDATION_CODES = {"sns": "InvalidParameter"}
# Where the service accepts more than its model's pattern says, (service, structure, member) →
# the pattern AWS enforces. Change sets name versioned entity types ("SaaSProduct@1.0", as in
# every AWS example), which the shared EntityType pattern ``^[a-zA-Z]+$`` would refuse; and the
# model gives ChangeName ``^[a-zA-Z]$`` (one letter), where AWS accepts a word.
PATTERN_OVERRIDES = {
    ("marketplace-catalog", "Entity", "Type"): r"^[a-zA-Z]+(@\d+\.\d+)?$",
    ("marketplace-catalog", "Change", "ChangeName"): r"^[a-zA-Z]+$",
}
_PYTHON_TYPES: dict[str, tuple[type, ...]] = {
    "structure": (dict,),
    "list": (list,),
    "map": (dict,),
    "string": (str,),
    "integer": (int,),
    "long": (int,),
    "float": (int, float),
    "double": (int, float),
    "boolean": (bool,),
    "timestamp": (datetime,),
    "blob": (bytes, bytearray),
}


@dataclass(frozen=True)
class Violation:
    """One constraint a request breaks: the member path and AWS's sentence for it."""

    path: str
    text: str


def input_violations(service: str, operation: str, params: dict[str, Any]) -> list[Violation]:
    """Every way ``params`` breaks the operation's input shape, in AWS's words."""
    shape = service_model(service).operation_model(operation).input_shape
    if shape is None:
        return []
    found: list[Violation] = []
    _check(service, shape, params, "", found)
    return found


def validation_message(violations: list[Violation]) -> str:
    """``N validation error(s) detected: …`` as AWS words it."""
    noun = "error" if len(violations) == 1 else "errors"
    body = "; ".join(v.text for v in violations)
    return f"{len(violations)} validation {noun} detected: {body}"


def validate_input(service: str, operation: str, params: dict[str, Any]) -> None:
    """Raise the service's validation error when ``params`` break the input shape."""
    violations = input_violations(service, operation, params)
    if violations:
        raise validation_error(service, violations)


def validation_error(service: str, violations: list[Violation]) -> SandboxServiceError:
    """The validation error of ``service``'s protocol for ``violations``."""
    model = service_model(service)
    message = validation_message(violations)
    if protocol_of(model) in QUERY_PROTOCOLS:
        return SandboxServiceError(QUERY_VALIDATION_CODES.get(service, "ValidationError"), message)
    status = _exception_status(model, "ValidationException", 400)
    members = _exception_members(model, "ValidationException")
    extra: dict[str, Any] = {}
    if {"reason", "fields"} <= members:  # Agreement-style: reason enum + per-field list
        extra = {
            "reason": "OTHER",
            "fields": [{"name": v.path, "message": v.text} for v in violations],
        }
    return SandboxServiceError("ValidationException", message, status, **extra)


def internal_error(service: str) -> SandboxServiceError:
    """The service's internal-failure error (the model's 5xx exception, or ``InternalFailure``).

    The message is AWS's generic one: what went wrong inside stays in the sandbox's log.
    """
    try:
        code, status = _internal_failure(service)
    except Exception:  # no model for this service: the generic AWS error
        code, status = "InternalFailure", 500
    message = "We encountered an internal error. Please try again."
    return SandboxServiceError(code, message, status)


@cache
def _internal_failure(service: str) -> tuple[str, int]:
    model = service_model(service)
    for name in model.shape_names:
        shape = model.shape_for(name)
        error = shape.metadata.get("error", {})
        is_server = shape.metadata.get("fault") or int(error.get("httpStatusCode", 400)) >= 500
        if (
            shape.metadata.get("exception")
            and is_server
            and ("Internal" in name or "Failure" in name)
        ):
            return str(error.get("code", name)), int(error.get("httpStatusCode", 500))
    return "InternalFailure", 500


def _exception_status(model: ServiceModel, name: str, default: int) -> int:
    if name not in model.shape_names:
        return default
    return int(model.shape_for(name).metadata.get("error", {}).get("httpStatusCode", default))


def _exception_members(model: ServiceModel, name: str) -> set[str]:
    if name not in model.shape_names:
        return set()
    return set(model.shape_for(name).members)


# --------------------------------------------------------------------------------------------
# The walker


def _camel(name: str) -> str:
    return name[:1].lower() + name[1:]


def _child(path: str, member: str) -> str:
    return f"{path}.{_camel(member)}" if path else _camel(member)


def _check(service: str, shape: Shape, value: Any, path: str, found: list[Violation]) -> None:
    if shape.metadata.get("document"):
        return  # free-form JSON
    kind = shape.type_name
    expected = _PYTHON_TYPES.get(kind)
    if expected and (not isinstance(value, expected) or _bool_as_number(kind, value)):
        shown = "***" if shape.metadata.get("sensitive") else value
        found.append(Violation(path, f"Value '{shown}' at '{path}' must be of type {kind}"))
        return
    if kind == "structure":
        _check_structure(service, shape, value, path, found)
    elif kind == "list":
        _check_bounds(shape, "[...]", len(value), path, found, "length")
        for index, item in enumerate(value, 1):
            _check(service, shape.member, item, f"{path}.{index}.member", found)
    elif kind == "map":
        _check_bounds(shape, "{...}", len(value), path, found, "length")
        for key, item in value.items():
            _check(service, shape.key, key, f"{path}.{key}.key", found)
            _check(service, shape.value, item, f"{path}.{key}.value", found)
    elif kind == "string":
        _check_string(shape, value, path, found)
    elif kind == "blob":
        _check_bounds(shape, "<blob>", len(value), path, found, "length")
    elif kind in ("integer", "long", "float", "double"):
        _check_bounds(shape, value, value, path, found, "value")


def _bool_as_number(kind: str, value: Any) -> bool:
    return kind != "boolean" and isinstance(value, bool)


def _check_structure(
    service: str, shape: Shape, value: dict[str, Any], path: str, found: list[Violation]
) -> None:
    members = shape.members
    for name in shape.required_members:
        if value.get(name) is None:
            where = _child(path, name)
            found.append(
                Violation(
                    where,
                    f"Value null at '{where}' failed to satisfy constraint: "
                    "Member must not be null",
                )
            )
    present = [name for name in members if value.get(name) is not None]
    if shape.metadata.get("union") and len(present) != 1:
        found.append(
            Violation(
                path,
                f"Value at '{path}' failed to satisfy constraint: "
                "Member must have exactly one member set",
            )
        )
    for name in present:
        override = PATTERN_OVERRIDES.get((service, shape.name, name))
        if override is not None and isinstance(value[name], str):
            _check_string(members[name], value[name], _child(path, name), found, override)
            continue
        _check(service, members[name], value[name], _child(path, name), found)


def _check_bounds(
    shape: Shape, shown: Any, measure: float, path: str, found: list[Violation], what: str
) -> None:
    low, high = shape.metadata.get("min"), shape.metadata.get("max")
    if low is not None and measure < low:
        found.append(
            Violation(
                path,
                f"Value '{shown}' at '{path}' failed to satisfy constraint: "
                f"Member must have {what} greater than or equal to {low}",
            )
        )
    if high is not None and measure > high:
        found.append(
            Violation(
                path,
                f"Value '{shown}' at '{path}' failed to satisfy constraint: "
                f"Member must have {what} less than or equal to {high}",
            )
        )


def _check_string(
    shape: Shape, value: str, path: str, found: list[Violation], pattern: str | None = None
) -> None:
    # Sensitive members (exchange tokens, secrets) are never echoed back, as AWS does not.
    shown = "***" if shape.metadata.get("sensitive") else value
    _check_bounds(shape, shown, len(value), path, found, "length")
    pattern = pattern or shape.metadata.get("pattern")
    if pattern and not _pattern(pattern).fullmatch(value):
        found.append(
            Violation(
                path,
                f"Value '{shown}' at '{path}' failed to satisfy constraint: "
                f"Member must satisfy regular expression pattern: {pattern}",
            )
        )
    enum = shape.metadata.get("enum")
    if enum and value not in enum:
        found.append(
            Violation(
                path,
                f"Value '{shown}' at '{path}' failed to satisfy constraint: "
                f"Member must satisfy enum value set: [{', '.join(enum)}]",
            )
        )


@cache
def _pattern(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern, re.DOTALL)
