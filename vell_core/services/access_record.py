"""The access record: what Vell did with one customer's delegated access, screen by screen.

Every call made with a customer's credentials is already in the audit log, with the desk screen
it served (``audit.on_screen``). This module turns one delegation's calls into a timeline of the
screens the rep opened, for staff on the delegation and, after the access has ended, for the
customer through a signed, expiring, read-only link ("what Vell saw and changed in your
account").

Grouping rules (:func:`group_screens`; each has a unit test that fails when it breaks):

1. A call belongs to the screen recorded with it. A call recorded before screens were
   recorded is placed by its operation (:func:`operation_screen`): a change-set start or cancel
   is a listing update, a change-set read is a change set, any other Marketplace read is the
   listings, IAM is the production setup.
2. Calls of one staff member on the same screen and subject (the same offer, the same product
   being updated) form one visit until that screen has been idle for more than
   :data:`SCREEN_IDLE`; the next call opens a new visit.
3. Different staff members never share a visit, even on the same screen at the same time.
4. Visits are ordered by their first call, calls within a visit by time (then by row).
5. A call changed the account when its operation writes (:func:`is_change`) and AWS accepted
   it; a write AWS refused is shown as refused, not as a change.
6. On the customer's page the rep is named, everyone else at Vell is "Vell staff" and calls
   made by no one in particular are "Vell (automatic)"; staff ids never leave this module.

Links: the token is ``signed_links``' format (the one signer), signed with this purpose's own
key, with claims ``{"v", "lid", "d": delegation id, "acct": account, "rep": rep id, "exp"}``.
A link opens only the record of the delegation it names, and only while that delegation still
has the account and the rep the link was issued for.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import TYPE_CHECKING
from urllib.parse import urlencode

from vell_core.config.settings import Settings
from vell_core.domain.clock import Clock
from vell_core.domain.errors import InvalidTransition, NotFound, RecordLinkRefused, ValidationFailed
from vell_core.domain.models import ScreenKind
from vell_core.domain.roles import StaffMember
from vell_core.services import signed_links
from vell_core.services.action_limits import ActionLimiter
from vell_core.services.audit import AuditRecorder
from vell_core.services.delegation import PATH_LABELS, DelegationService, DelegationView
from vell_core.store.audit_log import MAX_RECORD_CALLS, AuditLogStore, CallRow
from vell_core.views.formatting import duration_text, when

if TYPE_CHECKING:
    import altair as alt
    import pandas as pd  # loaded where a frame is built: `vell run` starts without it

SCREEN_IDLE = timedelta(minutes=10)
OTHER_STAFF = "Vell staff"
AUTOMATIC = "Vell (automatic)"
QUERY_PARAM = "record"
PAGE_PATH = "access_record"
PURPOSE = "access-record"
TOKEN_VERSION = 1
DEFAULT_LINK_TTL = timedelta(days=14)
MIN_LINK_TTL = timedelta(hours=1)
MAX_LINK_TTL = timedelta(days=30)
RATE_ACTION = "access_record.link"
MAX_BARS = 60
BAR_STEPS = tuple(
    timedelta(seconds=seconds) for seconds in (10, 30, 60, 300, 900, 1800, 3600, 4 * 3600)
)

SCREEN_LABELS: dict[ScreenKind, str] = {
    ScreenKind.LISTINGS: "Listings, offers and agreements",
    ScreenKind.PRODUCT: "A listing",
    ScreenKind.OFFER: "An offer",
    ScreenKind.AGREEMENT: "An agreement",
    ScreenKind.CHANGE_SET: "A change set",
    ScreenKind.LISTING_UPDATE: "A listing update",
    ScreenKind.PRODUCTION_SETUP: "Production setup",
    ScreenKind.OTHER: "Other",
}
_WRITE = re.compile(r"^(Start|Cancel|Create|Put|Update|Delete|Attach|Detach|Tag|Untag|Set)[A-Z]")
_UNTAGGED: dict[str, ScreenKind] = {
    "marketplace-catalog.StartChangeSet": ScreenKind.LISTING_UPDATE,
    "marketplace-catalog.CancelChangeSet": ScreenKind.LISTING_UPDATE,
    "marketplace-catalog.DescribeChangeSet": ScreenKind.CHANGE_SET,
}
_SERVICE_SCREEN: dict[str, ScreenKind] = {
    "marketplace-catalog": ScreenKind.LISTINGS,
    "marketplace-agreement": ScreenKind.LISTINGS,
    "iam": ScreenKind.PRODUCTION_SETUP,
}


@dataclass(frozen=True)
class RecordedCall:
    """One call with the customer's credentials."""

    at: datetime
    operation: str  # "<service>.<Operation>", as CloudTrail names it
    outcome: str
    aws_request_id: str | None
    change: bool  # the operation writes (rule 5)

    @property
    def ok(self) -> bool:
        """AWS accepted the call."""
        return self.outcome == "ok"


@dataclass(frozen=True)
class ScreenVisit:
    """One screen a staff member had open, and the calls it made."""

    kind: ScreenKind
    subject: str | None
    staff: str
    calls: tuple[RecordedCall, ...]

    @property
    def started_at(self) -> datetime:
        """The visit's first call."""
        return self.calls[0].at

    @property
    def ended_at(self) -> datetime:
        """The visit's last call."""
        return self.calls[-1].at

    @property
    def label(self) -> str:
        """What the screen was, in words."""
        return SCREEN_LABELS[self.kind]

    @property
    def operations(self) -> tuple[str, ...]:
        """The operations called, first use first, as CloudTrail's ``eventName`` has them."""
        names = (call.operation.rsplit(".", 1)[-1] for call in self.calls)
        return tuple(dict.fromkeys(names))

    @property
    def changes(self) -> int:
        """Writes AWS accepted."""
        return sum(1 for call in self.calls if call.change and call.ok)

    @property
    def refused(self) -> int:
        """Calls AWS refused."""
        return sum(1 for call in self.calls if not call.ok)


@dataclass(frozen=True)
class AccessRecord:
    """The record of one delegation, for staff or (``public``) for the customer."""

    delegation_id: int
    company: str
    aws_account_id: str
    path: str
    rep_name: str
    granted_at: datetime | None
    access_ends_at: datetime | None
    access_ended: bool
    public: bool
    screens: tuple[ScreenVisit, ...] = field(default=())
    link_expires_at: datetime | None = None
    truncated: bool = False  # more calls than the service reads: only the oldest are shown

    @property
    def calls(self) -> int:
        """How many calls were made with the customer's credentials."""
        return sum(len(visit.calls) for visit in self.screens)

    @property
    def changes(self) -> int:
        """How many of them changed something in the account."""
        return sum(visit.changes for visit in self.screens)

    @property
    def changed_screens(self) -> tuple[ScreenVisit, ...]:
        """The visits that changed the account."""
        return tuple(visit for visit in self.screens if visit.changes)


@dataclass(frozen=True)
class RecordLink:
    """A customer link just issued."""

    link_id: str
    url: str
    token: str
    expires_at: datetime


# --- the rules (pure) -------------------------------------------------------------------------


def operation_screen(action: str) -> ScreenKind:
    """Rule 1's fallback: the screen of a call recorded without one, from its operation."""
    if action in _UNTAGGED:
        return _UNTAGGED[action]
    return _SERVICE_SCREEN.get(action.split(".", 1)[0], ScreenKind.OTHER)


def is_change(action: str) -> bool:
    """Rule 5: whether the operation writes (``StartChangeSet``, ``CreateRole``…)."""
    return bool(_WRITE.match(action.rsplit(".", 1)[-1]))


def staff_namer(rep_id: int, *, public: bool) -> Callable[[CallRow], str]:
    """Rule 6: how a call's staff member is named (staff see everyone's name)."""

    def name(row: CallRow) -> str:
        if row.staff_user_id is None:
            return AUTOMATIC
        if public and row.staff_user_id != rep_id:
            return OTHER_STAFF
        return row.staff_name or OTHER_STAFF

    return name


def group_screens(
    rows: Sequence[CallRow],
    *,
    name_of: Callable[[CallRow], str],
    idle: timedelta = SCREEN_IDLE,
) -> tuple[ScreenVisit, ...]:
    """Rules 1-5: the calls as the visits of the screens that made them, in order."""
    visits: list[tuple[tuple[int | None, ScreenKind, str | None], list[CallRow]]] = []
    open_visits: dict[tuple[int | None, ScreenKind, str | None], list[CallRow]] = {}
    for row in sorted(rows, key=lambda r: (r.at, r.id)):
        kind = row.screen or operation_screen(row.action)
        key = (row.staff_user_id, kind, row.screen_subject if row.screen else None)
        current = open_visits.get(key)
        if current is None or row.at - current[-1].at > idle:
            current = []
            open_visits[key] = current
            visits.append((key, current))
        current.append(row)
    return tuple(
        ScreenVisit(
            kind=kind,
            subject=subject,
            staff=name_of(calls[0]),
            calls=tuple(_call(row) for row in calls),
        )
        for (_, kind, subject), calls in visits
    )


def _call(row: CallRow) -> RecordedCall:
    return RecordedCall(
        at=row.at,
        operation=row.action,
        outcome=row.outcome,
        aws_request_id=row.aws_request_id,
        change=is_change(row.action),
    )


# --- what pages show (pure: record in, frames and charts out) ---------------------------------


def screens_frame(visits: Sequence[ScreenVisit]) -> pd.DataFrame:
    """One row per visit, in order."""
    import pandas as pd

    columns = [
        "Started",
        "Screen",
        "Opened",
        "By",
        "Calls",
        "Operations",
        "Changes",
        "Refused by AWS",
        "Until",
    ]
    return pd.DataFrame(
        [
            {
                "Started": when(visit.started_at),
                "Screen": visit.label,
                "Opened": visit.subject or "—",
                "By": visit.staff,
                "Calls": len(visit.calls),
                "Operations": ", ".join(visit.operations),
                "Changes": visit.changes,
                "Refused by AWS": visit.refused,
                "Until": when(visit.ended_at),
            }
            for visit in visits
        ],
        columns=columns,
    )


def calls_frame(record: AccessRecord) -> pd.DataFrame:
    """Every call, oldest first, with its screen: the table and (through csv_export) the CSV."""
    import pandas as pd

    columns = [
        "When",
        "Screen",
        "Opened",
        "By",
        "Operation",
        "Changes",
        "Outcome",
        "AWS request id",
    ]
    return pd.DataFrame(
        [
            {
                "When": when(call.at),
                "Screen": visit.label,
                "Opened": visit.subject or "—",
                "By": visit.staff,
                "Operation": call.operation,
                "Changes": "yes" if call.change and call.ok else "no",
                "Outcome": call.outcome,
                "AWS request id": call.aws_request_id or "—",
            }
            for visit in record.screens
            for call in visit.calls
        ],
        columns=columns,
    )


def bin_width(span: timedelta) -> timedelta:
    """The chart's bar width: the finest step that draws ``span`` in at most ``MAX_BARS`` bars."""
    for step in BAR_STEPS:
        if span <= step * MAX_BARS:
            return step
    return BAR_STEPS[-1]


def calls_over_time(record: AccessRecord) -> pd.DataFrame:
    """Calls per time bin per screen (what the chart draws): ``From``, ``To``, ``Screen``,
    ``Calls``. Bins are a few seconds for a short visit, up to an hour for a long trial."""
    import pandas as pd

    calls = [(call.at, visit.label) for visit in record.screens for call in visit.calls]
    if not calls:
        return pd.DataFrame(columns=["From", "To", "Screen", "Calls"])
    first = min(at for at, _ in calls)
    width = bin_width(max(at for at, _ in calls) - first)
    origin = first.replace(minute=0, second=0, microsecond=0)
    starts = [origin + width * ((at - origin) // width) for at, _ in calls]
    frame = pd.DataFrame({"From": starts, "Screen": [label for _, label in calls]})
    counted = frame.groupby(["From", "Screen"], as_index=False).size()
    counted = counted.rename(columns={"size": "Calls"})
    counted.insert(1, "To", counted["From"] + width)
    return counted


def calls_chart(record: AccessRecord) -> alt.Chart | None:
    """Stacked bars of calls over time, coloured by screen (None when there were no calls)."""
    import altair as alt  # on first use: Altair is about a tenth of the app's start-up

    frame = calls_over_time(record)
    if frame.empty:
        return None
    width = frame["To"].iloc[0] - frame["From"].iloc[0]
    whose = "your" if record.public else "the customer's"
    utc = alt.Scale(type="utc")
    return (
        alt.Chart(frame, title=f"Calls with {whose} credentials over time, by screen")
        .mark_bar()
        .encode(
            x=alt.X(
                "From:T",
                title="Time (UTC)",
                scale=utc,
                axis=alt.Axis(format="%H:%M:%S" if width < timedelta(hours=1) else "%d %b %H:%M"),
            ),
            x2="To:T",
            y=alt.Y("sum(Calls):Q", title=f"Calls per {duration_text(width.total_seconds())}"),
            color=alt.Color(
                "Screen:N",
                sort=list(SCREEN_LABELS.values()),
                legend=alt.Legend(orient="bottom", title=None, labelLimit=0),
            ),
            tooltip=[
                alt.Tooltip("utcyearmonthdatehoursminutesseconds(From):T", title="From (UTC)"),
                "Screen:N",
                alt.Tooltip("sum(Calls):Q", title="Calls"),
            ],
        )
    )


# --- the service ------------------------------------------------------------------------------


class AccessRecordService:
    """Builds access records for staff and issues and opens the customer's links."""

    def __init__(
        self,
        *,
        settings: Settings,
        audit_log: AuditLogStore,
        clock: Clock,
        delegations: DelegationService,
        audit: AuditRecorder,
        rate_limiter: ActionLimiter,
        key: bytes | None = None,
        max_calls: int = MAX_RECORD_CALLS,
    ) -> None:
        self._settings = settings
        self._audit_log = audit_log  # reads the calls; ``audit`` writes them
        self._clock = clock
        self._delegations = delegations
        self._audit = audit
        self._limiter = rate_limiter
        self._key = key
        self._max_calls = max_calls

    # --- staff side -------------------------------------------------------------------------

    def for_staff(self, member: StaffMember, delegation_id: int) -> AccessRecord:
        """The record of a delegation ``member`` may see, with every staff member named."""
        view = self._delegations.get(member, delegation_id)
        return self._record(view, public=False)

    def issue_link(
        self, member: StaffMember, delegation_id: int, ttl: timedelta = DEFAULT_LINK_TTL
    ) -> RecordLink:
        """Sign a read-only link to the record for the customer, once their access has ended."""
        view = self._delegations.get(member, delegation_id)  # re-reads the role, checks the owner
        if not MIN_LINK_TTL <= ttl <= MAX_LINK_TTL:
            raise ValidationFailed(fields={"Valid for": "between 1 hour and 30 days"})
        if not _access_ended(view, self._clock.now()):
            raise InvalidTransition(
                "The customer's record can be sent once their access has ended."
            )
        self._limiter.check(member.id, RATE_ACTION)
        expires_at = (self._clock.now() + ttl).replace(microsecond=0)
        link_id = secrets.token_hex(16)
        claims = {
            "v": TOKEN_VERSION,
            "lid": link_id,
            "d": view.id,
            "acct": view.aws_account_id,
            "rep": view.rep_id,
            "exp": int(expires_at.timestamp()),
        }
        token = signed_links.sign(claims, self._signing_key())
        self._audit.record(
            action=RATE_ACTION,
            outcome="ok",
            staff_user_id=member.id,
            customer_account_id=view.aws_account_id,
            delegation_id=view.id,
            detail=f"link {link_id} until {expires_at.isoformat()}",
        )
        return RecordLink(
            link_id=link_id, url=self.url_for(token), token=token, expires_at=expires_at
        )

    def url_for(self, token: str) -> str:
        """The customer-facing URL of a token."""
        base = self._settings.links_base_url
        return f"{base}/{PAGE_PATH}?{urlencode({QUERY_PARAM: token})}"

    # --- customer side (no staff sign-in) ---------------------------------------------------

    def open_link(self, token: str) -> AccessRecord:
        """The record a customer's link names; RecordLinkRefused if it cannot be shown."""
        try:
            claims = signed_links.verify(token, self._signing_key(), self._clock.now())
        except signed_links.TokenTampered:
            raise RecordLinkRefused(
                "This link is not valid (it was changed or cut short). Use the link exactly as "
                "Vell sent it, or ask your Vell contact for a new one."
            ) from None
        except signed_links.TokenExpired:
            raise RecordLinkRefused(
                "This link has expired. Ask your Vell contact to send you a new one."
            ) from None
        except signed_links.TokenInvalid:
            raise RecordLinkRefused() from None
        view = self._named_view(claims)
        record = self._record(view, public=True)
        return replace(record, link_expires_at=signed_links.expires_at(claims))

    # --- helpers ----------------------------------------------------------------------------

    def _named_view(self, claims: dict[str, object]) -> DelegationView:
        """The delegation the claims name, if it still matches them in every field."""
        try:
            if claims.get("v") != TOKEN_VERSION:
                raise ValueError("version")
            delegation_id = int(str(claims["d"]))
            account, rep = str(claims["acct"]), int(str(claims["rep"]))
            view = self._delegations.get_for_signed_link(delegation_id)
        except (KeyError, ValueError, NotFound):
            raise RecordLinkRefused() from None
        if view.aws_account_id != account or view.rep_id != rep:
            raise RecordLinkRefused()
        if not _access_ended(view, self._clock.now()):
            raise RecordLinkRefused()  # only issued after expiry; a renewal is a new request
        return view

    def _record(self, view: DelegationView, *, public: bool) -> AccessRecord:
        self._audit.flush()  # the latest calls may still be queued
        rows = self._audit_log.delegation_calls(
            delegation_id=view.id,
            account_id=view.aws_account_id,
            limit=self._max_calls + 1,  # one more, to know when the record is cut
        )
        truncated = len(rows) > self._max_calls
        screens = group_screens(
            rows[: self._max_calls], name_of=staff_namer(view.rep_id, public=public)
        )
        now = self._clock.now()
        return AccessRecord(
            delegation_id=view.id,
            company=view.company,
            aws_account_id=view.aws_account_id,
            path=PATH_LABELS[view.path],
            rep_name=view.rep_name,
            granted_at=view.approved_at,
            access_ends_at=view.credentials_expire_at,
            access_ended=_access_ended(view, now),
            public=public,
            screens=screens,
            truncated=truncated,
        )

    def _signing_key(self) -> bytes:
        master = self._key if self._key is not None else signed_links.master_key(self._settings)
        return signed_links.purpose_key(master, PURPOSE)


def _access_ended(view: DelegationView, now: datetime) -> bool:
    """The customer's credentials were issued and have expired."""
    return view.credentials_expire_at is not None and view.credentials_expire_at <= now
