"""Data explorer: look at MNIST before training on it."""

from __future__ import annotations

import numpy as np
import streamlit as st

from nnlab import data as nndata
from nnlab import exploration
from nnlab.figures import data as figs
from nnlab.ui.app_navigation import run_through_app
from nnlab.ui.image_browser import PARTS, image_browser


@st.cache_resource(show_spinner="Loading MNIST...")
def _mnist() -> nndata.Arrays:
    return nndata.load_mnist()  # read-only arrays, shared (not copied) across sessions


@st.cache_data(show_spinner=False)
def _means(part: str) -> np.ndarray:
    (x_tr, y_tr), (x_te, y_te) = _mnist()
    return exploration.mean_images(x_tr, y_tr) if part == "training" else exploration.mean_images(x_te, y_te)


@st.cache_data(show_spinner=False)
def _histogram(part: str) -> np.ndarray:
    (x_tr, _), (x_te, _) = _mnist()
    return exploration.pixel_histogram(x_tr if part == "training" else x_te)


def _arrays(part: str) -> tuple[np.ndarray, np.ndarray]:
    (x_tr, y_tr), (x_te, y_te) = _mnist()
    return (x_tr, y_tr) if part == "training" else (x_te, y_te)


def counts_tab() -> None:
    (_, y_tr), (_, y_te) = _mnist()
    share = st.toggle(
        "Show shares instead of counts",
        key="data_share",
        help="Each digit's fraction of its part: the training and test sets have the same balance.",
    )
    st.plotly_chart(figs.class_counts_figure(y_tr, y_te, share=share), width="stretch")
    table = exploration.class_counts_table(y_tr, y_te)
    st.dataframe(
        table,
        hide_index=True,
        width="stretch",
        column_config={
            "training share": st.column_config.NumberColumn(format="percent"),
            "test share": st.column_config.NumberColumn(format="percent"),
        },
    )
    st.caption(
        "MNIST is nearly balanced: every digit is 9-11 % of the images, so accuracy is a fair summary "
        "(a model that always answers '1' would score only about 11 %)."
    )


def means_tab() -> None:
    part = st.segmented_control("Average over", PARTS, default="training", key="data_mean_part") or "training"
    st.plotly_chart(figs.mean_images_figure(_means(part)), width="stretch")
    st.caption(
        "Each picture is the pixel-by-pixel average of every image of that digit. Bright areas are where "
        "that digit's strokes usually are; blur shows how much handwriting varies (1 is sharp, "
        "2 and 8 are not)."
    )


def histogram_tab() -> None:
    c = st.columns(3)
    part = c[0].segmented_control("Pixels of", PARTS, default="training", key="data_hist_part") or "training"
    log_y = c[1].toggle(
        "Log scale", value=True, key="data_hist_log", help="The 0s outnumber every other value by far."
    )
    skip_zero = c[2].toggle("Hide the 0s (background)", key="data_hist_zero")
    counts = _histogram(part)
    st.plotly_chart(figs.pixel_histogram_figure(counts, log_y=log_y, skip_zero=skip_zero), width="stretch")
    zero, full = counts[0] / counts.sum(), counts[250:].sum() / counts.sum()
    st.caption(
        f"{zero:.0%} of all pixels are exactly 0 (background) and {full:.0%} are 250 or more (ink): "
        "the images are almost black and white."
    )


def scaling_tab() -> None:
    c = st.columns([1, 1, 2], vertical_alignment="bottom")
    part = (
        c[0].segmented_control("Image from", PARTS, default="training", key="data_scale_part") or "training"
    )
    x, y = _arrays(part)
    i = int(
        c[1].number_input(
            "Image number",
            min_value=0,
            max_value=len(y) - 1,
            value=0,
            step=1,
            key="data_scale_index",
            help=f"0 to {len(y) - 1:,}",
        )
    )
    c[2].caption(f"Image #{i} of the {part} set, label **{y[i]}**.")
    rows, cols = exploration.ink_box(x[i])
    crop = x[i][rows, cols]
    st.caption(
        f"Showing rows {rows.start}-{rows.stop - 1} and columns {cols.start}-{cols.stop - 1}, "
        "where the ink is; "
        "every other pixel is 0."
    )
    left, right = st.columns(2)
    left.plotly_chart(
        figs.values_heatmap(crop, "Raw pixel values (0-255)", 255, ".0f", origin=(rows.start, cols.start)),
        width="stretch",
    )
    right.plotly_chart(
        figs.values_heatmap(
            crop / 255.0, "Scaled inputs (value / 255, in [0, 1])", 1, ".2f", origin=(rows.start, cols.start)
        ),
        width="stretch",
    )
    st.dataframe(
        exploration.input_stats(x[i]),
        hide_index=True,
        width="stretch",
        column_config={
            k: st.column_config.NumberColumn(format="%.3g")
            for k in ("min", "max", "mean", "std", "sum of squares")
        },
    )
    st.markdown(
        "**Why divide by 255?** A neuron computes a weighted sum of all 784 inputs. With raw "
        "values up to 255 "
        "that sum, and the gradient of every first-layer weight, is 255 times larger than with "
        "inputs in [0, 1]: "
        "a learning rate that works for scaled inputs makes the weights jump far too much, the network "
        "saturates or the loss overflows. Scaling keeps every input on the same small scale that the weight "
        "initialisation and the usual learning rates assume. Try it on the **From scratch** page "
        "(toggle *scale inputs to [0, 1]* off)."
    )
    with st.expander("The same numbers as tables"):
        raw, scaled = exploration.raw_and_scaled(x[i])
        t1, t2 = st.columns(2)
        t1.dataframe(raw, width="stretch", height=400)
        t2.dataframe(scaled, width="stretch", height=400)


run_through_app()  # a page opened by its own address runs through app.py's navigation
st.set_page_config(page_title="Data · NN Lab", page_icon="🧠", layout="wide")
st.title("🔎 Data explorer")
st.write(
    "MNIST: 70,000 handwritten digits, 28 x 28 grey pixels each, 60,000 for training and 10,000 for testing."
)
try:
    _mnist()
except nndata.DatasetError as exc:
    st.error(f"MNIST could not be loaded: {exc}")
    st.stop()

tabs = st.tabs(["Images", "Class balance", "Mean images", "Pixel histogram", "Why scale the inputs?"])
with tabs[0]:
    image_browser(_arrays)
with tabs[1]:
    counts_tab()
with tabs[2]:
    means_tab()
with tabs[3]:
    histogram_tab()
with tabs[4]:
    scaling_tab()
