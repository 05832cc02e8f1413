"""Size profiles for the three sandbox sellers (reference §4.1 for the typical one)."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class ProductSpec:
    """One product to generate: type, visibility and how it is sold."""

    entity_type: str
    visibility: str
    pricing: str  # "contract" | "usage" | "subscription" | "byol" | "listing" (no agreements)


@dataclass(frozen=True)
class ActiveMix:
    """How the ACTIVE agreements split: contract end buckets, PAYG, trials, future-dated."""

    within_30: int
    within_60: int
    within_90: int
    within_180: int
    later: int
    payg: int
    trials: int
    future_dated: int

    @property
    def total(self) -> int:
        """All ACTIVE agreements."""
        return (
            self.within_30
            + self.within_60
            + self.within_90
            + self.within_180
            + self.later
            + self.payg
            + self.trials
            + self.future_dated
        )


@dataclass(frozen=True)
class Profile:
    """Everything that sizes one generated seller."""

    title_words: tuple[str, ...]
    products: tuple[ProductSpec, ...]
    private_offers: dict[str, int]  # draft / open / accepted / expired
    abo_offers: int
    cppo_offers: int
    resale_statuses: tuple[str, ...]
    shared_resale: int
    offer_sets: int
    active: ActiveMix
    ended: dict[str, int]  # agreements per non-ACTIVE status
    buyers: int
    change_sets: dict[str, int]
    eur_agreements: int
    variable_payment_agreements: int = 0
    extra: dict[str, float] = field(default_factory=dict)


def _specs(*groups: tuple[str, str, str, int]) -> tuple[ProductSpec, ...]:
    return tuple(
        ProductSpec(kind, visibility, pricing)
        for kind, visibility, pricing, count in groups
        for _ in range(count)
    )


SMALL = Profile(
    title_words=("Acme", "Insight", "Pipeline", "Lens"),
    products=_specs(
        ("SaaSProduct", "Public", "contract", 1),
        ("ContainerProduct", "Limited", "usage", 1),
    ),
    private_offers={"draft": 0, "open": 1, "accepted": 2, "expired": 0},
    abo_offers=0,
    cppo_offers=0,
    resale_statuses=(),
    shared_resale=0,
    offer_sets=0,
    active=ActiveMix(1, 1, 1, 0, 1, 1, 0, 0),
    ended={"EXPIRED": 2, "CANCELLED": 1, "RENEWED": 1, "TERMINATED": 1},
    buyers=8,
    change_sets={"SUCCEEDED": 6, "FAILED": 1, "CANCELLED": 1, "PREPARING": 1},
    eur_agreements=0,
)

TYPICAL = Profile(
    title_words=("Northwind", "Trace", "Metrics", "Sentinel"),
    products=(
        ProductSpec("SaaSProduct", "Public", "contract"),
        ProductSpec("SaaSProduct", "Public", "contract"),
        ProductSpec("SaaSProduct", "Public", "usage"),
        ProductSpec("SaaSProduct", "Limited", "contract"),
        ProductSpec("SaaSProduct", "Draft", "contract"),
        ProductSpec("AmiProduct", "Public", "usage"),
        ProductSpec("ContainerProduct", "Limited", "contract"),
        ProductSpec("SaaSProduct", "Restricted", "contract"),
    ),
    private_offers={"draft": 4, "open": 10, "accepted": 18, "expired": 4},
    abo_offers=2,
    cppo_offers=1,
    resale_statuses=("Active", "Draft"),
    shared_resale=0,
    offer_sets=0,
    active=ActiveMix(8, 4, 5, 6, 25, 20, 6, 3),
    ended={
        "EXPIRED": 20,
        "RENEWED": 11,
        "REPLACED": 8,
        "CANCELLED": 8,
        "ARCHIVED": 7,
        "TERMINATED": 4,
        "SUPERSEDED": 2,
        "ROLLED_BACK": 1,
    },
    buyers=90,
    change_sets={"SUCCEEDED": 48, "FAILED": 5, "CANCELLED": 3, "APPLYING": 1, "PREPARING": 2},
    eur_agreements=2,
)

LARGE = Profile(
    title_words=("Globex", "Lakehouse", "Stream", "Vault"),
    products=_specs(
        ("SaaSProduct", "Public", "contract", 10),
        ("SaaSProduct", "Public", "usage", 3),
        ("SaaSProduct", "Public", "subscription", 1),
        ("SaaSProduct", "Limited", "contract", 4),
        ("SaaSProduct", "Draft", "contract", 3),
        ("SaaSProduct", "Restricted", "contract", 3),
        ("AmiProduct", "Public", "usage", 4),
        ("AmiProduct", "Public", "byol", 1),
        ("AmiProduct", "Limited", "usage", 1),
        ("AmiProduct", "Restricted", "usage", 1),
        ("ContainerProduct", "Public", "contract", 3),
        ("ContainerProduct", "Limited", "contract", 1),
        ("ContainerProduct", "Draft", "contract", 1),
        ("DataProduct", "Public", "listing", 2),
        ("DataProduct", "Unavailable", "listing", 1),
        ("MachineLearningProduct", "Public", "usage", 1),
    ),
    private_offers={"draft": 30, "open": 90, "accepted": 300, "expired": 30},
    abo_offers=6,
    cppo_offers=4,
    resale_statuses=("Active", "Active", "Draft", "Restricted"),
    shared_resale=2,
    offer_sets=2,
    active=ActiveMix(150, 110, 100, 200, 540, 420, 60, 20),
    ended={
        "EXPIRED": 420,
        "RENEWED": 240,
        "REPLACED": 180,
        "CANCELLED": 180,
        "ARCHIVED": 150,
        "TERMINATED": 90,
        "SUPERSEDED": 50,
        "ROLLED_BACK": 40,
    },
    buyers=1400,
    change_sets={"SUCCEEDED": 180, "FAILED": 18, "CANCELLED": 12, "APPLYING": 3, "PREPARING": 7},
    eur_agreements=25,
    variable_payment_agreements=12,
)

PROFILES: dict[str, Profile] = {"small": SMALL, "typical": TYPICAL, "large": LARGE}
