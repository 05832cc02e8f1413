"""Audit trail: every action taken with customer credentials and every state change.

``AuditRecorder.attach`` registers botocore ``after-call``/``after-call-error`` handlers on a
client built from customer credentials, so each call writes one row (staff member, customer
account, operation, outcome, AWS request id) — the same calls the customer sees in CloudTrail.
Parameters and responses are never written.
"""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy.engine import Engine

from vell_core.clock import Clock
from vell_core.db import session_scope
from vell_core.models import AuditLog

log = logging.getLogger(__name__)


class AuditRecorder:
    """Appends audit rows."""

    def __init__(self, engine: Engine, clock: Clock) -> None:
        self._engine = engine
        self._clock = clock

    def record(
        self,
        *,
        action: str,
        outcome: str,
        staff_user_id: int | None = None,
        customer_account_id: str | None = None,
        delegation_id: int | None = None,
        connection_id: int | None = None,
        detail: str | None = None,
        aws_request_id: str | None = None,
    ) -> None:
        """Append one row."""
        with session_scope(self._engine) as session:
            session.add(
                self.entry(
                    action=action,
                    outcome=outcome,
                    staff_user_id=staff_user_id,
                    customer_account_id=customer_account_id,
                    delegation_id=delegation_id,
                    connection_id=connection_id,
                    detail=detail,
                    aws_request_id=aws_request_id,
                )
            )

    def entry(
        self,
        *,
        action: str,
        outcome: str,
        staff_user_id: int | None = None,
        customer_account_id: str | None = None,
        delegation_id: int | None = None,
        connection_id: int | None = None,
        detail: str | None = None,
        aws_request_id: str | None = None,
    ) -> AuditLog:
        """One row, not yet added: for callers that write it inside their own transaction."""
        return AuditLog(
            at=self._clock.now(),
            staff_user_id=staff_user_id,
            customer_account_id=customer_account_id,
            delegation_id=delegation_id,
            connection_id=connection_id,
            action=action[:120],
            outcome=outcome[:40],
            detail=detail[:500] if detail else None,
            aws_request_id=aws_request_id,
        )

    def attach(
        self,
        client: Any,
        *,
        staff_user_id: int | None,
        customer_account_id: str,
        delegation_id: int | None = None,
        connection_id: int | None = None,
    ) -> None:
        """Audit every call ``client`` makes."""
        service = client.meta.service_model.service_name

        def after_call(http_response: Any, parsed: Any, model: Any, **_: Any) -> None:
            status = getattr(http_response, "status_code", 0)
            error = parsed.get("Error", {}).get("Code") if isinstance(parsed, dict) else None
            request_id = (parsed or {}).get("ResponseMetadata", {}).get("RequestId")
            self.record(
                action=f"{service}.{model.name}",
                outcome="ok" if status < 300 else (error or f"http {status}"),
                staff_user_id=staff_user_id,
                customer_account_id=customer_account_id,
                delegation_id=delegation_id,
                connection_id=connection_id,
                aws_request_id=request_id,
            )

        def after_error(exception: Exception, model: Any, **_: Any) -> None:
            self.record(
                action=f"{service}.{model.name}",
                outcome=f"error {type(exception).__name__}",
                staff_user_id=staff_user_id,
                customer_account_id=customer_account_id,
                delegation_id=delegation_id,
                connection_id=connection_id,
            )

        event_name = client.meta.service_model.service_id.hyphenize()
        client.meta.events.register(f"after-call.{event_name}", after_call)
        client.meta.events.register(f"after-call-error.{event_name}", after_error)
