"""The sample-seller generator: determinism, re-anchoring, size and mix targets."""

from __future__ import annotations

import json
from collections import Counter
from datetime import timedelta
from pathlib import Path

from tests.sandbox_marketplace.conftest import LARGE, NOW, SMALL, TYPICAL
from vell_core.config.sandbox_accounts import SANDBOX_CUSTOMERS, customer_by_account
from vell_core.sandbox.marketplace.generator import (
    generate_seller,
    seller_path,
    write_sample_sellers,
)
from vell_core.sandbox.marketplace.models import load_seller_file, parse_iso


def test_same_seed_and_now_give_identical_files(tmp_path: Path, data_dir: Path) -> None:
    write_sample_sellers(tmp_path, NOW)
    for customer in SANDBOX_CUSTOMERS:
        assert (
            seller_path(tmp_path, customer.account_id).read_bytes()
            == seller_path(data_dir, customer.account_id).read_bytes()
        )
    other = generate_seller(customer_by_account(SMALL), NOW, seed=7)  # type: ignore[arg-type]
    assert other != json.loads(seller_path(data_dir, SMALL).read_text())


def test_sizes(tmp_path: Path, data_dir: Path) -> None:
    """The large seller stays small enough to ship and load (speed is a benchmark's job)."""
    written = write_sample_sellers(tmp_path, NOW)
    assert len(written) == 3
    large = seller_path(data_dir, LARGE)
    assert large.stat().st_size < 6_000_000
    state = load_seller_file(large, NOW)
    assert len(state.agreements) >= 2900
    assert sum(e.entity_type == "Offer" for e in state.entities.values()) == 500


def test_mix_targets(data_dir: Path) -> None:
    small = json.loads(seller_path(data_dir, SMALL).read_text())
    typical = json.loads(seller_path(data_dir, TYPICAL).read_text())
    large = json.loads(seller_path(data_dir, LARGE).read_text())
    products = {
        "SaaSProduct",
        "AmiProduct",
        "ContainerProduct",
        "DataProduct",
        "MachineLearningProduct",
    }
    assert sum(e["EntityType"] in products for e in small["entities"]) == 2
    assert sum(e["EntityType"] in products for e in typical["entities"]) == 8
    assert sum(e["EntityType"] in products for e in large["entities"]) == 40
    assert 4 <= sum(e["EntityType"] == "Offer" for e in small["entities"]) <= 6
    assert 8 <= len(small["agreements"]) <= 12
    assert 130 <= len(typical["agreements"]) <= 150
    assert 55 <= len(typical["change_sets"]) <= 65
    for document in (typical, large):
        assert set(Counter(a["status"] for a in document["agreements"])) == {
            "ACTIVE",
            "ARCHIVED",
            "CANCELLED",
            "EXPIRED",
            "RENEWED",
            "REPLACED",
            "ROLLED_BACK",
            "SUPERSEDED",
            "TERMINATED",
        }
    visibilities = {
        e["DetailsDocument"]["Description"]["Visibility"]
        for e in large["entities"]
        if e["EntityType"] in products
    }
    assert visibilities == {"Public", "Limited", "Restricted", "Draft", "Unavailable"}
    assert len(typical["x-buyer-directory"]) == 90


def test_tcv_distribution(data_dir: Path) -> None:
    large = json.loads(seller_path(data_dir, LARGE).read_text())
    values = sorted(
        float(a["estimatedCharges"]["agreementValue"])
        for a in large["agreements"]
        if a["estimatedCharges"]["agreementValue"] != "0"
        and a["termSpec"]["validity"]["agreementDuration"] != "P1M"
    )
    median = values[len(values) // 2]
    assert 25_000 <= median <= 90_000
    assert values[-1] <= 1_300_000


def test_reanchoring_keeps_relative_dates(data_dir: Path) -> None:
    later = NOW + timedelta(days=40, hours=7)
    original = load_seller_file(seller_path(data_dir, TYPICAL), NOW)
    shifted = load_seller_file(seller_path(data_dir, TYPICAL), later)
    for agreement_id, agreement in original.agreements.items():
        moved = shifted.agreements[agreement_id]
        assert moved.summary["startTime"] - agreement.summary["startTime"] == timedelta(days=40)
    entity = next(iter(original.entities.values()))
    assert shifted.entities[entity.entity_id].last_modified - entity.last_modified == timedelta(
        days=40
    )
    # EULA versions (bare dates) never move.
    versions = {
        d.get("Version")
        for e in shifted.entities.values()
        for t in e.details.get("Terms", []) or []
        for d in t.get("Documents", [])
    }
    assert versions - {None} <= {"2019-04-24", "2019-12-12", "2022-07-14"}
    assert parse_iso("2026-09-05") == NOW.replace(hour=0)
