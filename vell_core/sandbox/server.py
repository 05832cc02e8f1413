"""The sandbox AWS endpoint: one loopback HTTP server in front of moto and the sandbox backends.

Why this shape: unmodified boto3 clients (the app's ``ClientFactory``, ad-hoc scripts, the AWS
CLI) reach it with ``endpoint_url=http://127.0.0.1:<port>`` and real SigV4-signed HTTP, so the
production code path (serialisers, parsers, retries, error mapping) runs unchanged. Everything
lives in one process and shares moto's *global* backends, exactly as moto's server mode does:

- requests for operations a registered ``ServiceBackend`` implements (IAM delegation requests,
  STS ``GetDelegatedAccessToken``, Marketplace Catalog/Agreement) are parsed by ``wire.py``,
  authorised, handled and serialised in the real wire format;
- everything else goes to moto through the same dispatcher ``mock_aws`` uses
  (``BotocoreStubber.process_request``), so this needs no Flask (moto's ``server`` extra is
  not a dependency) and the in-process objects (``state``) see the same data as HTTP callers;
- a few moto operations are intercepted where moto is not faithful enough for the product:
  ``sts:AssumeRole`` (trust policy and ``sts:ExternalId`` enforced), ``iam:CreateRole`` and
  ``iam:PutRolePermissionsBoundary`` with a partner-namespace boundary, and
  ``sts:GetCallerIdentity`` for delegated and root callers.

Calls made with delegated or assumed-role credentials are checked by ``authz.py`` (session
policy; role policies ∩ boundary) whoever serves them. Control endpoints live under
``/_sandbox/``, moto's SNS signing certificates are served at
``/SimpleNotificationService-<hex>.pem``, and the AWS console's CloudFormation pages that a
quick-create link opens at ``/cloudformation/home`` (``console.py``).
"""

from __future__ import annotations

import json
import logging
import re
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import cache
from typing import Any
from urllib.parse import parse_qsl, urlencode

from botocore.awsrequest import AWSPreparedRequest
from botocore.compat import HTTPHeaders
from moto.core import DEFAULT_ACCOUNT_ID
from moto.core.botocore_stubber import BotocoreStubber
from moto.sns.models import sns_backends
from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server
from werkzeug.wrappers import Request, Response

from vell_core.sandbox import authz, cloudformation, console
from vell_core.sandbox.contract import Caller, SandboxCall, SandboxServiceError, ServiceBackend
from vell_core.sandbox.control import handle_control
from vell_core.sandbox.identity import (
    Credentials,
    Identity,
    iam_backend,
)
from vell_core.sandbox.state import SandboxConfig, SandboxState, bootstrap
from vell_core.sandbox.topic_policy import Publisher, check_publish
from vell_core.sandbox.validation import internal_error, validate_input
from vell_core.sandbox.wire import (
    WireRequest,
    WireResponse,
    iso8601,
    new_request_id,
    operation_name,
    parse_request,
    parse_response,
    protocol_of,
    serialize_error,
    serialize_response,
    service_model,
)

logger = logging.getLogger(__name__)

PARTNER_BOUNDARY_PREFIX = "arn:aws:iam::partner:policy/"
PEM_PATH = re.compile(r"^/SimpleNotificationService-[A-Za-z0-9]+\.pem$")
UNRESTRICTED_ACTIONS = {"sts:getcalleridentity"}
_HOP_HEADERS = {"content-length", "transfer-encoding", "connection", "status", "server", "date"}

# --------------------------------------------------------------------------------------------
# The WSGI application


@dataclass(frozen=True)
class Signature:
    """The parts of a SigV4 ``Authorization`` header the sandbox needs."""

    access_key_id: str
    region: str
    signing_name: str


def parse_authorization(header: str | None) -> Signature | None:
    """``Credential=AKID/date/region/service/aws4_request`` → ``Signature``."""
    if not header or "Credential=" not in header:
        return None
    scope = header.split("Credential=", 1)[1].split(",", 1)[0].strip().split("/")
    if len(scope) != 5:
        return None
    return Signature(access_key_id=scope[0], region=scope[2], signing_name=scope[3])


def service_for(signing_name: str, request: WireRequest) -> str:
    """The botocore service name behind a signing name."""
    if signing_name == "aws-marketplace":
        has_target = request.header("X-Amz-Target") is not None
        return "marketplace-agreement" if has_target else "marketplace-catalog"
    return signing_name


@dataclass
class _Exchange:
    """One AWS request in flight."""

    service: str
    signature: Signature
    request: WireRequest
    request_id: str
    operation: str | None = None
    identity: Identity | None = None
    params: dict[str, Any] = field(default_factory=dict)

    @property
    def caller(self) -> Caller:
        assert self.identity is not None
        return self.identity.caller


Interceptor = Callable[["SandboxApp", _Exchange], WireResponse]


class SandboxApp:
    """WSGI app: control endpoints, SNS certificates, sandbox backends, then moto."""

    def __init__(self, state: SandboxState) -> None:
        self.state = state
        self._moto = BotocoreStubber()
        self._interceptors: dict[tuple[str, str], Interceptor] = {
            ("sts", "AssumeRole"): SandboxApp._assume_role,
            ("sts", "GetCallerIdentity"): SandboxApp._get_caller_identity,
            ("iam", "CreateRole"): SandboxApp._create_role,
            ("iam", "PutRolePermissionsBoundary"): SandboxApp._put_role_boundary,
            ("sns", "Publish"): SandboxApp._publish,
            ("sns", "PublishBatch"): SandboxApp._publish,
            ("cloudformation", "CreateStack"): SandboxApp._create_stack,
            ("cloudformation", "GetTemplateSummary"): SandboxApp._get_template_summary,
        }

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        request = Request(environ)
        response = self._route(request)
        return response(environ, start_response)

    def _route(self, request: Request) -> Response:
        try:
            return self._answer(request)
        except Exception as error:  # AWS requests never get here: handle() answers their errors
            logger.exception("sandbox control request %s failed", request.path)
            document = {"error": f"internal error: {type(error).__name__}"}
            return Response(json.dumps(document), 500, mimetype="application/json")

    def _answer(self, request: Request) -> Response:
        if request.path.startswith("/_sandbox/"):
            status, document = handle_control(self.state, request)
            return Response(json.dumps(document, default=str), status, mimetype="application/json")
        if request.method == "GET" and PEM_PATH.match(request.path):
            return _serve_pem(request.path)
        if console.handles(request.path) and "Authorization" not in request.headers:
            return console.handle(self.state, request)  # a browser, not an API call
        wire = WireRequest(
            method=request.method,
            path=request.path,
            query_string=request.query_string.decode("latin-1"),
            headers=dict(request.headers.items()),
            body=request.get_data(),
        )
        result = self.handle(wire)
        return Response(result.body, result.status, headers=result.headers)

    # -- AWS requests -------------------------------------------------------------------------

    def handle(self, request: WireRequest) -> WireResponse:
        """Answer one signed AWS request."""
        signature = parse_authorization(request.header("Authorization"))
        if signature is None:
            body = b'{"message":"Missing Authentication Token"}'
            return WireResponse(403, {"Content-Type": "application/json"}, body)
        if self.state.config.latency_ms:
            time.sleep(self.state.config.latency_ms / 1000)  # injected latency, on purpose
        exchange = _Exchange(
            service_for(signature.signing_name, request), signature, request, new_request_id()
        )
        try:
            return self._dispatch(exchange)
        except SandboxServiceError as error:
            return self._error(exchange, error)
        except Exception:
            # A bug in the sandbox: answer as AWS does for its own failures, never with an HTML
            # page, and keep the details in the log (not in the answer).
            logger.exception("sandbox %s.%s failed", exchange.service, exchange.operation)
            return self._error(exchange, internal_error(exchange.service))

    def _error(self, exchange: _Exchange, error: SandboxServiceError) -> WireResponse:
        try:
            return serialize_error(exchange.service, error, exchange.request_id)
        except Exception:  # unknown service model: fall back to a JSON envelope
            body = json.dumps({"__type": error.code, "message": error.message}).encode()
            return WireResponse(error.status, {"Content-Type": "application/json"}, body)

    def _dispatch(self, exchange: _Exchange) -> WireResponse:
        exchange.operation = self._operation(exchange)
        exchange.identity = self.state.identities.lookup(exchange.signature.access_key_id)
        backend = self.state.backends.get(exchange.service)
        if backend is not None and exchange.operation in backend.handlers:
            return self._serve_backend(exchange, backend)
        if exchange.service not in _moto_services():
            raise SandboxServiceError(
                "UnknownOperationException",
                f"The sandbox does not implement {exchange.service}.{exchange.operation}.",
                400,
            )
        return self._serve_moto(exchange)

    def _operation(self, exchange: _Exchange) -> str | None:
        try:
            return operation_name(exchange.service, exchange.request)
        except Exception:  # no botocore model for this signing name: moto decides
            return None

    def _serve_backend(self, exchange: _Exchange, backend: ServiceBackend) -> WireResponse:
        if exchange.identity is None:
            raise _unrecognised_client(exchange.service)
        now = self.state.clock.now()
        _check_expiry(exchange.service, exchange.caller, now)
        operation, params = parse_request(exchange.service, exchange.request)
        validate_input(exchange.service, operation, params)  # before any business logic
        call = SandboxCall(
            service=exchange.service,
            operation=operation,
            params=params,
            caller=exchange.caller,
            region=exchange.signature.region,
            now=now,
            request_id=exchange.request_id,
        )
        resources, context = _backend_authz_context(backend, call)
        self._authorize(exchange, _action(backend, exchange.service, operation), resources, context)
        self._throttle(exchange, backend, operation)
        output = backend.handlers[operation](call)
        logger.debug("sandbox %s.%s answered", exchange.service, operation)
        return serialize_response(exchange.service, operation, output, exchange.request_id)

    def _throttle(self, exchange: _Exchange, backend: ServiceBackend, operation: str) -> None:
        rate = getattr(backend, "rate_limits", {}).get(operation)
        if not self.state.config.throttling or not rate:
            return
        key = (exchange.service, operation, exchange.caller.account_id)
        if not self.state.throttle.allow(key, rate * self.state.config.rate_limit_factor):
            raise _throttling_error(exchange.service)

    def _authorize(
        self, exchange: _Exchange, action: str, resources: list[str], context: dict[str, Any]
    ) -> None:
        """Enforce session policy / role policies ∩ boundary for temporary credentials."""
        identity = exchange.identity
        if identity is None or identity.caller.kind not in ("delegated", "assumed-role"):
            return
        if action.lower() in UNRESTRICTED_ACTIONS:
            return
        caller = identity.caller
        full_context = {
            "aws:PrincipalAccount": caller.account_id,
            "aws:PrincipalArn": caller.arn,
            "aws:RequestedRegion": exchange.signature.region,
            **context,
        }
        layers = _policy_layers(identity)
        verdict = authz.decide(layers, action, resources, full_context)
        if not verdict.allowed:
            message = authz.access_denied_message(caller.arn, action, resources[0], verdict.reason)
            raise _access_denied(exchange.service, message)

    # -- moto ---------------------------------------------------------------------------------

    def _serve_moto(self, exchange: _Exchange) -> WireResponse:
        if exchange.identity is not None:
            _check_expiry(exchange.service, exchange.caller, self.state.clock.now())
        if exchange.operation is not None:
            exchange.params = _safe_params(exchange)
            if exchange.identity is not None:
                resources, context = _moto_authz_context(exchange)
                action = f"{_signing_prefix(exchange.service)}:{exchange.operation}"
                self._authorize(exchange, action, resources, context)
            interceptor = self._interceptors.get((exchange.service, exchange.operation))
            if interceptor is not None:
                validate_input(exchange.service, exchange.operation, exchange.params)
                return interceptor(self, exchange)
        return self.forward_to_moto(exchange.signature, exchange.request)

    def forward_to_moto(self, signature: Signature, request: WireRequest) -> WireResponse:
        """Let moto answer, through the dispatcher ``mock_aws`` uses."""
        name = signature.signing_name
        host = "iam.amazonaws.com" if name == "iam" else f"{name}.{signature.region}.amazonaws.com"
        url = f"https://{host}{request.path}" + (
            f"?{request.query_string}" if request.query_string else ""
        )
        headers = HTTPHeaders()
        for key, value in request.headers.items():
            if key.lower() not in ("host", "content-length"):
                headers[key] = value
        headers["Host"] = host
        headers["Content-Length"] = str(len(request.body))
        prepared = AWSPreparedRequest(
            method=request.method,
            url=url,
            headers=headers,
            body=request.body,
            stream_output=False,
        )
        try:
            answer = self._moto.process_request(prepared)
        except NotImplementedError as error:
            raise SandboxServiceError(
                "InternalFailure", f"Not implemented: {error}", 501
            ) from error
        if answer is None:
            raise SandboxServiceError("UnknownOperationException", "Unknown service.", 400)
        status, raw_headers, body = answer
        out_headers = {
            str(k): str(v)
            for k, v in dict(raw_headers).items()
            if str(k).lower() not in _HOP_HEADERS
        }
        data = body.encode("utf-8") if isinstance(body, str) else bytes(body or b"")
        return WireResponse(int(status), out_headers, data)

    # -- interceptors -------------------------------------------------------------------------

    def _assume_role(self, exchange: _Exchange) -> WireResponse:
        """``sts:AssumeRole`` with the role's trust policy (and ExternalId) enforced."""
        if exchange.identity is None:
            raise _unrecognised_client("sts")
        caller, params = exchange.caller, exchange.params
        role_arn = str(params.get("RoleArn", ""))
        role = _find_role(role_arn)
        context = {
            "sts:ExternalId": params.get("ExternalId"),
            "aws:PrincipalAccount": caller.account_id,
            "aws:PrincipalArn": caller.arn,
        }
        trust = authz.load_policy(role.assume_role_policy_document) if role else {}
        if role is None or not authz.trust_allows(trust, caller.account_id, caller.arn, context):
            raise SandboxServiceError(
                "AccessDenied",
                f"User: {caller.arn} is not authorized to perform: sts:AssumeRole on "
                f"resource: {role_arn}",
                403,
            )
        answer = self.forward_to_moto(exchange.signature, exchange.request)
        if answer.status != 200:
            return answer
        parsed = parse_response("sts", "AssumeRole", answer)
        parsed.pop("ResponseMetadata", None)
        expires_at = self.state.clock.now() + timedelta(
            seconds=int(params.get("DurationSeconds") or 3600)
        )
        parsed["Credentials"]["Expiration"] = expires_at
        creds = parsed["Credentials"]
        self.state.identities.register_assumed_role(
            credentials=Credentials(
                creds["AccessKeyId"], creds["SecretAccessKey"], creds.get("SessionToken")
            ),
            account_id=role_arn.split(":")[4],
            session_arn=parsed["AssumedRoleUser"]["Arn"],
            role_arn=role.arn,
            boundary_policy=self.state.boundary_document(role.permissions_boundary_arn),
            expires_at=expires_at,
        )
        return serialize_response("sts", "AssumeRole", parsed, exchange.request_id)

    def _get_caller_identity(self, exchange: _Exchange) -> WireResponse:
        """Delegated and root callers: moto does not know these principals."""
        identity = exchange.identity
        if identity is None or identity.caller.kind not in ("delegated", "root"):
            return self.forward_to_moto(exchange.signature, exchange.request)
        caller = identity.caller
        user_id = caller.account_id if caller.kind == "root" else caller.access_key_id
        output = {"UserId": user_id, "Account": caller.account_id, "Arn": caller.arn}
        return serialize_response("sts", "GetCallerIdentity", output, exchange.request_id)

    def _create_role(self, exchange: _Exchange) -> WireResponse:
        """moto refuses partner-namespace boundaries: create without, then attach it."""
        boundary = exchange.params.get("PermissionsBoundary")
        if not _is_partner_boundary(boundary):
            return self.forward_to_moto(exchange.signature, exchange.request)
        stripped = _without_form_key(exchange.request, "PermissionsBoundary")
        answer = self.forward_to_moto(exchange.signature, stripped)
        if answer.status != 200:
            return answer
        account = _account_of(exchange)
        role = iam_backend(account).get_role(str(exchange.params["RoleName"]))
        role.permissions_boundary_arn = str(boundary)
        parsed = parse_response("iam", "CreateRole", answer)
        parsed.pop("ResponseMetadata", None)
        parsed["Role"]["PermissionsBoundary"] = {
            "PermissionsBoundaryType": "PermissionsBoundaryPolicy",
            "PermissionsBoundaryArn": str(boundary),
        }
        return serialize_response("iam", "CreateRole", parsed, exchange.request_id)

    def _publish(self, exchange: _Exchange) -> WireResponse:
        """``sns:Publish``/``PublishBatch`` under the topic policy (moto enforces none)."""
        topic_arn = exchange.params.get("TopicArn") or exchange.params.get("TargetArn")
        if exchange.identity is not None and isinstance(topic_arn, str):
            identity = exchange.identity
            publisher = Publisher(
                arn=identity.caller.arn,
                account_id=identity.caller.account_id,
                other_arns=(identity.role_arn,) if identity.role_arn else (),
                context={
                    "aws:PrincipalAccount": identity.caller.account_id,
                    "aws:PrincipalArn": identity.caller.arn,
                    "aws:SourceOwner": identity.caller.account_id,
                    "aws:SourceAccount": identity.caller.account_id,
                },
            )
            check_publish(publisher, topic_arn)
        return self.forward_to_moto(exchange.signature, exchange.request)

    def _create_stack(self, exchange: _Exchange) -> WireResponse:
        """``CreateStack`` with the IAM capability and parameter constraints AWS enforces."""
        body = cloudformation.template_body(exchange.params, _account_of(exchange))
        if body is not None:
            template = cloudformation.load_template(body)
            cloudformation.check_create_stack(exchange.params, template)
        return self.forward_to_moto(exchange.signature, exchange.request)

    def _get_template_summary(self, exchange: _Exchange) -> WireResponse:
        """moto's summary plus the capabilities the template needs (the console's IAM box)."""
        answer = self.forward_to_moto(exchange.signature, exchange.request)
        body = cloudformation.template_body(exchange.params, _account_of(exchange))
        if answer.status != 200 or body is None:
            return answer
        parsed = parse_response("cloudformation", "GetTemplateSummary", answer)
        parsed.pop("ResponseMetadata", None)
        parsed.update(cloudformation.summary_capabilities(cloudformation.load_template(body)))
        return serialize_response(
            "cloudformation", "GetTemplateSummary", parsed, exchange.request_id
        )

    def _put_role_boundary(self, exchange: _Exchange) -> WireResponse:
        boundary = exchange.params.get("PermissionsBoundary")
        if not _is_partner_boundary(boundary):
            return self.forward_to_moto(exchange.signature, exchange.request)
        role_name = str(exchange.params.get("RoleName", ""))
        try:
            role = iam_backend(_account_of(exchange)).get_role(role_name)
        except Exception as error:
            raise SandboxServiceError(
                "NoSuchEntity", f"The role with name {role_name} cannot be found.", 404
            ) from error
        role.permissions_boundary_arn = str(boundary)
        return serialize_response("iam", "PutRolePermissionsBoundary", {}, exchange.request_id)


# --------------------------------------------------------------------------------------------
# Helpers


@cache
def _moto_services() -> frozenset[str]:
    """Services moto serves (by the names in its URL index)."""
    import moto.backend_index as backend_index

    return frozenset(name for name, _pattern in backend_index.backend_url_patterns)


def _serve_pem(path: str) -> Response:
    """moto keeps each signing certificate in the default account's SNS backend."""
    name = path.lstrip("/")
    for backend in list(sns_backends[DEFAULT_ACCOUNT_ID].values()):
        pem = backend._message_public_keys.get(name)
        if pem is not None:
            return Response(pem, 200, mimetype="application/x-x509-ca-cert")
    return Response("Not Found", 404)


def _is_query(service: str) -> bool:
    try:
        return protocol_of(service_model(service)) in ("query", "ec2")
    except Exception:
        return False


def _unrecognised_client(service: str) -> SandboxServiceError:
    message = "The security token included in the request is invalid."
    code = "InvalidClientTokenId" if _is_query(service) else "UnrecognizedClientException"
    return SandboxServiceError(code, message, 403)


def _check_expiry(service: str, caller: Caller, now: datetime) -> None:
    if caller.expires_at is None or now < caller.expires_at:
        return
    message = "The security token included in the request is expired"
    if _is_query(service):
        raise SandboxServiceError("ExpiredToken", message, 400)
    raise SandboxServiceError("ExpiredTokenException", message, 403)


def _access_denied(service: str, message: str) -> SandboxServiceError:
    code = "AccessDenied" if _is_query(service) else "AccessDeniedException"
    return SandboxServiceError(code, message, 403)


def _throttling_error(service: str) -> SandboxServiceError:
    if _is_query(service):
        return SandboxServiceError("Throttling", "Rate exceeded", 400)
    status = 400
    for shape_name in service_model(service).shape_names:
        shape = service_model(service).shape_for(shape_name)
        if shape.metadata.get("exception") and shape_name == "ThrottlingException":
            status = int(shape.metadata.get("error", {}).get("httpStatusCode", 400))
    return SandboxServiceError("ThrottlingException", "Rate exceeded", status)


def _signing_prefix(service: str) -> str:
    try:
        return str(service_model(service).signing_name)
    except Exception:
        return service


def _action(backend: ServiceBackend, service: str, operation: str) -> str:
    override = backend.action_overrides.get(operation)
    return override or f"{_signing_prefix(service)}:{operation}"


def _backend_authz_context(
    backend: ServiceBackend, call: SandboxCall
) -> tuple[list[str], dict[str, Any]]:
    hook = getattr(backend, "authz_context", None)
    if hook is None:
        return ["*"], {}
    resources, context = hook(call)
    return (list(resources) or ["*"]), dict(context)


def _policy_layers(identity: Identity) -> list[authz.Layer]:
    caller = identity.caller
    if caller.kind == "delegated":
        # The approver is a sandbox admin persona: the session policy is the limit (§3.2).
        return [authz.Layer("session", [caller.session_policy or {}])]
    layers = [authz.Layer("identity", _role_policies(identity.role_arn))]
    if caller.boundary_policy is not None:
        layers.append(authz.Layer("boundary", [caller.boundary_policy]))
    return layers


def _role_policies(role_arn: str | None) -> list[dict[str, Any]]:
    """Live inline and attached managed policies of a role (AWS evaluates them at call time)."""
    role = _find_role(role_arn or "")
    if role is None:
        return []
    documents = [authz.load_policy(text) for text in role.policies.values()]
    for policy in role.managed_policies.values():
        for version in policy.versions:
            if version.is_default_version:
                documents.append(authz.load_policy(version.document))
    return documents


def _find_role(role_arn: str) -> Any:
    parts = role_arn.split(":")
    if len(parts) != 6 or not parts[4]:
        return None
    try:
        return iam_backend(parts[4]).get_role_by_arn(role_arn)
    except Exception:
        return None


def _account_of(exchange: _Exchange) -> str:
    if exchange.identity is not None:
        return exchange.identity.caller.account_id
    return DEFAULT_ACCOUNT_ID


def _safe_params(exchange: _Exchange) -> dict[str, Any]:
    try:
        return parse_request(exchange.service, exchange.request)[1]
    except Exception:  # protocols the sandbox does not parse (rest-xml): no context
        return {}


def _is_partner_boundary(arn: Any) -> bool:
    return isinstance(arn, str) and arn.startswith(PARTNER_BOUNDARY_PREFIX)


def _without_form_key(request: WireRequest, key: str) -> WireRequest:
    form = [(k, v) for k, v in parse_qsl(request.body.decode("utf-8"), keep_blank_values=True)]
    body = urlencode([(k, v) for k, v in form if k != key]).encode("utf-8")
    return WireRequest(request.method, request.path, request.query_string, request.headers, body)


def _moto_authz_context(exchange: _Exchange) -> tuple[list[str], dict[str, Any]]:
    """Resource ARNs and condition keys for a moto-served call (IAM in detail)."""
    params = exchange.params
    context: dict[str, Any] = {}
    tags = params.get("Tags")
    if isinstance(tags, list) and tags:
        context["aws:TagKeys"] = [t.get("Key") for t in tags]
        for tag in tags:
            context[f"aws:RequestTag/{tag.get('Key')}"] = tag.get("Value")
    if exchange.service != "iam":
        return ["*"], context
    account = _account_of(exchange)
    if "PolicyArn" in params:
        context["iam:PolicyARN"] = params["PolicyArn"]
    role_name = params.get("RoleName")
    if role_name:
        return [_role_resource(exchange, account, str(role_name), context)], context
    if exchange.operation == "CreatePolicy":
        path = params.get("Path") or "/"
        return [f"arn:aws:iam::{account}:policy{path}{params.get('PolicyName')}"], context
    if "PolicyArn" in params:
        return [str(params["PolicyArn"])], context
    if params.get("UserName"):
        return [f"arn:aws:iam::{account}:user/{params['UserName']}"], context
    return ["*"], context


def _role_resource(
    exchange: _Exchange, account: str, role_name: str, context: dict[str, Any]
) -> str:
    params = exchange.params
    existing = None
    try:
        existing = iam_backend(account).get_role(role_name)
    except Exception:
        existing = None
    if exchange.operation in ("CreateRole", "PutRolePermissionsBoundary"):
        boundary = params.get("PermissionsBoundary")
    else:
        boundary = existing.permissions_boundary_arn if existing is not None else None
    if boundary:
        context["iam:PermissionsBoundary"] = boundary
    if exchange.operation == "CreateRole" or existing is None:
        path = params.get("Path") or "/"
    else:
        path = existing.path
    return f"arn:aws:iam::{account}:role{path}{role_name}"


# --------------------------------------------------------------------------------------------
# Running it


class _QuietHandler(WSGIRequestHandler):
    """Route werkzeug's per-request lines to DEBUG logging (they would flood test output)."""

    def log(self, type: str, message: str, *args: Any) -> None:
        logger.debug(message, *args)


@dataclass
class RunningSandbox:
    """A sandbox serving on loopback in a daemon thread."""

    state: SandboxState
    server: BaseWSGIServer
    thread: threading.Thread
    app: SandboxApp

    @property
    def endpoint(self) -> str:
        """Base URL to pass as ``endpoint_url``."""
        host, port = self.server.server_address[:2]
        host = host.decode() if isinstance(host, bytes) else host
        return f"http://{host}:{port}"

    def register(self, backend: ServiceBackend) -> None:
        """Plug in another backend while running."""
        self.state.register(backend)

    def stop(self) -> None:
        """Stop serving and wait for the thread."""
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)
        self.state.forget()


def start_sandbox(
    config: SandboxConfig | None = None,
    backends: Sequence[ServiceBackend] = (),
    *,
    templates: dict[str, dict[str, Any]] | None = None,
    boundary_document: dict[str, Any] | None = None,
) -> RunningSandbox:
    """Bootstrap the partner account and serve the sandbox on ``config.host:config.port``.

    ``backends`` are extra ``ServiceBackend`` objects (for example Marketplace). ``templates``
    (template ARN → template document) and ``boundary_document`` override the files under
    ``policies/`` (tests).
    """
    settings = config or SandboxConfig()
    state = SandboxState(settings, templates=templates, boundary_document=boundary_document)
    for backend in backends:
        state.register(backend)
    bootstrap(state)
    app = SandboxApp(state)
    server = make_server(
        settings.host, settings.port, app, threaded=True, request_handler=_QuietHandler
    )
    thread = threading.Thread(target=server.serve_forever, name="vell-sandbox", daemon=True)
    thread.start()
    running = RunningSandbox(state=state, server=server, thread=thread, app=app)
    logger.info("Sandbox AWS listening on %s", running.endpoint)
    return running


if __name__ == "__main__":  # pragma: no cover - the old entry point, kept as a signpost
    raise SystemExit(
        "Run the sandbox alone with `vell sandbox` or `python -m vell_core.sandbox` "
        "(this module serves no Marketplace API on its own)."
    )


__all__ = [
    "RunningSandbox",
    "SandboxApp",
    "SandboxConfig",
    "SandboxState",
    "bootstrap",
    "iso8601",
    "parse_authorization",
    "start_sandbox",
]
