"""CloudFormation in the sandbox: Vell's public template in S3, and the checks moto skips.

moto creates stacks (and their IAM roles) from a template, but it accepts any ``CreateStack``:
it never asks for ``CAPABILITY_NAMED_IAM``, never checks a parameter against its
``AllowedPattern`` or length, and its ``GetTemplateSummary`` reports no capabilities. Real AWS
refuses such a ``CreateStack`` (``InsufficientCapabilitiesException``, ``ValidationError``), and
its console reads the capabilities from ``GetTemplateSummary`` to show the IAM acknowledgement.
The sandbox server calls :func:`check_create_stack` and :func:`summary_capabilities` from its
``CreateStack`` / ``GetTemplateSummary`` interceptors so both behave as AWS does.

:func:`publish_template` puts ``policies/cloudformation/vell-marketplace-connector-role.yaml``
at the template URL Vell's quick-create links name, in Vell's partner account, so a customer's
``CreateStack`` with ``TemplateURL`` reads it the way AWS reads Vell's public S3 object.
"""

from __future__ import annotations

import json
import logging
import re
from functools import cache
from typing import Any
from urllib.parse import urlparse

import yaml
from moto.s3.exceptions import BucketAlreadyExists
from moto.s3.models import s3_backends

from vell_core.domain.policies import policy_path
from vell_core.sandbox.contract import SandboxServiceError

log = logging.getLogger(__name__)

TEMPLATE_FILE = "cloudformation/vell-marketplace-connector-role.yaml"
PARTITION = "aws"
# IAM resource types and the property that gives each a custom name (CAPABILITY_NAMED_IAM).
IAM_NAME_PROPERTIES = {
    "AWS::IAM::Role": "RoleName",
    "AWS::IAM::User": "UserName",
    "AWS::IAM::Group": "GroupName",
    "AWS::IAM::ManagedPolicy": "ManagedPolicyName",
    "AWS::IAM::InstanceProfile": "InstanceProfileName",
}
NAMED_IAM = "CAPABILITY_NAMED_IAM"
IAM = "CAPABILITY_IAM"


# -- the template in S3 --------------------------------------------------------------------------


def s3_location(template_url: str) -> tuple[str, str] | None:
    """(bucket, key) of an S3 object URL, virtual-hosted or path style; None otherwise."""
    parts = urlparse(template_url)
    host = parts.netloc.lower()
    if parts.scheme != "https" or not host.endswith(".amazonaws.com"):
        return None
    path = parts.path.lstrip("/")
    if host.startswith("s3.") or host.startswith("s3-"):
        bucket, _, key = path.partition("/")
    else:
        bucket, key = host.split(".", 1)[0], path
    return (bucket, key) if bucket and key else None


def publish_template(template_url: str, owner_account_id: str, region: str) -> bool:
    """Store Vell's template at ``template_url`` in the owner's S3 (idempotent).

    Returns False (and logs why) when the URL is not an S3 object URL, as a custom
    ``VELL_CFN_TEMPLATE_URL`` may be: stacks then need ``TemplateBody``.
    """
    location = s3_location(template_url)
    if location is None:
        log.warning("VELL_CFN_TEMPLATE_URL is not an S3 URL; the sandbox does not serve it")
        return False
    bucket, key = location
    backend = s3_backends[owner_account_id][PARTITION]
    if bucket not in backend.buckets:
        try:
            backend.create_bucket(bucket, region)
        except BucketAlreadyExists:  # another partner account in this process owns the name
            log.warning("S3 bucket %s belongs to another sandbox account", bucket)
            return False
    backend.put_object(bucket, key, policy_path(TEMPLATE_FILE).read_bytes())
    return True


def template_body(params: dict[str, Any], account_id: str) -> str | None:
    """The template a call names (``TemplateBody``, or ``TemplateURL`` read as moto reads it)."""
    if params.get("TemplateBody"):
        return str(params["TemplateBody"])
    url = params.get("TemplateURL")
    if not url:
        return None
    from moto.cloudformation.utils import get_stack_from_s3_url  # lazy: see _template_loader

    try:
        return get_stack_from_s3_url(str(url), account_id=account_id, partition=PARTITION)
    except Exception:  # moto raises its own S3 errors; AWS answers ValidationError
        raise SandboxServiceError(
            "ValidationError", f"TemplateURL must be a supported URL: {url} is not readable.", 400
        ) from None


@cache
def _template_loader() -> type[yaml.SafeLoader]:
    """Safe YAML plus CloudFormation's short-form tags (``!Ref``, ``!Sub``…), as moto reads them.

    A subclass, so the tags are not added to ``yaml.SafeLoader`` for the whole process. Built
    on first use: importing anything under ``moto.cloudformation`` imports moto's whole
    CloudFormation resource catalogue (EC2, Auto Scaling, …), about a quarter of the app's
    start-up, which only the quick-create path needs.
    """
    from moto.cloudformation.utils import yaml_tag_constructor

    class TemplateLoader(yaml.SafeLoader):
        pass

    TemplateLoader.add_multi_constructor("", yaml_tag_constructor)
    return TemplateLoader


def load_template(body: str) -> dict[str, Any]:
    """Parse a YAML or JSON template (short-form intrinsics such as ``!Ref`` included)."""
    try:
        document = yaml.load(body, Loader=_template_loader())  # a SafeLoader subclass
    except yaml.YAMLError:
        try:
            document = json.loads(body)
        except ValueError:
            raise SandboxServiceError("ValidationError", "Template format error.", 400) from None
    if not isinstance(document, dict):
        raise SandboxServiceError("ValidationError", "Template format error.", 400)
    return document


# -- what AWS checks ------------------------------------------------------------------------


def required_capability(template: dict[str, Any]) -> tuple[str | None, list[str]]:
    """The capability a template needs (None, IAM or NAMED_IAM) and the resource types why."""
    needed: str | None = None
    types: list[str] = []
    for resource in (template.get("Resources") or {}).values():
        kind = str((resource or {}).get("Type", ""))
        if not kind.startswith("AWS::IAM::"):
            continue
        types.append(kind)
        name_property = IAM_NAME_PROPERTIES.get(kind)
        if name_property and name_property in ((resource or {}).get("Properties") or {}):
            needed = NAMED_IAM
        elif needed is None:
            needed = IAM
    return needed, sorted(set(types))


def summary_capabilities(template: dict[str, Any]) -> dict[str, Any]:
    """``Capabilities`` and ``CapabilitiesReason`` as ``GetTemplateSummary`` reports them."""
    needed, types = required_capability(template)
    if needed is None:
        return {}
    return {
        "Capabilities": [needed],
        "CapabilitiesReason": (
            f"The following resource(s) require capabilities: [{', '.join(types)}]"
        ),
    }


def check_create_stack(params: dict[str, Any], template: dict[str, Any]) -> None:
    """Refuse a ``CreateStack`` AWS would refuse: capabilities, then parameter values."""
    needed, _types = required_capability(template)
    given = set(params.get("Capabilities") or [])
    if needed == NAMED_IAM and NAMED_IAM not in given:
        raise SandboxServiceError(
            "InsufficientCapabilitiesException", f"Requires capabilities : [{NAMED_IAM}]", 400
        )
    if needed == IAM and not given & {IAM, NAMED_IAM}:
        raise SandboxServiceError(
            "InsufficientCapabilitiesException", f"Requires capabilities : [{IAM}]", 400
        )
    check_parameters(template, params.get("Parameters") or [])


def check_parameters(template: dict[str, Any], given: list[dict[str, Any]]) -> None:
    """Every declared parameter has a value within its constraints; no undeclared ones."""
    declared: dict[str, dict[str, Any]] = template.get("Parameters") or {}
    values = {str(p.get("ParameterKey")): p.get("ParameterValue") for p in given}
    unknown = sorted(set(values) - set(declared))
    if unknown:
        raise SandboxServiceError(
            "ValidationError", f"Parameters: [{', '.join(unknown)}] do not exist in the template"
        )
    missing = sorted(
        name
        for name, spec in declared.items()
        if values.get(name) is None and "Default" not in spec
    )
    if missing:
        raise SandboxServiceError(
            "ValidationError", f"Parameters: [{', '.join(missing)}] must have values"
        )
    for name, spec in declared.items():
        value = values.get(name)
        _check_value(name, spec, str(spec.get("Default", "")) if value is None else str(value))


def _check_value(name: str, spec: dict[str, Any], value: str) -> None:
    description = spec.get("ConstraintDescription")
    pattern = spec.get("AllowedPattern")
    problem = None
    if "MinLength" in spec and len(value) < int(spec["MinLength"]):
        problem = f"Parameter '{name}' must contain at least {spec['MinLength']} characters"
    elif "MaxLength" in spec and len(value) > int(spec["MaxLength"]):
        problem = f"Parameter '{name}' must contain at most {spec['MaxLength']} characters"
    elif pattern and re.fullmatch(str(pattern), value, re.ASCII) is None:
        problem = f"Parameter '{name}' must match pattern {pattern}"
    elif spec.get("AllowedValues") and value not in [str(v) for v in spec["AllowedValues"]]:
        problem = f"Parameter '{name}' must be one of AllowedValues"
    if problem is not None:
        if description:  # AWS then says the template's own words instead
            problem = f"Parameter {name} failed to satisfy constraint: {description}"
        raise SandboxServiceError("ValidationError", problem, 400)
