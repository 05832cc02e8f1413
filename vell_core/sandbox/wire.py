"""Wire codecs driven by botocore's service models: requests in, AWS-shaped responses out.

The sandbox speaks the same bytes as AWS so that unmodified boto3 clients (and botocore's real
response parsers) work against it. The codecs are moto's, which read the same botocore models:
``moto.core.routing`` finds the operation, ``moto.core.parse`` turns the request into params keyed
by botocore member names and ``moto.core.serialize`` writes the handler's output dict. Supported
protocols:

- ``query`` (IAM, STS, SNS, CloudFormation): form-encoded ``Action=..&Version=..`` requests,
  XML ``<OpResponse><OpResult>…</OpResult><ResponseMetadata>…`` responses.
- ``json`` 1.0/1.1 (Marketplace Agreement, SQS): ``X-Amz-Target`` dispatch, JSON bodies.
- ``rest-json`` (Marketplace Catalog): method + ``requestUri`` routing, querystring, header and
  body members.

Services whose model lists several protocols (Marketplace Agreement lists CBOR first) are served
in the protocol botocore actually resolves for its clients (``resolved_protocol``).

Ours, where moto differs from AWS (each piece says how): the error envelopes, the
``x-amzn-RequestId`` header, UTC millisecond timestamps, compact JSON, JSON values kept in the type
the client sent (``validation.py`` then refuses a wrong one in AWS's words), a 400 for malformed
text or JSON, and rest-json routing by method and path alone.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cache, cached_property
from typing import Any
from urllib.parse import quote
from xml.sax.saxutils import escape

from botocore.utils import parse_timestamp
from botocore.validate import ParamValidator
from moto.core.model import OperationModel, ServiceModel, Shape
from moto.core.parse import (
    BaseJSONParser,
    EC2QueryParser,
    JSONParser,
    QueryParser,
    RequestParser,
    RestJSONParser,
)
from moto.core.request import Request
from moto.core.routing import (
    ActionCandidate,
    ProtocolRouter,
    RequiredArg,
    RestRouter,
    SmithyRule,
    get_router_class,
    to_werkzeug_rule_string,
)
from moto.core.serialize import (
    BaseJSONSerializer,
    JSONSerializer,
    QuerySerializer,
    ResponseSerializer,
    RestJSONSerializer,
    SerializationContext,
    TimestampSerializer,
)
from moto.core.utils import get_service_model
from werkzeug.exceptions import NotFound
from werkzeug.routing import Rule

from vell_core.sandbox.contract import SandboxCall, SandboxServiceError, ServiceBackend

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


def service_model(service: str) -> ServiceModel:
    """botocore's model of ``service`` in moto's model classes, as moto's codecs need (cached)."""
    return get_service_model(service)


def protocol_of(model: ServiceModel) -> str:
    """The protocol botocore clients use for this service."""
    resolved = getattr(model, "resolved_protocol", None)
    if resolved:
        return str(resolved)
    return str(model.protocol)


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

    @cached_property
    def moto(self) -> Request:
        """This request as moto's (werkzeug) ``Request``, which moto's routers and parsers read."""
        host = self.header("Host") or "localhost"
        query = f"?{self.query_string}" if self.query_string else ""
        # werkzeug counts the body itself; a stale Content-Length would cut or stall the form
        headers = {k: v for k, v in self.headers.items() if k.lower() != "content-length"}
        # werkzeug reads a form only under its Content-Type; a query body without one is a form too
        if self.header("Content-Type") is None:
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        return Request.from_primitives(
            self.method, f"http://{host}{quote(self.path)}{query}", headers, self.body
        )


class _PathRule(SmithyRule):
    """A rest route chosen by method, path and the URI's literal query only.

    Ours because moto's rule also demands the operation's required query-string members, so a
    call missing one matched no operation; AWS routes it and names the missing member in a
    validation error.
    """

    @staticmethod
    def _initialize_candidates(operations: list[OperationModel]) -> list[ActionCandidate]:
        return [
            ActionCandidate(op, [RequiredArg(k, v) for k, v in op.http_trait.query_args.items()])
            for op in operations
        ]


class _RestJSONRouter(RestRouter):
    """moto's rest router (werkzeug rules from each ``requestUri``) built of ``_PathRule``s."""

    def _create_rules(self, path: str, method: str, operations: list[OperationModel]) -> list[Rule]:
        return [_PathRule(to_werkzeug_rule_string(path), operations=operations, methods=[method])]


@cache
def _router(service: str) -> ProtocolRouter | None:
    model = service_model(service)
    protocol = protocol_of(model)
    # moto picks the router from the Content-Type; the protocol botocore resolves decides here
    router = (
        _RestJSONRouter if protocol in REST_JSON_PROTOCOLS else get_router_class(service, protocol)
    )
    return router(model) if router is not None else None


def _route(service: str, request: WireRequest) -> tuple[str, dict[str, Any]] | None:
    router = _router(service)
    if router is None:
        return None
    try:
        operation, labels = router.match(request.moto)
    except NotFound:
        return None
    return str(operation.name), labels


def operation_name(service: str, request: WireRequest) -> str | None:
    """The botocore operation a request invokes, or None when it matches none."""
    route = _route(service, request)
    return route[0] if route else None


def parse_request(service: str, request: WireRequest) -> tuple[str, dict[str, Any]]:
    """Parse ``request`` into ``(operation_name, params)`` keyed by botocore member names."""
    route = _route(service, request)
    if route is None:
        raise SandboxServiceError(
            "InvalidAction", "The action or operation requested is invalid.", 400
        )
    operation, labels = route
    op_model = service_model(service).operation_model(operation)
    protocol = protocol_of(op_model.service_model)
    parser = _PARSERS.get(protocol)
    if parser is None:  # the sandbox serves only the protocols in _PARSERS (not rest-xml)
        raise SandboxServiceError("InternalFailure", f"Unsupported protocol {protocol}", 500)
    moto = request.moto
    params = parser(op_model, timestamp_parser=_utc_timestamp).parse(
        {
            "method": request.method,
            "values": moto.values,
            "headers": moto.headers,
            "body": request.body,
            "url_path": request.path,
            "url_params": labels,
        }
    )
    return operation, dict(params)


def _malformed(message: str) -> SandboxServiceError:
    return SandboxServiceError("ValidationError", message, 400)


def _utc_timestamp(text: str) -> datetime:
    """Ours because moto's parser returns naive datetimes; the backends compare aware ones."""
    return _aware(parse_timestamp(text))


def _aware(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _load_json(body: bytes) -> Any:
    if not body.strip():
        return {}
    try:
        return json.loads(body)
    except ValueError as exc:
        raise SandboxServiceError("SerializationException", "Malformed JSON body.", 400) from exc


class _QueryRequest(QueryParser):
    """moto's query parser; ours only in answering a value of the wrong type with AWS's 400."""

    def _parse_shape(self, shape: Shape, node: Any, prefix: str = "") -> Any:
        try:
            return super()._parse_shape(shape, node, prefix)
        except (ValueError, TypeError) as exc:  # moto lets int("x") escape as a crash
            text = node.get(prefix)
            raise _malformed(f"Value {text!r} is not a valid {shape.type_name}.") from exc


class _EC2Request(_QueryRequest, EC2QueryParser):
    """moto's EC2 query parser (``Name.N`` lists), with the same 400 for a malformed value."""


class _JSONBody(BaseJSONParser):
    """JSON body members reach ``validation.py`` with the JSON type the client sent.

    Ours because AWS refuses ``"maxResults": "5"`` where moto casts it (and crashes on ``"x"``),
    so numbers and booleans are not converted and the validator names the wrong type as AWS
    does; a malformed body is AWS's ``SerializationException``, not moto's ``{"message": …}``.
    """

    def _parse_body_as_json(self, body_contents: bytes) -> Any:
        document = _load_json(body_contents)
        return document if isinstance(document, dict) else {}

    def _parse_structure(self, shape: Shape, value: Any) -> Any:
        if shape.is_document_type or value is None:
            return value
        if not isinstance(value, dict):
            raise _malformed(f"Expected an object for {shape.name}.")
        parsed = super()._parse_structure(shape, value)
        # URI, query-string and header members never come from the body (moto reads both)
        return {k: v for k, v in parsed.items() if not shape.members[k].is_not_bound_to_body}

    def _parse_integer(self, shape: Shape, value: Any) -> Any:
        return value

    _parse_long = _parse_float = _parse_double = _parse_boolean = _parse_integer


class _JSONRequest(_JSONBody, JSONParser):
    """moto's json parser with ``_JSONBody``'s values."""


class _TextMembers(RestJSONParser):
    """URI, query-string and header members are text, which moto casts to the member's type."""

    def _parse_shape(self, shape: Shape, node: Any) -> Any:
        try:
            return super()._parse_shape(shape, node)
        except (ValueError, TypeError) as exc:  # ours: AWS's 400, where moto would crash
            raise _malformed(f"Value {node!r} is not a valid {shape.type_name}.") from exc


class _RestJSONRequest(_JSONBody, RestJSONParser):
    """moto's rest-json parser: body members as ``_JSONBody``, the others as ``_TextMembers``."""

    def _parse_non_payload_attrs(
        self, request: Any, shape: Shape, members: Any, parsed: dict[str, Any]
    ) -> None:
        text = _TextMembers(self.operation_model, timestamp_parser=_utc_timestamp)
        text._parse_non_payload_attrs(request, shape, members, parsed)


_PARSERS: dict[str, type[RequestParser]] = {
    "query": _QueryRequest,
    "ec2": _EC2Request,
    "json": _JSONRequest,
    "rest-json": _RestJSONRequest,
}


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


class _AwsTimestamps(TimestampSerializer):
    """moto's timestamp writer, but ISO-8601 as AWS writes it: UTC with milliseconds.

    Ours because moto writes six digits of microseconds, or no fraction when there are none.
    """

    def _convert_timestamp_to_str(self, value: Any, timestamp_format: str) -> Any:
        moment = _as_datetime(value)
        if timestamp_format.lower() == self.TIMESTAMP_FORMAT_ISO8601:
            return iso8601(moment)
        return super()._convert_timestamp_to_str(moment, timestamp_format)


class _AwsResponse(ResponseSerializer):
    """moto's response serialisers with ``_AwsTimestamps`` and the request id."""

    def __init__(self, operation_model: OperationModel, request_id: str) -> None:
        super().__init__(operation_model, SerializationContext(request_id))
        self._timestamp_serializer = _AwsTimestamps(self.DEFAULT_TIMESTAMP_FORMAT)


class _CompactJSON(_AwsResponse, BaseJSONSerializer):
    """JSON bodies without spaces, as AWS sends them (moto writes ``", "`` and ``": "``)."""

    def _serialize_body(self, body: Mapping[str, Any]) -> str:
        return json.dumps(body, separators=(",", ":"))


class _QueryResponse(_AwsResponse, QuerySerializer):
    """moto's query serialiser: ``<OpResponse>``, result wrapper, ``ResponseMetadata``."""


class _JSONResponse(_CompactJSON, JSONSerializer):
    """moto's json serialiser."""

    def _get_protocol_specific_content_type(self) -> str:
        # ours: moto reads the model's first protocol, which for Agreement is CBOR, not json
        return _json_headers(self.service_model, "")["Content-Type"]


class _RestJSONResponse(_CompactJSON, RestJSONSerializer):
    """moto's rest-json serialiser: status code, header members and the JSON body."""


_SERIALIZERS: dict[str, type[_AwsResponse]] = {
    "query": _QueryResponse,
    "json": _JSONResponse,
    "rest-json": _RestJSONResponse,
}


def serialize_response(
    service: str, operation: str, output: dict[str, Any], request_id: str
) -> WireResponse:
    """Serialise a handler's output dict exactly as the real service would."""
    op_model = service_model(service).operation_model(operation)
    answer = _SERIALIZERS[protocol_of(op_model.service_model)](op_model, request_id).serialize(
        output
    )
    # ours: moto's server adds the request id header, its serialisers do not
    headers = {**answer["headers"], "x-amzn-RequestId": request_id}
    body = answer["body"]
    data = body.encode("utf-8") if isinstance(body, str) else bytes(body)
    return WireResponse(int(answer["status_code"]), headers, data)


def serialize_error(service: str, error: SandboxServiceError, request_id: str) -> WireResponse:
    """Serialise an error in the service's error envelope.

    Ours, not moto's: moto takes the status from the model's error shape (400 for the codes a
    model lacks, such as ``AccessDenied``, which AWS answers with 403), prefixes json 1.0's
    ``__type`` with the target namespace and echoes shape members (``<message>``) that AWS leaves
    out; the error carries AWS's code, status and extra members, which are written as they are.
    """
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
