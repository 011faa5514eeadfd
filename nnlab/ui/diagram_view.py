"""The network as a picture: on Build & Train from the spec being edited, on Inspect with one image
flowing through it. Clicking a block opens that layer's details."""

from __future__ import annotations

from typing import Any

import numpy as np
import streamlit as st

from nnlab.architectures import Spec, format_shape
from nnlab.explain.diagram import INPUT, Block, model_blocks, spec_blocks
from nnlab.explain.layers import layer_outputs
from nnlab.figures import inspection as ins_figs
from nnlab.figures.diagram import diagram_caption, diagram_figure
from nnlab.inspection import Activation
from nnlab.ui.clicks import clickable_chart
from nnlab.ui.neuron_view import LAYER
from nnlab.validation import Problem

BUILD_BLOCK = "build_diagram_block"  # the block whose details Build & Train shows
INSPECT_BLOCK = "insp_diagram_block"
VIEW = "insp_view"  # Inspect's tabs
PARAMS = {
    "Dense": "inputs x units weights + one bias per unit",
    "Conv2D": "kernel height x width x input channels x filters weights + one bias per filter",
    "BatchNormalization": "4 per channel: scale γ and shift β (trained), moving mean and variance (counted)",
}


def _pick_block(blocks: list[Block], key: str, chart_key: str, **figure: Any) -> Block:
    """Draw the diagram; a click selects a block (kept in ``st.session_state[key]``)."""
    indices = [b.index for b in blocks]
    if st.session_state.get(key) not in indices:
        st.session_state[key] = next(
            (b.index for b in blocks if b.problem), indices[min(1, len(indices) - 1)]
        )
    fig = diagram_figure(blocks, selected=st.session_state[key], **figure)
    point = clickable_chart(fig, chart_key, width="stretch")
    if point is not None and point.get("customdata") is not None:
        st.session_state[key] = int(np.ravel(point["customdata"])[0])
        st.rerun()
    st.caption(diagram_caption(with_activations="activations" in figure))
    return next(b for b in blocks if b.index == st.session_state[key])


def _facts(block: Block) -> str:
    where = "the input image" if block.kind == INPUT else f"layer {block.index + 1}, **{block.kind}**"
    text = f"{where} {block.details}: output {format_shape(block.shape)}, {block.params:,} parameters"
    if block.kind in PARAMS:
        text += f" ({PARAMS[block.kind]})"
    return text + "."


def spec_diagram(spec: Spec, problems: list[Problem]) -> None:
    """Build & Train: the network being composed, redrawn on every edit (no TensorFlow)."""
    blocks = spec_blocks(spec, problems)
    if len(blocks) < 2:
        return
    block = _pick_block(blocks, BUILD_BLOCK, "build_diagram")
    st.markdown(_facts(block))
    if block.problem:
        st.error(f"Layer {block.index + 1}: {block.problem}", icon="⚠️")


def _open_step_by_step(name: str) -> None:
    """Button callback: explain this layer's numbers in the Step by step view."""
    st.session_state[LAYER] = name
    st.session_state[VIEW] = "Step by step"


def network_view(model: Any, image: np.ndarray, what: str) -> None:
    """Inspect: the trained network with ``image``'s activations inside each block; click for details."""
    ios = layer_outputs(model, image)
    activations = {"image": np.asarray(image)[..., np.newaxis], **{io.name: io.output for io in ios}}
    blocks = model_blocks(model)
    block = _pick_block(
        blocks,
        INSPECT_BLOCK,
        "insp_diagram",
        activations=activations,
        title=f"{what} flowing through the network",
    )
    st.markdown(_facts(block))
    values = activations[block.name]
    if values.ndim == 3:
        st.plotly_chart(ins_figs.maps_figure(Activation(block.name, "conv", values)), key="insp_block_maps")
        st.caption(
            "Colour: dark purple for the layer's lowest numbers to yellow for its highest, one tile per map."
        )
    else:
        st.plotly_chart(ins_figs.dense_figure(Activation(block.name, "dense", values)), key="insp_block_bars")
        st.caption("Bar height: each unit's output for this image.")
    if block.kind != INPUT:
        st.button(
            "Explain a number of this layer step by step",
            key="insp_block_step",
            icon="🔎",
            on_click=_open_step_by_step,
            args=(block.name,),
        )
