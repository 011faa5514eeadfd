"""A loaded Keras model as an NN Lab spec: each layer converted, or kept as an ``Imported`` layer.

A model opens in the editor when it is a plain stack of layers NN Lab knows, with settings it can
hold (square kernels and strides, channels last, biases...). What only matters to training
(initializers, constraints, a bias penalty) is left out with a note. Activation layers merge into the
layer before them; a flat (784,) input gets a Flatten first; a Reshape of the input to 28 x 28 x 1
is dropped; an output layer giving raw scores (logits) gets the softmax NN Lab's networks end with.
Afterwards every converted layer's output shape and parameter count are checked against the model's
own, so a conversion that would build something else is refused rather than trusted.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from nnlab.architectures import ACTIVATIONS, IMPORTED, PADDINGS, Spec, format_shape, layer_shapes
from nnlab.validation import Problem

MERGING = ("Activation", "ReLU", "Softmax")


@dataclass
class Conversion:
    """A model as a spec; ``problems`` say why it cannot be opened in the editor (none: it can)."""

    spec: Spec
    problems: list[Problem]
    notes: list[str] = field(default_factory=list)  # what the editor's copy leaves out
    logits: bool = False  # the model's output is raw scores; the spec ends in softmax
    sources: list[Any] = field(default_factory=list)  # the model's layer behind each spec layer (or None)

    @property
    def editable(self) -> bool:
        return not self.problems


def _pair(value: Any) -> int | None:
    """A square size: 3 or (3, 3) -> 3; (3, 5) -> None."""
    values = tuple(value) if isinstance(value, (list, tuple)) else (value,)
    return int(values[0]) if len(set(values)) == 1 and isinstance(values[0], int) else None


def _penalties(layer: Any, cfg: dict[str, Any], notes: list[str]) -> dict[str, float]:
    reg = getattr(layer, "kernel_regularizer", None)
    for key in ("bias_regularizer", "activity_regularizer", "kernel_constraint", "bias_constraint"):
        if cfg.get(key) is not None:
            notes.append(f"{layer.name}: its {key.replace('_', ' ')} is left out")
    return {"l1": float(getattr(reg, "l1", 0.0) or 0.0), "l2": float(getattr(reg, "l2", 0.0) or 0.0)}


def _weighted(layer: Any, cfg: dict[str, Any], notes: list[str]) -> tuple[dict | None, str | None]:
    """A Dense or Conv2D layer, or why it cannot be converted."""
    if cfg.get("activation") not in ACTIVATIONS:
        return None, f"its activation {str(cfg.get('activation'))[:40]!r} is not one NN Lab offers"
    if not cfg.get("use_bias", True):
        return None, "it has no bias (NN Lab's layers always have one)"
    base = {"activation": cfg["activation"], **_penalties(layer, cfg, notes)}
    if type(layer).__name__ == "Dense":
        return {"kind": "Dense", "units": int(cfg["units"]), **base}, None
    kernel, strides = _pair(cfg.get("kernel_size")), _pair(cfg.get("strides", 1))
    if kernel is None or strides is None:
        return None, "its kernel or strides are not square"
    if _pair(cfg.get("dilation_rate", 1)) != 1 or cfg.get("groups", 1) != 1:
        return None, "it uses dilation or groups"
    if cfg.get("data_format", "channels_last") != "channels_last" or cfg.get("padding") not in PADDINGS:
        return None, "it uses channels-first data or an unusual padding"
    conv = {"filters": int(cfg["filters"]), "kernel_size": kernel, "strides": strides}
    return {"kind": "Conv2D", **conv, "padding": cfg["padding"], **base}, None


def _pooling(kind: str, cfg: dict[str, Any]) -> tuple[dict | None, str | None]:
    pool = _pair(cfg.get("pool_size", 2))
    strides = _pair(cfg.get("strides")) if cfg.get("strides") is not None else pool
    if pool is None or strides is None or cfg.get("padding") not in PADDINGS:
        return None, "its window or strides are not square, or its padding is unusual"
    if cfg.get("data_format", "channels_last") != "channels_last":
        return None, "it uses channels-first data"
    return {
        "kind": kind,
        "pool_size": pool,
        "strides": None if strides == pool else strides,
        "padding": cfg["padding"],
    }, None


def _batchnorm(cfg: dict[str, Any], notes: list[str], name: str) -> tuple[dict | None, str | None]:
    axis = cfg.get("axis", -1)
    if axis not in (-1, 3, [-1], [3]) or not cfg.get("center", True) or not cfg.get("scale", True):
        return None, "it normalises another axis, or has no centre or scale"
    if abs(float(cfg.get("momentum", 0.99)) - 0.9) > 1e-9:
        notes.append(
            f"{name}: NN Lab trains batch normalisation with momentum 0.9 (the file: {cfg.get('momentum')})"
        )
    return {"kind": "BatchNormalization"}, None


def convert_layer(layer: Any, notes: list[str]) -> tuple[dict | None, str | None]:
    """One Keras layer as a spec layer, or (None, why not)."""
    kind, cfg = type(layer).__name__, layer.get_config()
    if kind in ("Dense", "Conv2D"):
        return _weighted(layer, cfg, notes)
    if kind in ("MaxPooling2D", "AveragePooling2D"):
        return _pooling(kind, cfg)
    if kind == "Flatten":
        ok = cfg.get("data_format", "channels_last") == "channels_last"
        return ({"kind": "Flatten"}, None) if ok else (None, "it flattens channels-first data")
    if kind == "Dropout":
        if cfg.get("noise_shape") is not None:
            return None, "it drops whole channels (a noise shape)"
        return {"kind": "Dropout", "rate": float(cfg["rate"])}, None
    if kind == "BatchNormalization":
        return _batchnorm(cfg, notes, layer.name)
    return None, None


def merged_activation(layer: Any) -> str | None:
    """The activation an Activation, ReLU or Softmax layer applies, if it is a plain one NN Lab offers."""
    kind, cfg = type(layer).__name__, layer.get_config()
    if kind == "Activation":
        return cfg.get("activation") if cfg.get("activation") in ACTIVATIONS else None
    if kind == "ReLU":
        plain = not cfg.get("max_value") and not cfg.get("negative_slope") and not cfg.get("threshold")
        return "relu" if plain else None
    if kind == "Softmax":
        return "softmax" if cfg.get("axis", -1) in (-1, [-1]) else None
    return None


def chain(model: Any) -> list[Any] | None:
    """The model's layers in order if each takes the one before it as its only input, else None."""
    layers = [layer for layer in model.layers if type(layer).__name__ != "InputLayer"]
    if type(model).__name__ == "Sequential":
        return layers  # a stack by construction
    previous = model.inputs[0] if len(model.inputs) == 1 else None
    for layer in layers:
        try:
            if previous is None or layer.input is not previous:
                return None
            previous = layer.output
        except (AttributeError, ValueError):  # a layer used twice has no single input
            return None
    return layers if previous is model.outputs[0] else None


def _imported(layer: Any) -> dict[str, Any]:
    shape = [int(d) for d in layer.output.shape[1:] if d is not None]
    return {
        "kind": IMPORTED,
        "class_name": type(layer).__name__,
        "output_shape": shape,
        "params": int(layer.count_params()),
    }


def convert(model: Any, name: str = "Imported network") -> Conversion:
    """The model (loaded safely, shapes checked) as a spec, with every reason it cannot be edited."""
    layers = chain(model)
    if layers is None:
        whole = {
            "kind": IMPORTED,
            "class_name": "model with branches",
            "output_shape": [10],
            "params": int(model.count_params()),
        }
        why = "this model is not a plain stack of layers (it branches or merges): the editor cannot hold it"
        return Conversion({"name": name, "layers": [whole]}, [Problem(why, layer=0)], sources=[model])
    conversion = Conversion({"name": name, "layers": []}, [])
    _convert_all(model, layers, conversion)
    _last_softmax(conversion)
    _check_against_model(conversion)
    return conversion


def _input_reshape(model: Any, layers: list[Any]) -> tuple[list[Any], bool]:
    """The layers after a leading Reshape of the input (to 28 x 28 x 1 or 784), and whether the
    network starts flat (a 784 input, or a Reshape to it) so that the editor's copy needs a Flatten."""
    flat = tuple(model.inputs[0].shape[1:]) == (784,)
    if layers and type(layers[0]).__name__ == "Reshape":
        target = tuple(layers[0].output.shape[1:])
        if target in ((28, 28, 1), (784,)):
            return layers[1:], target == (784,)
    return layers, flat


def _convert_all(model: Any, layers: list[Any], c: Conversion) -> None:
    spec_layers = c.spec["layers"]
    layers, flat = _input_reshape(model, layers)
    if flat:
        spec_layers.append({"kind": "Flatten"})
        c.sources.append(None)
        c.notes.append("its input is a flat vector of 784 pixels: the editor's copy starts with a Flatten")
    for layer in layers:
        kind = type(layer).__name__
        previous = spec_layers[-1] if spec_layers else None
        activation = merged_activation(layer) if kind in MERGING else None
        if activation and previous and previous.get("activation") == "linear":
            previous["activation"] = activation  # Dense(10) + Activation("softmax") = Dense(10, "softmax")
            continue
        converted, why = convert_layer(layer, c.notes)
        if converted is None:
            converted = _imported(layer)
            reason = f": {why}" if why else ""
            message = f"this {kind} layer ({layer.name}) cannot be opened in NN Lab's editor{reason}"
            c.problems.append(Problem(message, layer=len(spec_layers)))
        spec_layers.append(converted)
        c.sources.append(layer)


def _last_softmax(c: Conversion) -> None:
    last = c.spec["layers"][-1] if c.spec["layers"] else None
    if last and last["kind"] == "Dense" and last["activation"] == "linear" and last["units"] == 10:
        last["activation"] = "softmax"
        c.logits = True
        c.notes.append(
            "its output layer gives raw scores (logits): NN Lab adds the softmax that turns "
            "them into probabilities (the same answers)"
        )


def _check_against_model(c: Conversion) -> None:
    """Each converted layer must give the shape and parameter count the model's own layer gives."""
    if c.problems:
        return
    for i, ((shape, params), source) in enumerate(zip(layer_shapes(c.spec), c.sources, strict=True)):
        if source is None:
            continue
        want = tuple(int(d) for d in source.output.shape[1:])
        if shape != want or params != source.count_params():
            c.problems.append(
                Problem(
                    f"converted, this layer would give shape {format_shape(shape)} and {params:,} "
                    f"parameters, but the model's {source.name} gives {format_shape(want)} and "
                    f"{source.count_params():,}",
                    layer=i,
                )
            )
            return


def editor_problems(spec: Spec) -> list[str]:
    """Why a stored network cannot be opened in the editor: its layers NN Lab cannot build (none: it can)."""
    layers = spec.get("layers") if isinstance(spec, dict) else None
    if not isinstance(layers, list):
        return ["it has no list of layers"]
    return [
        f"layer {i + 1} ({str(layer.get('class_name'))[:40]}) is not a kind of layer NN Lab can build"
        for i, layer in enumerate(layers)
        if isinstance(layer, dict) and layer.get("kind") == IMPORTED
    ]
