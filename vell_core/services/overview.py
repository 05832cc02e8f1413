"""Home-page figures: counted in SQL by ``vell_core.store.overview``, worded here as tiles."""

from __future__ import annotations

from dataclasses import dataclass

from vell_core.domain.clock import Clock
from vell_core.domain.numbers import percent
from vell_core.store.overview import HomeFigures, OverviewStore


class OverviewService:
    """Home-page figures; wired as ``services.overview``."""

    def __init__(self, store: OverviewStore, clock: Clock) -> None:
        self._store = store
        self._clock = clock

    def home(self) -> HomeFigures:
        """Figures as of now."""
        return self._store.figures(self._clock.now())


@dataclass(frozen=True)
class Tile:
    """One figure on the home page, with a line saying exactly what it counts."""

    label: str
    value: str
    counts: str


def home_tiles(figures: HomeFigures) -> dict[str, tuple[Tile, ...]]:
    """The home page's figures in two groups, each worded for someone new to the desk.

    The 30-day figures count different groups of customers (a customer who started a trial
    may have had their demo earlier), so each says whom it counts and the demo → trial rate
    names its own numerator and denominator: side by side they never read as a contradiction.
    """
    demoed, trialled = figures.demos_last_30d, figures.demoed_then_trialled_30d
    rate = figures.conversion_last_30d
    return {
        "Right now": (
            Tile("Active demos", str(figures.active_demos), "Demo access approved and live now."),
            Tile(
                "Active trials", str(figures.active_trials), "Trial access approved and live now."
            ),
            Tile(
                "Waiting for approval",
                str(figures.pending_approvals),
                "Requests sent, not yet approved by the customer.",
            ),
            Tile(
                "Trials ending within 24 h",
                str(figures.trials_expiring_24h),
                "Live trials whose access ends in the next 24 hours.",
            ),
        ),
        "Last 30 days (customers)": (
            Tile("Demoed", str(demoed), "Customers whose demo connected in the last 30 days."),
            Tile(
                "Started a trial",
                str(figures.trials_last_30d),
                "Customers whose trial connected in the last 30 days, whenever their demo was.",
            ),
            Tile(
                "Reached production",
                str(figures.production_last_30d),
                "Customers who got a permanent connection in the last 30 days.",
            ),
            Tile(
                "Demo → trial",
                percent(rate),
                f"{trialled} of the {demoed} customers demoed in the last 30 days went on "
                "to a trial."
                if demoed
                else "No customer was demoed in the last 30 days.",
            ),
        ),
    }
