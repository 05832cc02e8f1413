"""Countdown and duration text."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from vell_core.views.formatting import countdown, duration_text

NOW = datetime(2026, 11, 29, tzinfo=UTC)


def test_duration_text() -> None:
    assert duration_text(45) == "45 s"
    assert duration_text(12 * 60 + 5) == "12 min 05 s"
    assert duration_text(3 * 3600 + 5 * 60) == "3 h 05 min"
    assert duration_text(2 * 86400 + 3600) == "2 d 1 h"


def test_countdown() -> None:
    assert countdown(NOW + timedelta(hours=4), NOW) == "4 h 00 min"
    assert countdown(NOW - timedelta(seconds=1), NOW) == "expired"
    assert countdown(None, NOW) == "—"


def test_hours_read_as_days_and_hours_never_as_fractions() -> None:
    from vell_core.views.formatting import hours_text

    assert [hours_text(h) for h in (1, 4, 12, 24, 48, 24 * 7 + 1)] == [
        "1 h",
        "4 h",
        "12 h",
        "1 day",
        "2 days",
        "7 days 1 h",
    ]


def test_iso_durations_read_in_words() -> None:
    """Issue 13: offer terms showed ``P12M``; durations read as words everywhere."""
    from vell_core.views.formatting import iso_duration_text

    assert iso_duration_text("P12M") == "12 months"
    assert iso_duration_text("P1M") == "1 month"
    assert iso_duration_text("P30D") == "30 days"
    assert iso_duration_text("P1Y6M") == "1 year 6 months"
    assert iso_duration_text("PT12H") == "12 hours"
    assert iso_duration_text("StandardEula") == "StandardEula"
    assert iso_duration_text(None) == "—"


def test_percentages_and_money_have_one_helper_each() -> None:
    from decimal import Decimal

    from vell_core.domain.metrics import format_value
    from vell_core.domain.numbers import percent, signed_percent
    from vell_core.views.formatting import money

    assert percent(0.9467) == "95%"
    assert percent(0.9467, 1) == "94.7%"
    assert percent(None) == percent(float("nan")) == "—"
    assert signed_percent(-0.6) == "-60%"
    assert format_value(0.9467, "ratio") == percent(0.9467)  # the KPI tiles use the same helper
    assert money(Decimal("84000")) == "$84,000.00"
    assert money(Decimal("1200"), "EUR") == "EUR 1,200.00"
    assert money(None) == "—"


def test_display_frame_never_shows_none_and_orders_columns() -> None:
    import pandas as pd

    from vell_core.domain.numbers import percent
    from vell_core.views.formatting import display_frame

    frame = pd.DataFrame(
        {"id": ["a", "b"], "name": ["x", None], "share": [0.5, None]},
        columns=["id", "name", "share"],
    )
    shown = display_frame(
        frame, {"share": percent}, columns=["name", "share", "id"], rename={"share": "Share"}
    )
    assert list(shown.columns) == ["name", "Share", "id"]
    assert shown.to_dict("records") == [
        {"name": "x", "Share": "50%", "id": "a"},
        {"name": "—", "Share": "—", "id": "b"},
    ]


def test_principal_name_keeps_what_a_person_reads() -> None:
    """Issue 13: "Approved by" was cut off at "user/customer-…"."""
    from vell_core.views.formatting import principal_name

    assert principal_name("arn:aws:iam::602341187520:user/customer-admin") == "customer-admin"
    assert principal_name("arn:aws:iam::602341187520:root") == "account root"
    assert principal_name(None) == "—"


def test_unique_labels_break_ties_only_where_needed() -> None:
    from vell_core.views.formatting import unique_labels

    labels = unique_labels({1: "Same", 2: "Same", 3: "Other"}, {1: "#1", 2: "#2", 3: "#3"})
    assert labels == {1: "Same · #1", 2: "Same · #2", 3: "Other"}


def test_numeric_columns_are_the_figures_a_table_right_aligns() -> None:
    import pandas as pd

    from vell_core.views.formatting import numeric_columns

    shown = pd.DataFrame(
        {
            "Product": ["Trace", "Metrics"],
            "TCV": ["$48,000.00", "EUR 9,000.00"],
            "Share": ["95%", "—"],
            "Agreements": ["3", "12"],
            "Empty": ["—", "—"],
            "Id": ["agmt-1", "agmt-2"],
        }
    )
    assert numeric_columns(shown) == ["TCV", "Share", "Agreements"]
