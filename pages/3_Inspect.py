"""Inspect: what a trained network has learnt (kernels, weights) and how it sees one image."""

from __future__ import annotations

import numpy as np
import streamlit as st

from nnlab import evaluation as ev
from nnlab import inspection as ins
from nnlab.canvas import as_image28
from nnlab.data import scale
from nnlab.figures import inspection as figs
from nnlab.figures.evaluation import image_figure
from nnlab.predict import predict_digit
from nnlab.ui.links import DRAW, DRAWING_LINK, LAST_DRAWING, link
from nnlab.ui.models import finished_runs_or_stop, pick_run, run_model_or_stop
from nnlab.ui.services import get_store

st.set_page_config(page_title="Inspect · NN Lab", page_icon="🧠", layout="wide")


def last_drawing() -> np.ndarray | None:
    """The drawing the Draw page left in this session, if it holds a usable 28 x 28 image."""
    drawing = st.session_state.get(LAST_DRAWING)
    try:
        return None if drawing is None else as_image28(drawing)
    except ValueError:
        return None


SOURCES = ("A test image", "My last drawing")


def pick_image(source_col, index_col) -> tuple[np.ndarray, str]:
    """The image to look at: a test image, or (when the Draw page has one) the last drawing.

    Draw's link to this page (``?image=drawing``) selects the drawing, once per click on it.
    """
    x_test, y_test = ev.mnist_test_set()
    drawing = last_drawing()
    ((key, value),) = DRAWING_LINK.items()
    if st.query_params.get(key) == value:
        del st.query_params[key]  # consumed: afterwards the radio is the user's again
        if drawing is not None:
            st.session_state["insp_source"] = SOURCES[1]
    if drawing is None:
        index = int(source_col.number_input("Test image #", 0, len(y_test) - 1, 0, step=1, key="insp_index"))
        with source_col:
            st.caption("Digits you draw on the Draw page can be inspected here too.")
            link(DRAW, "Draw a digit")
        return scale(x_test[index]), f"test image #{index}, a {y_test[index]}"
    source = source_col.radio("Image", SOURCES, horizontal=True, key="insp_source")
    if source == SOURCES[1]:
        return drawing, "your drawing"
    index = int(index_col.number_input("Test image #", 0, len(y_test) - 1, 0, step=1, key="insp_index"))
    return scale(x_test[index]), f"test image #{index}, a {y_test[index]}"


@st.fragment  # choosing a layer or channel redraws only the kernels
def kernels_section(model) -> None:
    if ins.has_conv(model):
        names = ins.conv_layer_names(model)
        layer = st.selectbox("Convolution layer", names, key="insp_conv")
        kernels = ins.conv_kernels(model, layer)
        kh, kw, cin, n = kernels.shape
        channel = 0
        if cin > 1:
            channel = st.slider(
                f"Input channel (this layer reads {cin} maps; each kernel has a {kh}x{kw} slice per map)",
                0,
                cin - 1,
                0,
                key="insp_channel",
            )
        grid = ins.kernel_grid(kernels, in_channel=channel)
        st.plotly_chart(
            figs.kernels_figure(
                grid, f"{layer}: {n} kernels of {kh}x{kw}" + (f", input channel {channel}" if cin > 1 else "")
            ),
            key="insp_kernels",
        )
        st.caption(
            "Red weights respond to bright pixels, blue ones to dark pixels; first-layer "
            "kernels often become edge and stroke detectors."
        )
        return
    try:
        images = ins.dense_weight_images(model)
    except ValueError as exc:
        st.info(str(exc))
        return
    st.plotly_chart(
        figs.digit_images_figure(
            images,
            cols=16 if len(images) > 16 else len(images),
            title=f"The first dense layer's {len(images)} units, each as its 784 input weights",
        ),
        key="insp_dense_weights",
    )
    st.caption(
        "Each tile shows which pixels push a unit up (red) or down (blue). For logistic "
        "regression these are the ten digit templates."
    )


def maps_section(model, image: np.ndarray) -> None:
    for i, act in enumerate(ins.feature_maps(model, image)):
        fig = figs.dense_figure(act) if act.kind == "dense" else figs.maps_figure(act)
        st.plotly_chart(fig, key=f"insp_map_{i}")


def histograms_section(model) -> None:
    hists = ins.weight_histograms(model)
    cols = st.columns(3)
    for i, h in enumerate(hists):
        cols[i % 3].plotly_chart(figs.histogram_figure(h), key=f"insp_hist_{i}")


def saliency_section(model, image: np.ndarray, probs: np.ndarray) -> None:
    digit = int(np.argmax(probs))
    try:
        sal = ins.saliency(model, image, class_index=digit)
    except ValueError as exc:  # an output that does not depend on the input (as the Draw page handles it)
        st.info(str(exc))
        return
    left, right = st.columns([2, 3])
    left.plotly_chart(figs.saliency_figure(image, sal), key="insp_saliency")
    right.markdown(
        f"The gradient of the network's probability for **{digit}** ({probs[digit]:.1%}) with "
        "respect to each pixel, "
        "scaled so that the largest is 1. The image is drawn in dim grey; over it, the bright "
        "pixels (red to yellow) "
        "are those whose change would move that probability most, and uncoloured ones hardly matter."
    )


st.title("Inspect")
store = get_store()  # one object per root, shared: not reopened on every rerun
runs = finished_runs_or_stop(
    store, "No finished training yet. Train a network on the Build & Train page, then come back here."
)
run_col, source_col, index_col = st.columns([3, 2, 1])
run = pick_run(runs, "insp_run", container=run_col)
model = run_model_or_stop(store, run.id, "The model of this run cannot be read")

image, what = pick_image(source_col, index_col)
try:
    probs = predict_digit(model, image)
except ValueError as exc:  # outputs that are not numbers: a broken network, said in words
    st.warning(f"This network cannot be inspected: {exc}", icon="⚠️")
    st.stop()
a, b = st.columns([1, 3])
a.plotly_chart(image_figure(image, what, height=220), key="insp_image")
b.plotly_chart(
    figs.dense_figure(ins.Activation("prediction", "dense", probs), height=220).update_layout(
        title=f"The network says {int(np.argmax(probs))} ({probs.max():.1%})", yaxis_title="probability"
    ),
    key="insp_probs",
)

kernel_tab = "Convolution kernels" if ins.has_conv(model) else "First-layer weights"
tabs = st.tabs([kernel_tab, "Feature maps", "Saliency", "Weight histograms"])
with tabs[0]:
    kernels_section(model)
with tabs[1]:
    st.caption(
        f"What each layer computes for {what}: one map per filter after convolutions and "
        "pooling, bars for dense layers."
    )
    maps_section(model, image)
with tabs[2]:
    saliency_section(model, image, probs)
with tabs[3]:
    histograms_section(model)
