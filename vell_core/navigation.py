"""Which pages exist and who sees them; Home.py turns this into ``st.navigation``.

Each page names the action it needs (``vell_core.staff.ACTION_ROLES``); a page is listed only
for members allowed that action, and each page checks again when it runs.
"""

from __future__ import annotations

from dataclasses import dataclass

from vell_core.staff import StaffMember, can


@dataclass(frozen=True)
class PageSpec:
    """One page of the app."""

    path: str
    title: str
    icon: str
    group: str
    action: str | None = None  # None: every signed-in member
    sandbox_only: bool = False
    default: bool = False


PAGES: tuple[PageSpec, ...] = (
    PageSpec("pages/overview.py", "Home", ":material/home:", "Overview", default=True),
)

GROUP_ORDER = ("Overview", "Sales", "Customer success", "Leadership", "Admin", "Sandbox")


def pages_for(member: StaffMember, *, sandbox: bool) -> dict[str, list[PageSpec]]:
    """Pages visible to ``member``, grouped in display order."""
    grouped: dict[str, list[PageSpec]] = {group: [] for group in GROUP_ORDER}
    for page in PAGES:
        if page.sandbox_only and not sandbox:
            continue
        if page.action is not None and not can(member, page.action):
            continue
        grouped[page.group].append(page)
    return {group: pages for group, pages in grouped.items() if pages}
