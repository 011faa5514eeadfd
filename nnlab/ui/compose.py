"""The network composer: start from a preset, then add, remove, reorder and edit layers.

The layers live in ``st.session_state`` as a list of dicts, each with a stable ``uid`` so that a
layer's widgets keep their values when it moves. Every widget change reruns the page, so the spec
is validated and summarised at once; problems appear inside the layer they concern.
"""

from __future__ import annotations

import copy
from typing import Any

import streamlit as st

from nnlab.architectures import (
    ACTIVATIONS,
    LAYER_DEFAULTS,
    LAYER_KINDS,
    PADDINGS,
    PRESETS,
    Spec,
    count_params,
    memory_bytes,
    summary,
    validate,
)
from nnlab.ui.format import format_bytes
from nnlab.validation import Problem

DEFAULT_PRESET = "MLP 784-128-10"
_LAYERS = "compose_layers"  # list of {"uid": int, "kind": ..., settings...}
_NEXT_UID = "compose_next_uid"
_NAME = "compose_name"
_PRESET = "compose_preset"
_BASE = "compose_base"  # the spec last loaded (a preset or a run's network), to tell when it was edited
_AUTO = "compose_auto_name"  # the name the app gave; a different one was typed by the visitor

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

# field -> (label, widget kind, widget options, help)
FIELDS: dict[str, tuple[str, str, dict[str, Any], str]] = {
    "units": (
        "units",
        "int",
        {"min_value": 1, "max_value": 4096, "step": 16},
        "How many neurons (outputs) this layer has. The last layer needs 10, one per digit.",
    ),
    "filters": (
        "filters",
        "int",
        {"min_value": 1, "max_value": 4096, "step": 8},
        "How many different patterns (output channels) this convolution learns.",
    ),
    "kernel_size": (
        "kernel",
        "int",
        {"min_value": 1, "max_value": 28, "step": 1},
        "Width and height of each filter window, in pixels (3 means 3x3).",
    ),
    "strides": (
        "stride",
        "int",
        {"min_value": 1, "max_value": 28, "step": 1},
        "How many pixels the window moves each step; 2 halves the image size.",
    ),
    "pool_size": (
        "pool",
        "int",
        {"min_value": 1, "max_value": 28, "step": 1},
        "Width and height of the pooling window (2 means 2x2, halving the image).",
    ),
    "padding": (
        "padding",
        "select",
        {"options": PADDINGS},
        "'valid' uses only whole windows (the image shrinks); 'same' pads the border so the size stays.",
    ),
    "activation": (
        "activation",
        "select",
        {"options": ACTIVATIONS},
        "The function applied to each output: relu for hidden layers, softmax for the last one.",
    ),
    "rate": (
        "rate",
        "float",
        {"min_value": 0.0, "max_value": 0.95, "step": 0.05, "format": "%.2f"},
        "Fraction of inputs zeroed at random during training (0.5 = half).",
    ),
    "l1": (
        "L1",
        "float",
        {"min_value": 0.0, "max_value": 1.0, "step": 1e-4, "format": "%.4f"},
        "Penalty on the absolute size of the weights: pushes many weights to exactly 0.",
    ),
    "l2": (
        "L2",
        "float",
        {"min_value": 0.0, "max_value": 1.0, "step": 1e-4, "format": "%.4f"},
        "Penalty on the squared size of the weights (weight decay): keeps weights small.",
    ),
}
# The widgets take any number: a bounded widget rejects an out-of-range value in the browser with a
# tiny red "!" and no words, while validate() explains it under the layer.
_BOUNDS = ("min_value", "max_value")
SETTING_COLUMNS = max(len(v) for v in LAYER_DEFAULTS.values())  # one grid for every kind: rows line up
POOL_STRIDE_HELP = "How many pixels the window moves each step; leave empty to use the pool size."


def _fields_of(kind: str) -> list[str]:
    return list(LAYER_DEFAULTS.get(kind, {}))


def _new_uid() -> int:
    uid = st.session_state.get(_NEXT_UID, 0)
    st.session_state[_NEXT_UID] = uid + 1
    return uid


def _with_uids(layers: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out = []
    for layer in layers:
        kind = layer.get("kind")
        out.append({"uid": _new_uid(), **copy.deepcopy(LAYER_DEFAULTS.get(kind, {})), **copy.deepcopy(layer)})
    return out


def load_spec(spec: Spec) -> None:
    """Replace the composed network with ``spec`` (a preset, or a run's network to retrain)."""
    st.session_state[_LAYERS] = _with_uids(spec.get("layers", []))
    name = str(spec.get("name", "Custom network"))
    st.session_state[_NAME] = st.session_state[_AUTO] = name
    st.session_state[_BASE] = {"name": name, "layers": _plain(st.session_state[_LAYERS])}
    if name in PRESETS:
        st.session_state[_PRESET] = name
    st.session_state["compose_add_position"] = max(1, len(st.session_state[_LAYERS]))  # before the output


def has_network() -> bool:
    """Whether this session has composed a network yet (False on a fresh session, e.g. after a refresh)."""
    return _LAYERS in st.session_state


def _load_preset() -> None:
    name = st.session_state[_PRESET]
    load_spec(PRESETS[name])


def _plain(layers: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Layers as in a spec: each kind's own settings only (no uid, no settings of a former kind)."""
    out = []
    for layer in layers:
        kind = layer["kind"]
        out.append(
            {"kind": kind, **{f: layer.get(f, LAYER_DEFAULTS.get(kind, {})[f]) for f in _fields_of(kind)}}
        )
    return out


def current_spec() -> Spec:
    """The network as composed now, as a plain spec (only each kind's own settings)."""
    return {
        "name": st.session_state.get(_NAME) or "Custom network",
        "layers": _plain(st.session_state.get(_LAYERS, [])),
    }


_SHORT = {
    "MaxPooling2D": "Pool",
    "AveragePooling2D": "AvgPool",
    "Dropout": "Drop",
    "BatchNormalization": "BN",
}


def short_name(spec: Spec, max_chars: int = 80) -> str:
    """A name that describes the layers: 'Custom CNN Conv32-Pool-Conv64-Dense64', 'Custom MLP 784-256-64-10'.

    Two different networks get different names, so run lists and Compare stay readable.
    """
    layers = spec.get("layers", [])
    if not any(layer.get("kind") in ("Conv2D", "MaxPooling2D", "AveragePooling2D") for layer in layers):
        parts = ["784"]
        for layer in layers:
            kind = layer.get("kind")
            if kind == "Dense":
                parts.append(str(layer.get("units")))
            elif kind in _SHORT:
                parts.append(_SHORT[kind])
        name = "Custom MLP " + "-".join(parts)
    else:
        parts = []
        for layer in layers[:-1]:  # the output layer is always Dense 10
            kind = layer.get("kind")
            if kind == "Conv2D":
                parts.append(
                    f"Conv{layer.get('filters')}"
                    + (f"k{layer.get('kernel_size')}" if layer.get("kernel_size") not in (3, None) else "")
                )
            elif kind == "Dense":
                parts.append(f"Dense{layer.get('units')}")
            elif kind in _SHORT:
                parts.append(_SHORT[kind])
        name = "Custom CNN " + "-".join(parts)
    return name if len(name) <= max_chars else name[: max_chars - 1] + "…"


def _follow_name() -> None:
    """Keep an app-given name true to the layers: edited layers get a name of their own.

    A name the visitor typed is theirs and never changed.
    """
    auto = st.session_state.get(_AUTO)
    if st.session_state.get(_NAME) not in (auto, "", None):
        return
    base = st.session_state.get(_BASE) or {}
    layers = _plain(st.session_state.get(_LAYERS, []))
    name = (
        base.get("name")
        if layers == base.get("layers") and base.get("name")
        else short_name({"layers": layers})
    )
    st.session_state[_NAME] = st.session_state[_AUTO] = name


# ---- list operations (button callbacks: they run before the page, so it draws the new order) ----


def _index(uid: int) -> int:
    return next(i for i, layer in enumerate(st.session_state[_LAYERS]) if layer["uid"] == uid)


def _move(uid: int, delta: int) -> None:
    layers = st.session_state[_LAYERS]
    i = _index(uid)
    j = i + delta
    if 0 <= j < len(layers):
        layers[i], layers[j] = layers[j], layers[i]


def _remove(uid: int) -> None:
    st.session_state[_LAYERS].pop(_index(uid))


def _add() -> None:
    kind = st.session_state["compose_add_kind"]
    layers = st.session_state[_LAYERS]
    position = int(st.session_state.get("compose_add_position") or len(layers) + 1)
    position = max(1, min(position, len(layers) + 1))
    layers.insert(position - 1, _with_uids([{"kind": kind}])[0])
    st.session_state["compose_add_position"] = max(1, len(layers))  # next one: before the output


# ---- drawing ----------------------------------------------------------------------------------


def _key(uid: int, field: str) -> str:
    return f"layer_{uid}_{field}"


def _sync() -> None:
    """Copy the widgets' current values into the layer list, before anything reads it.

    Streamlit stores a changed widget's value before rerunning the page, so after this the spec
    includes the very latest edit (and a changed kind takes defaults for its new settings).
    """
    for layer in st.session_state[_LAYERS]:
        uid = layer["uid"]
        kind = st.session_state.get(_key(uid, "kind"), layer["kind"])
        if kind != layer["kind"] and kind in LAYER_DEFAULTS:
            layer.update({f: v for f, v in LAYER_DEFAULTS[kind].items() if f not in layer})
            layer["kind"] = kind
        for field in _fields_of(layer["kind"]):
            key = _key(uid, field)
            if key in st.session_state:
                layer[field] = st.session_state[key]


def _setting_widget(uid: int, kind: str, field: str, layer: dict[str, Any]) -> Any:
    key = _key(uid, field)
    label, widget, options, help_text = FIELDS[field]
    value = layer.get(field, LAYER_DEFAULTS[kind][field])
    try:  # number widgets want one numeric type (a stored spec may hold 0 for 0.0)
        if widget == "float":
            value = float(value)
        elif widget == "int" and value is not None:
            value = int(value)
    except (TypeError, ValueError):
        value = LAYER_DEFAULTS[kind][field]
    st.session_state[key] = value
    if widget == "select":
        if st.session_state[key] not in options["options"]:
            st.session_state[key] = LAYER_DEFAULTS[kind][field]
        return st.selectbox(label, options["options"], key=key, help=help_text)
    if field == "strides" and kind != "Conv2D":
        return st.number_input("stride", step=1, key=key, help=POOL_STRIDE_HELP, placeholder="= pool size")
    return st.number_input(
        label, key=key, help=help_text, **{k: v for k, v in options.items() if k not in _BOUNDS}
    )


def _layer_row(
    i: int, n: int, layer: dict[str, Any], problems: list[Problem], shape: str, params: int
) -> None:
    """Two lines per layer: its kind, output and buttons; then its settings on a grid wide enough to read."""
    uid = layer["uid"]
    with st.container(border=True):
        top = st.columns([0.3, 2.2, 4.0, 1.6], vertical_alignment="bottom")
        top[0].markdown(f"**{i + 1}**")
        kind_key = _key(uid, "kind")
        st.session_state[kind_key] = layer["kind"]
        with top[1]:
            kind = st.selectbox(
                "layer",
                LAYER_KINDS,
                key=kind_key,
                help="What this layer does. " + " ".join(f"{k}: {v}" for k, v in KIND_HELP.items()),
            )
        fields = _fields_of(kind)
        lesson = "" if fields else f" · {KIND_HELP.get(kind, '')}"
        top[2].caption(f"output {shape} · {params:,} parameters{lesson}")
        with top[3].container(horizontal=True, gap="small", horizontal_alignment="right", wrap=False):
            st.button(
                "↑",
                key=_key(uid, "up"),
                on_click=_move,
                args=(uid, -1),
                disabled=i == 0,
                help="Move this layer up",
            )
            st.button(
                "↓",
                key=_key(uid, "down"),
                on_click=_move,
                args=(uid, 1),
                disabled=i == n - 1,
                help="Move this layer down",
            )
            st.button("✕", key=_key(uid, "remove"), on_click=_remove, args=(uid,), help="Remove this layer")
        if fields:
            cols = st.columns(SETTING_COLUMNS)
            for col, field in zip(cols, fields, strict=False):
                with col:
                    layer[field] = _setting_widget(uid, kind, field, layer)
        for problem in problems:
            st.error(f"Layer {i + 1} ({kind}): {problem.message}", icon="⚠️")


def compose_network() -> tuple[Spec, list[Problem]]:
    """Draw the composer; returns the network as it stands and its problems (empty = trainable)."""
    st.session_state.setdefault(_PRESET, DEFAULT_PRESET)
    if _LAYERS not in st.session_state:
        load_spec(PRESETS[st.session_state[_PRESET]])
    top = st.columns([2, 2])
    top[0].selectbox(
        "Start from a preset",
        list(PRESETS),
        key=_PRESET,
        on_change=_load_preset,
        help="Choosing a preset replaces the layers below with it; then change them as you like.",
    )
    _sync()
    _follow_name()
    top[1].text_input(
        "Network name",
        key=_NAME,
        max_chars=80,
        help="A name for this network, shown with its runs. Until you type one, it follows your "
        "edits to the layers.",
    )

    layers = st.session_state[_LAYERS]
    problems = validate(current_spec())
    table = summary(current_spec())
    for i, layer in enumerate(layers):
        row = table.iloc[i] if i < len(table) else None
        _layer_row(
            i,
            len(layers),
            layer,
            [p for p in problems if p.layer == i],
            row["output shape"] if row is not None else "?",
            int(row["parameters"]) if row is not None else 0,
        )

    add = st.columns([2, 1, 1], vertical_alignment="bottom")
    add[0].selectbox(
        "Add a layer",
        LAYER_KINDS,
        key="compose_add_kind",
        help="The kind of layer to add. " + KIND_HELP["Dense"],
    )
    position = st.session_state.get("compose_add_position")
    if not isinstance(position, int) or not 1 <= position <= len(layers) + 1:
        st.session_state["compose_add_position"] = max(1, len(layers))
    add[1].number_input(
        "at position",
        min_value=1,
        max_value=len(layers) + 1,
        step=1,
        key="compose_add_position",
        help="Where the new layer goes (1 = first). The default puts it just before the output layer.",
    )
    add[2].button("Add layer", on_click=_add, icon="➕", key="compose_add_button")

    spec = current_spec()
    general = [p for p in problems if p.layer is None]
    for problem in general:
        st.error(problem.message, icon="⚠️")
    return spec, problems


def summary_panel(spec: Spec, problems: list[Problem]) -> None:
    """Output shape and parameters per layer, total parameters and a rough size in memory."""
    table = summary(spec)
    if table.empty:
        st.info("No layers yet.")
        return
    st.dataframe(table, hide_index=True, width="stretch")
    total = count_params(spec)
    cols = st.columns(3)
    cols[0].metric(
        "Total parameters",
        f"{total:,}",
        help="Weights and biases the training adjusts (plus batch-norm statistics).",
    )
    cols[1].metric(
        "Size in memory",
        format_bytes(memory_bytes(spec)),
        help="Roughly 4 bytes (one float32) per parameter.",
    )
    cols[2].metric("Layers", len(spec["layers"]))
    if problems:
        st.caption(f"{len(problems)} problem(s): shapes after the first problem are unknown ('?').")
