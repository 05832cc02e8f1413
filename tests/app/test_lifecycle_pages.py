"""AppTest of the home, delegations and customer-console pages on the seeded store."""

from __future__ import annotations

from collections.abc import Callable

from streamlit.testing.v1 import AppTest

from vell_core.app import Services
from vell_core.domain.models import DelegationPath
from vell_core.services.delegation import LaunchRequest, new_launch_token


def test_home_shows_seeded_figures(page: Callable[..., AppTest], app_services: Services) -> None:
    at = page("pages/overview.py", as_email="rachel.kim@vell.ai")
    at.run()
    assert not at.exception
    labels = {m.label: m.value for m in at.metric}
    figures = app_services.overview.home()
    assert labels["Active trials"] == str(figures.active_trials)
    assert int(labels["Waiting for approval"]) == figures.pending_approvals > 0
    assert "Trials ending within 24 h" in labels


def test_home_says_what_each_number_counts(
    page: Callable[..., AppTest], app_services: Services
) -> None:
    """Issue 13: for a new rep, "Demoed 9 · Started a trial 8 · Demo → trial 22%" must not read
    as a contradiction: every figure says whom it counts, the rate its own numerator."""
    at = page("pages/overview.py", as_email="maya.chen@vell.ai")
    at.run()
    figures = app_services.overview.home()
    captions = [c.value for c in at.caption][1:]  # the first is the page's tagline
    assert len(captions) == len(at.metric) == 8
    thirty_days = dict(zip([m.label for m in at.metric][4:], captions[4:], strict=True))
    assert "whenever their demo was" in thirty_days["Started a trial"]
    assert thirty_days["Demo → trial"] == (
        f"{figures.demoed_then_trialled_30d} of the {figures.demos_last_30d} customers demoed "
        "in the last 30 days went on to a trial."
    )
    assert [s.value for s in at.subheader] == ["Right now", "Last 30 days (customers)"]


def test_delegations_page_filters_and_shows_a_timeline(page: Callable[..., AppTest]) -> None:
    at = page("pages/delegations.py", as_email="lena.fischer@vell.ai")
    at.run()
    assert not at.exception
    assert at.dataframe
    at.multiselect(key="dl_status").set_value(["rejected"]).run()
    table = at.dataframe[0].value
    assert len(table) > 0
    assert set(table["Status"]) == {"rejected"}


def test_reps_see_only_their_own_delegations(
    page: Callable[..., AppTest], app_services: Services
) -> None:
    at = page("pages/delegations.py", as_email="maya.chen@vell.ai")
    at.run()
    table = at.dataframe[0].value
    assert set(table["Rep"]) == {"Maya Chen"}
    assert not at.multiselect(key="dl_status").options == []


def test_customer_console_forwards_to_an_admin(
    page: Callable[..., AppTest], app_services: Services
) -> None:
    member = app_services.staff.by_email("diego.alvarez@vell.ai")
    assert member is not None
    view = app_services.delegations.launch(
        member,
        LaunchRequest(
            company="Globex Data Platform",
            aws_account_id="739104552816",
            path=DelegationPath.DEMO,
            launch_token=new_launch_token(),
        ),
    )
    at = page("pages/customer_console.py", as_email="diego.alvarez@vell.ai")
    at.run()
    assert not at.exception
    label = next(
        o
        for o in at.selectbox(key="console_request").options
        if o.startswith("Globex Data Platform")
    )
    at.selectbox(key="console_request").set_value(label).run()
    at.button(key="console_associate").click().run()
    at.text_input(key="console_notes").set_value("Needed for Tuesday's demo")
    at.button(key="console_forward").click().run()
    assert not at.exception
    assert any("PENDING_APPROVAL" in m.value for m in at.markdown)
    assert view.delegation_request_id
