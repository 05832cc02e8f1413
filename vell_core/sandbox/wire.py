"""Wire codecs driven by botocore's service models: requests in, AWS-shaped responses out.

The sandbox speaks the same bytes as AWS so that unmodified boto3 clients (and botocore's real
response parsers) work against it. Everything here is generic: the botocore model of each
service decides member names, nesting, list and map layout, timestamp formats and error
envelopes. Supported protocols:

- ``query`` (IAM, STS, SNS, CloudFormation): form-encoded ``Action=..&Version=..`` requests,
  XML ``<OpResponse><OpResult>…</OpResult><ResponseMetadata>…`` responses.
- ``json`` 1.0/1.1 (Marketplace Agreement, SQS): ``X-Amz-Target`` dispatch, JSON bodies.
- ``rest-json`` (Marketplace Catalog): method + ``requestUri`` routing, querystring, header and
  body members.

Services whose model lists several protocols (Marketplace Agreement lists CBOR first) are served
in the protocol botocore actually resolves for its clients (``resolved_protocol``).
"""

from __future__ import annotations

import base64
import json
import re
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cache
from typing import Any
from urllib.parse import parse_qsl, unquote
from xml.sax.saxutils import escape

import botocore.session
from botocore.model import OperationModel, ServiceModel, Shape
from botocore.utils import parse_timestamp
from botocore.validate import ParamValidator

from vell_core.sandbox.contract import SandboxCall, SandboxServiceError, ServiceBackend

_MISSING = object()
QUERY_PROTOCOLS = ("query", "ec2")
JSON_PROTOCOLS = ("json",)
REST_JSON_PROTOCOLS = ("rest-json",)


# --------------------------------------------------------------------------------------------
# Backends: the optional extras the wire layer understands

AuthzContext = Callable[[SandboxCall], tuple[list[str], dict[str, Any]]]


@dataclass
class WiredServiceBackend(ServiceBackend):
    """A ``ServiceBackend`` with the optional hooks the server uses.

    Plain ``ServiceBackend`` objects work too; the server reads these attributes with
    ``getattr`` and falls back to the defaults below, so a backend may also just set them.

    - ``authz_context(call) -> (resource_arns, condition_context)`` for policy evaluation of
      delegated and assumed-role callers (default: resource ``"*"``, empty context);
    - ``rate_limits``: operation → requests per second per account, enforced with the real
      error shape when the sandbox's ``throttling`` knob is on (scaled by
      ``rate_limit_factor``);
    - ``on_reset()`` on ``POST /_sandbox/reset``; ``on_tick(now)`` after every clock advance.
    """

    authz_context: AuthzContext | None = None
    rate_limits: dict[str, float] = field(default_factory=dict)
    on_reset: Callable[[], None] | None = None
    on_tick: Callable[[datetime], None] | None = None


# --------------------------------------------------------------------------------------------
# Models


@cache
def _session() -> botocore.session.Session:
    return botocore.session.get_session()


@cache
def service_model(service: str) -> ServiceModel:
    """The botocore service model for ``service`` (cached; models are immutable)."""
    return _session().get_service_model(service)


def protocol_of(model: ServiceModel) -> str:
    """The protocol botocore clients use for this service."""
    resolved = getattr(model, "resolved_protocol", None)
    if resolved:
        return str(resolved)
    return str(model.protocol)


@cache
def _operations_by_target(service: str) -> dict[str, str]:
    model = service_model(service)
    prefix = model.metadata.get("targetPrefix", "")
    return {f"{prefix}.{name}": name for name in model.operation_names}


# --------------------------------------------------------------------------------------------
# Incoming requests


@dataclass(frozen=True)
class WireRequest:
    """The protocol-relevant parts of one HTTP request."""

    method: str
    path: str
    query_string: str
    headers: Mapping[str, str]
    body: bytes

    def header(self, name: str) -> str | None:
        """Case-insensitive header lookup."""
        lowered = name.lower()
        for key, value in self.headers.items():
            if key.lower() == lowered:
                return value
        return None

    def form(self) -> dict[str, str]:
        """Form parameters from the body (query protocol) merged over the URL query string."""
        params = dict(parse_qsl(self.query_string, keep_blank_values=True))
        if self.body:
            params.update(parse_qsl(self.body.decode("utf-8"), keep_blank_values=True))
        return params


def operation_name(service: str, request: WireRequest) -> str | None:
    """The botocore operation a request invokes, or None when it matches none."""
    model = service_model(service)
    protocol = protocol_of(model)
    if protocol in QUERY_PROTOCOLS:
        action = request.form().get("Action")
        return action if action in model.operation_names else None
    target = request.header("X-Amz-Target")
    if target:
        return _operations_by_target(service).get(target)
    match = _match_rest_route(service, request.method, request.path)
    return match[0] if match else None


def parse_request(service: str, request: WireRequest) -> tuple[str, dict[str, Any]]:
    """Parse ``request`` into ``(operation_name, params)`` keyed by botocore member names."""
    operation = operation_name(service, request)
    if operation is None:
        raise SandboxServiceError(
            "InvalidAction", "The action or operation requested is invalid.", 400
        )
    op_model = service_model(service).operation_model(operation)
    protocol = protocol_of(op_model.service_model)
    if protocol in QUERY_PROTOCOLS:
        params = _parse_query_params(op_model, request.form())
    elif protocol in JSON_PROTOCOLS:
        params = _parse_json_params(op_model, request.body)
    elif protocol in REST_JSON_PROTOCOLS:
        params = _parse_rest_json_params(op_model, request)
    else:  # pragma: no cover - the sandbox serves only the protocols above
        raise SandboxServiceError("InternalFailure", f"Unsupported protocol {protocol}", 500)
    return operation, params


def _malformed(message: str) -> SandboxServiceError:
    return SandboxServiceError("ValidationError", message, 400)


def _scalar_from_text(shape: Shape, text: str) -> Any:
    """Convert a wire string to the Python type botocore would have sent."""
    kind = shape.type_name
    try:
        if kind in ("integer", "long"):
            return int(text)
        if kind in ("float", "double"):
            return float(text)
        if kind == "boolean":
            return text.lower() == "true"
        if kind == "timestamp":
            return _aware(parse_timestamp(text))
        if kind == "blob":
            return base64.b64decode(text)
    except (ValueError, TypeError) as exc:
        raise _malformed(f"Value {text!r} is not a valid {kind}.") from exc
    return text


def _aware(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _parse_query_params(op_model: OperationModel, form: dict[str, str]) -> dict[str, Any]:
    shape = op_model.input_shape
    if shape is None:
        return {}
    parsed = _query_value(shape, form, "")
    return parsed if isinstance(parsed, dict) else {}


def _has_prefix(form: dict[str, str], prefix: str) -> bool:
    dotted = prefix + "."
    return prefix in form or any(key.startswith(dotted) for key in form)


def _query_value(shape: Shape, form: dict[str, str], prefix: str) -> Any:
    """Inverse of botocore's QuerySerializer for one shape at ``prefix``."""
    kind = shape.type_name
    if kind == "structure":
        return _query_structure(shape, form, prefix)
    if kind == "list":
        return _query_list(shape, form, prefix)
    if kind == "map":
        return _query_map(shape, form, prefix)
    if prefix not in form:
        return _MISSING
    return _scalar_from_text(shape, form[prefix])


def _query_structure(shape: Shape, form: dict[str, str], prefix: str) -> Any:
    if prefix and not _has_prefix(form, prefix):
        return _MISSING
    out: dict[str, Any] = {}
    for member_name, member_shape in shape.members.items():
        wire_name = member_shape.serialization.get("name", member_name)
        value = _query_value(member_shape, form, f"{prefix}.{wire_name}" if prefix else wire_name)
        if value is not _MISSING:
            out[member_name] = value
    return out


def _query_list(shape: Shape, form: dict[str, str], prefix: str) -> Any:
    if form.get(prefix) == "":
        return []
    member = shape.member
    if shape.serialization.get("flattened"):
        list_prefix = prefix
        if member.serialization.get("name"):
            list_prefix = ".".join([*prefix.split(".")[:-1], member.serialization["name"]])
    else:
        list_prefix = f"{prefix}.{member.serialization.get('name', 'member')}"
    items: list[Any] = []
    index = 1
    while _has_prefix(form, f"{list_prefix}.{index}"):
        items.append(_query_value(member, form, f"{list_prefix}.{index}"))
        index += 1
    return items if items else _MISSING


def _query_map(shape: Shape, form: dict[str, str], prefix: str) -> Any:
    base = prefix if shape.serialization.get("flattened") else f"{prefix}.entry"
    key_shape, value_shape = shape.key, shape.value
    key_name = key_shape.serialization.get("name", "key")
    value_name = value_shape.serialization.get("name", "value")
    out: dict[str, Any] = {}
    index = 1
    while _has_prefix(form, f"{base}.{index}"):
        key = _query_value(key_shape, form, f"{base}.{index}.{key_name}")
        value = _query_value(value_shape, form, f"{base}.{index}.{value_name}")
        if key is not _MISSING:
            out[key] = None if value is _MISSING else value
        index += 1
    return out if out else _MISSING


def _parse_json_params(op_model: OperationModel, body: bytes) -> dict[str, Any]:
    shape = op_model.input_shape
    if shape is None:
        return {}
    document = _load_json(body)
    return _from_json(shape, document) if isinstance(document, dict) else {}


def _load_json(body: bytes) -> Any:
    if not body.strip():
        return {}
    try:
        return json.loads(body)
    except ValueError as exc:
        raise SandboxServiceError("SerializationException", "Malformed JSON body.", 400) from exc


def _from_json(shape: Shape, value: Any) -> Any:
    """Convert a decoded JSON value into botocore-style Python values."""
    if value is None:
        return None
    kind = shape.type_name
    if shape.metadata.get("document"):
        return value
    if kind == "structure":
        if not isinstance(value, dict):
            raise _malformed(f"Expected an object for {shape.name}.")
        out: dict[str, Any] = {}
        for member_name, member_shape in shape.members.items():
            if member_shape.serialization.get("location"):
                continue
            wire_name = member_shape.serialization.get("name", member_name)
            if wire_name in value:
                out[member_name] = _from_json(member_shape, value[wire_name])
        return out
    if kind == "list":
        return [_from_json(shape.member, item) for item in value]
    if kind == "map":
        return {k: _from_json(shape.value, v) for k, v in value.items()}
    if kind == "timestamp":
        return _aware(parse_timestamp(value))
    if kind == "blob":
        return base64.b64decode(value)
    return value


@cache
def _rest_routes(service: str) -> list[tuple[str, str, re.Pattern[str], dict[str, str], int]]:
    """(operation, method, path regex, static query, specificity) for every operation."""
    model = service_model(service)
    routes = []
    for name in model.operation_names:
        http = model.operation_model(name).http
        uri = http.get("requestUri", "/")
        path, _, static_query = uri.partition("?")
        pattern = re.sub(r"\\\{(\w+)\\\+\\\}", r"(?P<\1>.+)", re.escape(path))
        pattern = re.sub(r"\\\{(\w+)\\\}", r"(?P<\1>[^/]+)", pattern)
        query = dict(parse_qsl(static_query, keep_blank_values=True))
        specificity = len(re.sub(r"\{[^}]*\}", "", path))
        routes.append(
            (name, http.get("method", "POST"), re.compile(f"^{pattern}$"), query, specificity)
        )
    routes.sort(key=lambda route: -route[4])
    return routes


def _match_rest_route(service: str, method: str, path: str) -> tuple[str, dict[str, str]] | None:
    for name, route_method, regex, _query, _spec in _rest_routes(service):
        if route_method != method.upper():
            continue
        found = regex.match(path)
        if found:
            return name, {k: unquote(v) for k, v in found.groupdict().items()}
    return None


def _parse_rest_json_params(op_model: OperationModel, request: WireRequest) -> dict[str, Any]:
    shape = op_model.input_shape
    if shape is None:
        return {}
    match = _match_rest_route(op_model.service_model.service_name, request.method, request.path)
    labels = match[1] if match else {}
    query = _multi_query(request.query_string)
    params: dict[str, Any] = {}
    payload = shape.serialization.get("payload")
    for member_name, member_shape in shape.members.items():
        value = _rest_member(member_shape, member_name, labels, query, request)
        if value is not _MISSING:
            params[member_name] = value
    if payload:
        params[payload] = _from_json(shape.members[payload], _load_json(request.body))
    else:
        params.update(_from_json(shape, _load_json(request.body)))
    return params


def _multi_query(query_string: str) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for key, value in parse_qsl(query_string, keep_blank_values=True):
        out.setdefault(key, []).append(value)
    return out


def _rest_member(
    shape: Shape,
    member_name: str,
    labels: dict[str, str],
    query: dict[str, list[str]],
    request: WireRequest,
) -> Any:
    location = shape.serialization.get("location")
    wire_name = shape.serialization.get("name", member_name)
    if location == "uri":
        return _scalar_from_text(shape, labels[wire_name]) if wire_name in labels else _MISSING
    if location == "querystring":
        if wire_name not in query:
            return _MISSING
        if shape.type_name == "list":
            return [_scalar_from_text(shape.member, v) for v in query[wire_name]]
        return _scalar_from_text(shape, query[wire_name][0])
    if location == "header":
        header = request.header(wire_name)
        return _MISSING if header is None else _scalar_from_text(shape, header)
    return _MISSING


# --------------------------------------------------------------------------------------------
# Outgoing responses


@dataclass(frozen=True)
class WireResponse:
    """An HTTP response ready to send."""

    status: int
    headers: dict[str, str]
    body: bytes


def new_request_id() -> str:
    """An AWS-style request id (UUID)."""
    return str(uuid.uuid4())


def serialize_response(
    service: str, operation: str, output: dict[str, Any], request_id: str
) -> WireResponse:
    """Serialise a handler's output dict exactly as the real service would."""
    op_model = service_model(service).operation_model(operation)
    protocol = protocol_of(op_model.service_model)
    if protocol in QUERY_PROTOCOLS:
        return _query_response(op_model, output, request_id)
    if protocol in JSON_PROTOCOLS:
        body = (
            _to_json(op_model.output_shape, output, "unixTimestamp")
            if op_model.output_shape
            else {}
        )
        return WireResponse(200, _json_headers(op_model.service_model, request_id), _dump(body))
    return _rest_json_response(op_model, output, request_id)


def serialize_error(service: str, error: SandboxServiceError, request_id: str) -> WireResponse:
    """Serialise an error in the service's error envelope."""
    model = service_model(service)
    protocol = protocol_of(model)
    if protocol in QUERY_PROTOCOLS:
        return query_error(model, error, request_id)
    if protocol in JSON_PROTOCOLS:
        body = {"__type": error.code, "message": error.message, **error.extra}
        headers = _json_headers(model, request_id)
        return WireResponse(error.status, headers, _dump(body))
    headers = {
        "Content-Type": "application/json",
        "x-amzn-RequestId": request_id,
        "x-amzn-ErrorType": error.code,
    }
    body = {"Message": error.message, **error.extra}
    return WireResponse(error.status, headers, _dump(body))


def query_error(model: ServiceModel, error: SandboxServiceError, request_id: str) -> WireResponse:
    """The query-protocol ``<ErrorResponse>`` document."""
    namespace = model.metadata.get("xmlNamespace", "")
    fault = "Sender" if error.status < 500 else "Receiver"
    xml = (
        f'<ErrorResponse xmlns="{escape(namespace)}"><Error><Type>{fault}</Type>'
        f"<Code>{escape(error.code)}</Code><Message>{escape(error.message)}</Message></Error>"
        f"<RequestId>{request_id}</RequestId></ErrorResponse>"
    )
    return WireResponse(error.status, _xml_headers(request_id), xml.encode("utf-8"))


def _dump(document: Any) -> bytes:
    return json.dumps(document, separators=(",", ":")).encode("utf-8")


def _json_headers(model: ServiceModel, request_id: str) -> dict[str, str]:
    version = model.metadata.get("jsonVersion", "1.0")
    return {"Content-Type": f"application/x-amz-json-{version}", "x-amzn-RequestId": request_id}


def _xml_headers(request_id: str) -> dict[str, str]:
    return {"Content-Type": "text/xml", "x-amzn-RequestId": request_id}


def _query_response(
    op_model: OperationModel, output: dict[str, Any], request_id: str
) -> WireResponse:
    namespace = op_model.service_model.metadata.get("xmlNamespace", "")
    name = op_model.name
    parts = [f'<{name}Response xmlns="{escape(namespace)}">']
    shape = op_model.output_shape
    if shape is not None:
        wrapper = shape.serialization.get("resultWrapper", f"{name}Result")
        parts.append(f"<{wrapper}>{_xml_members(shape, output)}</{wrapper}>")
    parts.append(f"<ResponseMetadata><RequestId>{request_id}</RequestId></ResponseMetadata>")
    parts.append(f"</{name}Response>")
    return WireResponse(200, _xml_headers(request_id), "".join(parts).encode("utf-8"))


def _xml_members(shape: Shape, value: dict[str, Any]) -> str:
    parts = []
    for member_name, member_shape in shape.members.items():
        if value.get(member_name) is None:
            continue
        parts.append(_xml_member(member_shape, member_name, value[member_name]))
    return "".join(parts)


def _xml_member(shape: Shape, member_name: str, value: Any) -> str:
    """One member as an element (or repeated elements for flattened lists)."""
    if shape.type_name == "list" and shape.serialization.get("flattened"):
        tag = shape.member.serialization.get("name") or shape.serialization.get("name", member_name)
        return "".join(_xml_element(shape.member, tag, item) for item in value)
    return _xml_element(shape, shape.serialization.get("name", member_name), value)


def _xml_element(shape: Shape, tag: str, value: Any) -> str:
    return f"<{tag}>{_xml_content(shape, value)}</{tag}>"


def _xml_content(shape: Shape, value: Any) -> str:
    kind = shape.type_name
    if kind == "structure":
        return _xml_members(shape, value)
    if kind == "list":
        tag = shape.member.serialization.get("name", "member")
        return "".join(_xml_element(shape.member, tag, item) for item in value)
    if kind == "map":
        key_tag = shape.key.serialization.get("name", "key")
        value_tag = shape.value.serialization.get("name", "value")
        entries = (
            _xml_element(shape.key, key_tag, k) + _xml_element(shape.value, value_tag, v)
            for k, v in value.items()
        )
        return "".join(f"<entry>{entry}</entry>" for entry in entries)
    return escape(_scalar_to_text(shape, value))


def _scalar_to_text(shape: Shape, value: Any) -> str:
    kind = shape.type_name
    if kind == "boolean":
        return "true" if value else "false"
    if kind == "timestamp":
        return iso8601(_as_datetime(value))
    if kind == "blob":
        raw = value.encode("utf-8") if isinstance(value, str) else bytes(value)
        return base64.b64encode(raw).decode("ascii")
    return str(value)


def iso8601(value: datetime) -> str:
    """ISO-8601 UTC with milliseconds and a ``Z`` suffix, as AWS writes timestamps."""
    utc = _aware(value)
    return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}Z"


def _as_datetime(value: Any) -> datetime:
    if isinstance(value, datetime):
        return _aware(value)
    if isinstance(value, int | float):
        return datetime.fromtimestamp(value, UTC)
    return _aware(parse_timestamp(value))


def _to_json(shape: Shape | None, value: Any, default_ts: str) -> Any:
    """Convert Python output values into JSON-ready values per ``shape``."""
    if shape is None or value is None:
        return value
    kind = shape.type_name
    if shape.metadata.get("document"):
        return value  # document types travel as free-form JSON
    if kind == "structure":
        out = {}
        for member_name, member_shape in shape.members.items():
            if member_shape.serialization.get("location") or value.get(member_name) is None:
                continue
            wire_name = member_shape.serialization.get("name", member_name)
            out[wire_name] = _to_json(member_shape, value[member_name], default_ts)
        return out
    if kind == "list":
        return [_to_json(shape.member, item, default_ts) for item in value]
    if kind == "map":
        return {k: _to_json(shape.value, v, default_ts) for k, v in value.items()}
    if kind == "timestamp":
        return _json_timestamp(shape, value, default_ts)
    if kind == "blob":
        raw = value.encode("utf-8") if isinstance(value, str) else bytes(value)
        return base64.b64encode(raw).decode("ascii")
    return value


def _json_timestamp(shape: Shape, value: Any, default_ts: str) -> Any:
    moment = _as_datetime(value)
    fmt = shape.serialization.get("timestampFormat", default_ts)
    if fmt == "iso8601":
        return iso8601(moment)
    if fmt == "rfc822":
        return moment.strftime("%a, %d %b %Y %H:%M:%S GMT")
    return round(moment.timestamp(), 3)


def _rest_json_response(
    op_model: OperationModel, output: dict[str, Any], request_id: str
) -> WireResponse:
    headers = {"Content-Type": "application/json", "x-amzn-RequestId": request_id}
    shape = op_model.output_shape
    if shape is None:
        return WireResponse(int(op_model.http.get("responseCode", 200)), headers, b"{}")
    status = int(op_model.http.get("responseCode", 200))
    for member_name, member_shape in shape.members.items():
        location = member_shape.serialization.get("location")
        value = output.get(member_name)
        if value is None:
            continue
        if location == "header":
            headers[member_shape.serialization.get("name", member_name)] = _header_text(
                member_shape, value
            )
        elif location == "statusCode":
            status = int(value)
    payload = shape.serialization.get("payload")
    if payload:
        body = _to_json(shape.members[payload], output.get(payload), "unixTimestamp")
    else:
        body = _to_json(shape, output, "unixTimestamp")
    return WireResponse(status, headers, _dump(body if body is not None else {}))


def _header_text(shape: Shape, value: Any) -> str:
    if shape.type_name == "timestamp":
        return _as_datetime(value).strftime("%a, %d %b %Y %H:%M:%S GMT")
    return _scalar_to_text(shape, value)


# --------------------------------------------------------------------------------------------
# Conformance helpers


def parse_response(service: str, operation: str, response: WireResponse) -> dict[str, Any]:
    """Parse a response with botocore's own parser (used to re-shape moto's answers)."""
    from botocore.parsers import create_parser

    op_model = service_model(service).operation_model(operation)
    parser = create_parser(protocol_of(op_model.service_model))
    return dict(
        parser.parse(
            {"status_code": response.status, "headers": response.headers, "body": response.body},
            op_model.output_shape,
        )
    )


def output_shape_errors(service: str, operation: str, parsed: dict[str, Any]) -> str | None:
    """Validation errors of a parsed response against the operation's output shape, if any."""
    shape = service_model(service).operation_model(operation).output_shape
    data = {k: v for k, v in parsed.items() if k != "ResponseMetadata"}
    if shape is None:
        return None if not data else f"unexpected output members {sorted(data)}"
    report = ParamValidator().validate(_reencode_documents(shape, data), shape)
    return report.generate_report() if report.has_errors() else None


def _reencode_documents(shape: Shape, value: Any) -> Any:
    """boto3 decodes IAM policy documents into dicts; the shape says string, so re-encode."""
    kind = shape.type_name
    if kind == "string" and isinstance(value, dict | list):
        return json.dumps(value)
    if kind == "structure" and isinstance(value, dict):
        members = shape.members
        return {
            k: _reencode_documents(members[k], v) if k in members else v for k, v in value.items()
        }
    if kind == "list" and isinstance(value, list):
        return [_reencode_documents(shape.member, item) for item in value]
    return value


def assert_matches_output_shape(service: str, operation: str, parsed: dict[str, Any]) -> None:
    """Raise AssertionError when ``parsed`` does not validate against the output shape."""
    errors = output_shape_errors(service, operation, parsed)
    if errors:
        raise AssertionError(f"{service}.{operation} output does not match its shape:\n{errors}")
