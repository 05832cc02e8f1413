"""Sign-in and page access (security checklist T1, §4.1): nothing renders for the signed out.

Home.py shows only the sign-in page to anyone signed out; each page, reached directly by URL,
stops with a sign-in error before it queries anything; the sandbox's local sign-in does not
exist in aws mode; OIDC identities map to active staff members only.
"""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from sqlalchemy import event
from streamlit.testing.v1 import AppTest

from vell_core.app import Services
from vell_core.config.settings import load_settings
from vell_core.domain.errors import PermissionDenied
from vell_core.ui import bridge as ui_bridge
from vell_core.ui.navigation import PAGES

MY_PAGES = ("pages/audit.py", "pages/aws_setup.py", "pages/demo_links.py")
ALL_PAGES = sorted({spec.path for spec in PAGES} | set(MY_PAGES))
AWS_VALUES = {
    "vell_aws_mode": "aws",
    "aws_delegation_sns_topic_arn": "arn:aws:sns:us-east-1:253265132499:vell-prod-notify",
    "aws_delegation_read_only_template_arn": "arn:aws:iam:::delegation-template/vell.ai/ro",
    "aws_delegation_full_access_template_arn": "arn:aws:iam:::delegation-template/vell.ai/fa",
    "aws_delegation_onboarding_template_arn": "arn:aws:iam:::delegation-template/vell.ai/ob",
    "aws_delegation_permission_boundary_arn": "arn:aws:iam::partner:policy/vell.ai/B_20251206",
    "vell_delegation_queue_url": "https://sqs.us-east-1.amazonaws.com/253265132499/vell-prod",
    "vell_cfn_template_url": "https://vell-prod.s3.amazonaws.com/role.yaml",
}


@pytest.fixture
def app_queries(app_services: Services) -> Iterator[list[str]]:
    """SQL run by anything but the background notification workers (T1's "DB spy")."""
    workers = {getattr(item, "worker_id", None) for item in app_services.background}
    seen: list[str] = []

    def spy(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if threading.current_thread().name not in workers:
            seen.append(statement)

    event.listen(app_services.engine, "before_cursor_execute", spy)
    yield seen
    event.remove(app_services.engine, "before_cursor_execute", spy)


@pytest.fixture
def aws_mode(app_services: Services, monkeypatch: pytest.MonkeyPatch) -> Services:
    """The same graph, but with settings that say ``aws`` (nothing reaches AWS in these tests)."""
    services = dataclasses.replace(app_services, settings=load_settings(**AWS_VALUES))
    monkeypatch.setattr(ui_bridge, "get_services", lambda: services)
    return services


def _only_sign_in(app: AppTest) -> None:
    assert not app.exception
    assert [title.value for title in app.title] == ["Vell Delegation Desk"]
    assert not app.metric
    assert not app.dataframe


# --- signed out ------------------------------------------------------------------------------


def test_home_signed_out_shows_only_the_sign_in_page(page: Callable[..., AppTest]) -> None:
    app = page("Home.py").run()
    _only_sign_in(app)
    assert app.button(key="sandbox_sign_in")
    assert "SANDBOX" in app.sidebar.markdown[0].value
    assert not [b for b in app.sidebar.button if b.key == "sign_out"]


@pytest.mark.parametrize("path", ALL_PAGES)
def test_every_page_signed_out_stops_before_any_query(
    page: Callable[..., AppTest], app_queries: list[str], path: str
) -> None:
    app = page(path).run()
    assert not app.exception
    assert [error.value for error in app.error] == [
        "Please sign in to use the Vell Delegation Desk."
    ]
    assert not app.title
    assert not app.dataframe
    assert not app.metric
    assert app_queries == []


@pytest.mark.parametrize(
    ("path", "email"),
    [
        ("pages/audit.py", "maya.chen@vell.ai"),
        ("pages/audit.py", "rachel.kim@vell.ai"),
        ("pages/aws_setup.py", "lena.fischer@vell.ai"),
        ("pages/demo_links.py", "rachel.kim@vell.ai"),
        ("pages/wizard.py", "rachel.kim@vell.ai"),
    ],
)
def test_pages_refuse_roles_without_the_action(
    page: Callable[..., AppTest], path: str, email: str
) -> None:
    app = page(path, as_email=email).run()
    assert not app.exception
    assert [error.value for error in app.error] == ["You do not have access to this page."]
    assert not app.title


# --- sandbox sign-in -------------------------------------------------------------------------


def test_sandbox_sign_in_sets_the_user(page: Callable[..., AppTest]) -> None:
    app = page("pages/sign_in.py").run()
    assert "Local sign-in" in app.markdown[0].value or any(
        "Local sign-in" in m.value for m in app.markdown
    )
    app.selectbox(key="sandbox_sign_in_member").set_value("Maya Chen — sales")
    app.button(key="sandbox_sign_in").click().run()
    assert not app.exception
    maya = ui_bridge.get_services().staff.by_email("maya.chen@vell.ai")
    assert maya is not None
    assert app.session_state[ui_bridge.SIGNED_IN_KEY] == maya.id


def test_signed_in_rep_gets_the_app_not_the_sign_in(page: Callable[..., AppTest]) -> None:
    app = page("Home.py", as_email="maya.chen@vell.ai").run()
    assert not app.exception
    assert "Vell Delegation Desk" in [t.value for t in app.title]
    assert app.metric  # the overview rendered
    assert [b for b in app.sidebar.button if b.key == "sign_out"]


def test_sandbox_sign_in_is_refused_in_aws_mode(
    page: Callable[..., AppTest], aws_mode: Services
) -> None:
    maya = aws_mode.staff.by_email("maya.chen@vell.ai")
    assert maya is not None
    with pytest.raises(PermissionDenied):
        aws_mode.staff.local_sign_in(maya.id, sandbox=aws_mode.settings.is_sandbox)

    app = page("pages/sign_in.py").run()
    assert not app.exception
    assert not [b for b in app.button if b.key == "sandbox_sign_in"]
    assert any("Sign-in is not configured" in error.value for error in app.error)


def test_a_local_sign_in_left_in_session_state_is_ignored_in_aws_mode(
    page: Callable[..., AppTest], aws_mode: Services
) -> None:
    app = page("Home.py", as_email="sam.patel@vell.ai").run()
    _only_sign_in(app)
    direct = page("pages/aws_setup.py", as_email="sam.patel@vell.ai").run()
    assert [e.value for e in direct.error] == ["Please sign in to use the Vell Delegation Desk."]


# --- OIDC ------------------------------------------------------------------------------------


def test_oidc_identity_maps_to_the_staff_member(page: Callable[..., AppTest]) -> None:
    app = page("Home.py")
    app.user = {"is_logged_in": True, "email": "Maya.Chen@vell.ai", "email_verified": True}
    app.run()
    assert not app.exception
    assert app.metric
    assert any("Maya Chen" in caption.value for caption in app.sidebar.caption)


@pytest.mark.parametrize(
    "user",
    [
        {"is_logged_in": True, "email": "maya.chen@vell.ai", "email_verified": False},
        {"is_logged_in": True, "email": "maya.chen@vell.ai"},  # not vouched for (issue 15)
        {"is_logged_in": True, "email": "maya.chen@vell.ai", "email_verified": "true"},
        {"is_logged_in": True, "email": "stranger@vell.ai", "email_verified": True},
        {"is_logged_in": False, "email": "maya.chen@vell.ai"},
    ],
)
def test_unverified_unknown_or_logged_out_identities_get_the_sign_in(
    page: Callable[..., AppTest], user: dict[str, Any]
) -> None:
    app = page("Home.py")
    app.user = user
    app.run()
    _only_sign_in(app)


def test_sso_button_appears_when_auth_is_configured(page: Callable[..., AppTest]) -> None:
    app = page("pages/sign_in.py")
    app.secrets["auth"] = {
        "redirect_uri": "http://localhost:8501/oauth2callback",
        "cookie_secret": "x" * 32,
        "client_id": "vell-desk",
        "client_secret": "dummy",
        "server_metadata_url": "https://login.example.com/.well-known/openid-configuration",
    }
    app.run()
    assert not app.exception
    assert app.button(key="oidc_sign_in")
    assert app.button(key="sandbox_sign_in")  # the sandbox keeps its labelled local sign-in


def test_demo_link_url_shows_only_the_customer_page(page: Callable[..., AppTest]) -> None:
    app = page("Home.py", as_email="sam.patel@vell.ai", demo_link="forged.token").run()
    assert not app.exception
    assert [t.value for t in app.title] == ["Start your Vell demo"]
    assert not app.metric
    assert not [b for b in app.sidebar.button if b.key == "sign_out"]
    assert any("not valid" in error.value for error in app.error)
