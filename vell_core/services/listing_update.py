"""Trial-only listing updates: a product's short description or highlights via StartChangeSet.

The rep confirms in a dialog; the page passes a ``ClientRequestToken`` created once per dialog,
so a double click or a rerun submits the change set once (AWS returns the same ChangeSetId).
Progress is read with DescribeChangeSet by the page's fragment on each tick; nothing here waits.

A read-only demo is refused before anything is sent, with the reason. Should a call still reach
AWS with read-only credentials, AWS answers ``AccessDeniedException``, which is reported in the
same friendly words (see :func:`start_update`).
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from vell_core.aws.clients import translate
from vell_core.domain.errors import (
    AwsAccessDenied,
    AwsConflict,
    AwsError,
    PermissionDenied,
    ValidationFailed,
)
from vell_core.domain.iam_actions import requires
from vell_core.domain.marketplace import catalog_time
from vell_core.domain.models import ScreenKind
from vell_core.domain.roles import StaffMember
from vell_core.services.audit import on_screen
from vell_core.services.customer_access import CustomerAccess, CustomerClients
from vell_core.services.sync.job import CATALOG
from vell_core.services.sync.progress import write_refusal
from vell_core.services.sync.service import SyncService

log = logging.getLogger(__name__)

MAX_SHORT_DESCRIPTION = 1000
MAX_HIGHLIGHTS = 3
MAX_HIGHLIGHT_CHARS = 500
CHANGE_SET_NAME = "Vell trial listing update"
TERMINAL = frozenset({"SUCCEEDED", "FAILED", "CANCELLED"})
READ_ONLY_DENIED = (
    "AWS refused the update: this customer approved read-only access (Quick Start Demo). "
    "Launch an Extended Trial to update listings."
)
LOCKED = (
    "This listing is locked by a change set still in progress; wait for it to finish "
    "(or cancel it while it is PREPARING) and try again."
)


@dataclass(frozen=True)
class ListingEdit:
    """What the rep wants to change (None leaves a field as it is)."""

    product_id: str
    entity_type: str  # versioned, e.g. "SaaSProduct@1.0"
    short_description: str | None = None
    highlights: tuple[str, ...] | None = None

    def details(self) -> dict[str, Any]:
        """The UpdateInformation DetailsDocument (only the changed fields)."""
        document: dict[str, Any] = {}
        if self.short_description is not None:
            document["ShortDescription"] = self.short_description
        if self.highlights is not None:
            document["Highlights"] = list(self.highlights)
        return document


@dataclass(frozen=True)
class ChangeProgress:
    """Where a change set is, for the live progress view."""

    change_set_id: str
    status: str
    started: datetime | None
    ended: datetime | None
    failure: str | None
    errors: tuple[str, ...]

    @property
    def finished(self) -> bool:
        """True once SUCCEEDED, FAILED or CANCELLED."""
        return self.status in TERMINAL


def new_request_token() -> str:
    """One idempotency token per confirmation dialog."""
    return str(uuid.uuid4())


def validate(edit: ListingEdit) -> ListingEdit:
    """Check the limits AWS applies to UpdateInformation before sending anything."""
    problems: dict[str, str] = {}
    if edit.short_description is not None:
        text = edit.short_description.strip()
        if not text:
            problems["Short description"] = "must not be empty"
        elif len(text) > MAX_SHORT_DESCRIPTION:
            problems["Short description"] = f"at most {MAX_SHORT_DESCRIPTION} characters"
    if edit.highlights is not None:
        items = tuple(h.strip() for h in edit.highlights if h.strip())
        if not 1 <= len(items) <= MAX_HIGHLIGHTS:
            problems["Highlights"] = f"between 1 and {MAX_HIGHLIGHTS} highlights"
        elif any(len(h) > MAX_HIGHLIGHT_CHARS for h in items):
            problems["Highlights"] = f"each at most {MAX_HIGHLIGHT_CHARS} characters"
        edit = ListingEdit(edit.product_id, edit.entity_type, edit.short_description, items)
    if edit.short_description is None and edit.highlights is None:
        problems["Update"] = "change the short description or the highlights"
    if problems:
        raise ValidationFailed(fields=problems)
    if edit.short_description is not None:
        edit = ListingEdit(
            edit.product_id, edit.entity_type, edit.short_description.strip(), edit.highlights
        )
    return edit


@requires("listing.update")
def start_update(clients: CustomerClients, edit: ListingEdit, request_token: str) -> str:
    """StartChangeSet(UpdateInformation) with the customer's credentials; the ChangeSetId.

    Friendly errors: read-only credentials → AwsAccessDenied; a locked entity → AwsConflict.
    """
    catalog = clients.client("marketplace-catalog")
    change = {
        "ChangeType": "UpdateInformation",
        "Entity": {"Type": edit.entity_type, "Identifier": edit.product_id},
        "DetailsDocument": edit.details(),
        "ChangeName": "UpdateListingText",
    }
    try:
        answer = catalog.start_change_set(
            Catalog=CATALOG,
            ChangeSet=[change],
            ChangeSetName=CHANGE_SET_NAME,
            ClientRequestToken=request_token,
        )
    except (ClientError, BotoCoreError) as error:
        raise _friendly(error) from None
    return str(answer["ChangeSetId"])


def _friendly(error: ClientError | BotoCoreError) -> AwsError:
    """The two refusals a rep can act on, in words; anything else as translated."""
    translated = translate(error, "marketplace-catalog.StartChangeSet")
    log.warning("StartChangeSet failed: %s", translated.code)
    if isinstance(translated, AwsAccessDenied):
        return AwsAccessDenied(
            READ_ONLY_DENIED, code=translated.code, operation=translated.operation
        )
    if isinstance(translated, AwsConflict) and translated.code == "ResourceInUseException":
        return AwsConflict(LOCKED, code=translated.code, operation=translated.operation)
    return translated


def progress_from(described: dict[str, Any]) -> ChangeProgress:
    """A DescribeChangeSet answer as progress."""
    errors = tuple(
        f"{e.get('ErrorCode')}: {e.get('ErrorMessage')}"
        for change in described.get("ChangeSet") or ()
        for e in change.get("ErrorDetailList") or ()
    )
    return ChangeProgress(
        change_set_id=str(described.get("ChangeSetId", "")),
        status=str(described.get("Status", "")),
        started=catalog_time(described.get("StartTime")),
        ended=catalog_time(described.get("EndTime")),
        failure=described.get("FailureDescription") or described.get("FailureCode"),
        errors=errors,
    )


class ListingUpdateService:
    """Listing updates for trials, with the read-only refusal and live progress."""

    def __init__(self, *, customer_access: CustomerAccess, sync: SyncService) -> None:
        self._access = customer_access
        self._sync = sync

    def submit(
        self, member: StaffMember, delegation_id: int, edit: ListingEdit, request_token: str
    ) -> ChangeProgress:
        """Validate, refuse read-only demos, start the change set; its first progress."""
        clients = self._access.for_delegation(member, delegation_id, action="listing.update")
        refusal = write_refusal(clients.delegation)
        if refusal is not None:
            raise PermissionDenied(refusal)
        edit = validate(edit)
        with on_screen(ScreenKind.LISTING_UPDATE, edit.product_id):
            change_set_id = start_update(clients, edit, request_token)
        log.info("listing update %s started for delegation %s", change_set_id, delegation_id)
        return self.progress(member, delegation_id, change_set_id, product_id=edit.product_id)

    def progress(
        self,
        member: StaffMember,
        delegation_id: int,
        change_set_id: str,
        *,
        product_id: str | None = None,
    ) -> ChangeProgress:
        """DescribeChangeSet once; on SUCCEEDED the cached product is refetched on next open."""
        job = self._sync.job_for(member, delegation_id)
        # The progress ticks belong to the update's screen (the product it changes).
        with on_screen(ScreenKind.LISTING_UPDATE, product_id or change_set_id):
            described = job.describe_change_set(change_set_id)
        progress = progress_from(described)
        summary: dict[str, Any] = {
            key: described[key]
            for key in ("ChangeSetId", "ChangeSetArn", "ChangeSetName", "StartTime", "Status")
            if key in described
        }
        if "EndTime" in described:
            summary["EndTime"] = described["EndTime"]
        if product_id:
            summary["EntityIdList"] = [product_id]
        job.record_change_set(summary)
        if progress.status == "SUCCEEDED" and product_id:
            job.forget_entity(product_id)
        return progress
