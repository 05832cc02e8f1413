"""Admin → AWS setup: health of the topic, queue and worker; partner onboarding checklist."""

from __future__ import annotations

import streamlit as st

from vell_core.ui.bridge import friendly_errors, get_services, require_page
from vell_core.ui.tables import show_table
from vell_core.views.formatting import duration_text, when
from vell_core.views.text import plain

member = require_page("settings.read")
services = get_services()
st.title("AWS setup")


def dot(ok: bool | None) -> str:
    """A traffic light for tables."""
    return "—" if ok is None else ("🟢" if ok else "🔴")


def render_health() -> None:
    """Verdict first, then the evidence."""
    health = services.aws_health.health(member)
    if health.verdict_ok:
        st.success("Notifications are flowing: topic, queue and worker look healthy.", icon="✅")
    else:
        st.error("Notifications may not be flowing:\n\n- " + "\n- ".join(health.reasons))
    cols = st.columns(4)
    cols[0].metric("Mode", health.mode)
    cols[1].metric("Region", health.region)
    cols[2].metric("Endpoint", "sandbox" if health.endpoint else "AWS")
    cols[3].metric("Checked", when(health.checked_at))

    st.subheader("Configured ARNs")
    show_table(
        [
            {
                "": dot(check.valid),
                "Setting": check.env_name,
                "Value": check.value or "(not set)",
                "Expected shape": check.hint,
            }
            for check in health.arns
        ],
        key="setup_arns",
    )

    st.subheader("Notification path")
    topic, queue = health.topic, health.queue
    cols = st.columns(5)
    cols[0].metric("Queue depth", "—" if queue.depth is None else queue.depth)
    cols[1].metric("In flight", "—" if queue.in_flight is None else queue.in_flight)
    cols[2].metric("Dead-letter queue", "—" if queue.dlq_depth is None else queue.dlq_depth)
    last = health.last_notification_at
    cols[3].metric(
        "Last notification received",
        "never"
        if last is None
        else f"{duration_text((health.checked_at - last).total_seconds())} ago",
    )
    cols[4].metric("Notifications (24 h)", health.notifications_24h)
    st.caption(
        "SQS does not report the age of the oldest message through its API (that is a CloudWatch "
        "metric), so the time since the last received notification stands in for it."
    )
    for problem in (topic.error, queue.error, queue.dlq_error):
        if problem:
            st.warning(problem)
    if topic.ok:
        st.write(
            f"Topic: {dot(topic.iam_may_publish)} iam.amazonaws.com may publish · "
            f"{dot(topic.signature_version_ok)} {topic.signature_version_text} · "
            f"{dot(bool(topic.subscriptions_confirmed))} "
            f"{topic.subscriptions_confirmed or 0} confirmed / "
            f"{topic.subscriptions_pending or 0} pending subscription(s)"
        )

    st.subheader("Workers")
    if not health.workers:
        st.warning("No worker has ever sent a heartbeat.")
    show_table(
        [
            {
                "": dot(not worker.stale),
                "Worker": worker.worker_id,
                "Last seen": when(worker.last_seen_at),
                "Seconds ago": round(worker.age_seconds),
                "Processed": worker.messages_processed,
                "Last error": worker.last_error or "",
            }
            for worker in health.workers
        ],
        key="setup_workers",
    )

    st.subheader("Token exchanges")
    exchanges = health.exchanges
    cols = st.columns(2)
    cols[0].metric("Failed for good (7 days)", exchanges.failed_7d)
    cols[1].metric("Retrying now", exchanges.retrying)
    if exchanges.failures:
        show_table(
            [
                {
                    "When": when(failure.at),
                    "Company": failure.company,
                    "Account": failure.aws_account_id,
                    "AWS code": failure.code,
                    "What the rep sees": failure.message,
                }
                for failure in exchanges.failures
            ],
            key="setup_exchange_failures",
        )
    else:
        st.caption("No customer approved without Vell getting credentials.")

    st.subheader("Quarantined and failed notifications")
    if not health.problems:
        st.caption("None.")
    else:
        show_table(
            [
                {
                    "Received": when(problem.received_at),
                    "Status": problem.status,
                    "Message id": problem.message_id,
                    "Request id": problem.request_id or "",
                    "State": problem.state or "",
                    "Why": problem.error or "",
                }
                for problem in health.problems
            ],
            key="setup_problems",
        )


def render_checklist() -> None:
    """The guide's partner prerequisites, editable."""
    st.subheader("Partner prerequisites")
    entries = services.partner_onboarding.checklist(member)
    with st.form("setup_checklist"):
        values = {}
        for entry in entries:
            cols = st.columns([2, 3])
            done = cols[0].checkbox(entry.label, value=entry.done, key=f"check_{entry.key}")
            note = cols[1].text_input(
                "Note", value=entry.note, key=f"note_{entry.key}", label_visibility="collapsed"
            )
            values[entry.key] = (done, note)
            if entry.updated_by:
                st.caption(f"Updated {when(entry.updated_at)} by {plain(entry.updated_by)}")
        if st.form_submit_button("Save checklist"):
            for key, (done, note) in values.items():
                services.partner_onboarding.set_checklist_item(member, key, done=done, note=note)
            st.toast("Checklist saved")
            st.rerun()


def render_questionnaire() -> None:
    """Answers only Partner Central knows, the email, and the attachments."""
    st.subheader("Partner questionnaire")
    entries = services.partner_onboarding.profile(member)
    with st.form("setup_profile"):
        answers = {
            entry.key: st.text_input(
                entry.label, value=entry.value, placeholder=entry.placeholder, key=f"pq_{entry.key}"
            )
            for entry in entries
        }
        if st.form_submit_button("Save answers"):
            services.partner_onboarding.set_profile(member, answers)
            st.toast("Answers saved")
            st.rerun()
    questionnaire = services.partner_onboarding.questionnaire(member)
    st.write(f"**To:** {questionnaire.to}  \n**Subject:** {questionnaire.subject}")
    if questionnaire.missing:
        st.warning("Still to fill in: " + ", ".join(questionnaire.missing))
    st.code(questionnaire.body, language=None)
    render_attachments()


def render_attachments() -> None:
    """One download button per policy file; a clear message for files not written yet."""
    files = services.partner_onboarding.policy_files(member)
    present = [f for f in files if not f.missing]
    missing = [f for f in files if f.missing]
    if missing:
        st.warning("Not in `policies/` yet: " + ", ".join(f"`{f.relative_path}`" for f in missing))
    for index, file in enumerate(present):
        st.download_button(
            f"{file.label} ({file.relative_path})",
            file.data or b"",
            file.relative_path.replace("/", "_"),
            file.mime,
            key=f"policy_download_{index}",
            on_click="ignore",
        )


if st.button("Refresh", key="setup_refresh", icon=":material/refresh:"):
    st.rerun()
with friendly_errors("check AWS health"):
    render_health()
with friendly_errors("load the partner checklist"):
    render_checklist()
with friendly_errors("load the partner questionnaire"):
    render_questionnaire()
