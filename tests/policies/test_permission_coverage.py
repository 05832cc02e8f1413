"""Meta-test: each policy grants exactly what its path's operations need (iam_permissions)."""

from __future__ import annotations

import pytest

from tests.policies import policy_docs
from vell_core.domain import iam_actions as perms
from vell_core.domain.policies import load_policy_file

PATHS = sorted(perms.PATH_POLICY_FILES)


def granted(path: str) -> frozenset[str]:
    """Actions the path's policy file allows (all statements, @Enabled ones included)."""
    return policy_docs.allowed_actions(dict(load_policy_file(perms.PATH_POLICY_FILES[path])))


@pytest.mark.parametrize("path", PATHS)
def test_policy_grants_everything_its_operations_need(path: str) -> None:
    assert perms.path_actions(path) - granted(path) == set()


@pytest.mark.parametrize("path", PATHS)
def test_policy_grants_nothing_beyond_needs_and_justified_extras(path: str) -> None:
    extras = granted(path) - perms.path_actions(path)
    assert extras == set(perms.JUSTIFIED_EXTRAS[path])


@pytest.mark.parametrize("path", PATHS)
def test_justified_extras_are_really_extra_and_explained(path: str) -> None:
    for action, reason in perms.JUSTIFIED_EXTRAS[path].items():
        assert action not in perms.path_actions(path)
        assert len(reason) > 20


def test_boundary_allows_exactly_what_the_connector_needs() -> None:
    boundary = policy_docs.raw_file(perms.BOUNDARY_FILE)
    assert policy_docs.allowed_actions(boundary) == perms.path_actions(perms.BOUNDARY_CAPS_PATH)


def test_connector_policy_is_a_subset_of_the_boundary() -> None:
    boundary = policy_docs.allowed_actions(policy_docs.raw_file(perms.BOUNDARY_FILE))
    assert granted("connector") <= boundary


def test_every_operation_belongs_to_a_path() -> None:
    used = {op for ops in perms.PATH_OPERATIONS.values() for op in ops}
    assert used == set(perms.OPERATION_PERMISSIONS)


def test_every_declared_action_exists() -> None:
    for actions in perms.OPERATION_PERMISSIONS.values():
        for action in actions:
            assert policy_docs.expand(action) == {action}


# -- The action matcher and the declaration helpers -------------------------------------------


def test_matcher_expands_wildcards_case_insensitively() -> None:
    reads = policy_docs.expand("aws-marketplace:describe*")
    assert {"aws-marketplace:DescribeEntity", "aws-marketplace:DescribeChangeSet"} <= reads
    assert "aws-marketplace:StartChangeSet" not in reads
    assert "iam:CreateRole" in policy_docs.expand("iam:*")


def test_meta_check_can_fail_on_a_missing_or_extra_action() -> None:
    document = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": ["aws-marketplace:List*"], "Resource": "*"}],
    }
    allowed = policy_docs.allowed_actions(document)
    assert perms.path_actions("read-only") - allowed  # DescribeEntity etc. missing
    assert allowed - perms.path_actions("read-only")  # e.g. ListAgreementCharges extra


def test_requires_records_operations_and_rejects_unknown_names() -> None:
    @perms.requires("sync.list_listings", "sync.describe_entities")
    def sync_listings() -> None:
        """A stand-in service function."""

    assert perms.declared_operations(sync_listings) == (
        "sync.list_listings",
        "sync.describe_entities",
    )
    key = f"{sync_listings.__module__}.{sync_listings.__qualname__}"
    assert perms.DECLARED_OPERATIONS[key] == ("sync.list_listings", "sync.describe_entities")
    with pytest.raises(perms.UnknownOperationError):
        perms.requires("sync.delete_entity")
    with pytest.raises(ValueError):
        perms.requires()


def test_paths_allowing() -> None:
    assert perms.paths_allowing("listing.update") == ("full-access",)
    assert set(perms.paths_allowing("sync.list_listings")) == {
        "read-only",
        "full-access",
        "connector",
    }
