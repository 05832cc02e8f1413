"""The sandbox's fixed cast: Vell's partner account and the customer seller accounts.

Customer accounts not listed here still work everywhere (personas are minted on demand); they
simply own no Marketplace data, which the demo browser shows as an empty seller.
"""

from __future__ import annotations

from dataclasses import dataclass

PARTNER_ACCOUNT_ID = "253265132499"
PARTNER_NAME = "Vell"


@dataclass(frozen=True)
class SandboxCustomer:
    """A customer AWS seller account in the sandbox."""

    account_id: str
    company: str
    seller_size: str  # "small" | "typical" | "large"


SANDBOX_CUSTOMERS: tuple[SandboxCustomer, ...] = (
    SandboxCustomer("602341187520", "Acme Analytics", "small"),
    SandboxCustomer("418295730164", "Northwind Observability", "typical"),
    SandboxCustomer("739104552816", "Globex Data Platform", "large"),
)


def customer_by_account(account_id: str) -> SandboxCustomer | None:
    """The sandbox customer with this account id, if any."""
    return next((c for c in SANDBOX_CUSTOMERS if c.account_id == account_id), None)
