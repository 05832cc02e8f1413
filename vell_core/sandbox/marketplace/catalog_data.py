"""Catalog side of the generator: buyers, products, offers, resale authorizations, change sets.

Entity documents carry the API members (``EntityId``, ``EntityType``, ``DetailsDocument``,
revision and ``LastModifiedDate``) plus a ``Meta`` block the API never returns (release date,
pricing model, list prices) that the backend uses to build summaries.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from vell_core.sandbox.marketplace import terms as tm
from vell_core.sandbox.marketplace.models import iso_ms, iso_z
from vell_core.sandbox.marketplace.plan import SellerDraft, Slot, lognormal_tcv
from vell_core.sandbox.marketplace.profiles import ProductSpec
from vell_core.sandbox.marketplace.rand import IdMaker, day_end

if TYPE_CHECKING:
    import random


BUYER_FIRST = (
    "Helios",
    "Bluefin",
    "Cobalt",
    "Juniper",
    "Granite",
    "Harbor",
    "Meridian",
    "Aurora",
    "Summit",
    "Redwood",
    "Lumen",
    "Vertex",
    "Pioneer",
    "Keystone",
    "Orchid",
    "Sable",
    "Tidewater",
    "Beacon",
    "Falcon",
    "Cascade",
    "Evergreen",
    "Quarry",
    "Atlas",
    "Nimbus",
    "Copperleaf",
    "Silverline",
    "Brightwater",
    "Northgate",
    "Ironwood",
    "Crescent",
    "Driftwood",
    "Starling",
    "Westbrook",
    "Maple",
    "Osprey",
    "Pinnacle",
    "Riverton",
    "Sequoia",
    "Thistle",
    "Umber",
    "Willow",
    "Zephyr",
    "Alder",
    "Bramble",
    "Cedar",
)
BUYER_SECOND = (
    "Freight",
    "Health",
    "Robotics",
    "Capital",
    "Logistics",
    "Foods",
    "Energy",
    "Insurance",
    "Media",
    "Biotech",
    "Retail",
    "Telecom",
    "Mobility",
    "Analytics",
    "Pharma",
    "Airlines",
    "Banking",
    "Games",
    "Labs",
    "Manufacturing",
    "Realty",
    "Outfitters",
    "Semiconductors",
    "Learning",
    "Marine",
    "Payments",
    "Security",
    "Hospitality",
    "Agritech",
    "Motors",
    "Textiles",
    "Software",
    "Clinics",
    "Studios",
    "Utilities",
    "Chemicals",
    "Brewing",
    "Aerospace",
    "Networks",
    "Holdings",
)
BUYER_SUFFIX = ("Inc.", "LLC", "Ltd", "GmbH", "Corp.", "Group", "S.A.", "Co.")
PRODUCT_NOUNS = (
    "Trace Cloud",
    "Metrics Hub",
    "Log Vault",
    "Sentinel Edge",
    "Pipeline Studio",
    "Query Engine",
    "Stream Gateway",
    "Insight Console",
    "Guard Agent",
    "Catalog Sync",
    "Signal Relay",
    "Cost Lens",
    "Policy Engine",
    "Backup Vault",
    "Identity Bridge",
    "Event Router",
    "Model Serve",
    "Feature Store",
    "Data Clean Room",
    "Schema Registry",
)
TYPE_SUFFIX = {
    "AmiProduct": "AMI",
    "ContainerProduct": "for EKS",
    "DataProduct": "Data Feed",
    "MachineLearningProduct": "Model",
}
CATEGORIES = (
    "Monitoring",
    "Log Analysis",
    "Security",
    "Data Catalogs",
    "Source Control",
    "Application Development",
    "Databases",
    "Business Intelligence",
    "Data Analytics",
)
KEYWORDS = (
    "observability",
    "tracing",
    "opentelemetry",
    "metrics",
    "logs",
    "apm",
    "kubernetes",
    "eks",
    "security",
    "compliance",
    "soc2",
    "dashboards",
    "alerting",
    "sre",
    "devops",
    "cost",
    "analytics",
    "etl",
    "streaming",
    "governance",
)
HIGHLIGHTS = (
    "Deploys in 10 minutes with a CloudFormation quick-create",
    "SOC 2 Type II and ISO 27001 certified",
    "Retains 13 months of data at no extra cost",
)
INSTANCE_TYPES = ("m5.large", "m5.xlarge", "m5.2xlarge", "c5.xlarge", "r5.large", "r5.xlarge")
REGIONS = (
    "us-east-1",
    "us-east-2",
    "us-west-1",
    "us-west-2",
    "ca-central-1",
    "eu-west-1",
    "eu-west-2",
    "eu-central-1",
    "eu-north-1",
    "ap-southeast-1",
    "ap-southeast-2",
    "ap-northeast-1",
    "ap-south-1",
    "sa-east-1",
)
TIERS = (
    ("StarterTier", "Starter tier", 12_000),
    ("ProTier", "Pro tier", 36_000),
    ("EnterpriseTier", "Enterprise tier", 96_000),
    ("PlatinumTier", "Platinum tier", 240_000),
)
METERED = (
    ("ingested_gb", "Ingested GB", "0.12"),
    ("api_calls_k", "API calls (thousands)", "0.40"),
    ("query_hours", "Query hours", "1.75"),
)
COMPLETENESS = ("full", "partial", "good", "sparse")
WINDOW_DAYS = 60
ECR_REGISTRY = "709825985650.dkr.ecr.us-east-1.amazonaws.com"  # Marketplace's ECR


def make_buyers(rng: random.Random, count: int) -> dict[str, str]:
    """``count`` buyer accounts mapped to invented company names."""
    names = [f"{a} {b}" for a in BUYER_FIRST for b in BUYER_SECOND]
    rng.shuffle(names)
    ids = IdMaker(rng)
    return {ids.account(): f"{name} {rng.choice(BUYER_SUFFIX)}" for name in names[:count]}


# ----------------------------------------------------------------------------------------------
# Products


def _title(gen: SellerDraft, spec: ProductSpec, index: int) -> str:
    prefix = gen.profile.title_words[0]
    noun = PRODUCT_NOUNS[index % len(PRODUCT_NOUNS)]
    title = f"{prefix} {noun}"
    if spec.entity_type in TYPE_SUFFIX:
        title += f" {TYPE_SUFFIX[spec.entity_type]}"
    if index >= len(PRODUCT_NOUNS):
        title += " Enterprise Edition"
    if spec.visibility == "Restricted":
        title += " (Legacy)"
    return title


def _dimensions(gen: SellerDraft, spec: ProductSpec) -> list[dict[str, Any]]:
    """Priced dimensions (simulator form: ``Key``, ``Types``, ``Meta`` prices)."""
    rng = gen.rng
    if spec.entity_type == "AmiProduct":
        return [
            {
                "Key": t,
                "Name": t,
                "Types": ["Metered"],
                "Unit": "Hrs",
                "Meta": {"UnitPrice": tm.money(Decimal("0.08") * (i + 1))},
            }
            for i, t in enumerate(INSTANCE_TYPES)
        ]
    dims = []
    tiers = rng.randint(2, 4)
    for key, name, annual in TIERS[:tiers]:
        dims.append(
            {
                "Key": key,
                "Name": name,
                "Types": ["Entitled"],
                "Unit": "Units",
                "Meta": {"AnnualPrice": str(annual)},
            }
        )
    dims.append(
        {
            "Key": "AdditionalHosts",
            "Name": "Additional hosts",
            "Types": ["Entitled"],
            "Unit": "Units",
            "Meta": {"AnnualPrice": "480"},
        }
    )
    metered = rng.randint(1 if spec.pricing == "usage" else 0, 3)
    for key, name, price in METERED[:metered]:
        dims.append(
            {
                "Key": key,
                "Name": name,
                "Types": ["ExternallyMetered"],
                "Unit": "Units",
                "Meta": {"UnitPrice": price},
            }
        )
    return dims


def _description(gen: SellerDraft, title: str, spec: ProductSpec, level: str) -> dict[str, Any]:
    rng = gen.rng
    description: dict[str, Any] = {
        "ProductTitle": title,
        "ProductCode": gen.ids.make("", 25),
        "Manufacturer": f"{gen.customer.company}, Inc.",
        "LongDescription": f"{title} helps platform teams run {rng.choice(KEYWORDS)} at scale on "
        "AWS, with role-based access, audit trails and usage-based scaling.",
        "Sku": title.upper().replace(" ", "-")[:40],
        "AssociatedProducts": None,
        "Visibility": spec.visibility,
        "ProductState": "Active",
    }
    if level != "sparse":
        description["ShortDescription"] = f"{title}: {rng.choice(KEYWORDS)} for AWS workloads."
    highlights = {"full": 3, "good": 3, "partial": 1, "sparse": 0}[level]
    if highlights:
        description["Highlights"] = list(HIGHLIGHTS[:highlights])
    keywords = {"full": 15, "good": 6, "partial": 3, "sparse": 1}[level]
    description["SearchKeywords"] = rng.sample(KEYWORDS, keywords)
    categories = {"full": 3, "good": 2, "partial": 1, "sparse": 1}[level]
    description["Categories"] = rng.sample(CATEGORIES, categories)
    return description


def _promotional(title: str, level: str) -> dict[str, Any]:
    slug = title.lower().replace(" ", "-").replace("(", "").replace(")", "")
    resources: dict[str, Any] = {"PromotionalMedia": None}
    if level != "sparse":
        resources["LogoUrl"] = f"https://awsmp-logos.s3.amazonaws.com/{slug}.png"
    if level == "full":
        resources["Videos"] = [
            {"Type": "Link", "Title": "Product tour", "Url": f"https://example.com/{slug}/tour.mp4"}
        ]
    if level in ("full", "good"):
        resources["AdditionalResources"] = [
            {
                "Type": "Link",
                "Text": "Quick start",
                "Url": f"https://example.com/{slug}/quick-start",
            }
        ]
    return resources


def _support(level: str) -> dict[str, Any] | None:
    if level == "sparse":
        return None
    return {
        "Description": "24x7 email support; 1-hour P1 response for Enterprise tier.",
        "Resources": [],
    }


def _type_specific(gen: SellerDraft, spec: ProductSpec, title: str) -> dict[str, Any]:
    ids = gen.ids
    if spec.entity_type == "AmiProduct":
        return _ami_blocks(gen, title)
    if spec.entity_type == "ContainerProduct":
        return {
            "Repositories": [
                {
                    "Url": f"{ECR_REGISTRY}/{gen.profile.title_words[0].lower()}/agent",
                    "Type": "ECR",
                }
            ],
            "Versions": [
                {
                    "Id": ids.make("version-", 13),
                    "VersionTitle": "3.4.0",
                    "Sources": [
                        {
                            "Type": "DockerImages",
                            "Id": ids.make("", 36),
                            "Images": ["agent:3.4.0"],
                            "Compatibility": {"Platform": "Linux"},
                        }
                    ],
                    "DeliveryOptions": [
                        {
                            "Id": ids.make("do-", 13),
                            "Type": "EksAddOn",
                            "Title": "EKS add-on",
                            "isRecommended": True,
                            "Compatibility": {
                                "AWSServices": ["EKS"],
                                "KubernetesVersions": ["1.29", "1.30"],
                                "Architectures": ["X86_64", "ARM64"],
                            },
                            "AddOnName": "agent",
                            "AddOnVersion": "v3.4.0",
                            "Visibility": "Public",
                        },
                        {
                            "Id": ids.make("do-", 13),
                            "Type": "Helm",
                            "Title": "Helm chart",
                            "isRecommended": False,
                            "Compatibility": {"AWSServices": ["EKS", "EKS-Anywhere"]},
                            "ReleaseName": "agent",
                            "Namespace": "monitoring",
                            "Visibility": "Public",
                        },
                    ],
                }
            ],
        }
    if spec.entity_type == "SaaSProduct":
        slug = title.lower().split()[1]
        return {
            "Versions": [
                {
                    "Id": ids.make("version-", 13),
                    "DeliveryOptions": [
                        {
                            "Id": ids.make("do-", 13),
                            "Type": "SoftwareRegistration",
                            "FulfillmentUrl": f"https://app.{slug}.example/aws/register",
                            "Visibility": "Public",
                        }
                    ],
                }
            ]
        }
    return {}


def _ami_blocks(gen: SellerDraft, title: str) -> dict[str, Any]:
    ids = gen.ids
    delivery = {
        "Id": ids.make("do-", 13),
        "Type": "AmazonMachineImage",
        "SourceId": ids.make("", 36),
        "Title": title,
        "ShortDescription": "Hardened Amazon Linux 2023 image",
        "Instructions": {"Usage": "SSH as ec2-user, then open https://<host>:8443."},
        "Recommendations": {
            "InstanceType": "m5.large",
            "SecurityGroups": [
                {"FromPort": 8443, "ToPort": 8443, "IpProtocol": "tcp", "IpRanges": ["0.0.0.0/0"]}
            ],
        },
        "Visibility": "Public",
    }
    return {
        "RegionAvailability": {
            "Regions": list(REGIONS),
            "FutureRegionSupport": "All",
            "Restrict": [],
        },
        "Compatibility": {
            "AvailableInstanceTypes": list(INSTANCE_TYPES),
            "RestrictedInstanceTypes": [],
        },
        "Versions": [
            {
                "Id": ids.make("version-", 13),
                "VersionTitle": "2026.1",
                "ReleaseNotes": "Security updates.",
                "UpgradeInstructions": "Launch the new version and migrate the data volume.",
                "CreationDate": iso_ms(gen.now - timedelta(days=45)),
                "DeliveryOptions": [delivery],
                "Sources": [
                    {
                        "Id": delivery["SourceId"],
                        "Type": "AmazonMachineImage",
                        "Image": "ami-0" + ids.make("", 16),
                        "Architecture": "x86_64",
                        "VirtualizationType": "hvm",
                        "OperatingSystem": {
                            "Name": "AMAZONLINUX",
                            "Version": "2023",
                            "Username": "ec2-user",
                            "ScanningPort": 22,
                        },
                    }
                ],
            }
        ],
    }


def make_product(gen: SellerDraft, spec: ProductSpec, index: int) -> dict[str, Any]:
    """A product entity document of ``spec``'s type and visibility."""
    rng = gen.rng
    title = _title(gen, spec, index)
    level = COMPLETENESS[index % len(COMPLETENESS)]
    dims = _dimensions(gen, spec)
    details: dict[str, Any] = {
        "Description": _description(gen, title, spec, level),
        "PromotionalResources": _promotional(title, level),
        "Dimensions": [
            {
                "Name": d["Name"],
                "Description": d["Name"],
                "Key": d["Key"],
                "Unit": d["Unit"],
                "Types": d["Types"],
            }
            for d in dims
        ],
    }
    support = _support(level)
    if support is not None:
        details["SupportInformation"] = support
    details.update(_type_specific(gen, spec, title))
    allow_list = [gen.ids.account() for _ in range(2)] if spec.visibility == "Limited" else []
    details["Targeting"] = {"PositiveTargeting": {"BuyerAccounts": allow_list}}
    created = gen.now - timedelta(days=rng.uniform(400, 1400))
    touched = gen.now - timedelta(days=rng.uniform(WINDOW_DAYS + 1, 380))
    return {
        "EntityId": gen.ids.make("prod-", 13),
        "EntityType": spec.entity_type,
        "OwnershipType": "SELF",
        "Revision": rng.randint(2, 20),
        "LastModifiedDate": iso_z(touched),
        "DetailsDocument": details,
        "Meta": {
            "Pricing": spec.pricing,
            "Visibility": spec.visibility,
            "Prices": dims,
            "CreatedDate": iso_z(created),
        },
    }


# ----------------------------------------------------------------------------------------------
# Offers


def _offer(
    gen: SellerDraft, product: dict[str, Any], details: dict[str, Any], meta: dict[str, Any]
) -> dict[str, Any]:
    offer_id = gen.ids.make("offer-", 13)
    details = {"Id": offer_id, **details, "ProductId": product["EntityId"]}
    touched = meta.get("ReleaseDate") or meta["CreatedDate"]
    return {
        "EntityId": offer_id,
        "EntityType": "Offer",
        "OwnershipType": "SELF",
        "Revision": gen.rng.randint(2, 9),
        "LastModifiedDate": touched,
        "DetailsDocument": details,
        "Meta": meta,
    }


def _public_terms(gen: SellerDraft, product: dict[str, Any]) -> tuple[str, list[dict[str, Any]]]:
    rng = gen.rng
    prices = product["Meta"]["Prices"]
    pricing = product["Meta"]["Pricing"]
    terms = [tm.legal_term(rng), tm.support_term(rng)]
    if pricing == "contract":
        terms.append(tm.configurable_term(prices))
        usage = tm.usage_term(prices)
        if usage:
            terms.append(usage)
        terms.append({"Type": "RenewalTerm"})
        return "Contract", terms
    if pricing == "subscription":
        terms.append(
            {
                "Type": "RecurringPaymentTerm",
                "CurrencyCode": "USD",
                "BillingPeriod": "Monthly",
                "Price": "1500.00",
            }
        )
        return "Contract", terms
    if pricing == "byol":
        terms.append({"Type": "ByolPricingTerm"})
        return "Byol", terms
    if pricing == "listing":
        terms.append(
            {
                "Type": "FixedUpfrontPricingTerm",
                "CurrencyCode": "USD",
                "Price": "2500.00",
                "Duration": "P1M",
                "Grants": [],
            }
        )
        return "Contract", terms
    grant_key = prices[0]["Key"]
    terms.append(
        {
            "Type": "FreeTrialPricingTerm",
            "Duration": rng.choice(["P14D", "P30D"]),
            "Grants": [{"DimensionKey": grant_key, "MaxQuantity": 1}],
        }
    )
    terms.append(tm.usage_term(prices) or {"Type": "ByolPricingTerm"})
    return "Usage", terms


def make_public_offer(gen: SellerDraft, product: dict[str, Any]) -> dict[str, Any]:
    """The product's public offer (a Draft one for a Draft product)."""
    title = product["DetailsDocument"]["Description"]["ProductTitle"]
    draft = product["Meta"]["Visibility"] == "Draft"
    model, terms = _public_terms(gen, product)
    created = product["Meta"]["CreatedDate"]
    details = {
        "Name": f"{title} public offer",
        "Description": f"Public pricing for {title}",
        "State": "Draft" if draft else "Released",
        "PreExistingAgreement": None,
        "Terms": terms,
        "Rules": [],
    }
    meta = {"CreatedDate": created, "Targeting": ["None"], "PricingModel": model}
    if not draft:
        meta["ReleaseDate"] = created
    return _offer(gen, product, details, meta)


def _private_name(gen: SellerDraft, buyer: str) -> str:
    company = gen.buyers.get(buyer, "a buyer").rsplit(" ", 1)[0]
    name = f"{gen.customer.company} private offer for {company} (acct: {buyer})"
    return name[:150]


def _private_product(gen: SellerDraft) -> dict[str, Any]:
    sellable = [
        p
        for p in gen.products
        if p["Meta"]["Pricing"] == "contract" and p["Meta"]["Visibility"] in ("Public", "Limited")
    ]
    return gen.rng.choice(sellable or gen.products)


def make_private_offer(gen: SellerDraft, slot: Slot | None, state: str) -> dict[str, Any]:
    """A private offer: ``accepted`` (for ``slot``), ``open``, ``draft`` or ``expired``."""

    rng = gen.rng
    if slot is not None:
        product, buyers, tcv = slot.product, [slot.buyer], lognormal_tcv(rng)
        assert product is not None
        assert slot.acceptance is not None
        release = slot.acceptance - timedelta(days=rng.uniform(3, 30))
        closes = day_end(slot.acceptance + timedelta(days=rng.uniform(1, 30)))
        terms = tm.private_contract_terms(gen, slot, tcv, "USD", product["Meta"]["Prices"])
    else:
        product, tcv = _private_product(gen), lognormal_tcv(rng)
        buyers = rng.sample(list(gen.buyers), rng.randint(1, 3))
        release, closes = _private_window(gen, state)
        terms = _quote_terms(gen, product, tcv)
    kind = rng.choice(["12-month", "Multi-year", "Renewal:"])
    details: dict[str, Any] = {
        "Name": _private_name(gen, buyers[0]),
        "Description": f"{kind} commitment, {tm.money(tcv)} USD",
        "State": "Draft" if state == "draft" else "Released",
        "PreExistingAgreement": {
            "AcquisitionChannel": "AwsMarketplace",
            "PricingModel": "Contract",
        },
        "Terms": terms,
        "Rules": [
            {
                "Type": "AvailabilityRule",
                "AvailabilityEndDate": iso_ms(closes).replace(".000Z", ".999Z"),
            },
            {"Type": "TargetingRule", "PositiveTargeting": {"BuyerAccounts": buyers}},
        ],
    }
    meta: dict[str, Any] = {
        "CreatedDate": iso_z(release - timedelta(hours=2)),
        "Targeting": ["BuyerAccounts"],
        "PricingModel": "Contract",
        "Kind": state,
    }
    if state != "draft":
        meta["ReleaseDate"] = iso_z(release)
    offer = _offer(gen, product, details, meta)
    if slot is not None:
        slot.offer = offer
        if slot.predecessor is not None and slot.predecessor.status == "REPLACED":
            details["Description"] = (
                f"Agreement-based offer replacing {slot.predecessor.agreement_id}"
            )
            meta["Kind"] = "abo"
    return offer


def _private_window(gen: SellerDraft, state: str) -> tuple[datetime, datetime]:
    rng = gen.rng
    if state == "open":  # the live pipeline: closes in the next 3–45 days
        return gen.now - timedelta(days=rng.uniform(1, 40)), day_end(
            gen.now + timedelta(days=rng.uniform(3, 45))
        )
    if state == "draft":
        return gen.now - timedelta(days=rng.uniform(0.2, 20)), day_end(
            gen.now + timedelta(days=rng.uniform(20, 60))
        )
    released = gen.now - timedelta(days=rng.uniform(40, 300))
    return released, day_end(released + timedelta(days=rng.uniform(10, 35)))


def _quote_terms(gen: SellerDraft, product: dict[str, Any], tcv: int) -> list[dict[str, Any]]:
    rng = gen.rng
    tier = max(
        (d for d in product["Meta"]["Prices"] if d["Types"] == ["Entitled"]),
        key=lambda d: Decimal(d["Meta"]["AnnualPrice"]),
    )
    return [
        tm.legal_term(rng),
        tm.support_term(rng),
        {
            "Type": "FixedUpfrontPricingTerm",
            "CurrencyCode": "USD",
            "Price": tm.money(tcv),
            "Duration": "P12M",
            "Grants": [{"DimensionKey": tier["Key"], "MaxQuantity": 1}],
        },
        {"Type": "ValidityTerm", "AgreementDuration": "P12M"},
        {"Type": "RenewalTerm"},
    ]


def make_resale_and_offer_sets(gen: SellerDraft) -> None:
    """ResaleAuthorizations (own and shared), CPPO and ABO offers, and OfferSets."""
    profile = gen.profile
    product = _private_product(gen)
    auths = [_resale(gen, product, status, "SELF") for status in profile.resale_statuses]
    auths += [_resale(gen, product, "Active", "SHARED") for _ in range(profile.shared_resale)]
    gen.entities.extend(auths)
    active = next((a for a in auths if a["DetailsDocument"]["Status"] == "Active"), None)
    for _ in range(profile.cppo_offers if active else 0):
        assert active is not None
        offer = make_private_offer(gen, None, "open")
        offer["DetailsDocument"]["ResaleAuthorizationId"] = active["EntityId"]
        offer["DetailsDocument"]["MarkupPercentage"] = "5.0"
        offer["Meta"]["Kind"] = "cppo"
        gen.private_offers.append(offer)
        gen.entities.append(offer)
    for index in range(profile.offer_sets):
        gen.entities.append(_offer_set(gen, index))


def _resale(
    gen: SellerDraft, product: dict[str, Any], status: str, ownership: str
) -> dict[str, Any]:
    rng = gen.rng
    created = gen.now - timedelta(days=rng.uniform(20, 300))
    reseller = gen.ids.account()
    title = product["DetailsDocument"]["Description"]["ProductTitle"]
    manufacturer = (
        (gen.ids.account(), "Partner ISV, Inc.")
        if ownership == "SHARED"
        else (gen.customer.account_id, f"{gen.customer.company}, Inc.")
    )
    channel = "Channel" if ownership == "SELF" else "Partner"
    details = {
        "Name": f"{title} resale via {channel} {rng.randint(1, 99)}",
        "Description": "Reseller may create private offers at or above list price.",
        "ProductId": product["EntityId"],
        "ProductName": title,
        "PricingModel": "Contract",
        "Status": status,
        "ManufacturerAccountId": manufacturer[0],
        "ManufacturerLegalName": manufacturer[1],
        "CreatedDate": iso_ms(created),
        "OfferDetails": {
            "OfferExtendedStatus": "Active" if status == "Active" else "NotCreated",
            "OfferCreatedCount": 1,
        },
        "Rules": [
            {
                "Type": "AvailabilityRule",
                "AvailabilityEndDate": iso_ms(day_end(gen.now + timedelta(days=180))).replace(
                    ".000Z", ".999Z"
                ),
            },
            {
                "Type": "PartnerTargetingRule",
                "ResellerAccountId": reseller,
                "ResellerLegalName": "Channel Partners LLC",
                "ResellerRole": "ChannelPartner",
            },
        ],
    }
    return {
        "EntityId": gen.ids.make("resaleauthz-", 13),
        "EntityType": "ResaleAuthorization",
        "OwnershipType": ownership,
        "Revision": rng.randint(1, 5),
        "LastModifiedDate": iso_z(created + timedelta(days=2)),
        "DetailsDocument": details,
        "Meta": {"CreatedDate": iso_z(created)},
    }


def _offer_set(gen: SellerDraft, index: int) -> dict[str, Any]:
    offers = [o["EntityId"] for o in gen.private_offers[index * 3 : index * 3 + 3]]
    released = gen.now - timedelta(days=20 + index * 15)
    state = "Released" if index == 0 else "Draft"
    details = {
        "Name": f"Platform bundle {index + 1}",
        "State": state,
        "AssociatedOfferIds": offers,
        "SolutionId": gen.ids.make("solution-", 13),
    }
    meta = {"CreatedDate": iso_z(released)}
    if state == "Released":
        meta["ReleaseDate"] = iso_z(released)
    return {
        "EntityId": gen.ids.make("offerset-", 13),
        "EntityType": "OfferSet",
        "OwnershipType": "SELF",
        "Revision": 2,
        "LastModifiedDate": iso_z(released),
        "DetailsDocument": details,
        "Meta": meta,
    }


def make_change_sets(
    gen: SellerDraft, counts: dict[str, int]
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Change-set history for the last 60 days (see ``changeset_data``)."""
    from vell_core.sandbox.marketplace.changeset_data import ChangeSetHistory

    return ChangeSetHistory(gen, counts).build()
