"""New delegation: Provider → Account information → Choose path → Waiting → Connected."""

from __future__ import annotations

import uuid
from datetime import datetime

import streamlit as st

from vell_core.aws.request_summary import AwsSummary, SummaryStatus
from vell_core.domain.models import (
    AwsDelegationState,
    DelegationPath,
    DelegationStatus,
    FunnelStep,
)
from vell_core.domain.roles import can
from vell_core.services.delegation import DelegationView, LaunchRequest, new_launch_token
from vell_core.services.nudges import ROOT_APPROVED_TEXT, ROOT_LIMIT_TEXT
from vell_core.ui.bridge import friendly_errors, get_services, require_page
from vell_core.ui.live_views import reuse_unless_changed
from vell_core.ui.tables import show_table
from vell_core.views.formatting import countdown, principal_name, when
from vell_core.views.text import plain

member = require_page("delegation.create")
services = get_services()
WIZARD = "wizard_state"
LIVE_VIEW = "wizard_live_view"  # (change token, DelegationView) of the waiting step
SUMMARY_VIEW = "wizard_summary_view"  # (delegation id, AwsSummary) once asked
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
        st.session_state[WIZARD] = fresh_wizard(company=st.query_params.get("company", ""))
    return st.session_state[WIZARD]


def fresh_wizard(company: str = "", account: str = "", step: int = 0) -> dict:
    """A new wizard run (a new funnel session)."""
    return {"step": step, "session_id": str(uuid.uuid4()), "company": company, "account": account}


def start_renewal() -> None:
    """``?renew=<id>``: a new request for the same customer and path, prefilled to the preview."""
    wanted = st.query_params.get("renew", "")
    if not wanted:
        return
    del st.query_params["renew"]
    with friendly_errors("renew the delegation"):
        draft = services.delegations.renewal(member, int(wanted) if wanted.isdigit() else 0)
        wizard = fresh_wizard(draft.company, draft.aws_account_id, step=2)
        wizard.update(
            path=draft.path.value,
            launch_token=new_launch_token(),
            hours=draft.hours,
            renewing=draft.source_id,
        )
        st.session_state[WIZARD] = wizard


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


start_renewal()
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
        "Customer's AWS account id (12 digits)", value=wizard["account"], key="wizard_account"
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
            if st.button("Choose", key=f"wizard_path_{path}"):
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
    in_production = services.delegations.in_production(wizard["account"])
    if wizard.get("renewing"):
        st.info(f"Renewing request #{wizard['renewing']}: a new request, same customer and path.")
    if wizard.get("path") in ("production", DelegationPath.ONBOARDING.value) and in_production:
        st.success(
            f"AWS account {wizard['account']} is already in production: it has an active Vell "
            "connection. Customer success re-validates it on **Connections**."
        )
    elif wizard.get("path") == "production":
        production_next_step()
    elif wizard.get("path"):
        preview_and_confirm()
    if st.button("Back", key="wizard_path_back"):
        go(1)


def production_next_step() -> None:
    """The Production card: where the CloudFormation path lives, and who runs it."""
    st.info(
        "Production setup uses the CloudFormation path (a permanent role with an external ID). "
        "Customer success runs it from **Production setup**: it generates the external ID and "
        "the customer's quick-create link, then validates the role the stack creates."
    )
    if not can(member, "connection.manage"):
        st.caption(
            f"Hand it to customer success with the company ({plain(wizard['company'])}) and "
            f"AWS account {plain(wizard['account'])}."
        )
        return
    if st.button("Open Production setup", type="primary", key="wizard_production_setup"):
        # The setup form starts filled in with this customer (its widget keys).
        st.session_state["ps_company"] = wizard["company"]
        st.session_state["ps_account"] = wizard["account"]
        st.switch_page("pages/production_setup.py")


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
        st.caption(
            ":material/info: AWS writes its own plain-language summary of a request once it "
            "exists: the next step shows it beside this policy and message, before you send "
            "the customer the link."
        )
        if st.button("Send request to AWS", type="primary", key="wizard_launch"):
            view = services.delegations.launch(member, launch_request())
            wizard["delegation_id"] = view.id
            record(FunnelStep.WAITING, path=wizard["path"], delegation_id=view.id)
            go(3)


@st.fragment(run_every=services.settings.vell_live_refresh_seconds)
def live_status() -> None:
    """Refreshes on its own; moves the wizard on when access is released."""
    with friendly_errors("load the request"):
        row_id = wizard["delegation_id"]
        token = services.delegations.change_token(member, row_id)
        view = reuse_unless_changed(
            st.session_state, LIVE_VIEW, token, lambda: services.delegations.get(member, row_id)
        )
        now = services.clock.now()
        render_status(view, now)
        if view.credentials_live(now) and wizard["step"] == 3:
            wizard["step"] = 4
            st.rerun()
        if ended(view, now):
            st.rerun()  # the whole step turns into the Rejected / Expired view


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
    entered = [e.occurred_at for e in view.timeline if e.state is view.aws_state]
    nudge = services.nudges.for_request(
        view.aws_state,
        entered[-1] if entered else None,
        view.aws_state_expires_at,
        view.session_duration,
    )
    if nudge is not None:
        st.warning(
            f"**{plain(nudge.headline)}.** {plain(nudge.action)}", icon=":material/schedule:"
        )
    render_exchange(view, now)
    render_timeline(view)


def render_timeline(view: DelegationView) -> None:
    rows = [
        {"State": e.state.value, "What happened": e.label, "When": when(e.occurred_at)}
        for e in view.timeline
    ]
    show_table(rows, key="wizard_timeline")


def render_exchange(view: DelegationView, now: datetime) -> None:
    """Never a silent wait: the exchange is retrying, or failed and says what to do next."""
    notice = view.exchange_notice(now)
    if notice is None:
        return
    show = {"info": st.info, "warning": st.warning, "error": st.error}[notice.level.value]
    show(plain(notice.message))
    if notice.action_label and st.button(
        notice.action_label, type="primary", key="wizard_exchange_restart"
    ):
        company = notice.action_company or view.company
        st.session_state[WIZARD] = fresh_wizard(company, view.aws_account_id, step=2)
        st.rerun(scope="app")


def ended(view: DelegationView, now: datetime) -> bool:
    """Rejected or expired: nothing more will happen to this request."""
    return view.display_status(now) in (DelegationStatus.REJECTED, DelegationStatus.EXPIRED)


def ended_step(view: DelegationView, now: datetime) -> None:
    """The request ended without access: say how, why, and what to do next."""
    if view.display_status(now) is DelegationStatus.REJECTED:
        st.subheader("Rejected")
        st.error(f"{plain(view.company)} rejected the request in their AWS account.")
        if view.rejection_reason:
            st.markdown(f"**Reason given:** {plain(view.rejection_reason)}")
        else:
            st.caption(
                "AWS does not pass the customer's reason on to Vell (the rejection notice "
                "carries only the new state), so ask your contact what they need changed."
            )
    else:
        st.subheader("Expired")
        st.warning(
            f"The request to {plain(view.company)} expired at {when(view.ended_at(now))} "
            "before access was released."
        )
    render_timeline(view)
    again, back = st.columns([1, 4])
    if again.button("Start again", type="primary", key="wizard_start_again"):
        st.session_state[WIZARD] = fresh_wizard(view.company, view.aws_account_id, step=2)
        st.rerun()
    if back.button("Back to Delegations", key="wizard_back_to_list"):
        st.switch_page("pages/delegations.py")


def waiting_step() -> None:
    with friendly_errors("load the request"):
        view = services.delegations.get(member, wizard["delegation_id"])
        now = services.clock.now()
        if ended(view, now):
            ended_step(view, now)
            return
        st.subheader("Waiting for approval")
        before_you_send(view)
        if view.console_deep_link:
            st.markdown(
                "Send the customer this link to review the request in the AWS console "
                "(they should be signed in to account "
                f"**{plain(view.aws_account_id)}**):"
            )
            st.code(view.console_deep_link, language=None)
        elif view.last_error:
            st.error(plain(view.last_error))
        if view.needs_non_root_approver:
            st.warning(ROOT_LIMIT_TEXT, icon=":material/admin_panel_settings:")
        if services.settings.is_sandbox:
            st.caption(
                ":material/science: Sandbox: open **Customer console** (sidebar) to act "
                "as the customer and approve."
            )
        live_status()


def before_you_send(view: DelegationView) -> None:
    """AWS's own summary of the request beside the exact policy and message it was sent with."""
    sent = services.delegations.sent_request(member, view.id)
    st.markdown("#### Before you send the link: what AWS tells the customer")
    summary_column, request_column = st.columns(2)
    with summary_column:
        st.markdown("**AWS's summary of this request**")
        summary_panel(view.id)
    with request_column:
        st.markdown("**Message the customer will see**")
        st.info(plain(sent.request_message))
        st.markdown("**Permissions (the exact policy the customer approves)**")
        st.code(sent.policy_pretty, language="json", height=260)


def summary_panel(row_id: int) -> None:
    """Asks AWS until its summary is final, then draws the kept answer with no timer."""
    kept = st.session_state.get(SUMMARY_VIEW)
    done = kept is not None and kept[0] == row_id and kept[1].final

    def panel() -> None:
        current = st.session_state.get(SUMMARY_VIEW)
        if current is not None and current[0] == row_id and current[1].final:
            render_summary(current[1])  # final: nothing to ask, nothing changed
            return
        with friendly_errors("read AWS's summary"):
            summary = services.delegations.aws_summary(member, row_id)
            st.session_state[SUMMARY_VIEW] = (row_id, summary)
            if summary.final and not done:
                st.rerun()  # redraw once without the refresh timer
            render_summary(summary)

    every = None if done else services.settings.vell_live_refresh_seconds
    st.fragment(panel, run_every=every, key="wizard_summary")()


def render_summary(summary: AwsSummary) -> None:
    """AWS's text as text, or where its generation stands."""
    with st.container(border=True, key="wizard_aws_summary"):
        if summary.status is SummaryStatus.AVAILABLE:
            st.markdown(plain(summary.content, multiline=True))
            st.caption(
                f"Written by AWS (IAM GetHumanReadableSummary, {summary.locale}), with a "
                "language model; the policy beside it is what the customer approves."
            )
        elif summary.status in (
            SummaryStatus.CREATING,
            SummaryStatus.GENERATING,
            SummaryStatus.UNREACHABLE,
        ):
            st.info(summary.notice or "", icon=":material/hourglass_top:")
            st.caption("This refreshes on its own.")
        elif summary.status is SummaryStatus.FAILED:
            st.warning(summary.notice or "", icon=":material/sync_problem:")
        else:
            st.info(summary.notice or "", icon=":material/lock:")


def connected_step() -> None:
    with friendly_errors("load the request"):
        view = services.delegations.get(member, wizard["delegation_id"])
        record(FunnelStep.CONNECTED, path=view.path.value, delegation_id=view.id)
        now = services.clock.now()
        if view.display_status(now) is DelegationStatus.EXPIRED:
            st.warning(
                f"Access to {plain(view.company)} (AWS account {view.aws_account_id}) ended at "
                f"{when(view.ended_at(now))}."
            )
        else:
            st.success(f"Connected to {plain(view.company)} (AWS account {view.aws_account_id}).")
        if view.root_approved:
            st.warning(ROOT_APPROVED_TEXT, icon=":material/gpp_maybe:")
        cols = st.columns(3)
        cols[0].metric("Access ends in", countdown(view.credentials_expire_at, now))
        cols[1].metric("Approved by", principal_name(view.approver_id))
        if view.approver_id:
            cols[1].caption(plain(view.approver_id))  # the full principal, for the record
        cols[2].metric("Path", view.path.value)
        in_production = services.delegations.in_production(view.aws_account_id)
        if in_production:
            st.success(
                f"AWS account {view.aws_account_id} is in production: it has an active Vell "
                "connection, so no onboarding request is needed."
            )
        elif view.path is not DelegationPath.ONBOARDING:
            st.markdown(
                "**Upgrade to production** — keep access after the delegation ends with a "
                "permanent, least-privilege role. This asks the customer to approve a short "
                "onboarding request that lets Vell create exactly that role (with Vell's "
                "permission boundary); customer success then finishes it from the Trials desk."
            )
        upgrade, renew, restart = st.columns(3)
        if (
            not in_production
            and view.path is not DelegationPath.ONBOARDING
            and upgrade.button("Upgrade to production", type="primary", key="wizard_upgrade")
        ):
            wizard.update(
                path=DelegationPath.ONBOARDING.value, launch_token=new_launch_token(), step=2
            )
            st.rerun()
        if view.renewable and renew.button("Renew", key="wizard_renew"):
            st.query_params["renew"] = str(view.id)
            st.rerun()
        if restart.button("Start a new delegation", key="wizard_restart"):
            st.session_state.pop(WIZARD, None)
            st.rerun()


[provider_step, account_step, path_step, waiting_step, connected_step][wizard["step"]]()
