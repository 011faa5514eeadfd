"""What each layer of a trained network receives and gives for one image (or for many).

``layer_outputs`` runs one Keras model that returns every layer's input and output (built once
per model), so the layer-by-layer story of one image costs one forward pass. In NN Lab's own
(Sequential) networks layer ``i`` reads layer ``i - 1``'s output; an imported model may branch.
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass
from typing import Any

import numpy as np

from nnlab.canvas import as_image28
from nnlab.evaluation import to_model_input


@dataclass(frozen=True, eq=False)
class LayerIO:
    """One layer's input and output for one image (no batch axis)."""

    index: int
    name: str
    kind: str  # the Keras class name: Conv2D, Dense, MaxPooling2D, BatchNormalization, ...
    input: np.ndarray
    output: np.ndarray


_all_outputs: weakref.WeakKeyDictionary[Any, tuple[Any, list[bool]]] = weakref.WeakKeyDictionary()
_one_output: weakref.WeakKeyDictionary[Any, dict[str, Any]] = weakref.WeakKeyDictionary()


def kind_of(layer: Any) -> str:
    return type(layer).__name__


def layers_of(model: Any) -> list[Any]:
    """The model's layers, first to last, without a functional model's input layer."""
    return [layer for layer in model.layers if kind_of(layer) != "InputLayer"]


def _input_of(layer: Any) -> Any | None:
    """The layer's one input tensor, or None (several inputs, or a layer used in several places)."""
    try:
        tensor = layer.input
    except (AttributeError, ValueError):
        return None
    return None if isinstance(tensor, (list, tuple, dict)) else tensor


def _outputs_model(model: Any) -> tuple[Any, list[bool]]:
    """One Keras model giving every layer's input (where it has one) and output; built once per model."""
    cached = _all_outputs.get(model)
    if cached is None:
        from nnlab._tf import keras

        layers = layers_of(model)
        inputs = [_input_of(layer) for layer in layers]
        outputs = [t for t in inputs if t is not None] + [layer.output for layer in layers]
        cached = (keras.Model(inputs=model.inputs[0], outputs=outputs), [t is not None for t in inputs])
        _all_outputs[model] = cached
    return cached


def layer_outputs(model: Any, image28: np.ndarray) -> list[LayerIO]:
    """Every layer's input and output for one 28 x 28 image in [0, 1], first to last (a layer with
    several inputs gets an empty input: it cannot be explained number by number)."""
    x = to_model_input(model, as_image28(image28))
    probe, has_input = _outputs_model(model)
    values = [np.asarray(v)[0] for v in probe(x, training=False)]
    n_in = sum(has_input)
    given, outputs = iter(values[:n_in]), values[n_in:]
    inputs = [next(given) if has else np.zeros(0, np.float32) for has in has_input]
    return [
        LayerIO(i, layer.name, kind_of(layer), inp, out)
        for i, (layer, inp, out) in enumerate(zip(layers_of(model), inputs, outputs, strict=True))
    ]


def layer_model(model: Any, name: str) -> Any:
    """A Keras model giving the output of layer ``name`` (built once per model and layer)."""
    models = _one_output.setdefault(model, {})
    if name not in models:
        from nnlab._tf import keras

        models[name] = keras.Model(inputs=model.inputs[0], outputs=model.get_layer(name).output)
    return models[name]


def layer_activations(model: Any, name: str, images: np.ndarray, batch_size: int = 500) -> np.ndarray:
    """Layer ``name``'s outputs for images (N, 28, 28), each flattened: an array (N, values)."""
    probe = layer_model(model, name)
    x = to_model_input(model, images)
    out = [np.asarray(probe(x[i : i + batch_size], training=False)) for i in range(0, len(x), batch_size)]
    return np.concatenate(out).reshape(len(x), -1)
