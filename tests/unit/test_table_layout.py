"""Column widths that keep a table inside the page (``vell_core.views.table_layout``)."""

from __future__ import annotations

import pandas as pd

from vell_core.views.table_layout import (
    MAX_AUTO_PX,
    MIN_PX,
    PAGE_BUDGET_PX,
    fitted_widths,
    natural_width,
    water_level,
)


def offers() -> pd.DataFrame:
    """A table like the live demo's offers: one long free-text name, short figures."""
    return pd.DataFrame(
        {
            "Name": ["Acme Analytics private offer for Nimbus Hospitality (acct: 534863522281)"],
            "Status": ["Active"],
            "Released": ["2026-11-09"],
            "Pricing": ["Upfront $26,100.00 (EnterpriseTier×1)"],
            "Offer id": ["offer-fcww16cqbvxlnpzm4szsvg7rt"],
        }
    )


def test_a_table_that_fits_is_left_to_the_grid() -> None:
    assert fitted_widths(pd.DataFrame({"Status": ["Active"], "Agreements": ["3"]})) == {}


def test_columns_that_would_scroll_sideways_add_up_to_the_budget() -> None:
    widths = fitted_widths(offers())
    assert set(widths) == set(offers().columns)
    assert sum(widths.values()) <= PAGE_BUDGET_PX
    assert sum(widths.values()) >= PAGE_BUDGET_PX - len(widths)  # the room is used, not wasted


def test_short_columns_keep_their_whole_text_and_the_longest_is_narrowed() -> None:
    frame = offers()
    widths = fitted_widths(frame)
    for short in ("Status", "Released"):
        assert widths[short] == natural_width(short, frame[short].tolist())
    assert widths["Name"] < natural_width("Name", frame["Name"].tolist())
    assert widths["Name"] == max(widths.values())


def test_only_the_columns_on_screen_share_the_budget() -> None:
    frame = offers()
    assert fitted_widths(frame, ["Name", "Status", "Released"]) == {}
    narrowed = fitted_widths(frame, ["Name", "Pricing", "Offer id"], budget=500)
    assert set(narrowed) == {"Name", "Pricing", "Offer id"}


def test_fixed_columns_keep_their_width_and_the_others_share_the_rest() -> None:
    widths = fitted_widths(offers(), fixed={"Offer id": 90})
    assert "Offer id" not in widths
    assert sum(widths.values()) + 90 <= PAGE_BUDGET_PX


def test_the_water_level_never_starves_a_column() -> None:
    assert water_level([500, 500, 500, 500, 500, 500, 500, 500, 500, 500, 500, 500], 800) == MIN_PX
    assert water_level([100, 200], 800) == 200  # already fits: the widest stays as it is
    assert water_level([100, 500, 500], 700) == 300


def test_natural_width_grows_with_the_text_up_to_the_grids_own_ceiling() -> None:
    assert natural_width("Id", ["a"]) < natural_width("Id", ["a" * 30])
    assert natural_width("Id", ["a" * 400]) == MAX_AUTO_PX
