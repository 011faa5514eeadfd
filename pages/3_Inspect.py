"""Inspect: what a trained network has learnt, and how it sees one image, step by step."""

from __future__ import annotations

import numpy as np
import streamlit as st

from nnlab import inspection as ins
from nnlab.architectures.keras_model import RAW_PIXELS_LAYER
from nnlab.figures import inspection as figs
from nnlab.figures.evaluation import image_figure
from nnlab.predict import predict_digit
from nnlab.ui import inspect_views as views
from nnlab.ui.app_navigation import run_through_app
from nnlab.ui.diagram_view import VIEW, network_view
from nnlab.ui.fooling_view import fooling_view
from nnlab.ui.inspect_image import pick_image
from nnlab.ui.links import INSPECT_VIEWS, VIEW_PARAM
from nnlab.ui.map_view import digit_map_view
from nnlab.ui.models import finished_runs_or_stop, pick_run, run_model_or_stop
from nnlab.ui.neuron_view import step_view
from nnlab.ui.replay_view import replay_view
from nnlab.ui.services import get_store

run_through_app()  # a page opened by its own address runs through app.py's navigation
st.set_page_config(page_title="Inspect · NN Lab", page_icon="🧠", layout="wide")

st.title("Inspect")
store = get_store()  # one object per root, shared: not reopened on every rerun
runs = finished_runs_or_stop(
    store, "No finished training yet. Train a network on the Build & Train page, then come back here."
)
run_col, source_col, index_col = st.columns([3, 2, 1])
run = pick_run(runs, "insp_run", container=run_col)
model = run_model_or_stop(store, run.id, "The model of this run cannot be read")

image, what, label = pick_image(source_col, index_col)
try:
    probs = predict_digit(model, image)
except ValueError as exc:  # outputs that are not numbers: a broken network, said in words
    st.warning(f"This network cannot be inspected: {exc}", icon="⚠️")
    st.stop()
answer = int(np.argmax(probs))
a, b = st.columns([1, 3])
a.plotly_chart(image_figure(image, what, height=220), key="insp_image")
b.plotly_chart(
    figs.dense_figure(ins.Activation("prediction", "dense", probs), height=220).update_layout(
        title=f"The network says {answer} ({probs.max():.1%})", yaxis_title="probability"
    ),
    key="insp_probs",
)
st.caption("The image in grey (black 0, white 1); the bars: the network's probability for each digit.")
if any(layer.name == RAW_PIXELS_LAYER for layer in model.layers):
    st.caption(
        "This network was trained with input scaling off: it is fed the same 0-1 images as every network, "
        "but its first layer multiplies them by 255, so its weights see raw 0-255 pixels."
    )

linked = st.query_params.get(VIEW_PARAM)
if linked is not None:
    del st.query_params[VIEW_PARAM]  # a link's view, applied once
    if linked in INSPECT_VIEWS:
        st.session_state[VIEW] = INSPECT_VIEWS[linked]

SHOW = {
    "Network": lambda: network_view(model, image, what),
    "Step by step": lambda: step_view(model, image, what),
    "Kernels & weights": lambda: views.kernels_section(model),
    "Feature maps": lambda: views.maps_section(model, image, what),
    "Saliency": lambda: views.saliency_section(model, image, probs),
    "Fooling it": lambda: fooling_view(model, image, what, label, answer),
    "Digit map": lambda: digit_map_view(store, run, model, image, what),
    "Learning replayed": lambda: replay_view(store, run),
    "Weight histograms": lambda: views.histograms_section(model),
}
labels = list(INSPECT_VIEWS.values())
# Only the open tab is computed: each view opens on its own, in well under a second.
for tab, view in zip(st.tabs(labels, key=VIEW, on_change="rerun"), labels, strict=True):
    with tab:
        if tab.open:
            SHOW[view]()
