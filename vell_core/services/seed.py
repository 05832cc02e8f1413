"""Deterministic seed data: twelve months of believable history for every page on first run.

A fixed random seed and dates relative to the anchor (the minute of seeding, UTC) make the data
identical for the same anchor, and nothing is dated after it (only expiry times lie ahead):
reps, CS, leadership and an admin; customers moving demo → trial →
production or dropping out; wizard-step funnel events; first-sync times; setup support tickets.
The delegation flow "launched" about five months before the anchor, so the history shows the
old CloudFormation-only numbers (~40% completion, 30-60 min to first sync) improving after it.
"""

from __future__ import annotations

import hashlib
import random
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from vell_core.aws.probe import CHECKS as PROBE_CHECKS
from vell_core.config.sandbox_accounts import SANDBOX_CUSTOMERS
from vell_core.config.settings import SANDBOX_DEFAULTS
from vell_core.domain.models import (
    AuditLog,
    AwsDelegationState,
    CloudConnection,
    ConnectionStatus,
    ConnectionVia,
    Customer,
    CustomerSegment,
    DelegationEvent,
    DelegationPath,
    DelegationRequest,
    DelegationStatus,
    ExchangeState,
    FunnelEvent,
    FunnelStep,
    StaffRole,
    StaffUser,
    SupportTicket,
)
from vell_core.services.connections import VALIDATE_ACTION
from vell_core.store.seed import SeedStore, SeedWriter

SEED = 20251206
PROBED_ACTIONS = len(PROBE_CHECKS)  # for the audit detail, as a real validation writes it
HISTORY_DAYS = 365
DELEGATION_LAUNCH_DAYS_AGO = 150
SANDBOX_TEMPLATE_ARNS = {
    DelegationPath.DEMO: SANDBOX_DEFAULTS["aws_delegation_read_only_template_arn"],
    DelegationPath.TRIAL: SANDBOX_DEFAULTS["aws_delegation_full_access_template_arn"],
    DelegationPath.ONBOARDING: SANDBOX_DEFAULTS["aws_delegation_onboarding_template_arn"],
}
TEMPLATE_NAMES = {
    DelegationPath.DEMO: "read-only",
    DelegationPath.TRIAL: "full-access",
    DelegationPath.ONBOARDING: "onboarding",
}

STAFF: tuple[tuple[str, str, StaffRole], ...] = (
    ("Maya Chen", "maya.chen@vell.ai", StaffRole.SALES),
    ("Diego Alvarez", "diego.alvarez@vell.ai", StaffRole.SALES),
    ("Priya Natarajan", "priya.natarajan@vell.ai", StaffRole.SALES),
    ("Tom Becker", "tom.becker@vell.ai", StaffRole.SALES),
    ("Lena Fischer", "lena.fischer@vell.ai", StaffRole.CS),
    ("Omar Haddad", "omar.haddad@vell.ai", StaffRole.CS),
    ("Rachel Kim", "rachel.kim@vell.ai", StaffRole.LEADERSHIP),
    ("Sam Patel", "sam.patel@vell.ai", StaffRole.ADMIN),
)

NAME_HEADS = (
    "Northwind",
    "Contoso",
    "Fabrikam",
    "Tailspin",
    "Wingtip",
    "Adatum",
    "Litware",
    "Proseware",
    "Lucerne",
    "Fourth Coffee",
    "Blue Yonder",
    "Coho",
    "Alpine",
    "Margie's",
    "Trey",
    "Woodgrove",
    "Bellows",
    "Humongous",
    "Datum",
    "Relecloud",
    "Tideline",
    "Kestrel",
    "Lumen",
    "Quarry",
    "Halcyon",
    "Ironbark",
    "Juniper",
    "Meridian",
    "Obsidian",
    "Polaris",
)
NAME_TAILS = (
    "Analytics",
    "Security",
    "Cloud",
    "Data",
    "Observability",
    "Networks",
    "AI",
    "Labs",
    "Software",
    "Systems",
    "Insights",
    "Platforms",
)
TICKET_SUBJECTS = (
    "CloudFormation stack failed to create",
    "AssumeRole access denied after setup",
    "Which IAM permissions does Vell need?",
    "External ID mismatch",
    "Stuck on IAM role validation step",
    "Listings not syncing after connection",
    "Approval link expired",
    "Customer admin cannot find the delegation request",
)


@dataclass
class SeedResult:
    """Counts of what the seed wrote."""

    staff: int = 0
    customers: int = 0
    delegations: int = 0
    funnel_events: int = 0
    connections: int = 0
    tickets: int = 0
    extras: dict[str, int] = field(default_factory=dict)


def anchor_for(now: datetime) -> datetime:
    """``now`` floored to the minute: the same anchor always gives the same rows."""
    return now.astimezone(UTC).replace(second=0, microsecond=0)


def seed(store: SeedStore, now: datetime) -> SeedResult:
    """Fill an empty store with deterministic history anchored at ``now``'s day, in one go."""
    return store.write(_Generator(anchor_for(now)).run)


class _Generator:
    """Builds the rows; one instance per seed run (it carries the RNG)."""

    def __init__(self, anchor: datetime) -> None:
        self.anchor = anchor
        self.rng = random.Random(SEED)
        self.result = SeedResult()
        self.used_accounts = {c.account_id for c in SANDBOX_CUSTOMERS}
        self.used_companies: set[str] = {c.company for c in SANDBOX_CUSTOMERS}
        self.forced_outcome: str | None = None
        self.cs_ids: list[int] = []

    def run(self, writer: SeedWriter) -> SeedResult:
        """Stage the whole history through ``writer``; what was written, counted."""
        staff = self._staff(writer)
        reps = [s for s in staff if s.role is StaffRole.SALES]
        for index in range(170):
            self._customer_journey(writer, reps, index)
        self._live_now(writer, reps)
        self._tickets(writer)
        return self.result

    # --- staff and customers -------------------------------------------------------------

    def _staff(self, writer: SeedWriter) -> list[StaffUser]:
        users = [
            StaffUser(name=name, email=email, role=role, created_at=self._days_ago(400))
            for name, email, role in STAFF
        ]
        writer.add_all(users)
        writer.flush()
        self.cs_ids = [u.id for u in users if u.role is StaffRole.CS and u.id is not None]
        self.result.staff = len(users)
        return users

    def _new_customer(self, writer: SeedWriter, rep: StaffUser, started: datetime) -> Customer:
        company = self._company_name()
        segment = self.rng.choices(list(CustomerSegment), weights=[0.5, 0.35, 0.15], k=1)[0]
        customer = Customer(
            company=company,
            aws_account_id=self._account_id(),
            segment=segment,
            owner_user_id=rep.id,
            created_at=started,
        )
        writer.add(customer)
        writer.flush()
        self.result.customers += 1
        return customer

    def _company_name(self) -> str:
        while True:
            name = f"{self.rng.choice(NAME_HEADS)} {self.rng.choice(NAME_TAILS)}"
            if name not in self.used_companies:
                self.used_companies.add(name)
                return name
            # Names collide after a while: add a distinguishing suffix deterministically.
            name = f"{name} {self.rng.choice(('Inc.', 'Group', 'Co.', 'Holdings', 'GmbH'))}"
            if name not in self.used_companies:
                self.used_companies.add(name)
                return name

    def _account_id(self) -> str:
        while True:
            account = str(self.rng.randint(10**11, 10**12 - 1))
            if account not in self.used_accounts:
                self.used_accounts.add(account)
                return account

    # --- journeys --------------------------------------------------------------------------

    def _customer_journey(self, writer: SeedWriter, reps: list[StaffUser], index: int) -> None:
        # Later customers are denser: the business grows through the year.
        days_ago = int(HISTORY_DAYS * (1 - self.rng.random() ** 0.8))
        # A working day's hour on the day ``days_ago`` full days before the anchor's (so day 0
        # is the last 24 hours), never after the anchor itself.
        started = self._days_ago(days_ago + 1) + timedelta(
            minutes=self.rng.randint(8 * 60, 18 * 60)
        )
        rep = self.rng.choice(reps)
        customer = self._new_customer(writer, rep, started)
        delegation_era = days_ago < DELEGATION_LAUNCH_DAYS_AGO
        if not delegation_era or self.rng.random() < 0.15:
            self._cloudformation_journey(writer, customer, rep, started)
            return
        self._delegation_journey(writer, customer, rep, started)

    def _live_now(self, writer: SeedWriter, reps: list[StaffUser]) -> None:
        """A few demos and trials running right now, so today's figures are not empty."""
        plan = [
            (DelegationPath.DEMO, "active"),
            (DelegationPath.DEMO, "active"),
            (DelegationPath.DEMO, "pending_approval"),
            (DelegationPath.TRIAL, "active"),
            (DelegationPath.TRIAL, "active"),
            (DelegationPath.TRIAL, "active"),
            (DelegationPath.TRIAL, "pending"),
        ]
        for path, outcome in plan:
            max_hours = 3 if path is DelegationPath.DEMO else 10
            started = self.anchor - timedelta(hours=self.rng.randint(1, max_hours))
            rep = self.rng.choice(reps)
            customer = self._new_customer(writer, rep, started)
            self.forced_outcome = outcome
            self._delegation(writer, customer, rep, started, path)
        self.forced_outcome = None

    def _cloudformation_journey(
        self, writer: SeedWriter, customer: Customer, rep: StaffUser, started: datetime
    ) -> None:
        """The pre-delegation wizard: about 40% finish, 30-60 minutes to first sync."""
        session_id = self._session_id()
        completed = self.rng.random() < 0.41
        steps = [FunnelStep.PROVIDER, FunnelStep.ACCOUNT_INFO, FunnelStep.CHOOSE_PATH]
        cut = len(steps) if completed else self.rng.randint(1, len(steps))
        at = started
        for step in steps[:cut]:
            self._event(writer, session_id, step, customer, rep, at, path="production")
            at += timedelta(minutes=self.rng.randint(1, 6))
        if not completed:
            return
        at += timedelta(minutes=self.rng.randint(25, 55))
        self._event(writer, session_id, FunnelStep.CONNECTED, customer, rep, at, "production")
        sync_seconds = self.rng.uniform(30 * 60, 62 * 60)
        self._event(
            writer,
            session_id,
            FunnelStep.FIRST_SYNC,
            customer,
            rep,
            at + timedelta(seconds=sync_seconds),
            "production",
            value=sync_seconds,
        )
        self._event(writer, session_id, FunnelStep.PRODUCTION, customer, rep, at, "production")
        self._connection(writer, customer, rep, at, ConnectionVia.CLOUDFORMATION)

    def _delegation_journey(
        self, writer: SeedWriter, customer: Customer, rep: StaffUser, started: datetime
    ) -> None:
        """Demo first; some go on to a trial, and most trials to production."""
        demo = self._delegation(writer, customer, rep, started, DelegationPath.DEMO)
        if demo is None or demo.status is not DelegationStatus.EXPIRED:
            return
        if self.rng.random() > 0.52:
            return
        trial_start = started + timedelta(days=self.rng.randint(2, 20))
        if trial_start > self.anchor:
            return
        trial = self._delegation(writer, customer, rep, trial_start, DelegationPath.TRIAL)
        if trial is None or trial.status is not DelegationStatus.EXPIRED:
            return
        promoted_at = trial.expires_at - timedelta(hours=self.rng.randint(1, 4))
        open_cohort = (self.anchor - trial_start).days < 10
        if open_cohort or self.rng.random() > 0.63:
            return
        connection = self._connection(
            writer,
            customer,
            rep,
            promoted_at,
            self.rng.choice(
                [ConnectionVia.DELEGATION, ConnectionVia.DELEGATION, ConnectionVia.CLOUDFORMATION]
            ),
        )
        trial.status = DelegationStatus.CONVERTED
        trial.cloud_connection_id = connection.id
        trial.persistent_role_arn = connection.role_arn
        self._event(
            writer,
            trial.wizard_session_id or self._session_id(),
            FunnelStep.PRODUCTION,
            customer,
            rep,
            promoted_at,
            "trial",
            delegation_id=trial.id,
        )

    def _delegation(
        self,
        writer: SeedWriter,
        customer: Customer,
        rep: StaffUser,
        started: datetime,
        path: DelegationPath,
    ) -> DelegationRequest | None:
        """One wizard session and, if it got that far, its delegation request."""
        session_id = self._session_id()
        path_name = path.value
        at = started
        for step in (FunnelStep.PROVIDER, FunnelStep.ACCOUNT_INFO, FunnelStep.CHOOSE_PATH):
            if self.forced_outcome is None and self.rng.random() < 0.05:
                return None  # dropped out before sending anything
            self._event(writer, session_id, step, customer, rep, at, path_name)
            at += timedelta(seconds=self.rng.randint(20, 150))
        self._event(writer, session_id, FunnelStep.REQUEST_SENT, customer, rep, at, path_name)
        self._event(writer, session_id, FunnelStep.WAITING, customer, rep, at, path_name)
        row = self._request_row(customer, rep, at, path, session_id)
        writer.add(row)
        writer.flush()
        self.result.delegations += 1
        self._timeline(writer, row, at)
        if row.approved_at is not None:
            self._approved_events(writer, row, customer, rep, session_id, path_name)
        elif row.status is DelegationStatus.REJECTED:
            self._event(
                writer,
                session_id,
                FunnelStep.REJECTED,
                customer,
                rep,
                row.updated_at,
                path_name,
                delegation_id=row.id,
            )
        return row

    def _approved_events(
        self,
        writer: SeedWriter,
        row: DelegationRequest,
        customer: Customer,
        rep: StaffUser,
        session_id: str,
        path_name: str,
    ) -> None:
        approved_at = row.approved_at
        assert approved_at is not None
        self._event(
            writer,
            session_id,
            FunnelStep.APPROVED,
            customer,
            rep,
            approved_at,
            path_name,
            delegation_id=row.id,
        )
        self._event(
            writer,
            session_id,
            FunnelStep.CONNECTED,
            customer,
            rep,
            approved_at + timedelta(seconds=2),
            path_name,
            delegation_id=row.id,
        )
        sync_seconds = self._first_sync_seconds()
        row.first_sync_at = approved_at + timedelta(seconds=sync_seconds)
        self._event(
            writer,
            session_id,
            FunnelStep.FIRST_SYNC,
            customer,
            rep,
            row.first_sync_at,
            path_name,
            delegation_id=row.id,
            value=sync_seconds,
        )

    def _first_sync_seconds(self) -> float:
        """Mostly seconds to a few minutes; a long tail when the customer's admin dawdles."""
        if self.rng.random() < 0.12:
            return self.rng.uniform(6 * 60, 25 * 60)
        return self.rng.lognormvariate(4.3, 0.6)

    def _request_row(
        self,
        customer: Customer,
        rep: StaffUser,
        sent_at: datetime,
        path: DelegationPath,
        session_id: str,
    ) -> DelegationRequest:
        duration = 14400 if path is DelegationPath.DEMO else 43200
        outcome = self._outcome(sent_at)
        approved_at = None
        expires_at = sent_at + timedelta(days=1)
        aws_state = AwsDelegationState.UNASSIGNED
        status = DelegationStatus.PENDING
        if outcome in ("finalized", "active"):
            approved_at = sent_at + timedelta(seconds=self.rng.randint(40, 900))
            expires_at = approved_at + timedelta(seconds=duration)
            aws_state = AwsDelegationState.FINALIZED
            # "Active" only while the access lasts: a demo sent 6 h ago has already ended.
            live = outcome == "active" and expires_at > self.anchor
            status = DelegationStatus.APPROVED if live else DelegationStatus.EXPIRED
        elif outcome == "rejected":
            aws_state, status = AwsDelegationState.REJECTED, DelegationStatus.REJECTED
        elif outcome == "timed_out":
            aws_state, status = AwsDelegationState.EXPIRED, DelegationStatus.EXPIRED
        elif outcome == "pending_approval":
            aws_state = AwsDelegationState.PENDING_APPROVAL
            expires_at = sent_at + timedelta(days=7)
        request_id = self._request_id()
        return DelegationRequest(
            user_id=rep.id or 0,
            customer_id=customer.id,
            company=customer.company,
            aws_account_id=customer.aws_account_id,
            delegation_request_id=request_id,
            requestor_workflow_id=f"vell-seed-{request_id[:12]}",
            type=path,
            status=status,
            aws_state=aws_state,
            approved_at=approved_at,
            expires_at=expires_at,
            aws_state_expires_at=expires_at if status is DelegationStatus.PENDING else None,
            session_duration=duration,
            template_name=TEMPLATE_NAMES[path],
            template_arn=SANDBOX_TEMPLATE_ARNS[path],
            request_message=(
                f"Vell {path.value} for {customer.company[:60]} ({customer.aws_account_id})"
            ),
            console_deep_link=(
                "https://us-east-1.console.aws.amazon.com/iam/account-access-requests/review/"
                + request_id
            ),
            owner_account_id=customer.aws_account_id if outcome != "timed_out" else None,
            owner_id=f"arn:aws:iam::{customer.aws_account_id}:user/it-owner"
            if outcome != "timed_out"
            else None,
            approver_id=f"arn:aws:iam::{customer.aws_account_id}:user/cloud-admin"
            if approved_at
            else None,
            rejection_reason="We are not evaluating new vendors this quarter."
            if outcome == "rejected"
            else None,
            wizard_session_id=session_id,
            exchange_state=ExchangeState.DONE if approved_at else ExchangeState.NONE,
            credentials_expire_at=expires_at if approved_at else None,
            created_at=sent_at,
            updated_at=approved_at or min(sent_at + timedelta(hours=2), self.anchor),
        )

    def _outcome(self, sent_at: datetime) -> str:
        if self.forced_outcome is not None:
            return self.forced_outcome
        age = self.anchor - sent_at
        roll = self.rng.random()
        if age < timedelta(hours=20):
            return "active" if roll < 0.5 else ("pending_approval" if roll < 0.8 else "pending")
        if roll < 0.80:
            return "finalized"
        return "rejected" if roll < 0.90 else "timed_out"

    def _timeline(self, writer: SeedWriter, row: DelegationRequest, sent_at: datetime) -> None:
        states = [(AwsDelegationState.UNASSIGNED, sent_at)]
        if row.owner_account_id:
            states.append((AwsDelegationState.ASSIGNED, sent_at + timedelta(seconds=30)))
        if row.aws_state is AwsDelegationState.PENDING_APPROVAL:
            states.append((AwsDelegationState.PENDING_APPROVAL, sent_at + timedelta(minutes=3)))
        if row.approved_at:
            states.append((AwsDelegationState.ACCEPTED, row.approved_at - timedelta(seconds=1)))
            states.append((AwsDelegationState.FINALIZED, row.approved_at))
        if row.aws_state in (AwsDelegationState.REJECTED, AwsDelegationState.EXPIRED):
            states.append((row.aws_state, row.updated_at))
        for state, at in states:
            writer.add(
                DelegationEvent(
                    delegation_id=row.id or 0,
                    aws_state=state,
                    occurred_at=at,
                    recorded_at=at,
                    source="seed",
                )
            )

    # --- connections, tickets, helpers -----------------------------------------------------

    def _connection(
        self,
        writer: SeedWriter,
        customer: Customer,
        rep: StaffUser,
        at: datetime,
        via: ConnectionVia,
    ) -> CloudConnection:
        suffix = self._hex(8)
        connection = CloudConnection(
            customer_id=customer.id,
            aws_account_id=customer.aws_account_id,
            company=customer.company,
            role_arn=f"arn:aws:iam::{customer.aws_account_id}:role/vell.ai/"
            f"VellMarketplaceConnector-{suffix}",
            external_id=f"vell-{self._hex(32)}",
            status=ConnectionStatus.ACTIVE,
            created_via=via,
            created_by_user_id=rep.id,
            last_validated_at=at,
            last_validation_ok=True,
            created_at=at,
            updated_at=at,
            stack_name=f"vell-connector-{suffix}" if via is ConnectionVia.CLOUDFORMATION else None,
        )
        writer.add(connection)
        writer.flush()
        self._validation_history(writer, connection, at)
        self.result.connections += 1
        return connection

    def _validation_history(
        self, writer: SeedWriter, connection: CloudConnection, created: datetime
    ) -> None:
        """Validated at creation, then every week or two by customer success, the last one
        within the past few days; a few connections' latest check failed (a customer
        tightened a policy), as they do in real life."""
        validator = self.cs_ids[self.rng.randrange(len(self.cs_ids))] if self.cs_ids else None
        last = self.anchor - timedelta(hours=self.rng.randint(2, 96))
        times = [created]
        at = created + timedelta(days=self.rng.randint(7, 14))
        while at < last:
            times.append(at)
            at += timedelta(days=self.rng.randint(7, 14))
        if last > created:
            times.append(last)
        failing = len(times) > 2 and self.rng.random() < 0.06
        for index, moment in enumerate(times):
            ok = not (failing and index == len(times) - 1)
            writer.add(
                AuditLog(
                    at=moment,
                    staff_user_id=validator,
                    customer_account_id=connection.aws_account_id,
                    connection_id=connection.id,
                    action=VALIDATE_ACTION,
                    outcome="ok" if ok else "failed",
                    detail=f"{PROBED_ACTIONS} ok" if ok else f"{PROBED_ACTIONS - 1} ok, 1 denied",
                )
            )
        connection.last_validated_at = times[-1]
        connection.last_validation_ok = not failing
        connection.updated_at = times[-1]
        if failing:
            connection.status = ConnectionStatus.FAILED
        writer.add(connection)

    def _tickets(self, writer: SeedWriter) -> None:
        """Setup tickets: ~20 a month before delegation, ~9 after; some non-setup noise."""
        for days_ago in range(HISTORY_DAYS, 0, -1):
            rate = 20 / 30 if days_ago >= DELEGATION_LAUNCH_DAYS_AGO else 9 / 30
            if self.rng.random() < rate:
                self._ticket(writer, days_ago, "setup")
            if self.rng.random() < 6 / 30:
                self._ticket(writer, days_ago, "other")

    def _ticket(self, writer: SeedWriter, days_ago: int, category: str) -> None:
        opened = self._days_ago(days_ago) + timedelta(minutes=self.rng.randint(0, 1439))
        subject = (
            self.rng.choice(TICKET_SUBJECTS) if category == "setup" else "Question about invoice"
        )
        writer.add(
            SupportTicket(
                external_ref=f"ZD-{self.rng.randint(10000, 99999)}-{self.result.tickets}",
                opened_at=opened,
                category=category,
                subject=subject,
                source="import",
            )
        )
        self.result.tickets += 1

    def _event(
        self,
        writer: SeedWriter,
        session_id: str,
        step: FunnelStep,
        customer: Customer,
        rep: StaffUser,
        at: datetime,
        path: str | None,
        *,
        delegation_id: int | None = None,
        value: float | None = None,
    ) -> None:
        writer.add(
            FunnelEvent(
                wizard_session_id=session_id,
                step=step,
                customer=customer.aws_account_id,
                company=customer.company,
                segment=customer.segment,
                path=path,
                actor_user_id=rep.id,
                delegation_id=delegation_id,
                value_seconds=value,
                occurred_at=min(at, self.anchor),
            )
        )
        self.result.funnel_events += 1

    def _days_ago(self, days: int) -> datetime:
        return self.anchor - timedelta(days=days)

    def _session_id(self) -> str:
        return str(uuid.UUID(int=self.rng.getrandbits(128), version=4))

    def _request_id(self) -> str:
        return str(uuid.UUID(int=self.rng.getrandbits(128), version=4))

    def _hex(self, length: int) -> str:
        return hashlib.sha256(str(self.rng.random()).encode()).hexdigest()[:length]
