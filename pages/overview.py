"""Home: today's figures from the store, each saying what it counts."""

from __future__ import annotations

import streamlit as st

from vell_core.services.overview import home_tiles
from vell_core.ui.bridge import friendly_errors, get_services, require_page

member = require_page("home")
services = get_services()
st.title("Vell Delegation Desk")
st.caption("AWS IAM temporary delegation for demos, trials and production onboarding.")

with friendly_errors("load home figures"):
    groups = home_tiles(services.overview.home())
    for heading, tiles in groups.items():
        st.subheader(heading)
        for column, tile in zip(st.columns(len(tiles)), tiles, strict=True):
            column.metric(tile.label, tile.value)
            column.caption(tile.counts)
