"""Customer demo links: a rep signs a short-lived link for one company; the customer uses it once.

The guide's ``/demo/request?company=acme``, made safe to hand to someone outside Vell:

* the token is ``base64url(payload) "." base64url(HMAC-SHA256(key, payload))`` with payload
  ``{"v": 1, "lid": <link id>, "co": <company>, "rep": <rep id>, "exp": <unix seconds>}``, so
  the company, the rep and the expiry cannot be changed without the key;
* the link id must also have been issued (``demo_links``) and not revoked;
* the one use is a row in ``demo_link_uses`` whose ``link_id`` is unique, so two customers (or two
  tabs) racing on one link get one demo between them;
* the demo is the read-only path only, launched as the rep through ``DelegationService.launch``,
  so the rep's role is re-read and the rep's rate limit applies.

Signing and verifying are ``signed_links``' (the one signer for links sent outside Vell). The key
is ``VELL_LINK_SIGNING_KEY``; the sandbox falls back to a random per-process key (links then die
with the process), and ``aws`` mode refuses to issue or honour links without one.
"""

from __future__ import annotations

import logging
import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from vell_core.config.settings import Settings
from vell_core.domain import validation
from vell_core.domain.clock import Clock
from vell_core.domain.errors import (
    PermissionDenied,
    RateLimited,
    ValidationFailed,
    VellError,
)
from vell_core.domain.models import DelegationPath, DemoLink, DemoLinkUse
from vell_core.domain.roles import StaffMember
from vell_core.services import signed_links
from vell_core.services.action_limits import ActionLimiter
from vell_core.services.audit import AuditRecorder
from vell_core.services.delegation import DelegationService, DelegationView, LaunchRequest
from vell_core.services.staff import StaffDirectory
from vell_core.store.demo_links import Claim, DemoLinkStore

log = logging.getLogger(__name__)

QUERY_PARAM = "demo_link"
PAGE_PATH = "demo_request"
TOKEN_VERSION = 1
DEFAULT_TTL = timedelta(hours=72)
MAX_TTL = timedelta(days=14)
# Fixed namespace: the launch token is derived from the link id, so a retried redemption is the
# same launch (same RequestorWorkflowId) and can never create a second AWS request.
LAUNCH_NAMESPACE = uuid.UUID("0f5d3d8e-6a53-4c55-9a39-8a8b1f7f2c61")


class LinkRefused(VellError):
    """The demo link cannot be used (tampered, unknown, expired, revoked or already used)."""

    default_message = "This demo link is not valid. Ask your Vell contact for a new one."


@dataclass(frozen=True)
class LinkPayload:
    """What a verified token says."""

    link_id: str
    company: str
    rep_id: int
    expires_at: datetime


@dataclass(frozen=True)
class IssuedLink:
    """A link just created by a rep: the URL to send, and when it stops working."""

    link_id: str
    company: str
    url: str
    token: str
    expires_at: datetime


@dataclass(frozen=True)
class LinkSummary:
    """One of a rep's links, for the Demo links page (no token: it is never stored)."""

    link_id: str
    company: str
    created_at: datetime
    expires_at: datetime
    status: str
    used_account_id: str | None


@dataclass(frozen=True)
class LinkLanding:
    """What the customer sees before entering their account id."""

    company: str
    rep_name: str
    expires_at: datetime


@dataclass(frozen=True)
class LinkOutcome:
    """After redemption: the approve button, and nothing else."""

    company: str
    aws_account_id: str
    console_deep_link: str | None
    session_hours: float
    rep_name: str


# --- token codec (pure functions: no store, no clock; the signing is signed_links') ---------


def sign_token(payload: LinkPayload, key: bytes) -> str:
    """Encode and sign ``payload``."""
    return signed_links.sign(
        {
            "v": TOKEN_VERSION,
            "lid": payload.link_id,
            "co": payload.company,
            "rep": payload.rep_id,
            "exp": int(payload.expires_at.timestamp()),
        },
        key,
    )


def verify_token(token: str, key: bytes, now: datetime) -> LinkPayload:
    """Check the signature first, then the fields, then the expiry; raise LinkRefused."""
    try:
        claims = signed_links.verify(token, key, now)
    except signed_links.TokenTampered:
        raise LinkRefused("This demo link is not valid (it was changed or cut short).") from None
    except signed_links.TokenExpired:
        raise LinkRefused(
            "This demo link has expired. Ask your Vell contact to send you a new one."
        ) from None
    except signed_links.TokenInvalid:
        raise LinkRefused() from None
    return _parse_payload(claims)


def _parse_payload(raw: dict[str, Any]) -> LinkPayload:
    """The demo-link fields of verified claims (so only our own bugs land here)."""
    try:
        if raw.get("v") != TOKEN_VERSION:
            raise ValueError("version")
        return LinkPayload(
            link_id=str(raw["lid"]),
            company=str(raw["co"]),
            rep_id=int(raw["rep"]),
            expires_at=signed_links.expires_at(raw),
        )
    except (ValueError, KeyError, TypeError, signed_links.TokenInvalid):
        raise LinkRefused() from None


def launch_token_for(link_id: str) -> str:
    """The wizard-style launch token for a link: stable, so redemption is idempotent."""
    return str(uuid.uuid5(LAUNCH_NAMESPACE, link_id))


# Demo links sign with the master key itself (see signed_links: links already sent keep working).
signing_key = signed_links.master_key


# --- the service -----------------------------------------------------------------------------


class DemoLinkService:
    """Issues demo links to reps and redeems them for customers."""

    def __init__(
        self,
        *,
        settings: Settings,
        store: DemoLinkStore,
        clock: Clock,
        staff: StaffDirectory,
        delegations: DelegationService,
        rate_limiter: ActionLimiter,
        audit: AuditRecorder,
        key: bytes | None = None,
    ) -> None:
        self._settings = settings
        self._store = store
        self._clock = clock
        self._staff = staff
        self._delegations = delegations
        self._limiter = rate_limiter
        self._audit = audit
        self._key = key

    # --- rep side ---------------------------------------------------------------------------

    def create(self, member: StaffMember, company: str, ttl: timedelta = DEFAULT_TTL) -> IssuedLink:
        """Sign a link for ``company`` that launches one read-only demo attributed to ``member``."""
        member = self._staff.require(member, "delegation.create")
        company = validation.company(company)
        if not timedelta(minutes=5) <= ttl <= MAX_TTL:
            raise ValidationFailed(fields={"Valid for": "between 5 minutes and 14 days"})
        self._limiter.check(member.id, "demo_link.create")
        now = self._clock.now()
        payload = LinkPayload(
            link_id=secrets.token_hex(16),
            company=company,
            rep_id=member.id,
            expires_at=(now + ttl).replace(microsecond=0),
        )
        token = sign_token(payload, self._signing_key())
        link = DemoLink(
            id=payload.link_id,
            company=company,
            rep_user_id=member.id,
            created_at=now,
            expires_at=payload.expires_at,
        )
        audit = self._audit.entry(
            action="demo_link.create",
            outcome="ok",
            staff_user_id=member.id,
            detail=f"link {payload.link_id} for {company}",
        )
        self._store.add(link, audit)
        return IssuedLink(
            link_id=payload.link_id,
            company=company,
            url=self.url_for(token),
            token=token,
            expires_at=payload.expires_at,
        )

    def url_for(self, token: str) -> str:
        """The customer-facing URL of a token."""
        base = self._settings.links_base_url
        return f"{base}/{PAGE_PATH}?{urlencode({QUERY_PARAM: token})}"

    def list_mine(self, member: StaffMember, limit: int = 50) -> list[LinkSummary]:
        """The links ``member`` issued (admins: everyone's), newest first."""
        member = self._staff.require(member, "delegation.create")
        now = self._clock.now()
        rows = self._store.issued(None if member.is_admin else member.id, limit)
        return [_summary(link, use, now) for link, use in rows]

    def revoke(self, member: StaffMember, link_id: str) -> None:
        """Stop one of ``member``'s unused links from working."""
        member = self._staff.require(member, "delegation.create")
        audit = self._audit.entry(
            action="demo_link.revoke", outcome="ok", staff_user_id=member.id, detail=link_id
        )
        owner = None if member.is_admin else member.id
        if not self._store.revoke(link_id, self._clock.now(), owner_id=owner, audit=audit):
            raise PermissionDenied("That link is not yours.")

    # --- customer side (no staff sign-in) ----------------------------------------------------

    def inspect(self, token: str) -> LinkLanding:
        """What the landing page may show for ``token``; LinkRefused if it cannot be used."""
        payload, link, use = self._usable(token)
        rep = self._staff.by_id(payload.rep_id)
        if rep is None:
            raise LinkRefused()
        if use is not None and use.outcome != "failed":
            raise _used()
        return LinkLanding(company=link.company, rep_name=rep.name, expires_at=link.expires_at)

    def redeem(self, token: str, aws_account_id: str) -> LinkOutcome:
        """Launch the link's one read-only demo for ``aws_account_id``; LinkRefused on reuse.

        Three transactions, on purpose: the claim commits before the launch (it is what stops a
        second customer, and the launch calls AWS), and the outcome is written after it.
        """
        payload, link, _ = self._usable(token)
        account = validation.account_id(aws_account_id)
        with self._staff.one_read():  # the rep is read once for this redemption, not per check
            rep = self._staff.by_id(payload.rep_id)
            if rep is None:
                raise LinkRefused()
            self._claim(link.id, account)
            view = self._launch(link, account, rep)
        self._store.finish(
            link.id,
            view.id,
            "launched",
            self._audit.entry(
                action="demo_link.redeem",
                outcome="ok",
                staff_user_id=rep.id,
                customer_account_id=account,
                delegation_id=view.id,
                detail=f"link {link.id}",
            ),
        )
        return LinkOutcome(
            company=view.company,
            aws_account_id=view.aws_account_id,
            console_deep_link=view.console_deep_link,
            session_hours=view.session_duration / 3600,
            rep_name=rep.name,
        )

    def _launch(self, link: DemoLink, account: str, rep: StaffMember) -> DelegationView:
        """The demo, as the rep; a refusal releases the claim (recorded as failed or refused)."""
        try:
            return self._delegations.launch(
                rep,
                LaunchRequest(
                    company=link.company,
                    aws_account_id=account,
                    path=DelegationPath.DEMO,
                    launch_token=launch_token_for(link.id),
                ),
            )
        except PermissionDenied:
            # The rep lost the right to create demos after sending the link.
            self._store.finish(link.id, None, "refused")
            raise LinkRefused() from None
        except RateLimited:
            # The rep's limit, worded for the customer; the same account may retry later.
            self._store.finish(link.id, None, "failed")
            raise LinkRefused(
                "Too many demos were started just now. Please try again in a few minutes."
            ) from None
        except VellError:
            self._store.finish(link.id, None, "failed")
            raise

    # --- helpers -----------------------------------------------------------------------------

    def _signing_key(self) -> bytes:
        return self._key if self._key is not None else signing_key(self._settings)

    def _usable(self, token: str) -> tuple[LinkPayload, DemoLink, DemoLinkUse | None]:
        """Verify the token and match it to an issued, unrevoked link with the same fields."""
        payload = verify_token(token, self._signing_key(), self._clock.now())
        link, use = self._store.link_and_use(payload.link_id)
        if (
            link is None
            or link.revoked_at is not None
            or link.company != payload.company
            or link.rep_user_id != payload.rep_id
        ):
            raise LinkRefused()
        return payload, link, use

    def _claim(self, link_id: str, account: str) -> None:
        """Take the link's single use; a failed launch may be retried for the same account."""
        claim = self._store.claim(link_id, account, self._clock.now())
        if claim is Claim.REFUSED:
            # Not a second claim: the row broke another constraint. That is a bug in the
            # validation before it, never "already used", so it must not be reported as one.
            raise ValidationFailed(fields={"AWS account id": "was refused by the store"})
        if claim is Claim.USED:
            raise _used()


def _used() -> LinkRefused:
    return LinkRefused(
        "This demo link has already been used. Each link starts one demo; ask your Vell "
        "contact for a new one."
    )


def _summary(link: DemoLink, use: DemoLinkUse | None, now: datetime) -> LinkSummary:
    if link.revoked_at is not None:
        status = "revoked"
    elif use is not None and use.outcome != "failed":
        status = "used"
    elif link.expires_at <= now:
        status = "expired"
    else:
        status = "open"
    return LinkSummary(
        link_id=link.id,
        company=link.company,
        created_at=link.created_at,
        expires_at=link.expires_at,
        status=status,
        used_account_id=use.aws_account_id if use is not None else None,
    )
