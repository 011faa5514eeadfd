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
    LAYER_DEFAULTS,
    LAYER_KINDS,
    PRESETS,
    Spec,
    count_params,
    memory_bytes,
    short_name,
    summary,
    validate,
)
from nnlab.ui.format import format_bytes
from nnlab.ui.layer_row import KIND_HELP, fields_of, layer_row, widget_key
from nnlab.validation import Problem
from nnlab.words import plural

DEFAULT_PRESET = "MLP 784-128-10"
_LAYERS = "compose_layers"  # list of {"uid": int, "kind": ..., settings...}
_NEXT_UID = "compose_next_uid"
_NAME = "compose_name"
_PRESET = "compose_preset"
_BASE = "compose_base"  # the spec last loaded (a preset or a run's network), to tell when it was edited
_AUTO = "compose_auto_name"  # the name the app gave; a different one was typed by the visitor


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
            {"kind": kind, **{f: layer.get(f, LAYER_DEFAULTS.get(kind, {})[f]) for f in fields_of(kind)}}
        )
    return out


def current_spec() -> Spec:
    """The network as composed now, as a plain spec (only each kind's own settings)."""
    return {
        "name": st.session_state.get(_NAME) or "Custom network",
        "layers": _plain(st.session_state.get(_LAYERS, [])),
    }


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


def _sync() -> None:
    """Copy the widgets' current values into the layer list, before anything reads it.

    Streamlit stores a changed widget's value before rerunning the page, so after this the spec
    includes the very latest edit (and a changed kind takes defaults for its new settings).
    """
    for layer in st.session_state[_LAYERS]:
        uid = layer["uid"]
        kind = st.session_state.get(widget_key(uid, "kind"), layer["kind"])
        if kind != layer["kind"] and kind in LAYER_DEFAULTS:
            layer.update({f: v for f, v in LAYER_DEFAULTS[kind].items() if f not in layer})
            layer["kind"] = kind
        for field in fields_of(layer["kind"]):
            key = widget_key(uid, field)
            if key in st.session_state:
                layer[field] = st.session_state[key]


def compose_network(presets_only: bool = False) -> tuple[Spec, list[Problem]]:
    """Draw the composer; returns the network as it stands and its problems (empty = trainable).

    ``presets_only`` (a class that hides the layer editor): the preset picker, no layer editing.
    """
    st.session_state.setdefault(_PRESET, DEFAULT_PRESET)
    if _LAYERS not in st.session_state:
        load_spec(PRESETS[st.session_state[_PRESET]])
    top = st.columns([2, 2])
    preset_help = "Choosing a preset replaces the layers below with it; then change them as you like."
    top[0].selectbox(
        "Start from a preset", list(PRESETS), key=_PRESET, on_change=_load_preset, help=preset_help
    )
    _sync()
    _follow_name()
    name_help = "A name for this network, shown with its runs. Until you type one, it follows your edits."
    top[1].text_input("Network name", key=_NAME, max_chars=80, help=name_help)

    layers = st.session_state[_LAYERS]
    spec = current_spec()
    problems = validate(spec)
    if presets_only:
        st.caption("Your class trains the preset networks (and the class's own): the layer editor is hidden.")
        return spec, problems
    table = summary(spec)
    for i, layer in enumerate(layers):
        row = table.iloc[i] if i < len(table) else None
        shape, params = (row["output shape"], int(row["parameters"])) if row is not None else ("?", 0)
        mine = [p for p in problems if p.layer == i]
        layer_row(i, len(layers), layer, mine, shape, params, move=_move, remove=_remove)
    _add_row(len(layers))
    for problem in problems:
        if problem.layer is None:
            st.error(problem.message, icon="⚠️")
    return current_spec(), problems


def _add_row(n_layers: int) -> None:
    """The kind and position of a new layer, and the button that adds it."""
    add = st.columns([2, 1, 1], vertical_alignment="bottom")
    add_help = "The kind of layer to add. " + KIND_HELP["Dense"]
    add[0].selectbox("Add a layer", LAYER_KINDS, key="compose_add_kind", help=add_help)
    position = st.session_state.get("compose_add_position")
    if not isinstance(position, int) or not 1 <= position <= n_layers + 1:
        st.session_state["compose_add_position"] = max(1, n_layers)
    position_help = "Where the new layer goes (1 = first). The default puts it just before the output layer."
    add[1].number_input(
        "at position",
        min_value=1,
        max_value=n_layers + 1,
        step=1,
        key="compose_add_position",
        help=position_help,
    )
    add[2].button("Add layer", on_click=_add, icon="➕", key="compose_add_button")


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
        st.caption(f"{plural(len(problems), 'problem')}: shapes after the first problem are unknown ('?').")
