"""One layer of the network composer: its kind, output shape, buttons, settings and problems.

Each setting's widget takes any number: a bounded widget rejects an out-of-range value in the
browser with a tiny red "!" and no words, while ``validate()`` explains it under the layer.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import streamlit as st

from nnlab.architectures import ACTIVATIONS, LAYER_DEFAULTS, LAYER_KINDS, PADDINGS
from nnlab.validation import Problem

KIND_HELP = {
    "Dense": "Every input connected to every unit: learns a weighted sum plus bias, then the activation.",
    "Conv2D": "Slides small learned filters over the image: finds local patterns such as edges and strokes.",
    "MaxPooling2D": "Keeps the largest value in each window: shrinks the image and tolerates small shifts.",
    "AveragePooling2D": "Averages each window: shrinks the image smoothly.",
    "Flatten": "Unrolls the image (height x width x channels) into one long vector for Dense layers.",
    "Dropout": "During training, zeroes a random fraction of its inputs: fights overfitting.",
    "BatchNormalization": "Rescales its inputs to mean 0 and variance 1 per batch: speeds up and steadies "
    "training.",
}


@dataclass(frozen=True)
class Field:
    """How one layer setting is edited: its label, widget ("int", "float" or "select") and lesson."""

    label: str
    widget: str
    help: str
    options: dict[str, Any] = field(default_factory=dict)


FIELDS = {
    "units": Field(
        "units",
        "int",
        "How many neurons (outputs) this layer has. The last layer needs 10, one per digit.",
        {"step": 16},
    ),
    "filters": Field(
        "filters",
        "int",
        "How many different patterns (output channels) this convolution learns.",
        {"step": 8},
    ),
    "kernel_size": Field("kernel", "int", "Width and height of each filter window, in pixels (3 means 3x3)."),
    "strides": Field("stride", "int", "How many pixels the window moves each step; 2 halves the image size."),
    "pool_size": Field(
        "pool", "int", "Width and height of the pooling window (2 means 2x2, halving the image)."
    ),
    "padding": Field(
        "padding",
        "select",
        "'valid' uses only whole windows (the image shrinks); 'same' pads the border so the size stays.",
        {"options": PADDINGS},
    ),
    "activation": Field(
        "activation",
        "select",
        "The function applied to each output: relu for hidden layers, softmax for the last one.",
        {"options": ACTIVATIONS},
    ),
    "rate": Field(
        "rate",
        "float",
        "Fraction of inputs zeroed at random during training (0.5 = half).",
        {"step": 0.05, "format": "%.2f"},
    ),
    "l1": Field(
        "L1",
        "float",
        "Penalty on the absolute size of the weights: pushes many weights to exactly 0.",
        {"step": 1e-4, "format": "%.4f"},
    ),
    "l2": Field(
        "L2",
        "float",
        "Penalty on the squared size of the weights (weight decay): keeps weights small.",
        {"step": 1e-4, "format": "%.4f"},
    ),
}
SETTING_COLUMNS = max(len(v) for v in LAYER_DEFAULTS.values())  # one grid for every kind: rows line up
POOL_STRIDE_HELP = "How many pixels the window moves each step; leave empty to use the pool size."


def fields_of(kind: str) -> list[str]:
    """The settings a layer kind takes, in order."""
    return list(LAYER_DEFAULTS.get(kind, {}))


def widget_key(uid: int, name: str) -> str:
    return f"layer_{uid}_{name}"


def layer_row(
    i: int,
    n: int,
    layer: dict[str, Any],
    problems: list[Problem],
    shape: str,
    params: int,
    *,
    move: Callable[[int, int], None],
    remove: Callable[[int], None],
) -> None:
    """Two lines per layer: its kind, output and buttons; then its settings on a grid wide enough to read."""
    uid = layer["uid"]
    with st.container(border=True):
        top = st.columns([0.3, 2.2, 4.0, 1.6], vertical_alignment="bottom")
        top[0].markdown(f"**{i + 1}**")
        st.session_state[widget_key(uid, "kind")] = layer["kind"]
        kind_help = "What this layer does. " + " ".join(f"{k}: {v}" for k, v in KIND_HELP.items())
        with top[1]:
            kind = st.selectbox("layer", LAYER_KINDS, key=widget_key(uid, "kind"), help=kind_help)
        fields = fields_of(kind)
        lesson = "" if fields else f" · {KIND_HELP.get(kind, '')}"
        top[2].caption(f"output {shape} · {params:,} parameters{lesson}")
        with top[3].container(horizontal=True, gap="small", horizontal_alignment="right", wrap=False):
            up, down = widget_key(uid, "up"), widget_key(uid, "down")
            st.button("↑", key=up, on_click=move, args=(uid, -1), disabled=i == 0, help="Move this layer up")
            st.button(
                "↓", key=down, on_click=move, args=(uid, 1), disabled=i == n - 1, help="Move this layer down"
            )
            st.button(
                "✕", key=widget_key(uid, "remove"), on_click=remove, args=(uid,), help="Remove this layer"
            )
        if fields:
            for col, name in zip(st.columns(SETTING_COLUMNS), fields, strict=False):
                with col:
                    layer[name] = setting_widget(uid, kind, name, layer)
        for problem in problems:
            st.error(f"Layer {i + 1} ({kind}): {problem.message}", icon="⚠️")


def setting_widget(uid: int, kind: str, name: str, layer: dict[str, Any]) -> Any:
    """The widget of one setting, starting from the layer's value; returns the value it shows."""
    key = widget_key(uid, name)
    spec = FIELDS[name]
    default = LAYER_DEFAULTS[kind][name]
    value = layer.get(name, default)
    try:  # number widgets want one numeric type (a stored spec may hold 0 for 0.0)
        if spec.widget == "float":
            value = float(value)
        elif spec.widget == "int" and value is not None:
            value = int(value)
    except (TypeError, ValueError):
        value = default
    st.session_state[key] = value
    if spec.widget == "select":
        if value not in spec.options["options"]:
            st.session_state[key] = default
        return st.selectbox(spec.label, spec.options["options"], key=key, help=spec.help)
    if name == "strides" and kind != "Conv2D":
        return st.number_input("stride", step=1, key=key, help=POOL_STRIDE_HELP, placeholder="= pool size")
    # The step's type sets the widget's: an int step keeps whole numbers whole (the value is in the state).
    step = {"step": 1} if spec.widget == "int" else {"step": 0.01}
    return st.number_input(spec.label, key=key, help=spec.help, **(step | spec.options))
