"""Clients that act in a customer's account with delegated credentials, audited per call.

Only the rep who launched a delegation (or CS and admins) may get them; each staff member gets
their own client factory (never shared), dropped when the credentials expire.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from vell_core.aws.clients import ClientFactory
from vell_core.aws.vault import CredentialVault
from vell_core.domain.clock import Clock
from vell_core.domain.errors import CredentialsUnavailable
from vell_core.domain.roles import StaffMember
from vell_core.services.audit import AuditRecorder
from vell_core.services.delegation import DelegationService, DelegationView


@dataclass(frozen=True)
class CustomerClients:
    """A client factory bound to one delegation's credentials for one staff member."""

    delegation: DelegationView
    factory: ClientFactory
    expires_at: datetime
    assumed_principal: str

    def client(self, service: str) -> Any:
        """An audited client in the customer's account."""
        return self.factory.client(service)

    def page_config(self, service: str, operation: str) -> dict[str, Any]:
        """botocore's pagination model for one of ``service``'s operations."""
        return self.factory.page_config(service, operation)


class CustomerAccess:
    """Hands out audited customer clients after checking who asks."""

    def __init__(
        self,
        *,
        delegations: DelegationService,
        vault: CredentialVault,
        aws: ClientFactory,
        audit: AuditRecorder,
        clock: Clock,
    ) -> None:
        self._delegations = delegations
        self._vault = vault
        self._aws = aws
        self._audit = audit
        self._clock = clock
        self._lock = threading.Lock()
        self._cache: dict[tuple[int, int], CustomerClients] = {}

    def for_delegation(
        self, member: StaffMember, delegation_id: int, action: str = "demo.browse"
    ) -> CustomerClients:
        """Audited clients for ``delegation_id``; raises CredentialsUnavailable after expiry."""
        member = self._delegations.assert_can_use(member, delegation_id, action)
        credentials = self._vault.get(delegation_id)
        if credentials is None:
            self._forget(delegation_id)
            raise CredentialsUnavailable()
        key = (member.id, delegation_id)
        with self._lock:
            cached = self._cache.get(key)
            if cached is not None and cached.expires_at > self._clock.now():
                return cached
        view = self._delegations.get(member, delegation_id)
        factory = self._aws.with_credentials(
            credentials.as_static(),
            client_hook=lambda client: self._audit.attach(
                client,
                staff_user_id=member.id,
                customer_account_id=view.aws_account_id,
                delegation_id=delegation_id,
            ),
        )
        clients = CustomerClients(
            delegation=view,
            factory=factory,
            expires_at=credentials.expiration,
            assumed_principal=credentials.assumed_principal,
        )
        with self._lock:
            self._cache[key] = clients
        return clients

    def _forget(self, delegation_id: int) -> None:
        with self._lock:
            for key in [k for k in self._cache if k[1] == delegation_id]:
                del self._cache[key]
