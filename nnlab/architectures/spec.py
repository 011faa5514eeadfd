"""What a layer is: its kind, its settings with their defaults, and how to say it in words."""

from __future__ import annotations

import json
from typing import Any

from nnlab.validation import is_number

INPUT_SHAPE: tuple[int, int, int] = (28, 28, 1)
NUM_CLASSES = 10

ACTIVATIONS = ("relu", "sigmoid", "tanh", "elu", "gelu", "softmax", "linear")
PADDINGS = ("valid", "same")
LAYER_KINDS = (
    "Dense",
    "Conv2D",
    "MaxPooling2D",
    "AveragePooling2D",
    "Flatten",
    "Dropout",
    "BatchNormalization",
)
WINDOW_KINDS = ("Conv2D", "MaxPooling2D", "AveragePooling2D")  # layers that slide a window over an image
# A layer of an imported model that NN Lab cannot build or edit (an LSTM, a Reshape...): it keeps the
# Keras class, output shape and parameter count the file's model gave it, so that the network's summary
# and parameter count stay true, and always carries a problem (such a network cannot be trained here).
IMPORTED = "Imported"

# Every setting a layer kind takes, with its default. Settings not listed are ignored.
LAYER_DEFAULTS: dict[str, dict[str, Any]] = {
    "Dense": {"units": 128, "activation": "relu", "l1": 0.0, "l2": 0.0},
    "Conv2D": {
        "filters": 32,
        "kernel_size": 3,
        "strides": 1,
        "padding": "valid",
        "activation": "relu",
        "l1": 0.0,
        "l2": 0.0,
    },
    "MaxPooling2D": {"pool_size": 2, "strides": None, "padding": "valid"},
    "AveragePooling2D": {"pool_size": 2, "strides": None, "padding": "valid"},
    "Flatten": {},
    "Dropout": {"rate": 0.5},
    "BatchNormalization": {},
    IMPORTED: {"class_name": "Layer", "output_shape": None, "params": 0},
}

Spec = dict[str, Any]
Shape = tuple[int, ...]


def normalize(spec: Spec) -> Spec:
    """A copy of ``spec`` with every layer's missing settings filled with defaults."""
    layers = []
    for layer in spec.get("layers", []):
        own = layer if isinstance(layer, dict) else {}  # not a dict: a layer of no known kind
        kind = own.get("kind")
        defaults = LAYER_DEFAULTS.get(kind, {}) if isinstance(kind, str) else {}
        layers.append({"kind": kind, **defaults, **{k: v for k, v in own.items() if k in defaults}})
    return {"name": spec.get("name", "Custom network"), "layers": layers}


def to_json(spec: Spec) -> str:
    return json.dumps(normalize(spec), indent=1)


def from_json(text: str) -> Spec:
    data = json.loads(text)
    if not isinstance(data, dict) or not isinstance(data.get("layers"), list):
        raise ValueError("an architecture is a JSON object with a 'layers' list")
    return data


def format_shape(shape: Shape | None) -> str:
    """``(26, 26, 32)``; ``?`` for a shape that cannot be known (after a problem)."""
    return "?" if shape is None else "(" + ", ".join(str(s) for s in shape) + ")"


def describe_layer(layer: dict[str, Any]) -> str:
    """A short human description, e.g. ``32 filters 3x3, relu``."""
    kind = layer.get("kind")
    d = {**LAYER_DEFAULTS.get(kind, {}), **layer} if isinstance(kind, str) else layer
    pen = "".join(f", {k.upper()}={d[k]:g}" for k in ("l1", "l2") if is_number(d.get(k)) and d.get(k))
    if kind == "Dense":
        return f"{d['units']} units, {d['activation']}{pen}"
    if kind == "Conv2D":
        k = d["kernel_size"]
        extra = (f", stride {d['strides']}" if d["strides"] != 1 else "") + (
            ", same padding" if d["padding"] == "same" else ""
        )
        return f"{d['filters']} filters {k}x{k}, {d['activation']}{extra}{pen}"
    if kind in ("MaxPooling2D", "AveragePooling2D"):
        return f"{d['pool_size']}x{d['pool_size']}" + (f", stride {d['strides']}" if d.get("strides") else "")
    if kind == "Dropout":
        return f"rate {d['rate']}"
    if kind == IMPORTED:
        return f"{str(d['class_name'])[:40]} from an imported model"
    return ""


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
