"""Admin → AWS setup, partner onboarding: the prerequisites and the questionnaire to AWS.

Keeps the guide's prerequisites checklist and the questionnaire answers that only AWS Partner
Central knows in the store, and renders the questionnaire email with the policy files from
``policies/`` attached for download.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from vell_core.config.settings import Settings
from vell_core.domain import validation
from vell_core.domain.clock import Clock
from vell_core.domain.errors import ValidationFailed
from vell_core.domain.policies import POLICIES_DIR
from vell_core.domain.roles import StaffMember
from vell_core.services.staff import StaffDirectory
from vell_core.store.onboarding import OnboardingStore

log = logging.getLogger(__name__)

PARTNER_NAME = "Vell"


REQUESTOR_DOMAIN = "vell.ai"


ONBOARDING_EMAIL = "aws-iam-partner-onboarding@amazon.com"


# The guide's "AWS Partner Requirements" table, as shipped (its Status and Notes columns).
PREREQUISITES: tuple[tuple[str, str, bool, str], ...] = (
    ("isva", "ISV Accelerate (ISVA) enrollment", False, "Contact AWS Partner team"),
    ("marketplace_listing", "AWS Marketplace listing", True, "Vell is listed on AWS Marketplace"),
    ("deployed_on_aws", '"Deployed on AWS" badge', False, "Required for qualification"),
    ("partner_central", "AWS Partner Central account", False, "Needed for Partner ID"),
)


# Questionnaire answers only AWS Partner Central (or Vell's other accounts) can supply:
# label, the placeholder the email shows until it is filled in, the check (one validator per kind
# of value, in ``validation``) and what the error says is expected (never the placeholder).
PROFILE_FIELDS: dict[str, tuple[str, str, Callable[[str], bool], str]] = {
    "partner_central_account_id": (
        "Partner Central Account ID",
        "[Your Partner Central AWS Account ID]",
        validation.is_account_id,
        validation.ACCOUNT_ID_EXPECTED,
    ),
    "partner_id": (
        "Partner ID",
        "[From AWS Partner Central - format: P-XXXXXXXX]",
        validation.is_partner_id,
        "P- followed by 4-20 letters or digits, e.g. P-1A2B3C4D",
    ),
    "marketplace_product_id": (
        "AWS Marketplace Product ID",
        "[From AWS Marketplace - format: prod-XXXXXXXX]",
        validation.is_marketplace_product_id,
        "prod- followed by 4-40 letters or digits, e.g. prod-abcd1234",
    ),
    "staging_account_id": (
        "Staging account ID",
        "[Your staging account ID]",
        validation.is_account_id,
        validation.ACCOUNT_ID_EXPECTED,
    ),
    "dev_account_id": (
        "Development account ID",
        "[Your dev account ID]",
        validation.is_account_id,
        validation.ACCOUNT_ID_EXPECTED,
    ),
    "contact_emails": (
        "Contact emails",
        "[your-email@vell.ai], [team-email@vell.ai]",
        validation.is_email_list,
        "email addresses separated by commas, e.g. alex@vell.ai, team@vell.ai",
    ),
}


# The files AWS reviews; anything else under policies/ is offered too.
EXPECTED_POLICY_FILES: tuple[tuple[str, str], ...] = (
    ("templates/read-only.json", "Read-only demo template"),
    ("templates/full-access.json", "Full-access trial template"),
    ("templates/onboarding.json", "Onboarding (role creation) template"),
    ("boundary.json", "Permission boundary"),
)


@dataclass(frozen=True)
class ChecklistEntry:
    """One partner prerequisite."""

    key: str
    label: str
    done: bool
    note: str
    updated_at: datetime | None
    updated_by: str | None


@dataclass(frozen=True)
class ProfileEntry:
    """One questionnaire answer (``value`` empty until an admin fills it in)."""

    key: str
    label: str
    value: str
    placeholder: str


@dataclass(frozen=True)
class Questionnaire:
    """The partner questionnaire email, ready to copy."""

    to: str
    subject: str
    body: str
    missing: tuple[str, ...]


@dataclass(frozen=True)
class PolicyFile:
    """A file from ``policies/`` to attach; ``data`` is None when it is not there yet."""

    relative_path: str
    label: str
    data: bytes | None

    @property
    def missing(self) -> bool:
        """True when the file does not exist (yet)."""
        return self.data is None

    @property
    def mime(self) -> str:
        """Download MIME type by extension."""
        return "application/json" if self.relative_path.endswith(".json") else "text/plain"


class PartnerOnboardingService:
    """The partner-onboarding prerequisites and questionnaire, for admins."""

    def __init__(
        self,
        *,
        settings: Settings,
        store: OnboardingStore,
        clock: Clock,
        staff: StaffDirectory,
        policies_dir: Path = POLICIES_DIR,
    ) -> None:
        self._settings = settings
        self._store = store
        self._clock = clock
        self._staff = staff
        self._policies_dir = policies_dir

    def checklist(self, member: StaffMember) -> list[ChecklistEntry]:
        """The guide's prerequisites with their stored status (the guide's defaults until set)."""
        self._staff.require(member, "settings.read")
        stored = self._store.checklist()
        entries = []
        for key, label, default_done, default_note in PREREQUISITES:
            row = stored.items.get(key)
            entries.append(
                ChecklistEntry(
                    key=key,
                    label=label,
                    done=row.done if row else default_done,
                    note=(row.note or "") if row else default_note,
                    updated_at=row.updated_at if row else None,
                    updated_by=stored.staff_names.get(row.updated_by_user_id) if row else None,
                )
            )
        return entries

    def set_checklist_item(self, member: StaffMember, key: str, *, done: bool, note: str) -> None:
        """Record one prerequisite's status (admins only)."""
        member = self._staff.require(member, "settings.write")
        if key not in {entry[0] for entry in PREREQUISITES}:
            raise ValidationFailed(fields={"Item": "unknown prerequisite"})
        note = note.strip()[:500]
        self._store.set_checklist_item(
            key, done=done, note=note or None, at=self._clock.now(), by_user_id=member.id
        )

    def profile(self, member: StaffMember) -> list[ProfileEntry]:
        """The questionnaire answers that only Partner Central knows."""
        self._staff.require(member, "settings.read")
        stored = self._store.profile().values
        return [
            ProfileEntry(key=key, label=label, value=stored.get(key, ""), placeholder=placeholder)
            for key, (label, placeholder, _check, _expected) in PROFILE_FIELDS.items()
        ]

    def set_profile(self, member: StaffMember, values: dict[str, str]) -> None:
        """Save questionnaire answers; an empty value clears one; all are validated first."""
        member = self._staff.require(member, "settings.write")
        cleaned, errors = _validate_profile(values)
        if errors:
            raise ValidationFailed(fields=errors)
        self._store.set_profile(cleaned, at=self._clock.now(), by_user_id=member.id)

    def questionnaire(self, member: StaffMember) -> Questionnaire:
        """The guide's questionnaire email, filled from settings and the stored answers."""
        self._staff.require(member, "settings.read")
        rows = self._store.profile()  # the answers and the admins, on one snapshot
        stored = dict(rows.values)
        if "contact_emails" not in stored and rows.admin_emails:
            stored["contact_emails"] = ", ".join(rows.admin_emails)
        return render_questionnaire(self._settings, stored)

    def policy_files(self, member: StaffMember) -> list[PolicyFile]:
        """The policy templates and boundary (and any other file under ``policies/``)."""
        self._staff.require(member, "settings.read")
        files = [PolicyFile(path, label, self._read(path)) for path, label in EXPECTED_POLICY_FILES]
        known = {path for path, _ in EXPECTED_POLICY_FILES}
        if self._policies_dir.is_dir():
            for path in sorted(self._policies_dir.rglob("*")):
                relative = path.relative_to(self._policies_dir).as_posix()
                if path.is_file() and relative not in known and not relative.startswith("."):
                    files.append(PolicyFile(relative, relative, self._read(relative)))
        return files

    def _read(self, relative: str) -> bytes | None:
        """Read lazily: the files are written by another part of the project and may be absent."""
        path = (self._policies_dir / relative).resolve()
        if not path.is_relative_to(self._policies_dir.resolve()) or not path.is_file():
            return None
        try:
            return path.read_bytes()
        except OSError:
            log.warning("could not read policy file %s", relative)
            return None


def _validate_profile(values: dict[str, str]) -> tuple[dict[str, str], dict[str, str]]:
    cleaned: dict[str, str] = {}
    errors: dict[str, str] = {}
    for key, raw in values.items():
        if key not in PROFILE_FIELDS:
            errors[key] = "unknown field"
            continue
        label, _placeholder, check, expected = PROFILE_FIELDS[key]
        value = (raw or "").strip()
        if value and not check(value):
            errors[label] = f"expected {expected}"
        cleaned[key] = value
    return cleaned, errors


def render_questionnaire(settings: Settings, answers: dict[str, str]) -> Questionnaire:
    """The guide's "Partner Questionnaire (Ready to Submit)" with our values filled in."""
    missing = []

    def answer(key: str) -> str:
        value = answers.get(key, "").strip()
        if value:
            return value
        missing.append(PROFILE_FIELDS[key][0])
        return PROFILE_FIELDS[key][1]

    subject = f"IAM Temporary Delegation Onboarding Request - {PARTNER_NAME}"
    body = f"""Partner Central Account ID: {answer("partner_central_account_id")}
Partner ID: {answer("partner_id")}
AWS Marketplace Product ID: {answer("marketplace_product_id")}
AWS Account IDs for API Access:
- Production: {settings.vell_partner_account_id}
- Staging: {answer("staging_account_id")}
- Development: {answer("dev_account_id")}
Partner Name: {PARTNER_NAME}
Contact Emails: {answer("contact_emails")}
Requestor Domain: {REQUESTOR_DOMAIN}
Integration Description:
Vell is an AI-powered GTM automation platform for AWS Marketplace partners.
We help ISVs manage their marketplace listings, sync agreements, and
accelerate go-to-market through 22 AI capabilities.
We want to use IAM Temporary Delegation to:
1. Enable instant demo experiences with real customer AWS Marketplace data
2. Provide friction-free trial onboarding (4-12 hour access)
3. Automate permanent IAM role creation with permission boundaries
Our integration will request read-only AWS Marketplace API access
(DescribeEntity, ListEntities, etc.) with optional write access for
listing updates. See attached policy template.
Architecture Diagram: [Attach architecture diagram]
Policy Templates: attached (templates/read-only.json, templates/full-access.json,
templates/onboarding.json)
Permission Boundary: attached (boundary.json)
"""
    return Questionnaire(to=ONBOARDING_EMAIL, subject=subject, body=body, missing=tuple(missing))
