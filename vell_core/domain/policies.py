"""Policy files in ``policies/`` and IAM's delegation-template rendering rules.

Rendering follows IAM temporary delegation (reference §3.2 and Q14): ``@{Name}`` placeholders;
a ``stringList`` parameter inside a Resource ARN yields one ARN per value (cross product when
several lists meet); elsewhere a list becomes a JSON array; a statement with
``"@Enabled": "Name"`` is kept only when that parameter is exactly ``"True"`` (``"!Name"``
inverts); the rendered policy is measured as minified JSON and may not exceed 2048 characters.
The same renderer serves the sandbox (as IAM) and the wizard's preview, so both agree.
"""

from __future__ import annotations

import itertools
import json
import re
from dataclasses import dataclass
from functools import cache, partial
from pathlib import Path
from typing import Any

# The repository's policies/ folder (three levels up: vell_core/domain/policies.py).
POLICIES_DIR = Path(__file__).resolve().parents[2] / "policies"

MAX_RENDERED_POLICY_CHARS = 2048
MAX_BOUNDARY_CHARS = 6144
MAX_PARAMETERS = 50
PARAMETER_NAME_RE = re.compile(r"^[ -~]{5,256}$")
PARAMETER_VALUE_RE = re.compile(r"^[ -~]+$")
PLACEHOLDER_RE = re.compile(r"@\{([^}]*)\}")
TEMPLATE_NAMES = ("read-only", "full-access", "onboarding")


class TemplateRenderError(ValueError):
    """The parameters do not fit the template (IAM answers InvalidInput)."""


@dataclass(frozen=True)
class PolicyParameter:
    """One ``Permissions.Parameters`` entry, in the API's spelling."""

    name: str
    values: tuple[str, ...]
    type: str = "string"

    def to_api(self) -> dict[str, Any]:
        """The dict boto3 expects."""
        return {"Name": self.name, "Values": list(self.values), "Type": self.type}

    @classmethod
    def from_api(cls, raw: dict[str, Any]) -> PolicyParameter:
        """Parse the API form (missing members are left for validation)."""
        return cls(
            name=str(raw.get("Name", "")),
            values=tuple(str(v) for v in raw.get("Values", []) or []),
            type=str(raw.get("Type", "string")),
        )


def minified(document: Any) -> str:
    """Minified JSON, the form whose length IAM counts."""
    return json.dumps(document, separators=(",", ":"), ensure_ascii=False)


@cache
def load_policy_file(relative_path: str) -> Any:
    """Parse a JSON file under ``policies/`` (cached; files are immutable at runtime)."""
    return json.loads((POLICIES_DIR / relative_path).read_text(encoding="utf-8"))


def load_template(name: str) -> dict[str, Any]:
    """The delegation policy template ``policies/templates/<name>.json``."""
    if name not in TEMPLATE_NAMES:
        raise KeyError(name)
    return load_policy_file(f"templates/{name}.json")


def policy_path(relative_path: str) -> Path:
    """Absolute path of a file under ``policies/``."""
    return POLICIES_DIR / relative_path


def template_parameter_names(template: dict[str, Any]) -> set[str]:
    """Every parameter a template refers to (placeholders and @Enabled)."""
    names = set(PLACEHOLDER_RE.findall(json.dumps(template)))
    for statement in template.get("Statement", []):
        enabled = statement.get("@Enabled")
        if isinstance(enabled, str):
            names.add(enabled.lstrip("!"))
    return names


def validate_parameters(parameters: list[PolicyParameter]) -> dict[str, PolicyParameter]:
    """Check names, types and values as IAM does; return them by name."""
    if len(parameters) > MAX_PARAMETERS:
        raise TemplateRenderError(f"At most {MAX_PARAMETERS} parameters are allowed.")
    by_name: dict[str, PolicyParameter] = {}
    for parameter in parameters:
        if not PARAMETER_NAME_RE.match(parameter.name):
            raise TemplateRenderError(
                f"Parameter name {parameter.name!r} must be 5-256 printable ASCII characters."
            )
        if parameter.type not in ("string", "stringList"):
            raise TemplateRenderError(f"Parameter type {parameter.type!r} is not valid.")
        if parameter.name in by_name:
            raise TemplateRenderError(f"Parameter {parameter.name!r} is given twice.")
        if not parameter.values:
            raise TemplateRenderError(f"Parameter {parameter.name!r} has no value.")
        if parameter.type == "string" and len(parameter.values) != 1:
            raise TemplateRenderError(f"Parameter {parameter.name!r} takes exactly one value.")
        for value in parameter.values:
            if not PARAMETER_VALUE_RE.match(value) or '"' in value or "\\" in value:
                raise TemplateRenderError(f"Parameter {parameter.name!r} has an invalid value.")
        by_name[parameter.name] = parameter
    return by_name


def render_template(template: dict[str, Any], parameters: list[PolicyParameter]) -> str:
    """Render ``template`` with ``parameters``; return minified JSON of at most 2048 chars."""
    by_name = validate_parameters(parameters)
    needed = template_parameter_names(template)
    missing = sorted(needed - by_name.keys())
    if missing:
        raise TemplateRenderError("Missing template parameters: " + ", ".join(missing))
    unknown = sorted(by_name.keys() - needed)
    if unknown:
        raise TemplateRenderError("Unknown template parameters: " + ", ".join(unknown))
    statements = [
        _render_statement(statement, by_name)
        for statement in template.get("Statement", [])
        if _statement_enabled(statement, by_name)
    ]
    rendered = {key: value for key, value in template.items() if key != "Statement"}
    rendered["Statement"] = statements
    text = minified(rendered)
    if len(text) > MAX_RENDERED_POLICY_CHARS:
        raise TemplateRenderError(
            f"The rendered policy is {len(text)} characters; the limit is "
            f"{MAX_RENDERED_POLICY_CHARS}."
        )
    return text


def _statement_enabled(statement: dict[str, Any], by_name: dict[str, PolicyParameter]) -> bool:
    directive = statement.get("@Enabled")
    if directive is None:
        return True
    negate = directive.startswith("!")
    parameter = by_name[directive.lstrip("!")]
    is_true = parameter.values == ("True",)
    return not is_true if negate else is_true


def _render_statement(
    statement: dict[str, Any], by_name: dict[str, PolicyParameter]
) -> dict[str, Any]:
    rendered: dict[str, Any] = {}
    for key, value in statement.items():
        if key == "@Enabled":
            continue
        if key in ("Resource", "NotResource"):
            rendered[key] = _render_resources(value, by_name)
        else:
            rendered[key] = _render_value(value, by_name)
    return rendered


def _render_resources(value: Any, by_name: dict[str, PolicyParameter]) -> Any:
    items = value if isinstance(value, list) else [value]
    expanded: list[str] = []
    for arn in items:
        expanded.extend(_expand_arn(arn, by_name))
    if not isinstance(value, list) and len(expanded) == 1:
        return expanded[0]
    return expanded


def _expand_arn(arn: str, by_name: dict[str, PolicyParameter]) -> list[str]:
    """Cross product of every placeholder's values inside one ARN."""
    names = PLACEHOLDER_RE.findall(arn)
    if not names:
        return [arn]
    unique_names = list(dict.fromkeys(names))
    results = []
    for combo in itertools.product(*(by_name[name].values for name in unique_names)):
        chosen = dict(zip(unique_names, combo, strict=True))
        results.append(PLACEHOLDER_RE.sub(partial(_placeholder_value, chosen), arn))
    return list(dict.fromkeys(results))


def _placeholder_value(values: dict[str, str], match: re.Match[str]) -> str:
    return values[match.group(1)]


def _render_value(value: Any, by_name: dict[str, PolicyParameter]) -> Any:
    if isinstance(value, dict):
        return {k: _render_value(v, by_name) for k, v in value.items()}
    if isinstance(value, list):
        out: list[Any] = []
        for item in value:
            rendered = _render_value(item, by_name)
            out.extend(
                rendered if isinstance(item, str) and isinstance(rendered, list) else [rendered]
            )
        return out
    if isinstance(value, str):
        whole = PLACEHOLDER_RE.fullmatch(value)
        if whole and by_name[whole.group(1)].type == "stringList":
            return list(by_name[whole.group(1)].values)
        return PLACEHOLDER_RE.sub(lambda m: by_name[m.group(1)].values[0], value)
    return value
