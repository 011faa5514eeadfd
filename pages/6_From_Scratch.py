"""From scratch: a neural network in plain NumPy, trained live, next to the same network in Keras."""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from nnlab.limits import load_limits
from nnlab.scratch import ScratchConfig, ScratchData, net, prepare_data, session
from nnlab.ui.app_navigation import run_through_app
from nnlab.ui.scratch_live import live_view
from nnlab.ui.scratch_settings import network_caption, settings_form
from nnlab.ui.services import get_runner, limits_or_warn
from nnlab.ui.visitor import visitor_id

SOURCE = Path(net.__file__)  # the file a learner reads: the network and nothing else


@st.cache_resource(show_spinner=False)
def _slots() -> session.Slots:
    return session.Slots()  # one per server: every visitor's training


@st.cache_resource(show_spinner="Preparing the images…", max_entries=2)
def _data(digits: tuple[int, ...] | None, subset: int | None, seed: int, scale_inputs: bool) -> ScratchData:
    return prepare_data(ScratchConfig(digits=digits, subset=subset, seed=seed, scale_inputs=scale_inputs))


def _data_for(config: ScratchConfig) -> ScratchData:
    return _data(config.digits, config.subset, config.seed, config.scale_inputs)


run_through_app()  # a page opened by its own address runs through app.py's navigation
st.set_page_config(page_title="From scratch · NN Lab", page_icon="🧠", layout="wide")
st.title("🧮 A neural network from scratch")
st.write(
    "This network is written in NumPy alone: matrix products forward, the chain rule backward, and SGD "
    "updates, in about 200 commented lines (the code is at the bottom of the page). Choose its layers and "
    "settings, train it, and watch what Keras hides: each layer's gradient and the patterns the first layer "
    "learns."
)
visitor = visitor_id()
slot = _slots().get(visitor)
running = slot.job is not None and slot.job.running

config, keras_twin, problems = settings_form(limits_or_warn().max_epochs)
for problem in problems:
    st.error(problem)
if config is not None and not problems:
    st.caption(network_caption(config))

if st.button(
    "Train", type="primary", icon="▶️", disabled=running or config is None or bool(problems), key="fs_train"
):
    failed = session.start(
        _slots(),
        visitor,
        config,
        keras_twin=keras_twin,
        load_limits=load_limits,
        data_for=_data_for,
        runner=get_runner,
    )
    for problem in failed:
        st.error(problem)
    if not failed:
        st.rerun()
if running:
    st.caption("A training is running: its view below refreshes every second.")

live_view(slot)

with st.expander("Read the code (nnlab/scratch/net.py)"):
    try:
        st.code(SOURCE.read_text(encoding="utf-8"), language="python", line_numbers=True)
    except OSError:
        st.caption("The source file is not available.")
