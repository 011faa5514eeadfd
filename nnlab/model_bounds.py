"""What a model file may ask for, read from its description before Keras builds anything.

Keras builds a model from its description (``config.json`` in a ``.keras`` archive, the
``model_config`` attribute of an ``.h5`` file) before it reads a single weight: a 424 KB file whose
Dense layer claims 600,000 units makes it allocate 1.9 GB. ``config_problems`` walks the
description as data, layer by layer, and works out what building it would cost: the number of
layers, the parameters each layer's settings imply, and the values each layer outputs per image.
It knows the standard image layers (``layer_rules.py``); any other kind is refused, so nothing it
cannot bound is ever built. The walk is a loop, never a recursion, and the bounds are checked as it
goes, so a hostile description costs milliseconds.

The input must be one MNIST image in one of the layouts NN Lab feeds (``ACCEPTED_INPUTS``).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from nnlab.layer_rules import LayerRefused, Shape, output_of
from nnlab.validation import Problem, quote

ACCEPTED_INPUTS = ((28, 28, 1), (28, 28), (784,))
MODEL_CLASSES = ("Sequential", "Functional", "Model")
MAX_NESTING = 4  # models inside models


@dataclass(frozen=True)
class ModelBounds:
    """The most an uploaded model may ask for (defaults for an upload of at most 50 MB)."""

    max_layers: int = 300  # a ResNet-50 has 177
    max_params: int = 20_000_000  # 80 MB of float32 weights: more than a 50 MB file can hold
    max_values_per_image: int = 8_000_000  # 32 MB of activations for one image


@dataclass
class _Tally:
    layers: int = 0
    params: int = 0
    values: int = 0
    largest: tuple[int, str] = (0, "")  # parameters of the largest layer, and its name
    widest: tuple[int, str] = (0, "")  # values per image of the widest layer, and its name
    shapes: dict[tuple[str, int], list[Shape]] = field(default_factory=dict)


class _Refused(Exception):
    """A description NN Lab will not build; the message says why, in words."""


def input_layout(shape: tuple) -> tuple[int, ...] | None:
    """The accepted layout that ``shape`` (without the batch axis) matches, or None."""
    for accepted in ACCEPTED_INPUTS:
        if len(shape) == len(accepted) and all(
            d is None or d == a for d, a in zip(shape, accepted, strict=True)
        ):
            return accepted
    return None


def wrong_input_message(shape: tuple) -> str:
    return (
        f"The model expects inputs of shape {shape}, but MNIST images are 28x28 pixels: "
        "the input must be (28, 28, 1), (28, 28) or (784,)."
    )


@dataclass(frozen=True)
class ModelCost:
    """What building a described model takes: its layers, parameters and values output per image."""

    layers: int
    params: int
    values_per_image: int


def measure(
    config: Any, weights_bytes: int | None = None, bounds: ModelBounds | None = None
) -> tuple[list[Problem], ModelCost]:
    """Why the model ``config`` describes must not be built (empty when it stays within ``bounds``),
    and what it costs as far as the walk got.

    ``weights_bytes``, the size of the file's weights, bounds the parameters too: a model cannot
    have more parameters than its weights file has bytes.
    """
    bounds = bounds or ModelBounds()
    tally = _Tally()
    try:
        _walk_model(config, None, tally, bounds, depth=0)
        problems = _size_problems(tally, weights_bytes, bounds)
    except _Refused as exc:
        problems = [Problem(str(exc), setting="model")]
    return problems, ModelCost(tally.layers, tally.params, tally.values)


def config_problems(
    config: Any, weights_bytes: int | None = None, bounds: ModelBounds | None = None
) -> list[Problem]:
    """``measure``'s problems only."""
    return measure(config, weights_bytes, bounds)[0]


def _size_problems(tally: _Tally, weights_bytes: int | None, bounds: ModelBounds) -> list[Problem]:
    problems = []
    params, (biggest, where) = tally.params, tally.largest
    if params > bounds.max_params:
        message = (
            f"The model describes {params:,} parameters; NN Lab evaluates uploaded models of at most "
            f"{bounds.max_params:,}. The largest is {where}, with {biggest:,}."
        )
        problems.append(Problem(message, setting="model"))
    elif weights_bytes is not None and params > weights_bytes:
        message = (
            f"The model describes {params:,} parameters, but its weights take only {weights_bytes:,} bytes "
            f"(at least one byte per parameter is needed): the description does not match its weights. "
            f"The largest is {where}, with {biggest:,}."
        )
        problems.append(Problem(message, setting="model"))
    if tally.values > bounds.max_values_per_image:
        widest, where = tally.widest
        message = (
            f"The model's layers output {tally.values:,} values for one image; NN Lab evaluates uploaded "
            f"models of at most {bounds.max_values_per_image:,}. The widest is {where}, with {widest:,}."
        )
        problems.append(Problem(message, setting="model"))
    return problems


# ---- the walk -------------------------------------------------------------------------------------


def _walk_model(config: Any, inputs: list[Shape] | None, tally: _Tally, bounds: ModelBounds, depth: int):
    """Walk one model (the file's, or one nested in it); returns its output shapes."""
    if depth > MAX_NESTING:
        raise _Refused(f"The model nests models more than {MAX_NESTING} deep; NN Lab does not load it.")
    kind, body = _class_and_body(config, "The model")
    if kind not in MODEL_CLASSES:
        raise _Refused(
            f"The file holds a model of the custom class {quote(kind)}, which NN Lab cannot check "
            "before loading; save a Sequential or functional Keras model."
        )
    layers = body.get("layers")
    if not isinstance(layers, list):
        raise _Refused("The model's description (config.json) lists no layers: the file is damaged.")
    if tally.layers + len(layers) > bounds.max_layers:
        raise _Refused(
            f"The model has at least {tally.layers + len(layers):,} layers; NN Lab evaluates uploaded "
            f"models of at most {bounds.max_layers:,} layers."
        )
    if kind == "Sequential":
        return _walk_sequential(body, layers, inputs, tally, bounds, depth)
    return _walk_functional(layers, inputs, tally, bounds, depth)


def _walk_sequential(
    body: dict, layers: list, inputs: list[Shape] | None, tally, bounds, depth
) -> list[Shape]:
    shape = inputs
    if shape is None and not (layers and _class_and_body(layers[0], "A layer")[0] == "InputLayer"):
        shape = [_model_input(body.get("build_input_shape"))]
    for layer in layers:
        kind, cfg = _class_and_body(layer, "A layer")
        if kind == "InputLayer":
            shape = shape or [_model_input(cfg.get("batch_shape", cfg.get("batch_input_shape")))]
            continue
        if shape is None:
            raise _Refused("The model's description does not say what input it takes.")
        shape = _apply(layer, shape, tally, bounds, depth)
    return shape or []


def _walk_functional(layers: list, inputs: list[Shape] | None, tally, bounds, depth) -> list[Shape]:
    """Layers in any order: each is worked out once all the tensors it reads are known."""
    pending = list(layers)
    fed = list(inputs) if inputs is not None else None
    last: list[Shape] = []
    while pending:
        waiting = []
        for layer in pending:
            kind, cfg = _class_and_body(layer, "A layer")
            name = str(cfg.get("name", layer.get("name", "?")))
            if kind == "InputLayer":
                shape = (
                    fed.pop(0) if fed else _model_input(cfg.get("batch_shape", cfg.get("batch_input_shape")))
                )
                tally.shapes[(name, 0)] = [shape]
                continue
            nodes = list(_nodes(layer, tally))
            if any(node is None for node in nodes):
                waiting.append(layer)
                continue
            for index, node in enumerate(nodes):
                last = tally.shapes[(name, index)] = _apply(layer, node, tally, bounds, depth)
        if len(waiting) == len(pending):
            raise _Refused(
                "The model's layers are not connected in a way NN Lab can follow: the file is damaged."
            )
        pending = waiting
    return last


def _apply(layer: dict, inputs: list[Shape], tally: _Tally, bounds: ModelBounds, depth: int) -> list[Shape]:
    """One layer (or nested model) applied to ``inputs``: counted, bounded, its output shapes."""
    kind, cfg = _class_and_body(layer, "A layer")
    if kind in MODEL_CLASSES:
        return _walk_model(layer, inputs, tally, bounds, depth + 1)
    tally.layers += 1
    name = f"layer {quote(str(cfg.get('name', '?')))} ({kind})"  # layer 'dense_2' (Dense)
    try:
        shape, params = output_of(kind, cfg, inputs)
    except LayerRefused as exc:
        raise _Refused(str(exc).replace("{layer}", name)) from None
    values = 1
    for d in shape:
        values *= d
    tally.params += params
    tally.values += values
    tally.largest = max(tally.largest, (params, name))
    tally.widest = max(tally.widest, (values, name))
    if tally.params > 100 * bounds.max_params or tally.values > 100 * bounds.max_values_per_image:
        raise _Refused(f"The model is far too large for NN Lab: {name} alone asks for {params:,} parameters.")
    return [shape]


def _nodes(layer: dict, tally: _Tally) -> Iterator[list[Shape] | None]:
    """The input shapes of each call of ``layer`` (None where one is not known yet)."""
    nodes = layer.get("inbound_nodes") or []
    if not isinstance(nodes, list):
        raise _Refused("A layer's connections in the model's description are damaged.")
    for node in nodes:
        refs = list(_history_refs(node))
        shapes = [tally.shapes.get((name, index)) for name, index in refs]
        yield None if not refs or any(s is None for s in shapes) else [s[0] for s in shapes]


def _history_refs(node: Any) -> Iterator[tuple[str, int]]:
    """The (layer name, call) pairs a node reads, in order (Keras 3's and Keras 2's formats)."""
    if isinstance(node, dict):  # Keras 3: {"args": [tensor or list of tensors, ...], "kwargs": {...}}
        stack = [node.get("args", [])]
        while stack:
            item = stack.pop(0)
            if isinstance(item, list):
                stack[:0] = item
            elif isinstance(item, dict) and item.get("class_name") == "__keras_tensor__":
                history = (item.get("config") or {}).get("keras_history") or []
                if len(history) >= 2:
                    yield str(history[0]), _whole(history[1])
    elif isinstance(node, list):  # Keras 2: [[name, call, tensor, kwargs], ...]
        for entry in node:
            if isinstance(entry, list) and len(entry) >= 2:
                yield str(entry[0]), _whole(entry[1])


def _whole(value: Any) -> int:
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value < 10_000:
        return value
    raise _Refused("A layer's connections in the model's description are damaged.")


def _class_and_body(item: Any, what: str) -> tuple[str, dict]:
    if not isinstance(item, dict) or not isinstance(item.get("config"), dict):
        raise _Refused(
            f"{what} in the model's description (config.json) is not one Keras wrote: the file is damaged."
        )
    return str(item.get("class_name")), item["config"]


def _model_input(batch_shape: Any) -> Shape:
    """The image layout a model's declared input takes (its batch axis dropped)."""
    if not isinstance(batch_shape, list) or not batch_shape:
        raise _Refused("The model's description does not say what input it takes.")
    shape = tuple(d if isinstance(d, int) and not isinstance(d, bool) else None for d in batch_shape[1:])
    layout = input_layout(shape)
    if layout is None:
        raise _Refused(wrong_input_message(shape))
    return layout
