"""Inspect's "Step by step": click any number of any layer's output and see how it was made.

The layer's output for the current image is drawn one map at a time (a heatmap, every cell
clickable) or, for a flat layer, as bars (every bar clickable); the number chosen is then worked
out from the layer's own weights (``nnlab.explain.neuron``) next to the value Keras computed.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import streamlit as st

from nnlab.explain import neuron
from nnlab.explain.layers import LayerIO, layer_outputs
from nnlab.figures import neuron as figs
from nnlab.ui.clicks import clickable_chart

LAYER = "insp_layer"  # the layer explained (the Network view's click sets it too)
MAP, ROW, COL, UNIT = "insp_step_map", "insp_step_row", "insp_step_col", "insp_step_unit"
IN_CHANNEL = "insp_step_in_channel"


def _clamp(key: str, high: int, default: int = 0) -> None:
    """Keep a remembered position inside the current layer (another layer may be smaller)."""
    value = st.session_state.get(key, default)
    st.session_state[key] = min(max(int(value), 0), high)


def _default_layer(ios: list[LayerIO]) -> str:
    return next((io.name for io in ios if io.kind in ("Conv2D", "Dense")), ios[0].name)


def pick_layer(ios: list[LayerIO]) -> LayerIO:
    by_name = {io.name: io for io in ios}
    if st.session_state.get(LAYER) not in by_name:
        st.session_state[LAYER] = _default_layer(ios)
    name = st.selectbox(
        "Layer",
        list(by_name),
        key=LAYER,
        format_func=lambda n: f"{n}: {by_name[n].kind}, output {tuple(by_name[n].output.shape)}",
    )
    return by_name[name]


def pick_map_cell(io: LayerIO) -> tuple[int, int, int]:
    """A clickable map of one channel, with the channel, row and column also as number inputs."""
    h, w, c = io.output.shape
    _clamp(MAP, c - 1)
    peak = np.unravel_index(int(np.argmax(io.output[..., st.session_state[MAP]])), (h, w))
    _clamp(ROW, h - 1, default=int(peak[0]))  # at first: the map's largest number
    _clamp(COL, w - 1, default=int(peak[1]))
    channel, row, col = (st.session_state[k] for k in (MAP, ROW, COL))
    left, right = st.columns([3, 1])
    with left:
        title = f"{io.name}, map {channel}: {h} x {w} numbers"
        point = clickable_chart(
            figs.map_figure(io.output[..., channel], (row, col), title), "insp_step_chart"
        )
        if point is not None:
            st.session_state[ROW], st.session_state[COL] = int(point["y"]), int(point["x"])
            st.rerun()
        st.caption(figs.STEP_CAPTIONS["map"])
    with right:
        st.number_input(f"Map (0-{c - 1})", 0, c - 1, step=1, key=MAP)
        st.number_input(f"Row (0-{h - 1})", 0, h - 1, step=1, key=ROW)
        st.number_input(f"Column (0-{w - 1})", 0, w - 1, step=1, key=COL)
    return int(st.session_state[ROW]), int(st.session_state[COL]), int(st.session_state[MAP])


def pick_unit(io: LayerIO) -> tuple[int]:
    """Clickable bars of a flat layer's outputs, with the unit also as a number input."""
    n = io.output.shape[0]
    _clamp(UNIT, n - 1, default=int(np.argmax(io.output)))
    fig = figs.units_figure(io.output, st.session_state[UNIT], f"{io.name}: {n} outputs")
    point = clickable_chart(fig, "insp_step_bars")
    if point is not None:
        st.session_state[UNIT] = int(point["x"])
        st.rerun()
    st.caption(figs.STEP_CAPTIONS["units"])
    st.number_input(f"Unit (0-{n - 1})", 0, n - 1, step=1, key=UNIT)
    return (int(st.session_state[UNIT]),)


def _conv(step: neuron.ConvStep) -> None:
    kh, kw, cin = step.kernel.shape
    channel = 0
    if cin > 1:
        st.plotly_chart(figs.channel_sums_figure(step), key="insp_step_sums")
        st.caption("Orange bars add to the sum, blue ones take away; pick a channel to see its products.")
        _clamp(IN_CHANNEL, cin - 1, default=int(np.argmax(np.abs(step.products.sum(axis=(0, 1))))))
        channel = int(st.number_input(f"Input channel (0-{cin - 1})", 0, cin - 1, step=1, key=IN_CHANNEL))
    st.plotly_chart(figs.conv_step_figure(step, channel), key="insp_step_conv")
    st.caption(figs.STEP_CAPTIONS["conv"])
    rows, cols = step.rows, step.cols
    formula = neuron.FORMULAS.get(step.activation, step.activation)
    st.markdown(
        f"The {kh} x {kw} window at input rows {rows[0]}-{rows[1] - 1}, columns {cols[0]}-{cols[1] - 1}"
        + (" (outside the input counts as 0: 'same' padding)" if step.padded else "")
        + (f", over all {cin} input channels" if cin > 1 else ", over its one input channel")
        + ", times the kernel:\n\n"
        f"- **Sum of all {kh * kw * cin} products** = {step.total:.4f}\n"
        f"- **+ bias** {step.bias:+.4f} → z = {step.pre_activation:.4f}\n"
        f"- **{step.activation}(z)** = {formula} = **{step.output:.4f}**"
    )


def _pool(step: neuron.PoolStep) -> None:
    st.plotly_chart(figs.pool_figure(step), key="insp_step_pool")
    st.caption(figs.STEP_CAPTIONS["pool"])
    if step.mode == "max":
        r, c = step.chosen
        st.markdown(
            f"Max pooling keeps the **largest** value of the window: **{step.output:.4f}** (window row {r}, "
            "column "
            f"{c}). The others are dropped: the map gets smaller, and a feature counts wherever it sits in "
            "the window."
        )
    else:
        st.markdown(f"Average pooling keeps the **mean** of the window: **{step.output:.4f}**.")


def _dense(step: neuron.DenseStep) -> None:
    st.plotly_chart(figs.contributions_figure(step), key="insp_step_dense")
    st.caption(figs.STEP_CAPTIONS["dense"])
    shown = float(step.contributions[step.largest].sum())
    lines = [
        f"- **The {len(step.largest)} largest contributions** (input value × weight) add up to {shown:.4f}",
        f"- **+ the other {len(step.inputs) - len(step.largest)} inputs**, summed: {step.rest:+.4f}",
        f"- **+ bias** {step.bias:+.4f} → z = {step.pre_activation:.4f}",
    ]
    formula = neuron.FORMULAS.get(step.activation, step.activation)
    if step.activation == "softmax":
        lines.append(f"- **softmax**: {formula}, with the scores z of all 10 units = **{step.output:.4f}**")
    else:
        lines.append(f"- **{step.activation}(z)** = {formula} = **{step.output:.4f}**")
    st.markdown("\n".join(lines))


def _norm(step: neuron.NormStep) -> None:
    st.latex(r"y = \gamma \cdot \frac{x - \mu}{\sqrt{\sigma^2 + \epsilon}} + \beta")
    st.markdown(
        f"With this channel's own statistics (learnt during training): moving mean μ = {step.mean:.4f}, "
        f"moving variance σ² = {step.variance:.4f}, ε = {step.epsilon:g}, scale γ = {step.gamma:.4f}, "
        f"shift β = {step.beta:.4f}:\n\n"
        f"- normalised: ({step.value:.4f} − {step.mean:.4f}) / √({step.variance:.4f} + {step.epsilon:g}) "
        f"= {step.normalized:.4f}\n"
        f"- **y** = {step.gamma:.4f} × {step.normalized:.4f} + {step.beta:.4f} = **{step.output:.4f}**"
    )


def _pass(step: neuron.PassStep) -> None:
    if step.kind == "Flatten":
        text = (
            f"Flatten computes nothing: this number is the input's number at {step.source}, moved into "
            "one long row."
        )
    elif step.kind == "Rescaling":
        text = (
            f"This network was trained on raw 0-255 pixels: its first layer multiplies the 0-1 image by "
            f"{step.scale:g}: {step.value:.4f} × {step.scale:g} = {step.output:.4f}."
        )
    else:
        text = (
            "Dropout switches random inputs off only while training; once trained it passes every number "
            "on as it is."
        )
    st.markdown(f"{text} Value: **{step.output:.4f}**.")


SHOW = {
    neuron.ConvStep: _conv,
    neuron.PoolStep: _pool,
    neuron.DenseStep: _dense,
    neuron.NormStep: _norm,
    neuron.PassStep: _pass,
}


def step_view(model: Any, image: np.ndarray, what: str) -> None:
    """The whole view: pick a layer and a number, then its arithmetic."""
    ios = layer_outputs(model, image)
    io = pick_layer(ios)
    position = pick_map_cell(io) if io.output.ndim == 3 else pick_unit(io)
    try:
        step = neuron.explain(model.get_layer(io.name), io.input, position)
    except ValueError as exc:
        st.info(str(exc))
        return
    where = ", ".join(f"{n} {p}" for n, p in zip(("row", "column", "map"), position, strict=False))
    st.subheader(f"How {io.name} made its number at {where if len(position) > 1 else f'unit {position[0]}'}")
    SHOW[type(step)](step)
    st.success(
        f"Keras computed {float(io.output[position]):.4f} for {what} here; the steps above give "
        f"{step.output:.4f}.",
        icon="✅",
    )
