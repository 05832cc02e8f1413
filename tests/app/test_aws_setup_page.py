"""Admin → AWS setup page: the health verdict, the checklist and the questionnaire."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from streamlit.testing.v1 import AppTest


def test_admin_sees_health_checklist_and_questionnaire(page: Callable[..., AppTest]) -> None:
    app = page("pages/aws_setup.py", as_email="sam.patel@vell.ai").run()
    assert not app.exception
    assert [t.value for t in app.title] == ["AWS setup"]
    assert app.success or app.error  # a verdict at the top, either way
    metrics = {m.label: m.value for m in app.metric}
    assert metrics["Mode"] == "sandbox"
    assert "Queue depth" in metrics
    assert "Dead-letter queue" in metrics
    arns = app.dataframe[0].value
    assert "AWS_DELEGATION_SNS_TOPIC_ARN" in list(arns["Setting"])
    assert set(arns[""]) == {"🟢"}  # the sandbox defaults have the right shapes
    assert app.checkbox(key="check_isva")
    body = app.code[0].value
    assert "- Production: 253265132499" in body
    assert "Requestor Domain: vell.ai" in body
    assert app.get("download_button") or any("policies/" in w.value for w in app.warning)


def test_checklist_is_saved(page: Callable[..., AppTest]) -> None:
    app = page("pages/aws_setup.py", as_email="sam.patel@vell.ai").run()
    app.checkbox(key="check_deployed_on_aws").check()
    app.text_input(key="note_deployed_on_aws").set_value("Badge live on the listing")
    app.button(key="FormSubmitter:setup_checklist-Save checklist").click().run()
    assert not app.exception
    again = page("pages/aws_setup.py", as_email="sam.patel@vell.ai").run()
    assert again.checkbox(key="check_deployed_on_aws").value is True
    assert again.text_input(key="note_deployed_on_aws").value == "Badge live on the listing"


def test_invalid_questionnaire_answer_shows_a_friendly_error(
    page: Callable[..., AppTest],
) -> None:
    app = page("pages/aws_setup.py", as_email="sam.patel@vell.ai").run()
    app.text_input(key="pq_partner_id").set_value("12345")
    app.button(key="FormSubmitter:setup_profile-Save answers").click().run()
    assert not app.exception
    assert any("Partner ID" in error.value for error in app.error)


@pytest.mark.parametrize(
    "email", ["maya.chen@vell.ai", "lena.fischer@vell.ai", "rachel.kim@vell.ai"]
)
def test_non_admins_are_refused(page: Callable[..., AppTest], email: str) -> None:
    app = page("pages/aws_setup.py", as_email=email).run()
    assert [e.value for e in app.error] == ["You do not have access to this page."]
    assert not app.metric
