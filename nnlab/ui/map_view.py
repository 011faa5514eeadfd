"""Inspect's "Digit map": how a chosen layer separates the digits (PCA, or t-SNE on request)."""

from __future__ import annotations

from typing import Any

import numpy as np
import streamlit as st

from nnlab.explain.embedding import (
    METHODS,
    N_IMAGES,
    TSNE_ITERATIONS,
    activations,
    digit_map,
    map_layers,
    place,
)
from nnlab.figures.embedding import CAPTION, digit_map_figure
from nnlab.figures.evaluation import image_figure
from nnlab.runs import Run, RunStore
from nnlab.ui.clicks import clickable_chart
from nnlab.ui.inspect_image import open_test_image


@st.cache_resource(
    max_entries=8, show_spinner="Mapping 2,000 test images (t-SNE can take a minute)...", show_time=True
)
def _map(root: str, run_id: str, mtime: float, layer: str, method: str) -> Any:
    from nnlab.ui.models import run_model

    return digit_map(run_model(RunStore(root), run_id), layer, method)


def digit_map_view(store: RunStore, run: Run, model: Any, image: np.ndarray, what: str) -> None:
    options = dict(map_layers(model))
    names = list(options)
    if st.session_state.get("insp_map_layer") not in names:
        st.session_state["insp_map_layer"] = names[-1]  # the last hidden layer separates best
    left, right = st.columns([3, 2])
    layer = left.selectbox("Layer", names, key="insp_map_layer", format_func=options.get)
    method = right.radio(
        "Method",
        METHODS,
        horizontal=True,
        key="insp_map_method",
        help=f"PCA: the two directions of largest variation, instant. t-SNE ({TSNE_ITERATIONS} "
        "iterations): keeps neighbours together, clearer clusters, takes much longer.",
    )
    dm = _map(str(store.root), run.id, store.model_path(run.id).stat().st_mtime, layer, method)
    here = place(dm, activations(model, layer, np.asarray(image, np.float32)[np.newaxis]))
    chart, side = st.columns([3, 1])
    with chart:
        point = clickable_chart(digit_map_figure(dm, tuple(here), what), "insp_map_chart")
        if point is not None and point.get("customdata") is not None:
            open_test_image(int(np.ravel(point["customdata"])[0]))
        st.caption(CAPTION)
    with side:  # the image a click opened (or the drawing): the star on the map
        st.plotly_chart(image_figure(image, what, height=220), key="insp_map_image")
        st.caption("The star's image, in grey (black 0, white 1). Click another point to open it.")
    where = (
        "projected by the same PCA" if method == "PCA" else "placed at the mean of its 10 nearest neighbours"
    )
    st.markdown(
        f"Each point is one of the first {N_IMAGES:,} test images, placed by what **{options[layer]}** "
        "computes for it. Digits the layer tells apart form separate clouds; compare the raw pixels with "
        f"the last hidden layer. The star is {what}, {where}."
    )
