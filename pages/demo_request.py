"""Customer demo request: opened from a rep's signed link, without staff sign-in.

The customer enters their AWS account id and gets the AWS approval button for one read-only demo.
Nothing else of the desk is reachable from here (Home.py shows this page alone).
"""

from __future__ import annotations

import streamlit as st

from vell_core.ui.bridge import demo_link_token, friendly_errors, get_services
from vell_core.views.formatting import when
from vell_core.views.text import plain

RESULT_KEY = "demo_request_result"  # plain values only, tied to the token that produced them

services = get_services()
token = demo_link_token() or ""
st.title("Start your Vell demo")
if services.settings.is_sandbox:
    st.caption(":orange-badge[:material/science: SANDBOX] this demo runs against simulated AWS")


def show_result(result: dict[str, str]) -> None:
    """The approve button, and what approving grants."""
    st.success(
        f"Your demo request for **{plain(result['company'])}** "
        f"(AWS account {plain(result['account'])}) "
        "is ready for your approval."
    )
    if result["link"]:
        st.link_button(
            "Review and approve in the AWS console", result["link"], type="primary", icon="🔐"
        )
    else:
        st.info(f"{plain(result['rep'])} from Vell will send you the approval link shortly.")
    st.caption(
        f"Read-only access to your AWS Marketplace listings and agreements for "
        f"{result['hours']} hours, approved by you in your own AWS console. Every call Vell "
        "makes appears in your CloudTrail, and you can revoke access at any time."
    )


def ask_for_account() -> None:
    """Landing: who invited the customer, and the account id field."""
    landing = services.demo_links.inspect(token)
    st.write(
        f"**{plain(landing.rep_name)}** from Vell invited **{plain(landing.company)}** to a "
        "4-hour, read-only "
        f"demo with your own AWS Marketplace data. This link works once, until "
        f"{when(landing.expires_at)}."
    )
    # No max_chars: a copied id with spaces around it would be dropped without a word.
    account = st.text_input(
        "Your AWS account id (12 digits, the seller account)", key="demo_account"
    )
    if st.button("Continue", type="primary", key="demo_request_submit"):
        outcome = services.demo_links.redeem(token, account)
        st.session_state[RESULT_KEY] = {
            "token": token,
            "company": outcome.company,
            "account": outcome.aws_account_id,
            "link": outcome.console_deep_link or "",
            "hours": f"{outcome.session_hours:g}",
            "rep": outcome.rep_name,
        }
        st.rerun()


result = st.session_state.get(RESULT_KEY)
if result and result.get("token") == token:
    show_result(result)
else:
    with friendly_errors("open a demo link"):
        ask_for_account()
