"""Sweeps: choose one or two settings and 2-5 values each; the grid trains as a group of runs, and its
test accuracy shows as a heatmap (two settings) or a line (one), with the curves and the best run."""

from __future__ import annotations

import streamlit as st

from nnlab.sweeps import SweepStore
from nnlab.ui.app_navigation import run_through_app
from nnlab.ui.class_mode import class_context
from nnlab.ui.services import get_runner, limits_or_warn
from nnlab.ui.sweep_form import sweep_form
from nnlab.ui.sweep_view import pick_sweep, sweep_view
from nnlab.ui.visitor import visitor_id

run_through_app()  # a page opened by its own address runs through app.py's navigation
st.set_page_config(page_title="Sweeps · NN Lab", page_icon="🧠", layout="wide")
st.title("🧪 Sweeps")
st.caption(
    "Which learning rate? Which batch size? How wide a layer? Train every combination of a few values "
    "and see at a glance which works best."
)

visitor = visitor_id()
limits = limits_or_warn()
runner = get_runner(limits.max_concurrent)
klass = class_context(runner.store, visitor)
if klass.hides("sweeps"):
    st.info("Your class does not use sweeps: train one network at a time on Build & Train.", icon="🎓")
    st.stop()
klass.banner()
sweeps = SweepStore(runner.store)

with st.expander("➕ A new sweep", expanded=not sweeps.list(visitor)):
    sweep_form(runner, visitor, klass, limits)

st.header("Your sweeps", divider="gray")
sweep = pick_sweep(sweeps, visitor)
if sweep is not None:
    sweep_view(runner, sweeps, sweep, visitor)
