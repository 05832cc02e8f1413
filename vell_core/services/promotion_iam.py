"""The IAM calls that build the connector role, made with the customer's delegated clients.

Each call is declared with ``requires`` (the onboarding template must grant it) and wrapped in
``aws_errors`` so a refusal reaches the run as a plain-language ``VellError``. Every call here is
safe to repeat: ``CreateRole`` adopts the role an earlier attempt created under the recorded
name (after checking it is exactly ours), and put, tag and get overwrite or only read.
"""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from vell_core.aws.clients import aws_errors, error_code
from vell_core.config.settings import Settings
from vell_core.domain.errors import ValidationFailed
from vell_core.domain.iam_actions import CONNECTOR_POLICY_NAME, requires
from vell_core.domain.policies import load_policy_file, minified
from vell_core.services.promotion_plan import (
    connector_tags,
    create_role_request,
    role_differences,
)


class ConnectorRoleIam:
    """Create, fill, tag and read back the connector role in the customer's account."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings

    @requires("promotion.create_role", "promotion.read_role")
    def create(self, iam: Any, name: str, trust_policy: str) -> dict[str, Any]:
        """CreateRole with the boundary; an existing role of *our recorded name* is ours."""
        with aws_errors("iam.CreateRole"):
            try:
                role: dict[str, Any] = iam.create_role(
                    **create_role_request(self._settings, name, trust_policy)
                )["Role"]
            except ClientError as exc:
                if error_code(exc) != "EntityAlreadyExists":
                    raise
                # Our recorded name: an earlier attempt created it before failing.
                role = iam.get_role(RoleName=name)["Role"]
                self.check_is_ours(role, trust_policy)
        return role

    @requires("promotion.put_connector_policy")
    def put_policy(self, iam: Any, role_name: str) -> None:
        """PutRolePolicy overwrites, so a repeat is harmless."""
        document = minified(load_policy_file("connector-policy.json"))
        with aws_errors("iam.PutRolePolicy"):
            iam.put_role_policy(
                RoleName=role_name, PolicyName=CONNECTOR_POLICY_NAME, PolicyDocument=document
            )

    @requires("promotion.tag_role")
    def tag(self, iam: Any, role_name: str, connection_id: int) -> list[dict[str, str]]:
        """Tags in their own call: iam:TagRole has its own statement in the template."""
        tags = connector_tags(connection_id)
        with aws_errors("iam.TagRole"):
            iam.tag_role(RoleName=role_name, Tags=tags)
        return tags

    @requires("promotion.read_role")
    def read_back(self, iam: Any, role_name: str, trust_policy: str) -> None:
        """The role as IAM stored it: our path, our boundary, our trust policy, our policy."""
        with aws_errors("iam.GetRole"):
            role = iam.get_role(RoleName=role_name)["Role"]
            iam.get_role_policy(RoleName=role_name, PolicyName=CONNECTOR_POLICY_NAME)
        self.check_is_ours(role, trust_policy)

    def check_is_ours(self, role: dict[str, Any], trust_policy: str) -> None:
        """Refuse to adopt a role that is not exactly the one we meant to create."""
        problems = role_differences(self._settings, role, trust_policy)
        if problems:
            raise ValidationFailed(
                f"Role {role.get('RoleName')} exists but its {', '.join(problems)} differ from "
                "what Vell creates; ask the customer to delete it, then resume."
            )
