"""Which pages exist and who sees them; Home.py turns this into ``st.navigation``.

Each page names the action it needs (``vell_core.domain.roles.ACTION_ROLES``); a page is
listed only for members allowed that action, and each page checks again when it runs.
"""

from __future__ import annotations

from dataclasses import dataclass

from vell_core.domain.roles import StaffMember, can


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
    PageSpec(
        "pages/wizard.py",
        "New delegation",
        ":material/add_link:",
        "Sales",
        action="delegation.create",
    ),
    PageSpec(
        "pages/delegations.py",
        "Delegations",
        ":material/list_alt:",
        "Sales",
        action="delegation.read_own",
    ),
    PageSpec(
        "pages/demo_browser.py",
        "Live demo",
        ":material/storefront:",
        "Sales",
        action="demo.browse",
    ),
    PageSpec(
        "pages/demo_links.py",
        "Demo links",
        ":material/share:",
        "Sales",
        action="delegation.create",
    ),
    PageSpec(
        "pages/trials_desk.py",
        "Trials desk",
        ":material/timer:",
        "Customer success",
        action="promotion.run",
    ),
    PageSpec(
        "pages/connections.py",
        "Connections",
        ":material/hub:",
        "Customer success",
        action="connection.manage",
    ),
    PageSpec(
        "pages/production_setup.py",
        "Production setup",
        ":material/cloud_upload:",
        "Customer success",
        action="connection.manage",
    ),
    PageSpec(
        "pages/tickets.py",
        "Support tickets",
        ":material/support_agent:",
        "Customer success",
        action="tickets.write",
    ),
    PageSpec(
        "pages/metrics.py",
        "Leadership metrics",
        ":material/monitoring:",
        "Leadership",
        action="metrics.read",
    ),
    PageSpec(
        "pages/audit.py",
        "Audit log",
        ":material/policy:",
        "Admin",
        action="audit.read",
    ),
    PageSpec(
        "pages/aws_setup.py",
        "AWS setup",
        ":material/settings:",
        "Admin",
        action="settings.read",
    ),
    PageSpec(
        "pages/customer_console.py",
        "Customer console",
        ":material/science:",
        "Sandbox",
        action="sandbox.customer_console",
        sandbox_only=True,
    ),
)

# Shown instead of PAGES: to anyone signed out, and to a customer who opened a demo link or
# the link to their access record.
SIGN_IN_PAGE = PageSpec("pages/sign_in.py", "Sign in", ":material/login:", "", default=True)
DEMO_REQUEST_PAGE = PageSpec(
    "pages/demo_request.py", "Your Vell demo", ":material/key:", "", default=True
)
DEMO_REQUEST_URL_PATH = "demo_request"  # the customer link's path (vell_core.services.demo_links)
ACCESS_RECORD_PAGE = PageSpec(
    "pages/access_record.py", "Your access record", ":material/fact_check:", "", default=True
)
ACCESS_RECORD_URL_PATH = "access_record"  # the customer record link's path (access_record)

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


def url_path_of(page: PageSpec) -> str:
    """The address Streamlit gives a page file (``pages/demo_browser.py`` → ``demo_browser``)."""
    return page.path.rsplit("/", 1)[-1].removesuffix(".py")


def staff_url_paths() -> list[str]:
    """Every staff page's address except the home page's (which is ``/``)."""
    return [url_path_of(page) for page in PAGES if not page.default]
