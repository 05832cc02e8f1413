"""Connections (health, re-validate, disconnect, offboarding) and the trials desk service."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlmodel import select

from tests.integration.test_cloudformation_path import create_stack, start
from tests.integration.test_promotion import Harness, harness, onboarding_ready, sandbox
from vell_core.domain.errors import InvalidTransition, PermissionDenied
from vell_core.domain.iam_actions import CONNECTOR_POLICY_NAME
from vell_core.domain.models import AuditLog, ConnectionStatus, DelegationPath
from vell_core.services.audit import flush_all
from vell_core.services.delegation import new_launch_token
from vell_core.services.trials import TrialFilter
from vell_core.store.engine import session_scope
from vell_core.views.csv_export import records_csv
from vell_core.views.formatting import seconds_left

__all__ = ["harness", "sandbox"]  # fixtures used here


def promoted(h: Harness) -> Any:
    view = h.prod.promotion.run(h.member(), onboarding_ready(h))
    assert view.done, view.last_error
    return view


def test_list_shows_health_from_the_last_successful_validation(harness: Harness) -> None:
    h = harness
    view = promoted(h)
    [connection] = [c for c in h.prod.connections.list(h.member()) if c.aws_account_id == h.account]
    assert connection.status is ConnectionStatus.ACTIVE
    assert connection.last_success_at is not None
    assert connection.health(h.sandbox.clock.now()).startswith("Healthy")
    assert connection.role_name == view.role_name

    iam = h.customer("iam")  # the customer deletes the role behind Vell's back
    iam.delete_role_policy(RoleName=view.role_name, PolicyName=CONNECTOR_POLICY_NAME)
    iam.delete_role(RoleName=view.role_name)
    report = h.prod.connections.validate(h.member(), view.connection_id)
    assert not report.ok
    after = h.prod.connections.get(h.member(), view.connection_id)
    assert after.status is ConnectionStatus.FAILED
    assert after.last_success_at == connection.last_success_at  # health keeps the last success
    assert after.health(h.sandbox.clock.now()).startswith("Failing")


def test_assume_role_uses_the_stored_external_id_and_names_the_staff_member(
    harness: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    h = harness
    view = promoted(h)
    sent: list[dict[str, Any]] = []
    sts = h.aws.client("sts")
    original = sts.assume_role
    monkeypatch.setattr(sts, "assume_role", lambda **kw: sent.append(kw) or original(**kw))
    h.prod.connections.validate(h.member(), view.connection_id)
    assert sent[0]["ExternalId"] == view.external_id
    assert sent[0]["RoleSessionName"] == f"vell-validate-staff-{h.member().id}"
    assert sent[0]["DurationSeconds"] == 900
    flush_all()  # audit rows are written by a batching thread
    with session_scope(h.engine) as session:
        outcomes = session.exec(
            select(AuditLog.outcome).where(
                AuditLog.action == "sts.AssumeRole", AuditLog.connection_id == view.connection_id
            )
        ).all()
    assert "ok" in outcomes


def test_offboarding_a_promoted_connection(harness: Harness) -> None:
    h = harness
    view = promoted(h)
    connections = h.prod.connections
    with pytest.raises(InvalidTransition):
        connections.confirm_access_gone(h.member(), view.connection_id)
    checklist = connections.disconnect(h.member(), view.connection_id)
    assert [i.done for i in checklist.items] == [True, False, False]
    assert view.role_name in checklist.items[1].detail
    still = connections.confirm_access_gone(h.member(), view.connection_id)
    assert not still.gone

    iam = h.customer("iam")
    iam.delete_role_policy(RoleName=view.role_name, PolicyName=CONNECTOR_POLICY_NAME)
    iam.delete_role(RoleName=view.role_name)
    assert connections.confirm_access_gone(h.member(), view.connection_id).gone
    assert connections.offboarding_checklist(h.member(), view.connection_id).complete
    with pytest.raises(InvalidTransition):
        connections.validate(h.member(), view.connection_id)


def test_offboarding_a_cloudformation_connection_by_deleting_the_stack(harness: Harness) -> None:
    h = harness
    setup = start(h)
    role_arn = create_stack(h, setup.external_id)
    assert h.prod.production_setup.validate(h.member(), setup.connection_id, role_arn).ok
    checklist = h.prod.connections.disconnect(h.member(), setup.connection_id)
    assert "stack" in checklist.items[1].label
    h.customer("cloudformation").delete_stack(StackName=setup.stack_name)
    assert h.prod.connections.confirm_access_gone(h.member(), setup.connection_id).gone


def test_sales_cannot_manage_connections(harness: Harness) -> None:
    with pytest.raises(PermissionDenied):
        harness.prod.connections.list(harness.member("maya.chen@vell.ai"))


# -- Trials desk ------------------------------------------------------------------------------


def test_trials_desk_orders_by_time_left_and_filters(harness: Harness) -> None:
    h = harness
    demo = h.launch(DelegationPath.DEMO, company="Zeta Demo Co")
    trial = h.launch(DelegationPath.TRIAL, company="Alpha Trial Co")
    h.approve(demo)  # live credentials: 4 h demo, far less than the trial's 1-day request expiry
    rows = h.prod.trials.list(h.member(), TrialFilter())
    ours = [r for r in rows if r.delegation.id in (demo, trial)]
    assert [r.delegation.id for r in ours] == [demo, trial]
    assert ours[0].credentials_left_seconds is not None
    only = h.prod.trials.list(h.member(), TrialFilter(company_contains="alpha"))
    assert [r.delegation.id for r in only] == [trial]
    lena = h.member().id
    assert {
        r.delegation.id for r in h.prod.trials.list(h.member(), TrialFilter(rep_ids=(lena,)))
    } >= {
        demo,
        trial,
    }
    assert h.prod.trials.list(h.member(), TrialFilter(rep_ids=(99999,))) == []


def test_renew_prompt_and_csv(harness: Harness) -> None:
    h = harness
    trial = h.launch(DelegationPath.TRIAL)
    token = new_launch_token()
    renewed = h.prod.trials.renew(h.member(), trial, token)
    again = h.prod.trials.renew(h.member(), trial, token)  # double click: one new request
    assert renewed.id == again.id != trial
    old = h.delegations.get(h.member(), trial)
    assert (renewed.path, renewed.session_duration, renewed.aws_account_id) == (
        old.path,
        old.session_duration,
        old.aws_account_id,
    )
    h.prod.trials.record_prompt_sent(h.member(), trial, "emailed the champion")
    row = next(r for r in h.prod.trials.list(h.member(), TrialFilter()) if r.delegation.id == trial)
    assert row.prompt_sent_at is not None
    data = records_csv([r.record() for r in h.prod.trials.list(h.member(), TrialFilter())])
    assert data.startswith(b"Company,Account,Path,Rep,Status")
    assert data.splitlines()[0].endswith(b",Request #")  # the id is kept, last


def test_countdown_labels() -> None:
    """The desk's clocks use the shared duration helper (one wording across the app)."""
    assert seconds_left(None) == "—"
    assert seconds_left(-1) == "ended"
    assert seconds_left(timedelta(hours=3, minutes=5).total_seconds()) == "3 h 05 min"
    assert seconds_left(timedelta(days=2, hours=4).total_seconds()) == "2 d 4 h"
