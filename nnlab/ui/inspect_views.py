"""Inspect's first views: kernels and first-layer weights, feature maps, saliency, weight histograms."""

from __future__ import annotations

import numpy as np
import streamlit as st

from nnlab import inspection as ins
from nnlab.figures import inspection as figs


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


def maps_section(model, image: np.ndarray, what: str) -> None:
    st.caption(
        f"What each layer computes for {what}: one map per filter after convolutions and pooling, bars for "
        "dense layers. Colour: dark purple for a layer's lowest numbers to yellow for its highest. "
        "To see how one number was made, use Step by step."
    )
    for i, act in enumerate(ins.feature_maps(model, image)):
        fig = figs.dense_figure(act) if act.kind == "dense" else figs.maps_figure(act)
        st.plotly_chart(fig, key=f"insp_map_{i}")


def histograms_section(model) -> None:
    hists = ins.weight_histograms(model)
    cols = st.columns(3)
    st.caption("Bar height: how many weights of a layer fall in each range of values.")
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
