"""The network as a row of blocks: one per layer, with its kind, output shape and parameter count.

``spec_blocks`` works from a spec without TensorFlow (the Build & Train page redraws it as layers
are edited; a layer with a problem is marked); ``model_blocks`` from a trained Keras model (the
Inspect page, where the blocks also show one image's activations). Both start with the input.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from nnlab.architectures import INPUT_SHAPE, describe_layer, layer_shapes, normalize
from nnlab.architectures.spec import Shape, Spec
from nnlab.explain.layers import layers_of
from nnlab.validation import Problem

INPUT = "Input"


@dataclass(frozen=True)
class Block:
    """One layer as the diagram draws it; ``index`` is the layer's place (-1: the input image)."""

    index: int
    name: str  # the Keras layer's name (the model's), or "layer N" (a spec's)
    kind: str
    details: str  # e.g. "32 filters 3x3, relu"
    shape: Shape | None  # None: unknown (at or after a problem)
    params: int
    problem: str | None = None

    @property
    def size(self) -> int:
        """How many numbers the layer gives for one image (0 when unknown)."""
        if self.shape is None:
            return 0
        size = 1
        for s in self.shape:
            size *= s
        return size


def _input_block() -> Block:
    return Block(-1, "image", INPUT, "28 x 28 pixels, 1 channel (grey)", INPUT_SHAPE, 0)


def spec_blocks(spec: Spec, problems: list[Problem]) -> list[Block]:
    """The input and a block per layer of ``spec``; the first problem of a layer marks its block."""
    rows = layer_shapes(spec)
    layers = (
        normalize(spec)["layers"] if isinstance(spec, dict) and isinstance(spec.get("layers"), list) else []
    )
    where = {}
    for p in problems:
        if p.layer is not None:
            where.setdefault(p.layer, p.message)
    blocks = [_input_block()]
    for i, (layer, (shape, params)) in enumerate(zip(layers, rows, strict=False)):
        blocks.append(
            Block(
                i,
                f"layer {i + 1}",
                str(layer.get("kind")),
                describe_layer(layer),
                shape,
                params,
                where.get(i),
            )
        )
    return blocks


def _as_spec_layer(layer: Any) -> dict[str, Any]:
    """A Keras layer's settings in a spec's words (for ``describe_layer``)."""
    cfg, kind = layer.get_config(), type(layer).__name__
    first = lambda v: v[0] if isinstance(v, (list, tuple)) else v  # noqa: E731
    out: dict[str, Any] = {"kind": kind}
    if kind == "Dense":
        out |= {"units": cfg["units"], "activation": str(cfg["activation"])}
    elif kind == "Conv2D":
        out |= {
            "filters": cfg["filters"],
            "kernel_size": first(cfg["kernel_size"]),
            "strides": first(cfg["strides"]),
            "padding": cfg["padding"],
            "activation": str(cfg["activation"]),
        }
    elif kind in ("MaxPooling2D", "AveragePooling2D"):
        out |= {
            "pool_size": first(cfg["pool_size"]),
            "strides": first(cfg["strides"]),
            "padding": cfg["padding"],
        }
    elif kind == "Dropout":
        out["rate"] = cfg["rate"]
    return out


def model_blocks(model: Any) -> list[Block]:
    """The input and a block per layer of a trained Keras model."""
    blocks = [_input_block()]
    for i, layer in enumerate(layers_of(model)):
        kind = type(layer).__name__
        shape = tuple(int(s) for s in layer.output.shape[1:])
        if kind == "Rescaling":
            scale = float(np.ravel(layer.get_config()["scale"])[0])
            details = f"multiplies its input by {scale:g}" + (
                ": the weights see raw pixels" if scale == 255 else ""
            )
        else:
            details = describe_layer(_as_spec_layer(layer))
        blocks.append(Block(i, layer.name, kind, details, shape, int(layer.count_params())))
    return blocks
