"""Shapes and parameter counts of a spec, worked out layer by layer without TensorFlow.

Walking the layers once gives every problem (in words a learner understands, each tied to its
layer) and each layer's output shape and parameter count. The formulas, for an input of shape
(h, w, c) or (n,):

    Dense(u)               (n,)      -> (u,)            n * u + u parameters (weights + biases)
    Conv2D(f, k, stride s) (h, w, c) -> (h', w', f)     k * k * c * f + f parameters
    Pooling(k, stride s)   (h, w, c) -> (h', w', c)     none
    Flatten                (h, w, c) -> (h * w * c,)    none
    BatchNormalization     any       -> the same        4 per channel: gamma, beta (trained) and
                                                        the moving mean and variance (not trained)

with h' = (h - k) // s + 1 for 'valid' padding and h' = ceil(h / s) for 'same'.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from nnlab.architectures.spec import (
    ACTIVATIONS,
    IMPORTED,
    INPUT_SHAPE,
    LAYER_KINDS,
    NUM_CLASSES,
    PADDINGS,
    WINDOW_KINDS,
    Shape,
    Spec,
    describe_layer,
    format_shape,
    normalize,
)
from nnlab.validation import Problem, is_int, is_number, name_problems, quote

if TYPE_CHECKING:  # pandas is imported where the summary table is made: the home page needs none
    import pandas as pd

MAX_WIDTH = 4096  # units of a Dense layer, filters of a Conv2D layer
# Layers of one network, whatever an operator allows: Keras takes minutes to build a few hundred
# and fails with a RecursionError near a thousand (an operator's limit, limits.py, is usually lower).
MAX_LAYERS = 200

LayerRow = tuple[Shape | None, int]  # a layer's output shape (None: unknown) and parameter count


def validate(spec: Spec) -> list[Problem]:
    """Every problem with ``spec``, in plain words; an empty list means it can be built and trained."""
    return _infer(spec)[0]


def count_params(spec: Spec) -> int:
    """Total parameters (trainable and not), as ``keras.Model.count_params()`` reports them."""
    return sum(p for _, p in _infer(spec)[1])


def layer_shapes(spec: Spec) -> list[LayerRow]:
    """Each layer's (output shape, parameters); the shape is None from the first problem on."""
    return _infer(spec)[1]


def values_per_image(spec: Spec) -> list[int]:
    """How many numbers each layer outputs for one image (0 where its shape is unknown)."""
    return [math.prod(shape) if shape is not None else 0 for shape, _ in _infer(spec)[1]]


def memory_bytes(spec: Spec) -> int:
    """Rough size of the weights in memory (float32)."""
    return 4 * count_params(spec)


def summary(spec: Spec) -> pd.DataFrame:
    """Per-layer table (layer, output shape, parameters), computed without TensorFlow."""
    _, rows = _infer(spec)
    ok = isinstance(spec, dict) and isinstance(spec.get("layers"), list)
    layers = normalize(spec)["layers"] if ok else []
    data = [
        {
            "layer": i + 1,
            "kind": str(layer.get("kind")),
            "details": describe_layer(layer),
            "output shape": format_shape(shape),
            "parameters": params,
        }
        for i, (layer, (shape, params)) in enumerate(zip(layers, rows, strict=False))
    ]
    import pandas as pd

    return pd.DataFrame(data, columns=["layer", "kind", "details", "output shape", "parameters"])


# ---- the walk -----------------------------------------------------------------------------------


def _infer(spec: Spec) -> tuple[list[Problem], list[LayerRow]]:
    """Walk the layers once: every problem, and each layer's (output shape, parameter count)."""
    if not isinstance(spec, dict) or not isinstance(spec.get("layers"), list):
        return [Problem("An architecture needs a list of layers.", setting="architecture")], []
    if len(spec["layers"]) > MAX_LAYERS:
        message = f"The network has {len(spec['layers']):,} layers; this lab builds at most {MAX_LAYERS}."
        return [Problem(message, setting="architecture")], []
    layers = normalize(spec)["layers"]
    if not layers:
        message = "The network has no layers: add at least a Flatten and a Dense output layer."
        return [Problem(message, setting="architecture")], []
    problems: list[Problem] = []
    rows: list[LayerRow] = []
    shape: Shape | None = INPUT_SHAPE
    for i, layer in enumerate(layers):
        if layer["kind"] == IMPORTED:
            shape, params, message = imported_row(layer)
            problems.append(Problem(message, layer=i))
            rows.append((shape, params))
            continue
        own = _setting_problems(layer)
        problems.extend(Problem(m, layer=i) for m in own)
        if own or shape is None:
            rows.append((None, 0))
            shape = None
            continue
        shape, params, problem = _output(layer, shape)
        if problem:
            problems.append(Problem(problem, layer=i))
        rows.append((shape, params))
    name = name_problems(spec.get("name"), setting="architecture", what="network name")
    return name + problems + _whole_network_problems(layers), rows


def imported_row(layer: dict[str, Any]) -> tuple[Shape | None, int, str]:
    """An imported layer's output shape and parameters as its model declared them, and its problem."""
    declared, params = layer.get("output_shape"), layer.get("params")
    ok_shape = (
        isinstance(declared, (list, tuple))
        and 1 <= len(declared) <= 3
        and all(is_int(d) and 1 <= d <= 10**7 for d in declared)
    )
    name = str(layer.get("class_name"))[:40]
    message = (
        f"this layer ({name}) is not one NN Lab can build (it knows {', '.join(LAYER_KINDS)}): this network "
        "can be evaluated, inspected and drawn on, but not edited or trained here"
    )
    known = ok_shape and is_int(params) and 0 <= params <= 10**9  # whatever came before it
    return (tuple(declared), int(params), message) if known else (None, 0, message)


def _whole_network_problems(layers: list[dict[str, Any]]) -> list[Problem]:
    problems = []
    last = layers[-1]
    if last["kind"] != IMPORTED and not (
        last["kind"] == "Dense" and last.get("units") == NUM_CLASSES and last.get("activation") == "softmax"
    ):
        message = (
            "the last layer must be Dense with 10 units and softmax activation, so that the network "
            "gives one probability for each digit 0-9"
        )
        problems.append(Problem(message, layer=len(layers) - 1))
    for i, layer in enumerate(layers[:-1]):
        if layer["kind"] == "Dense" and layer.get("activation") == "softmax":
            message = (
                "softmax belongs only in the last layer; use relu (or another activation) in hidden layers"
            )
            problems.append(Problem(message, layer=i))
    return problems


def _output(layer: dict[str, Any], shape: Shape) -> tuple[Shape | None, int, str | None]:
    """One layer's output shape and parameter count for an input of ``shape`` (or why it has none)."""
    kind = layer["kind"]
    if kind == "Dense":
        if len(shape) != 1:
            flat = f"Dense needs a flat input but gets shape {format_shape(shape)}"
            return None, 0, f"{flat}: add a Flatten layer before it"
        return (layer["units"],), shape[0] * layer["units"] + layer["units"], None
    if kind in WINDOW_KINDS:
        return _window_output(layer, shape)
    if kind == "Flatten":
        return (math.prod(shape),), 0, None
    if kind == "BatchNormalization":
        return shape, 4 * shape[-1], None  # gamma, beta, moving mean and variance per channel
    return shape, 0, None  # Dropout


def _window_output(layer: dict[str, Any], shape: Shape) -> tuple[Shape | None, int, str | None]:
    kind = layer["kind"]
    if len(shape) != 3:
        name = "Conv2D" if kind == "Conv2D" else "Pooling"
        needs = f"{name} needs an image (height, width, channels) as input, but after a Flatten it gets"
        return None, 0, f"{needs} a flat vector {format_shape(shape)}; move it before the Flatten"
    h, w, c = shape
    window = layer["kernel_size"] if kind == "Conv2D" else layer["pool_size"]
    stride = layer["strides"] or window
    if window > min(h, w):
        return None, 0, _window_too_large(kind, window, layer["padding"], h, w)
    out_h, out_w = (_window_out(side, window, stride, layer["padding"]) for side in (h, w))
    if kind == "Conv2D":
        filters = layer["filters"]
        return (out_h, out_w, filters), window * window * c * filters + filters, None
    return (out_h, out_w, c), 0, None


def _window_too_large(kind: str, window: int, padding: str, h: int, w: int) -> str:
    """A window larger than its input: nothing to slide over ('valid'), or mostly padding ('same',
    where a window of 10^9 has the worker pad every image to 10^9 pixels a side)."""
    what = "kernel" if kind == "Conv2D" else "pool"
    larger = f"its {window:,}x{window:,} {what} is larger than its {h}x{w} input"
    side = min(h, w)
    if padding == "valid":
        return f"{larger}; use a {what} of at most {side}x{side}, or remove a pooling layer before it"
    return f"{larger}, so it would slide mostly over padding; use a {what} of at most {side}x{side}"


def _window_out(size: int, window: int, stride: int, padding: str) -> int:
    if padding == "same":
        return math.ceil(size / stride)  # the border is padded so that every stride step fits
    return (size - window) // stride + 1  # only whole windows


# ---- a layer's own settings ---------------------------------------------------------------------


def _setting_problems(layer: dict[str, Any]) -> list[str]:
    """Problems with a layer's own settings, independent of its input."""
    kind = layer["kind"]
    if kind not in LAYER_KINDS:
        return [f"unknown layer kind {quote(kind)}; choose one of {', '.join(LAYER_KINDS)}"]
    out = []
    if kind in ("Dense", "Conv2D"):
        out += _width_problems(layer, "units" if kind == "Dense" else "filters")
    if kind == "Conv2D":
        for key in ("kernel_size", "strides"):
            if not _at_least_one(layer[key]):
                out.append(
                    f"{key.replace('_', ' ')} must be a whole number of at least 1 (got {quote(layer[key])})"
                )
    if kind in ("MaxPooling2D", "AveragePooling2D"):
        if not _at_least_one(layer["pool_size"]):
            out.append(f"pool size must be a whole number of at least 1 (got {quote(layer['pool_size'])})")
        if layer["strides"] is not None and not _at_least_one(layer["strides"]):
            out.append(
                "strides must be empty (= pool size) or a whole number of at least 1 "
                f"(got {quote(layer['strides'])})"
            )
    if kind in WINDOW_KINDS and layer["padding"] not in PADDINGS:
        out.append(f"padding must be 'valid' or 'same' (got {quote(layer['padding'])})")
    if kind == "Dropout" and (not is_number(layer["rate"]) or not 0 <= layer["rate"] < 1):
        out.append(f"the dropout rate must be at least 0 and below 1 (got {quote(layer['rate'])})")
    return out


def _width_problems(layer: dict[str, Any], key: str) -> list[str]:
    """Units or filters, activation and penalties of a Dense or Conv2D layer."""
    out = []
    if not _at_least_one(layer[key]):
        out.append(f"the number of {key} must be a whole number of at least 1 (got {quote(layer[key])})")
    elif layer[key] > MAX_WIDTH:
        out.append(f"{layer[key]:,} {key} is too many for this lab (at most {MAX_WIDTH})")
    if layer["activation"] not in ACTIVATIONS:
        out.append(f"unknown activation {quote(layer['activation'])}; choose one of {', '.join(ACTIVATIONS)}")
    for pen in ("l1", "l2"):
        if not is_number(layer[pen]) or layer[pen] < 0:
            out.append(f"the {pen.upper()} penalty must be a number of 0 or more (got {quote(layer[pen])})")
    return out


def _at_least_one(value: Any) -> bool:
    return is_int(value) and value >= 1
