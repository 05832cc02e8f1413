"""Every SQLModel table and the enums they use (one module, as the SQLModel docs advise).

Timestamps are stored as UTC and always come back timezone-aware (``UtcDateTime``).
"""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, CheckConstraint, Column, DateTime, Index, MetaData, UniqueConstraint
from sqlalchemy import Enum as SAEnum
from sqlalchemy.types import TypeDecorator
from sqlmodel import Field, SQLModel

# Stable constraint names so Alembic batch migrations work on SQLite and PostgreSQL alike.
SQLModel.metadata = MetaData(
    naming_convention={
        "ix": "ix_%(column_0_label)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)


# 12 digits, expressed so SQLite and PostgreSQL both evaluate it (ltrim strips the digits).
ACCOUNT_ID_CHECK = "length(aws_account_id) = 12 AND ltrim(aws_account_id, '0123456789') = ''"


class UtcDateTime(TypeDecorator[datetime]):
    """DateTime that refuses naive input and always returns aware UTC values."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        """Store as UTC; naive values are a bug, not an assumption."""
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        """Return aware UTC."""
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def enum_column(enum: type[StrEnum], default: Any = None, *, nullable: bool = False) -> Any:
    """Enum stored as its string value in a VARCHAR (portable, readable in raw SQL)."""
    sa_enum = SAEnum(
        enum,
        native_enum=False,
        create_constraint=False,
        length=20,
        values_callable=lambda members: [member.value for member in members],
        validate_strings=True,
    )
    return Field(default=default, sa_type=sa_enum, nullable=nullable)


def utc_column(*, nullable: bool = True, index: bool = False) -> Any:
    """A timezone-aware timestamp column."""
    return Field(default=None, sa_type=UtcDateTime, nullable=nullable, index=index)


class StaffRole(StrEnum):
    """What a staff member does at Vell; decides pages and permissions."""

    SALES = "sales"
    CS = "cs"
    LEADERSHIP = "leadership"
    ADMIN = "admin"


class DelegationPath(StrEnum):
    """Onboarding path of a delegation request (the guide's ``type`` column)."""

    DEMO = "demo"
    TRIAL = "trial"
    ONBOARDING = "onboarding"


class DelegationStatus(StrEnum):
    """The guide's coarse status, derived from the finer AWS state."""

    PENDING = "pending"
    APPROVED = "approved"
    REJECTED = "rejected"
    EXPIRED = "expired"
    CONVERTED = "converted"


class AwsDelegationState(StrEnum):
    """IAM's ``State`` enum, exact strings."""

    UNASSIGNED = "UNASSIGNED"
    ASSIGNED = "ASSIGNED"
    PENDING_APPROVAL = "PENDING_APPROVAL"
    ACCEPTED = "ACCEPTED"
    FINALIZED = "FINALIZED"
    REJECTED = "REJECTED"
    EXPIRED = "EXPIRED"


class ExchangeState(StrEnum):
    """Where the single token exchange for a request stands (our side).

    ``CLAIMED`` is a lease (``exchange_lease_until``): a worker is exchanging right now, and
    once the lease runs out anyone may take over. ``RETRYING``: transient errors used up one
    worker's attempts; the message went back to the queue for another try. ``DONE`` and
    ``FAILED`` are recorded once and final. ``UNKNOWN`` is only found on rows written before
    exchanges were retried.
    """

    NONE = "none"
    CLAIMED = "claimed"
    RETRYING = "retrying"
    DONE = "done"
    FAILED = "failed"
    UNKNOWN = "unknown"


class ConnectionStatus(StrEnum):
    """Health of a permanent cloud connection."""

    PENDING = "pending"
    ACTIVE = "active"
    FAILED = "failed"
    DISCONNECTED = "disconnected"


class ConnectionVia(StrEnum):
    """How the permanent role was created."""

    DELEGATION = "delegation"
    CLOUDFORMATION = "cloudformation"


class FunnelStep(StrEnum):
    """Wizard and lifecycle steps recorded as funnel events."""

    PROVIDER = "provider"
    ACCOUNT_INFO = "account_info"
    CHOOSE_PATH = "choose_path"
    REQUEST_SENT = "request_sent"
    WAITING = "waiting"
    APPROVED = "approved"
    CONNECTED = "connected"
    FIRST_SYNC = "first_sync"
    REJECTED = "rejected"
    EXPIRED = "expired"
    PRODUCTION = "production"


class CustomerSegment(StrEnum):
    """Rough size of a customer, for breakdowns."""

    SMB = "smb"
    MID_MARKET = "mid_market"
    ENTERPRISE = "enterprise"


class ScreenKind(StrEnum):
    """The desk screen a call with a customer's credentials served (the access record)."""

    LISTINGS = "listings"  # the live demo's tables, filled by the background sync
    PRODUCT = "product"  # one listing opened
    OFFER = "offer"
    AGREEMENT = "agreement"
    CHANGE_SET = "change set"
    LISTING_UPDATE = "listing update"
    PRODUCTION_SETUP = "production setup"
    OTHER = "other"


class InboxStatus(StrEnum):
    """Outcome of processing one SNS notification."""

    RECEIVED = "received"
    APPLIED = "applied"
    IGNORED = "ignored"
    QUARANTINED = "quarantined"
    FAILED = "failed"


class StaffUser(SQLModel, table=True):
    """A Vell employee who signs in to the desk."""

    __tablename__ = "staff_users"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=120)
    email: str = Field(max_length=254, unique=True)
    role: StaffRole = enum_column(StaffRole)
    active: bool = True
    created_at: datetime = utc_column(nullable=False)


class Customer(SQLModel, table=True):
    """A prospect or customer company and its AWS seller account."""

    __tablename__ = "customers"
    __table_args__ = (CheckConstraint(ACCOUNT_ID_CHECK, name="account_12_digits"),)

    id: int | None = Field(default=None, primary_key=True)
    company: str = Field(max_length=120, index=True)
    aws_account_id: str = Field(max_length=12, unique=True)
    segment: CustomerSegment = enum_column(CustomerSegment, CustomerSegment.SMB)
    owner_user_id: int | None = Field(default=None, foreign_key="staff_users.id")
    created_at: datetime = utc_column(nullable=False)


class CloudConnection(SQLModel, table=True):
    """A permanent, bounded IAM role in a customer account that Vell assumes."""

    __tablename__ = "cloud_connections"
    __table_args__ = (
        UniqueConstraint("aws_account_id", "role_arn", name="uq_cloud_connections_account_role"),
        CheckConstraint(ACCOUNT_ID_CHECK, name="account_12_digits"),
    )

    id: int | None = Field(default=None, primary_key=True)
    customer_id: int | None = Field(default=None, foreign_key="customers.id")
    aws_account_id: str = Field(max_length=12, index=True)
    company: str = Field(max_length=120)
    role_arn: str | None = Field(default=None, max_length=2048)
    external_id: str = Field(max_length=1224, unique=True)
    status: ConnectionStatus = enum_column(ConnectionStatus, ConnectionStatus.PENDING)
    created_via: ConnectionVia = enum_column(ConnectionVia)
    stack_name: str | None = Field(default=None, max_length=128)
    created_by_user_id: int | None = Field(default=None, foreign_key="staff_users.id")
    last_validated_at: datetime | None = utc_column()
    last_validation_ok: bool | None = None
    created_at: datetime = utc_column(nullable=False)
    updated_at: datetime = utc_column(nullable=False)


class DelegationRequest(SQLModel, table=True):
    """One IAM temporary-delegation request and everything we know about it."""

    __tablename__ = "delegation_requests"
    __table_args__ = (
        CheckConstraint(ACCOUNT_ID_CHECK, name="account_12_digits"),
        Index("ix_delegation_requests_user_id_status", "user_id", "status"),
        Index("ix_delegation_requests_delegation_request_id", "delegation_request_id"),
        Index("ix_delegation_requests_type_expires_at", "type", "expires_at"),
        # covers the metrics' trial scan (per customer, no table reads)
        Index(
            "ix_delegation_requests_trial_cover",
            "type",
            "aws_account_id",
            "expires_at",
            "approved_at",
            "user_id",
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="staff_users.id")
    customer_id: int | None = Field(default=None, foreign_key="customers.id")
    company: str = Field(max_length=120)
    aws_account_id: str = Field(max_length=12)
    delegation_request_id: str | None = Field(default=None, max_length=128, unique=True)
    requestor_workflow_id: str = Field(max_length=400, unique=True)
    type: DelegationPath = enum_column(DelegationPath)
    status: DelegationStatus = enum_column(DelegationStatus, DelegationStatus.PENDING)
    aws_state: AwsDelegationState | None = enum_column(AwsDelegationState, nullable=True)
    aws_state_expires_at: datetime | None = utc_column()
    approved_at: datetime | None = utc_column()
    expires_at: datetime = utc_column(nullable=False)
    create_persistent_role: bool = False
    persistent_role_arn: str | None = Field(default=None, max_length=2048)
    cloud_connection_id: int | None = Field(default=None, foreign_key="cloud_connections.id")
    meta: dict[str, Any] | None = Field(default=None, sa_column=Column("metadata", JSON))
    console_deep_link: str | None = Field(default=None, max_length=255)
    session_duration: int = Field(ge=300, le=43200)
    template_name: str = Field(max_length=40)
    template_arn: str = Field(max_length=2048)
    request_message: str | None = Field(default=None, max_length=200)
    owner_account_id: str | None = Field(default=None, max_length=12)
    owner_id: str | None = Field(default=None, max_length=2048)
    approver_id: str | None = Field(default=None, max_length=2048)
    rejection_reason: str | None = Field(default=None, max_length=500)
    notes: str | None = Field(default=None, max_length=500)
    wizard_session_id: str | None = Field(default=None, max_length=64, index=True)
    exchange_state: ExchangeState = enum_column(ExchangeState, ExchangeState.NONE)
    # The exchange lease: who holds it (a random id per claim), since when and until when.
    exchange_claim_id: str | None = Field(default=None, max_length=32)
    exchange_claimed_at: datetime | None = utc_column()
    exchange_lease_until: datetime | None = utc_column()
    exchange_attempts: int = Field(default=0, sa_column_kwargs={"server_default": "0"})
    # The token's ExpiresAt (not a secret): after it no retry can succeed.
    exchange_token_expires_at: datetime | None = utc_column()
    # AWS's error code: the final one on FAILED, the latest transient one while RETRYING.
    exchange_error_code: str | None = Field(default=None, max_length=64)
    credentials_expire_at: datetime | None = utc_column()
    first_sync_at: datetime | None = utc_column()
    last_error: str | None = Field(default=None, max_length=500)
    created_at: datetime = utc_column(nullable=False)
    updated_at: datetime = utc_column(nullable=False)


class DelegationEvent(SQLModel, table=True):
    """One AWS state reached by a request (the timeline), recorded once per state."""

    __tablename__ = "delegation_events"
    __table_args__ = (
        UniqueConstraint("delegation_id", "aws_state", name="uq_delegation_events_state"),
    )

    id: int | None = Field(default=None, primary_key=True)
    delegation_id: int = Field(foreign_key="delegation_requests.id", index=True)
    aws_state: AwsDelegationState = enum_column(AwsDelegationState)
    occurred_at: datetime = utc_column(nullable=False)
    recorded_at: datetime = utc_column(nullable=False)
    source: str = Field(default="sns", max_length=20)
    detail: str | None = Field(default=None, max_length=500)


class FunnelEvent(SQLModel, table=True):
    """A step reached in the onboarding funnel (wizard steps and lifecycle milestones)."""

    __tablename__ = "funnel_events"
    __table_args__ = (
        Index("ix_funnel_events_step_occurred_at", "step", "occurred_at"),
        Index("ix_funnel_events_customer_step", "customer", "step"),
        # A session records each step once (FunnelRecorder looks up exactly this pair).
        Index("ux_funnel_events_session_step", "wizard_session_id", "step", unique=True),
    )

    id: int | None = Field(default=None, primary_key=True)
    wizard_session_id: str = Field(max_length=64, index=True)
    step: FunnelStep = enum_column(FunnelStep)
    customer: str = Field(max_length=12)
    company: str | None = Field(default=None, max_length=120)
    segment: CustomerSegment | None = enum_column(CustomerSegment, nullable=True)
    path: str | None = Field(default=None, max_length=20)
    actor_user_id: int | None = Field(default=None, foreign_key="staff_users.id", index=True)
    delegation_id: int | None = Field(default=None, foreign_key="delegation_requests.id")
    value_seconds: float | None = None
    occurred_at: datetime = utc_column(nullable=False, index=True)


class SupportTicket(SQLModel, table=True):
    """A support ticket; setup tickets feed the ticket-reduction metric."""

    __tablename__ = "support_tickets"
    __table_args__ = (Index("ix_support_tickets_category_opened_at", "category", "opened_at"),)

    id: int | None = Field(default=None, primary_key=True)
    external_ref: str | None = Field(default=None, max_length=64, unique=True)
    opened_at: datetime = utc_column(nullable=False, index=True)
    customer: str | None = Field(default=None, max_length=12)
    company: str | None = Field(default=None, max_length=120)
    category: str = Field(default="setup", max_length=40)
    subject: str = Field(max_length=200)
    source: str = Field(default="manual", max_length=20)
    created_by_user_id: int | None = Field(default=None, foreign_key="staff_users.id")


class NotificationInbox(SQLModel, table=True):
    """Each SNS message, recorded once (unique MessageId); never holds the exchange token."""

    __tablename__ = "notification_inbox"

    id: int | None = Field(default=None, primary_key=True)
    message_id: str = Field(max_length=64, unique=True)
    signature_sha256: str = Field(max_length=64, index=True)
    topic_arn: str = Field(max_length=256)
    inner_type: str | None = Field(default=None, max_length=20)
    request_id: str | None = Field(default=None, max_length=128, index=True)
    requestor_workflow_id: str | None = Field(default=None, max_length=400)
    state: str | None = Field(default=None, max_length=20)
    status: InboxStatus = enum_column(InboxStatus, InboxStatus.RECEIVED)
    error: str | None = Field(default=None, max_length=500)
    sent_at: datetime | None = utc_column()
    received_at: datetime = utc_column(nullable=False)
    processed_at: datetime | None = utc_column()


class SealedCredential(SQLModel, table=True):
    """Delegated credentials as Fernet ciphertext, for hand-off between processes.

    The plaintext never reaches the database; the key comes from settings, never from here.
    Rows are deleted once ``expires_at`` passes.
    """

    __tablename__ = "sealed_credentials"

    delegation_id: int = Field(foreign_key="delegation_requests.id", primary_key=True)
    ciphertext: str
    expires_at: datetime = utc_column(nullable=False)
    assumed_principal: str | None = Field(default=None, max_length=2048)


class AuditLog(SQLModel, table=True):
    """Append-only record of actions taken with customer credentials and state changes."""

    __tablename__ = "audit_log"
    __table_args__ = (Index("ix_audit_log_account_at", "customer_account_id", "at"),)

    id: int | None = Field(default=None, primary_key=True)
    at: datetime = utc_column(nullable=False, index=True)
    staff_user_id: int | None = Field(default=None, foreign_key="staff_users.id", index=True)
    customer_account_id: str | None = Field(default=None, max_length=12)
    delegation_id: int | None = Field(default=None, foreign_key="delegation_requests.id")
    connection_id: int | None = Field(default=None, foreign_key="cloud_connections.id")
    action: str = Field(max_length=120)
    outcome: str = Field(max_length=40)
    detail: str | None = Field(default=None, max_length=500)
    aws_request_id: str | None = Field(default=None, max_length=128)
    # Calls with customer credentials: the screen they served and what it opened (an entity,
    # agreement or change set id; never parameters or responses).
    screen: ScreenKind | None = enum_column(ScreenKind, nullable=True)
    screen_subject: str | None = Field(default=None, max_length=128)


class WorkerHeartbeat(SQLModel, table=True):
    """Last sign of life of each notification worker (admin health view)."""

    __tablename__ = "worker_heartbeats"

    worker_id: str = Field(primary_key=True, max_length=64)
    last_seen_at: datetime = utc_column(nullable=False)
    messages_processed: int = 0
    last_error: str | None = Field(default=None, max_length=500)


class DemoLink(SQLModel, table=True):
    """A signed customer demo link a rep issued; the token itself is never stored."""

    __tablename__ = "demo_links"

    id: str = Field(primary_key=True, max_length=32)  # the link id carried in the token
    company: str = Field(max_length=120)
    rep_user_id: int = Field(foreign_key="staff_users.id", index=True)
    created_at: datetime = utc_column(nullable=False)
    expires_at: datetime = utc_column(nullable=False)
    revoked_at: datetime | None = utc_column()


class DemoLinkUse(SQLModel, table=True):
    """The one use of a demo link: the unique ``link_id`` makes a second use impossible."""

    __tablename__ = "demo_link_uses"
    __table_args__ = (CheckConstraint(ACCOUNT_ID_CHECK, name="account_12_digits"),)

    id: int | None = Field(default=None, primary_key=True)
    link_id: str = Field(foreign_key="demo_links.id", max_length=32, unique=True)
    aws_account_id: str = Field(max_length=12)
    used_at: datetime = utc_column(nullable=False)
    delegation_id: int | None = Field(default=None, foreign_key="delegation_requests.id")
    outcome: str = Field(default="claimed", max_length=20)


class PartnerChecklistItem(SQLModel, table=True):
    """One AWS partner-onboarding prerequisite and whether it is done (admin AWS setup page)."""

    __tablename__ = "partner_checklist"

    key: str = Field(primary_key=True, max_length=40)
    done: bool = False
    note: str | None = Field(default=None, max_length=500)
    updated_at: datetime = utc_column(nullable=False)
    updated_by_user_id: int | None = Field(default=None, foreign_key="staff_users.id")


class PartnerProfileValue(SQLModel, table=True):
    """A partner-questionnaire answer only AWS Partner Central knows (Partner ID, product id…)."""

    __tablename__ = "partner_profile"

    key: str = Field(primary_key=True, max_length=40)
    value: str = Field(max_length=500)
    updated_at: datetime = utc_column(nullable=False)
    updated_by_user_id: int | None = Field(default=None, foreign_key="staff_users.id")


class PromotionStatus(StrEnum):
    """Where a promotion to a permanent role stands."""

    RUNNING = "running"
    WAITING = "waiting"  # for the customer to approve the onboarding request
    FAILED = "failed"
    DONE = "done"


class PromotionRun(SQLModel, table=True):
    """One promotion of a delegation to a permanent, bounded role; resumable step by step.

    ``role_name`` is written before ``CreateRole`` is called and never changes afterwards, so a
    re-run after any failure finishes the same role instead of creating a second one.
    """

    __tablename__ = "promotion_runs"
    __table_args__ = (CheckConstraint(ACCOUNT_ID_CHECK, name="account_12_digits"),)

    id: int | None = Field(default=None, primary_key=True)
    source_delegation_id: int = Field(foreign_key="delegation_requests.id", unique=True)
    work_delegation_id: int | None = Field(default=None, foreign_key="delegation_requests.id")
    connection_id: int = Field(foreign_key="cloud_connections.id", index=True)
    aws_account_id: str = Field(max_length=12, index=True)
    company: str = Field(max_length=120)
    role_name: str | None = Field(default=None, max_length=64, unique=True)
    role_arn: str | None = Field(default=None, max_length=2048)
    onboarding_launch_token: str | None = Field(default=None, max_length=36)
    status: PromotionStatus = enum_column(PromotionStatus, PromotionStatus.RUNNING)
    current_step: str | None = Field(default=None, max_length=40)
    steps: dict[str, Any] | None = Field(default=None, sa_column=Column("steps", JSON))
    last_error: str | None = Field(default=None, max_length=500)
    lease_expires_at: datetime | None = utc_column()
    started_by_user_id: int | None = Field(default=None, foreign_key="staff_users.id")
    created_at: datetime = utc_column(nullable=False)
    updated_at: datetime = utc_column(nullable=False)
    finished_at: datetime | None = utc_column()


class FunnelSession(SQLModel, table=True):
    """One row per wizard session, summarising its funnel events (kept by ``FunnelRecorder``).

    The Leadership metrics read this instead of grouping every event on each page view. Each
    wizard step's time is kept (a session records each step at most once), so a period's
    furthest step is still "the furthest step reached inside the period's event window".
    Rep, path and segment come from the session's wizard steps; a session without wizard
    steps (e.g. a lone production milestone) takes them from its other events. The recorder
    recomputes a session's row from its events on each new event (and updates the metrics
    rollup from the change); ``vell_core.store.funnel.rebuild_summary`` recomputes the table
    from ``funnel_events`` with the same ``SELECT``, in the order sessions start.
    """

    __tablename__ = "funnel_sessions"
    __table_args__ = (
        Index("ix_funnel_sessions_path_connected_at", "path", "connected_at"),
        Index("ix_funnel_sessions_customer_path_connected_at", "customer", "path", "connected_at"),
        Index("ix_funnel_sessions_customer_production_at", "customer", "production_at"),
        # the metrics' late-milestone probe: milestones at or after "now" (rare)
        Index("ix_funnel_sessions_production_at", "production_at"),
    )

    wizard_session_id: str = Field(primary_key=True, max_length=64)
    customer: str | None = Field(default=None, max_length=12)
    rep: int | None = None
    path: str | None = Field(default=None, max_length=20)
    segment: CustomerSegment | None = enum_column(CustomerSegment, nullable=True)
    started_at: datetime | None = utc_column(index=True)  # the Provider step
    account_info_at: datetime | None = utc_column()
    choose_path_at: datetime | None = utc_column()
    request_sent_at: datetime | None = utc_column()
    approved_at: datetime | None = utc_column()
    connected_at: datetime | None = utc_column()
    first_sync_at: datetime | None = utc_column(index=True)
    first_sync_seconds: float | None = None
    production_at: datetime | None = utc_column()


class MetricsRollup(SQLModel, table=True):
    """Counts behind the Leadership metrics per day, week and month (kept by ``FunnelRecorder``).

    One row per (family, grain, bucket, rep, path, segment, k1, k2): ``family`` names what is
    counted (``sessions`` by start day and furthest step, ``sync_bins`` / ``sync_fine`` first
    syncs by histogram bin, ``customers`` by first connected demo and stages, ``tickets`` setup
    tickets by opening day); ``grain`` is 0 day, 1 week, 2 month and ``bucket`` the first day of
    it as a day number (days since 1970-01-01, UTC). ``week`` and ``month`` are the bucket's
    cohort starts (-1 where the bucket spans several). A missing rep is -1 and a missing path or
    segment ``""``, so the key never holds NULL. ``vell_core.store.rollup`` keeps and rebuilds it.
    """

    __tablename__ = "metrics_rollup"
    # SQLite: rows stored in key order, so a bucket range is one sequential, covering read.
    __table_args__ = {"sqlite_with_rowid": False}

    family: str = Field(primary_key=True, max_length=16)
    grain: int = Field(primary_key=True)
    bucket: int = Field(primary_key=True)
    rep: int = Field(primary_key=True)
    path: str = Field(primary_key=True, max_length=20)
    segment: str = Field(primary_key=True, max_length=20)
    k1: int = Field(primary_key=True)
    k2: int = Field(primary_key=True)
    week: int
    month: int
    n: int


class MetricsSyncValue(SQLModel, table=True):
    """Each first sync's value by fine bin and day: exact medians read a few rows of one bin."""

    __tablename__ = "metrics_sync_values"
    __table_args__ = (Index("ix_metrics_sync_values_bin_day", "fine_bin", "day", "value"),)

    wizard_session_id: str = Field(primary_key=True, max_length=64)
    fine_bin: int
    day: int
    value: float


class MetricsException(SQLModel, table=True):
    """Sessions and customers the rollup cannot place by day; the metrics read them directly."""

    __tablename__ = "metrics_exceptions"

    kind: str = Field(primary_key=True, max_length=16)  # "session" | "customer"
    key: str = Field(primary_key=True, max_length=64)
