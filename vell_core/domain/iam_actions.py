"""Which IAM actions each vell_core operation needs with customer credentials, per onboarding path.

This is the single declaration the policy files in ``policies/`` are checked against
(``tests/policies/test_permission_coverage.py``): for every template, the actions it grants must
equal the union of the actions of its path's operations, plus only what ``JUSTIFIED_EXTRAS``
explains. Services declare what they call with :func:`requires`, so a new AWS call without a
matching permission fails in tests instead of as ``AccessDenied`` in a customer's demo.

The constants below (role path, name prefix, policy name, tag keys, change types) are the values
the policy files are written for; the promotion and listing code must use the same ones.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

F = TypeVar("F", bound=Callable[..., object])

# -- Values the policy files are written for ------------------------------------------------------

CONNECTOR_ROLE_PATH = "/vell.ai/"
CONNECTOR_ROLE_NAME_PREFIX = "VellMarketplaceConnector-"
CONNECTOR_POLICY_NAME = "VellMarketplaceConnectorPolicy"
TAG_MANAGED_BY = "VellManagedBy"
TAG_MANAGED_BY_VALUE = "vell.ai"
TAG_CONNECTION_ID = "VellConnectionId"
CONNECTOR_ROLE_TAG_KEYS: tuple[str, ...] = (TAG_CONNECTION_ID, TAG_MANAGED_BY)

# StartChangeSet change types a trial may use (``catalog:ChangeType``), and those always denied.
LISTING_UPDATE_CHANGE_TYPES: tuple[str, ...] = ("UpdateAvailability", "UpdateInformation")
DESTRUCTIVE_CHANGE_TYPES: tuple[str, ...] = (
    "ReleaseOffer",
    "ReleaseProduct",
    "ReleaseResaleAuthorization",
    "RestrictDeliveryOptions",
    "RestrictDimensions",
    "RestrictResaleAuthorization",
    "UpdatePricingTerms",
    "UpdateVisibility",
)

# -- Operations -> actions ------------------------------------------------------------------------

OPERATION_PERMISSIONS: dict[str, tuple[str, ...]] = {
    # Listing and agreement sync (every path that reads Marketplace data).
    "sync.list_listings": ("aws-marketplace:ListEntities",),
    "sync.describe_entities": ("aws-marketplace:DescribeEntity",),
    "sync.list_change_sets": ("aws-marketplace:ListChangeSets",),
    "sync.describe_change_set": ("aws-marketplace:DescribeChangeSet",),
    "sync.search_agreements": ("aws-marketplace:SearchAgreements",),
    "sync.describe_agreement": ("aws-marketplace:DescribeAgreement",),
    "sync.get_agreement_terms": ("aws-marketplace:GetAgreementTerms",),
    # Listing updates (trial only); StartChangeSet is limited to LISTING_UPDATE_CHANGE_TYPES.
    "listing.update": ("aws-marketplace:StartChangeSet",),
    "listing.cancel_change": ("aws-marketplace:CancelChangeSet",),
    # Promotion to a persistent, boundary-capped role (onboarding only).
    "promotion.create_role": ("iam:CreateRole",),
    "promotion.put_connector_policy": ("iam:PutRolePolicy",),
    "promotion.tag_role": ("iam:TagRole",),
    "promotion.read_role": ("iam:GetRole", "iam:GetRolePolicy"),
    # Permission probe during onboarding: the reads the connector will need, one call each.
    "probe.list_listings": ("aws-marketplace:ListEntities",),
    "probe.describe_entities": ("aws-marketplace:DescribeEntity",),
    "probe.list_change_sets": ("aws-marketplace:ListChangeSets",),
    "probe.describe_change_set": ("aws-marketplace:DescribeChangeSet",),
    "probe.search_agreements": ("aws-marketplace:SearchAgreements",),
    "probe.describe_agreement": ("aws-marketplace:DescribeAgreement",),
    "probe.get_agreement_terms": ("aws-marketplace:GetAgreementTerms",),
}


def _with_prefix(prefix: str) -> tuple[str, ...]:
    return tuple(name for name in OPERATION_PERMISSIONS if name.startswith(prefix))


SYNC_OPERATIONS = _with_prefix("sync.")
LISTING_OPERATIONS = _with_prefix("listing.")
PROMOTION_OPERATIONS = _with_prefix("promotion.")
PROBE_OPERATIONS = _with_prefix("probe.")

# Onboarding path (delegation template name, or "connector" for the persistent role) -> operations.
PATH_OPERATIONS: dict[str, tuple[str, ...]] = {
    "read-only": SYNC_OPERATIONS,
    "full-access": SYNC_OPERATIONS + LISTING_OPERATIONS,
    "onboarding": PROMOTION_OPERATIONS + PROBE_OPERATIONS,
    "connector": SYNC_OPERATIONS,
}

# The policy file that grants each path's permissions (relative to ``policies/``).
PATH_POLICY_FILES: dict[str, str] = {
    "read-only": "templates/read-only.json",
    "full-access": "templates/full-access.json",
    "onboarding": "templates/onboarding.json",
    "connector": "connector-policy.json",
}

# The boundary caps the connector role, so it may allow exactly what the connector path needs.
BOUNDARY_FILE = "boundary.json"
BOUNDARY_CAPS_PATH = "connector"

# Actions a policy file grants beyond its path's operations, each with the reason (none today).
JUSTIFIED_EXTRAS: dict[str, dict[str, str]] = {path: {} for path in PATH_POLICY_FILES}

# -- Declaring and querying -----------------------------------------------------------------------

DECLARED_OPERATIONS: dict[str, tuple[str, ...]] = {}


class UnknownOperationError(KeyError):
    """An operation name that ``OPERATION_PERMISSIONS`` does not declare."""


def _check_known(operation_names: tuple[str, ...]) -> None:
    unknown = [name for name in operation_names if name not in OPERATION_PERMISSIONS]
    if unknown:
        raise UnknownOperationError(", ".join(unknown))


def actions_for(*operation_names: str) -> frozenset[str]:
    """Every IAM action the named operations need."""
    _check_known(operation_names)
    return frozenset(action for name in operation_names for action in OPERATION_PERMISSIONS[name])


def path_actions(path: str) -> frozenset[str]:
    """Every IAM action the operations of an onboarding path need."""
    return actions_for(*PATH_OPERATIONS[path])


def paths_allowing(operation_name: str) -> tuple[str, ...]:
    """The onboarding paths whose policies cover ``operation_name``."""
    _check_known((operation_name,))
    return tuple(path for path, ops in PATH_OPERATIONS.items() if operation_name in ops)


def requires(*operation_names: str) -> Callable[[F], F]:
    """Declare the AWS operations a service function performs with customer credentials.

    The names are checked when the module is imported; the function gets a
    ``__vell_operations__`` attribute and is recorded in ``DECLARED_OPERATIONS``.
    """
    if not operation_names:
        raise ValueError("requires() needs at least one operation name")
    _check_known(operation_names)

    def mark(func: F) -> F:
        func.__vell_operations__ = operation_names  # type: ignore[attr-defined]  # a marker attribute on the decorated function
        DECLARED_OPERATIONS[f"{func.__module__}.{func.__qualname__}"] = operation_names
        return func

    return mark


def declared_operations(func: Callable[..., object]) -> tuple[str, ...]:
    """The operations ``func`` declared with :func:`requires` (empty when none)."""
    return tuple(getattr(func, "__vell_operations__", ()))
