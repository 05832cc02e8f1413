"""New delegation: Provider → Account information → Choose path → Waiting → Connected."""

from __future__ import annotations

import uuid
from datetime import datetime

import streamlit as st

from vell_core.delegation import DelegationView, LaunchRequest, new_launch_token
from vell_core.formatting import countdown, when
from vell_core.models import AwsDelegationState, DelegationPath, ExchangeState, FunnelStep
from vell_core.ui_bridge import friendly_errors, get_services, require_page
from vell_core.ui_text import plain

member = require_page("delegation.create")
services = get_services()
WIZARD = "wizard_state"
STEPS = (
    "Provider",
    "Account information",
    "Choose onboarding path",
    "Waiting for approval",
    "Connected",
)


def state() -> dict:
    """This browser session's wizard (UI-only values; nothing secret)."""
    if WIZARD not in st.session_state:
        st.session_state[WIZARD] = {
            "step": 0,
            "session_id": str(uuid.uuid4()),
            "company": st.query_params.get("company", ""),
            "account": "",
        }
    return st.session_state[WIZARD]


def go(step: int) -> None:
    state()["step"] = step
    st.rerun()


def record(step: FunnelStep, **extra: object) -> None:
    wizard = state()
    services.delegations.record_step(
        member,
        session_id=wizard["session_id"],
        step=step,
        aws_account_id=wizard.get("account", ""),
        company=wizard.get("company") or None,
        **extra,
    )


wizard = state()
st.title("New delegation")
st.progress(
    (wizard["step"] + 1) / len(STEPS),
    text=f"Step {wizard['step'] + 1} of {len(STEPS)}: {STEPS[wizard['step']]}",
)


def provider_step() -> None:
    st.subheader("Cloud provider")
    st.radio("Provider", ["Amazon Web Services (AWS Marketplace)"], key="wizard_provider")
    st.caption("Vell connects to AWS Marketplace seller accounts.")
    if st.button("Continue", type="primary", key="wizard_provider_next"):
        record(FunnelStep.PROVIDER)
        go(1)


def account_step() -> None:
    st.subheader("Account information")
    # No max_chars: the browser would silently drop a longer paste; validation says why instead.
    company = st.text_input("Company", value=wizard["company"], key="wizard_company")
    account = st.text_input(
        "Customer's AWS account id (12 digits)",
        value=wizard["account"],
        key="wizard_account",
        max_chars=14,
    )
    back, nxt = st.columns([1, 5])
    if back.button("Back", key="wizard_account_back"):
        go(0)
    if nxt.button("Continue", type="primary", key="wizard_account_next"):
        with friendly_errors("validate account information"):
            wizard["company"], wizard["account"] = services.delegations.validate_account_info(
                company, account
            )
            record(FunnelStep.ACCOUNT_INFO)
            go(2)


PATH_CARDS = (
    (
        DelegationPath.DEMO,
        "⚡ Quick Start Demo",
        "4-hour read-only access · Perfect for evaluating Vell",
        [
            "View your marketplace listings",
            "Sync agreement data",
            "Try AI capabilities",
            "No cleanup required",
        ],
        ":blue-badge[Auto-expires in 4 hours]",
    ),
    (
        DelegationPath.TRIAL,
        "🎯 Extended Trial",
        "Up to 12-hour full access · Complete GTM automation trial",
        [
            "Everything in Demo",
            "Update marketplace listings",
            "Full AgentCore capabilities",
            "Co-sell matching",
        ],
        ":violet-badge[Renewable daily]",
    ),
    (
        "production",
        "🏢 Production Setup",
        "Permanent IAM role · For ongoing operations",
        [
            "Persistent connection",
            "CloudFormation deployment",
            "Least-privilege IAM role",
            "Enterprise security",
        ],
        ":green-badge[Recommended for production]",
    ),
)


def path_step() -> None:
    st.subheader("Choose onboarding path")
    st.caption(f"{plain(wizard['company'])} · AWS account {plain(wizard['account'])}")
    columns = st.columns(3)
    for column, (path, title, subtitle, bullets, badge) in zip(columns, PATH_CARDS, strict=True):
        with column.container(border=True):
            st.markdown(f"### {title}")
            st.caption(subtitle)
            st.markdown("\n".join(f"- ✓ {b}" for b in bullets))
            st.markdown(badge)
            if st.button("Choose", key=f"wizard_path_{path}", width="stretch"):
                wizard["path"] = str(path)
                wizard["launch_token"] = new_launch_token()
                record(FunnelStep.CHOOSE_PATH, path=str(path))
                st.rerun()
    if wizard.get("path") == DelegationPath.ONBOARDING.value:
        st.info(
            "Automated production setup: the customer approves a short onboarding request "
            "that lets Vell create one bounded, read-only connector role in their account."
        )
    if wizard.get("path") == DelegationPath.TRIAL.value:
        wizard["hours"] = st.slider(
            "Trial length (hours)", 1, 12, wizard.get("hours", 12), key="wizard_trial_hours"
        )
    if wizard.get("path") == "production":
        st.info(
            "Production setup uses the CloudFormation path (a permanent role with an "
            "external ID). Customer success runs it from **Connections**."
        )
    elif wizard.get("path"):
        preview_and_confirm()
    if st.button("Back", key="wizard_path_back"):
        go(1)


def launch_request() -> LaunchRequest:
    hours = wizard.get("hours", 12)
    return LaunchRequest(
        company=wizard["company"],
        aws_account_id=wizard["account"],
        path=DelegationPath(wizard["path"]),
        launch_token=wizard["launch_token"],
        session_duration=int(hours * 3600) if wizard["path"] == "trial" else None,
        wizard_session_id=wizard["session_id"],
    )


def preview_and_confirm() -> None:
    with friendly_errors("preview the request"):
        preview = services.delegations.preview(member, launch_request())
        st.markdown("#### What will be requested")
        cols = st.columns(3)
        cols[0].metric("AWS account", preview.aws_account_id)
        cols[1].metric("Duration", f"{preview.session_duration / 3600:g} h")
        cols[2].metric("Policy size", f"{preview.policy_chars} / 2048")
        for warning in preview.warnings:
            st.warning(warning)
        st.markdown("**Message the customer will see**")
        st.info(plain(preview.request_message))
        st.markdown("**Description**")
        st.caption(plain(preview.description))
        with st.expander("Permissions (the rendered policy the customer approves)"):
            st.code(preview.policy_pretty, language="json")
        st.caption(f"Template `{preview.template_name}` · {preview.template_arn}")
        if st.button("Send request to AWS", type="primary", key="wizard_launch"):
            view = services.delegations.launch(member, launch_request())
            wizard["delegation_id"] = view.id
            record(FunnelStep.WAITING, path=wizard["path"], delegation_id=view.id)
            go(3)


@st.fragment(run_every=services.settings.vell_live_refresh_seconds)
def live_status() -> None:
    """Refreshes on its own; moves the wizard on when access is released."""
    with friendly_errors("load the request"):
        view = services.delegations.get(member, wizard["delegation_id"])
        now = services.clock.now()
        render_status(view, now)
        if view.credentials_live(now) and wizard["step"] == 3:
            wizard["step"] = 4
            st.rerun()


def render_status(view: DelegationView, now: datetime) -> None:
    state_name = view.aws_state.value if view.aws_state else "creating"
    st.markdown(
        f"**Current state:** `{state_name}` · expires in "
        f"{countdown(view.aws_state_expires_at, now)}"
    )
    if view.aws_state is AwsDelegationState.PENDING_APPROVAL:
        st.warning(
            "Waiting for the customer's admin: the owner forwarded the request for "
            "approval. Share the console link again if they need it."
        )
    if view.aws_state is AwsDelegationState.REJECTED:
        st.error(
            "The customer rejected the request. "
            f"Reason: {plain(view.rejection_reason or 'not shared with Vell by AWS')}"
        )
    if view.aws_state is AwsDelegationState.EXPIRED:
        st.error("The request expired before access was released. Launch a new one.")
    if view.exchange_state in (ExchangeState.FAILED, ExchangeState.UNKNOWN):
        st.error(plain(view.last_error or "The token exchange failed."))
    rows = [
        {"State": e.state.value, "What happened": e.label, "When": when(e.occurred_at)}
        for e in view.timeline
    ]
    st.dataframe(rows, hide_index=True, width="stretch", key="wizard_timeline")


def waiting_step() -> None:
    st.subheader("Waiting for approval")
    with friendly_errors("load the request"):
        view = services.delegations.get(member, wizard["delegation_id"])
        if view.console_deep_link:
            st.markdown(
                "Send the customer this link to review the request in the AWS console "
                "(they should be signed in to account "
                f"**{plain(view.aws_account_id)}**):"
            )
            st.code(view.console_deep_link, language=None)
        elif view.last_error:
            st.error(plain(view.last_error))
        if services.settings.is_sandbox:
            st.caption(
                ":material/science: Sandbox: open **Customer console** (sidebar) to act "
                "as the customer and approve."
            )
        live_status()


def connected_step() -> None:
    with friendly_errors("load the request"):
        view = services.delegations.get(member, wizard["delegation_id"])
        record(FunnelStep.CONNECTED, path=view.path.value, delegation_id=view.id)
        now = services.clock.now()
        st.success(
            f"Connected to {plain(view.company)} (AWS account {plain(view.aws_account_id)})."
        )
        cols = st.columns(3)
        cols[0].metric("Access ends in", countdown(view.credentials_expire_at, now))
        cols[1].metric("Approved by", (view.approver_id or "—").split(":")[-1])
        cols[2].metric("Path", view.path.value)
        st.markdown(
            "**Upgrade to production** — keep access after the delegation ends with a "
            "permanent, least-privilege role. This asks the customer to approve a short "
            "onboarding request that lets Vell create exactly that role (with Vell's permission "
            "boundary); customer success then finishes it from the Trials desk."
        )
        upgrade, restart = st.columns(2)
        if view.path is not DelegationPath.ONBOARDING and upgrade.button(
            "Upgrade to production", type="primary", key="wizard_upgrade"
        ):
            wizard.update(
                path=DelegationPath.ONBOARDING.value, launch_token=new_launch_token(), step=2
            )
            st.rerun()
        if restart.button("Start a new delegation", key="wizard_restart"):
            st.session_state.pop(WIZARD, None)
            st.rerun()


[provider_step, account_step, path_step, waiting_step, connected_step][wizard["step"]]()
