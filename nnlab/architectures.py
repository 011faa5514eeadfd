"""Network architectures as plain data, checked in words a learner understands.

An architecture ("spec") is a JSON-serialisable dict::

    {"name": "MLP 784-128-10",
     "layers": [{"kind": "Flatten"},
                {"kind": "Dense", "units": 128, "activation": "relu"},
                {"kind": "Dense", "units": 10, "activation": "softmax"}]}

The input is always one MNIST image, shape (28, 28, 1). ``validate`` lists every problem,
``summary`` infers shapes and parameter counts without TensorFlow, and ``build_model`` turns a
valid spec into a ``keras.Model``.
"""

from __future__ import annotations

import copy
import json
import math
from dataclasses import dataclass
from typing import Any

import pandas as pd

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
}

Spec = dict[str, Any]
Shape = tuple[int, ...]


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a spec; ``layer`` is the 0-based layer index, or None for the whole net."""

    layer: int | None
    message: str

    def __str__(self) -> str:
        return self.message if self.layer is None else f"Layer {self.layer + 1}: {self.message}"


class InvalidArchitecture(ValueError):
    """Raised by ``build_model`` for a spec that does not validate; holds every problem."""

    def __init__(self, problems: list[Problem]):
        self.problems = problems
        super().__init__("; ".join(str(p) for p in problems))


def _dense(units: int, activation: str = "relu", **kw: Any) -> dict[str, Any]:
    return {"kind": "Dense", "units": units, "activation": activation, **kw}


def _conv(filters: int, kernel_size: int = 3, **kw: Any) -> dict[str, Any]:
    return {"kind": "Conv2D", "filters": filters, "kernel_size": kernel_size, "activation": "relu", **kw}


_FLAT = {"kind": "Flatten"}
_POOL = {"kind": "MaxPooling2D", "pool_size": 2}
_OUT = _dense(10, "softmax")

PRESETS: dict[str, Spec] = {
    "Logistic regression 784-10": {"layers": [_FLAT, _OUT]},
    "MLP 784-128-10": {"layers": [_FLAT, _dense(128), _OUT]},
    "MLP 784-128-32-10": {"layers": [_FLAT, _dense(128), _dense(32), _OUT]},
    "MLP 784-256-128-10": {"layers": [_FLAT, _dense(256), _dense(128), _OUT]},
    "CNN Conv32-Pool-Conv64-Pool-Dense64": {
        "layers": [_conv(32), _POOL, _conv(64), _POOL, _FLAT, _dense(64), _OUT]
    },
    "CNN with dropout (Keras tutorial)": {
        "layers": [
            _conv(32),
            _POOL,
            _conv(64),
            _POOL,
            _FLAT,
            {"kind": "Dropout", "rate": 0.5},
            _dense(32),
            {"kind": "Dropout", "rate": 0.5},
            _OUT,
        ]
    },
    # Our strong preset: batch-normalised convolutions with dropout, kept small enough to train to
    # 99.4 %+ within 5 minutes on a 2-core CPU (benchmarks/strong_preset.py). BatchNorm comes after
    # pooling, where its tensors are 4x smaller: the same accuracy in about half the time.
    "Strong CNN (BatchNorm, 99.4 %+)": {
        "layers": [
            _conv(32, 5),
            _POOL,
            {"kind": "BatchNormalization"},
            {"kind": "Dropout", "rate": 0.2},
            _conv(64, 5),
            _POOL,
            {"kind": "BatchNormalization"},
            {"kind": "Dropout", "rate": 0.2},
            _FLAT,
            _dense(128),
            {"kind": "Dropout", "rate": 0.4},
            _OUT,
        ]
    },
}
for _name, _spec in PRESETS.items():
    _spec["name"] = _name


def get_preset(name: str) -> Spec:
    """A deep copy of a preset (so that editing it never changes the preset)."""
    if name not in PRESETS:
        raise KeyError(f"unknown preset {name!r}; choose one of: {', '.join(PRESETS)}")
    return copy.deepcopy(PRESETS[name])


def normalize(spec: Spec) -> Spec:
    """A copy of ``spec`` with every layer's missing settings filled with defaults."""
    layers = []
    for layer in spec.get("layers", []):
        kind = layer.get("kind") if isinstance(layer, dict) else None
        defaults = LAYER_DEFAULTS.get(kind, {}) if isinstance(kind, str) else {}
        layers.append({"kind": kind, **defaults, **{k: v for k, v in (layer or {}).items() if k in defaults}})
    return {"name": spec.get("name", "Custom network"), "layers": layers}


def to_json(spec: Spec) -> str:
    return json.dumps(normalize(spec), indent=1)


def from_json(text: str) -> Spec:
    data = json.loads(text)
    if not isinstance(data, dict) or not isinstance(data.get("layers"), list):
        raise ValueError("an architecture is a JSON object with a 'layers' list")
    return data


# ---- shape inference and validation ------------------------------------------------------------


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _window_out(size: int, window: int, stride: int, padding: str) -> int:
    if padding == "same":
        return math.ceil(size / stride)
    return (size - window) // stride + 1


def _check_settings(layer: dict[str, Any]) -> list[str]:
    """Problems with a layer's own settings, independent of its input."""
    kind, out = layer["kind"], []
    if kind in ("Dense", "Conv2D"):
        key, label = ("units", "units") if kind == "Dense" else ("filters", "filters")
        if not _is_int(layer[key]) or layer[key] < 1:
            out.append(f"the number of {label} must be a whole number of at least 1 (got {layer[key]!r})")
        elif layer[key] > 4096:
            out.append(f"{layer[key]} {label} is too many for this lab (at most 4096)")
        if layer["activation"] not in ACTIVATIONS:
            out.append(f"unknown activation {layer['activation']!r}; choose one of {', '.join(ACTIVATIONS)}")
        for pen in ("l1", "l2"):
            if not _is_number(layer[pen]) or layer[pen] < 0:
                out.append(f"the {pen.upper()} penalty must be a number of 0 or more (got {layer[pen]!r})")
    if kind == "Conv2D":
        for key in ("kernel_size", "strides"):
            if not _is_int(layer[key]) or layer[key] < 1:
                out.append(
                    f"{key.replace('_', ' ')} must be a whole number of at least 1 (got {layer[key]!r})"
                )
    if kind in ("MaxPooling2D", "AveragePooling2D"):
        if not _is_int(layer["pool_size"]) or layer["pool_size"] < 1:
            out.append(f"pool size must be a whole number of at least 1 (got {layer['pool_size']!r})")
        if layer["strides"] is not None and (not _is_int(layer["strides"]) or layer["strides"] < 1):
            out.append(
                f"strides must be empty (= pool size) or a whole number of at least 1 (got {layer['strides']!r})"
            )
    if kind in ("Conv2D", "MaxPooling2D", "AveragePooling2D") and layer["padding"] not in PADDINGS:
        out.append(f"padding must be 'valid' or 'same' (got {layer['padding']!r})")
    if kind == "Dropout" and (not _is_number(layer["rate"]) or not 0 <= layer["rate"] < 1):
        out.append(f"the dropout rate must be at least 0 and below 1 (got {layer['rate']!r})")
    return out


def _infer(spec: Spec) -> tuple[list[Problem], list[tuple[Shape | None, int]]]:
    """Walk the layers once: every problem, and each layer's (output shape, parameter count)."""
    problems: list[Problem] = []
    rows: list[tuple[Shape | None, int]] = []
    if not isinstance(spec, dict) or not isinstance(spec.get("layers"), list):
        return [Problem(None, "An architecture needs a list of layers.")], rows
    norm = normalize(spec)
    layers = norm["layers"]
    if not layers:
        return [
            Problem(None, "The network has no layers: add at least a Flatten and a Dense output layer.")
        ], rows
    shape: Shape | None = INPUT_SHAPE
    for i, layer in enumerate(layers):
        kind = layer["kind"]
        if kind not in LAYER_KINDS:
            problems.append(
                Problem(i, f"unknown layer kind {kind!r}; choose one of {', '.join(LAYER_KINDS)}")
            )
            rows.append((None, 0))
            shape = None
            continue
        own = _check_settings(layer)
        problems.extend(Problem(i, m) for m in own)
        if own or shape is None:
            rows.append((None, 0))
            shape = None
            continue
        params = 0
        if kind == "Dense":
            if len(shape) != 1:
                problems.append(
                    Problem(
                        i,
                        f"Dense needs a flat input but gets shape {_fmt(shape)}: add a Flatten layer before it",
                    )
                )
                shape = None
            else:
                params = shape[0] * layer["units"] + layer["units"]
                shape = (layer["units"],)
        elif kind in ("Conv2D", "MaxPooling2D", "AveragePooling2D"):
            name = "Conv2D" if kind == "Conv2D" else "Pooling"
            if len(shape) != 3:
                problems.append(
                    Problem(
                        i,
                        f"{name} needs an image (height, width, channels) as input, but after a Flatten it gets a flat vector {_fmt(shape)}; move it before the Flatten",
                    )
                )
                shape = None
            else:
                h, w, c = shape
                window = layer["kernel_size"] if kind == "Conv2D" else layer["pool_size"]
                stride = layer["strides"] or window
                if layer["padding"] == "valid" and window > min(h, w):
                    what = "kernel" if kind == "Conv2D" else "pool"
                    problems.append(
                        Problem(
                            i,
                            f"its {window}x{window} {what} is larger than its {h}x{w} input; use a smaller {what}, 'same' padding, or remove a pooling layer before it",
                        )
                    )
                    shape = None
                else:
                    oh, ow = (
                        _window_out(h, window, stride, layer["padding"]),
                        _window_out(w, window, stride, layer["padding"]),
                    )
                    if kind == "Conv2D":
                        params = window * window * c * layer["filters"] + layer["filters"]
                        shape = (oh, ow, layer["filters"])
                    else:
                        shape = (oh, ow, c)
        elif kind == "Flatten":
            shape = (math.prod(shape),)
        elif kind == "BatchNormalization":
            params = 4 * shape[-1]
        rows.append((shape, params))

    last = layers[-1]
    if not (
        last["kind"] == "Dense" and last.get("units") == NUM_CLASSES and last.get("activation") == "softmax"
    ):
        problems.append(
            Problem(
                len(layers) - 1,
                "the last layer must be Dense with 10 units and softmax activation, so that the network gives one probability for each digit 0-9",
            )
        )
    for i, layer in enumerate(layers[:-1]):
        if layer["kind"] == "Dense" and layer.get("activation") == "softmax":
            problems.append(
                Problem(
                    i,
                    "softmax belongs only in the last layer; use relu (or another activation) in hidden layers",
                )
            )
    return problems, rows


def _fmt(shape: Shape | None) -> str:
    return "?" if shape is None else "(" + ", ".join(str(s) for s in shape) + ")"


def validate(spec: Spec) -> list[Problem]:
    """Every problem with ``spec``, in plain words; an empty list means it can be built and trained."""
    return _infer(spec)[0]


def count_params(spec: Spec) -> int:
    """Total parameters (trainable and not), as ``keras.Model.count_params()`` reports them."""
    return sum(p for _, p in _infer(spec)[1])


def summary(spec: Spec) -> pd.DataFrame:
    """Per-layer table (layer, output shape, parameters), computed without TensorFlow."""
    _, rows = _infer(spec)
    layers = (
        normalize(spec)["layers"] if isinstance(spec, dict) and isinstance(spec.get("layers"), list) else []
    )
    data = [
        {
            "layer": i + 1,
            "kind": str(layer.get("kind")),
            "details": describe_layer(layer),
            "output shape": _fmt(shape),
            "parameters": params,
        }
        for i, (layer, (shape, params)) in enumerate(zip(layers, rows))
    ]
    return pd.DataFrame(data, columns=["layer", "kind", "details", "output shape", "parameters"])


def memory_bytes(spec: Spec) -> int:
    """Rough size of the weights in memory (float32)."""
    return 4 * count_params(spec)


def describe_layer(layer: dict[str, Any]) -> str:
    """A short human description, e.g. ``32 filters 3x3, relu``."""
    kind = layer.get("kind")
    d = {**LAYER_DEFAULTS.get(kind, {}), **layer} if isinstance(kind, str) else layer
    pen = "".join(f", {k.upper()}={d[k]:g}" for k in ("l1", "l2") if _is_number(d.get(k)) and d.get(k))
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
    return ""


def has_conv(spec: Spec) -> bool:
    return any(layer.get("kind") == "Conv2D" for layer in spec.get("layers", []))


# ---- Keras ------------------------------------------------------------------------------------


def build_model(spec: Spec) -> keras.Model:  # noqa: F821
    """A Keras model for a valid spec (raises ``InvalidArchitecture`` listing every problem)."""
    problems = validate(spec)
    if problems:
        raise InvalidArchitecture(problems)
    from nnlab._tf import keras

    layers = keras.layers
    norm = normalize(spec)
    model = keras.Sequential(name="nnlab")
    model.add(keras.Input(shape=INPUT_SHAPE, name="image"))
    for i, layer in enumerate(norm["layers"]):
        kind, name = layer["kind"], f"{layer['kind'].lower()}_{i + 1}"
        reg = None
        if kind in ("Dense", "Conv2D") and (layer["l1"] or layer["l2"]):
            reg = keras.regularizers.L1L2(l1=float(layer["l1"]), l2=float(layer["l2"]))
        if kind == "Dense":
            model.add(
                layers.Dense(
                    layer["units"], activation=layer["activation"], kernel_regularizer=reg, name=name
                )
            )
        elif kind == "Conv2D":
            model.add(
                layers.Conv2D(
                    layer["filters"],
                    layer["kernel_size"],
                    strides=layer["strides"],
                    padding=layer["padding"],
                    activation=layer["activation"],
                    kernel_regularizer=reg,
                    name=name,
                )
            )
        elif kind in ("MaxPooling2D", "AveragePooling2D"):
            cls = getattr(layers, kind)
            model.add(cls(layer["pool_size"], strides=layer["strides"], padding=layer["padding"], name=name))
        elif kind == "Flatten":
            model.add(layers.Flatten(name=name))
        elif kind == "Dropout":
            model.add(layers.Dropout(float(layer["rate"]), name=name))
        elif kind == "BatchNormalization":
            # momentum 0.9 (Keras: 0.99) so the running statistics settle within a quick run's
            # few dozen batches; otherwise a short training tests far worse than it trained.
            model.add(layers.BatchNormalization(momentum=0.9, name=name))
    return model
