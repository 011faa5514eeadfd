"""Looking inside a trained network: kernels, feature maps, first-layer weights, histograms, saliency.

Functions take a Keras model and return plain numpy arrays, so that the Inspect page only draws
them and the tests can check their shapes for every preset.
"""

from __future__ import annotations

import math
import weakref
from dataclasses import dataclass
from typing import Any

import numpy as np

from nnlab.canvas import as_image28
from nnlab.evaluation import to_model_input

MAP_KINDS = {"Conv2D": "conv", "MaxPooling2D": "pool", "AveragePooling2D": "pool", "Dense": "dense"}


@dataclass(frozen=True)
class Activation:
    """The output of one layer for one image: (h, w, channels) for conv/pool, (units,) for dense."""

    layer: str
    kind: str  # "conv", "pool" or "dense"
    values: np.ndarray


@dataclass(frozen=True)
class WeightHistogram:
    layer: str
    param: str  # "kernel" or "bias" (or the weight's own name)
    counts: np.ndarray
    edges: np.ndarray
    size: int
    mean: float
    std: float


def _kind(layer: Any) -> str:
    return type(layer).__name__


def conv_layer_names(model: Any) -> list[str]:
    """Names of the model's Conv2D layers, first to last."""
    return [layer.name for layer in model.layers if _kind(layer) == "Conv2D"]


def conv_kernels(model: Any, layer_name: str | None = None) -> np.ndarray:
    """A Conv2D layer's kernels, shape (kernel_h, kernel_w, in_channels, filters); the first by default."""
    names = conv_layer_names(model)
    if not names:
        raise ValueError("This network has no convolution layers, so it has no kernels to show.")
    name = layer_name or names[0]
    if name not in names:
        raise ValueError(
            f"{name!r} is not a convolution layer of this network (choose one of {', '.join(names)})."
        )
    return np.asarray(model.get_layer(name).get_weights()[0])


def grid_shape(n: int, cols: int = 8) -> tuple[int, int]:
    """Rows and columns for ``n`` tiles: 32 -> (4, 8), 64 -> (8, 8), 5 -> (1, 5)."""
    if n < 1:
        raise ValueError("nothing to lay out")
    cols = min(cols, n)
    return math.ceil(n / cols), cols


def kernel_grid(kernels: np.ndarray, in_channel: int = 0, cols: int = 8) -> np.ndarray:
    """The kernels seen from one input channel as a (rows, cols, kh, kw) grid; empty tiles are NaN.

    For the first convolution (one input channel) this is every kernel: the tutorial CNN's 32
    kernels make a 4x8 grid. Deeper layers have one kernel slice per input channel.
    """
    k = np.asarray(kernels)
    if k.ndim != 4:
        raise ValueError(f"kernels must have shape (kh, kw, in_channels, filters), got {k.shape}")
    cin = k.shape[2]
    if not 0 <= in_channel < cin:
        raise ValueError(f"input channel must be between 0 and {cin - 1}")
    return tile_grid(np.moveaxis(k[:, :, in_channel, :], -1, 0), cols)


def tile_grid(tiles: np.ndarray, cols: int = 8) -> np.ndarray:
    """Tiles (n, h, w) as a (rows, cols, h, w) grid filled row by row; the places left over are NaN."""
    n, h, w = np.shape(tiles)
    rows, cols = grid_shape(n, cols)
    grid = np.full((rows * cols, h, w), np.nan, dtype=np.float32)
    grid[:n] = tiles
    return grid.reshape(rows, cols, h, w)


def map_grid(maps: np.ndarray, cols: int = 8) -> np.ndarray:
    """Feature maps (h, w, channels) as a (rows, cols, h, w) grid, one tile per channel."""
    return tile_grid(np.moveaxis(np.asarray(maps), -1, 0), cols)


_activation_models: weakref.WeakKeyDictionary[Any, tuple[list[tuple[str, str]], Any]] = (
    weakref.WeakKeyDictionary()
)


def _activation_model(model: Any) -> tuple[list[tuple[str, str]], Any]:
    """One Keras model returning every conv, pooling and dense output; built once per model."""
    cached = _activation_models.get(model)
    if cached is None:
        from nnlab._tf import keras

        picked = [layer for layer in model.layers if _kind(layer) in MAP_KINDS]
        if not picked:
            raise ValueError("This network has no convolution, pooling or dense layers to show.")
        inputs = model.inputs[0] if len(model.inputs) == 1 else model.inputs
        probe = keras.Model(inputs=inputs, outputs=[layer.output for layer in picked])
        cached = ([(layer.name, MAP_KINDS[_kind(layer)]) for layer in picked], probe)
        _activation_models[model] = cached
    return cached


def feature_maps(model: Any, image28: np.ndarray) -> list[Activation]:
    """Every convolution, pooling and dense layer's output for one 28x28 image (values 0-1)."""
    layers, probe = _activation_model(model)
    outputs = probe(to_model_input(model, as_image28(image28)), training=False)
    if not isinstance(outputs, (list, tuple)):
        outputs = [outputs]
    return [
        Activation(name, kind, np.asarray(out)[0]) for (name, kind), out in zip(layers, outputs, strict=True)
    ]


def dense_weight_images(model: Any) -> np.ndarray:
    """Each first-layer dense unit's 784 input weights as a 28x28 image: (units, 28, 28).

    Only meaningful when the first layer with weights is a Dense layer reading the flattened image.
    """
    for layer in model.layers:
        weights = layer.get_weights()
        if not weights:
            continue
        if _kind(layer) != "Dense" or weights[0].shape[0] != 784:
            raise ValueError(
                "The first layer with weights is not a dense layer reading the 784 pixels, so "
                "its weights are not images."
            )
        kernel = np.asarray(weights[0])
        return kernel.T.reshape(kernel.shape[1], 28, 28)
    raise ValueError("This network has no weights.")


def has_conv(model: Any) -> bool:
    return bool(conv_layer_names(model))


def weight_histograms(model: Any, bins: int = 40) -> list[WeightHistogram]:
    """A histogram of every weight array (kernels and biases; batch-norm statistics too) per layer."""
    out = []
    for layer in model.layers:
        for var in layer.weights:
            values = np.asarray(var).ravel()
            if values.size == 0:
                continue
            counts, edges = np.histogram(values, bins=bins)
            param = var.path.rsplit("/", 1)[-1] if hasattr(var, "path") else var.name
            out.append(
                WeightHistogram(
                    layer.name,
                    param,
                    counts,
                    edges,
                    int(values.size),
                    float(values.mean()),
                    float(values.std()),
                )
            )
    return out


def saliency(model: Any, image28: np.ndarray, class_index: int | None = None) -> np.ndarray:
    """|d p(class) / d pixel| as a 28x28 map, for the predicted class by default.

    Bright pixels are those whose change would most change the network's confidence in the class.
    """
    from nnlab._tf import tf

    x = tf.convert_to_tensor(to_model_input(model, as_image28(image28)))
    with tf.GradientTape() as tape:
        tape.watch(x)
        probs = model(x, training=False)
        index = int(tf.argmax(probs[0])) if class_index is None else int(class_index)
        target = probs[0, index]
    grad = tape.gradient(target, x)
    if grad is None:
        raise ValueError("The network's output does not depend on its input, so it has no saliency.")
    return np.abs(np.asarray(grad)).reshape(28, 28).astype(np.float32)
