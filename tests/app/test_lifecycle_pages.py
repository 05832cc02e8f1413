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
    assert int(labels["Pending approvals"]) == figures.pending_approvals > 0
    assert "Trials expiring within 24 h" in labels


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
