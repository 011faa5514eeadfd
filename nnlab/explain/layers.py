"""What each layer of a trained network receives and gives for one image (or for many).

``layer_outputs`` runs one Keras model that returns every layer's output (built once per model),
so the layer-by-layer story of one image costs one forward pass. A Sequential model's layer
``i`` reads layer ``i - 1``'s output (the first reads the image as the model takes it).
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


_all_outputs: weakref.WeakKeyDictionary[Any, Any] = weakref.WeakKeyDictionary()
_one_output: weakref.WeakKeyDictionary[Any, dict[str, Any]] = weakref.WeakKeyDictionary()


def kind_of(layer: Any) -> str:
    return type(layer).__name__


def _outputs_model(model: Any) -> Any:
    probe = _all_outputs.get(model)
    if probe is None:
        from nnlab._tf import keras

        probe = keras.Model(inputs=model.inputs[0], outputs=[layer.output for layer in model.layers])
        _all_outputs[model] = probe
    return probe


def layer_outputs(model: Any, image28: np.ndarray) -> list[LayerIO]:
    """Every layer's input and output for one 28 x 28 image in [0, 1], first layer to last."""
    x = to_model_input(model, as_image28(image28))
    outputs = _outputs_model(model)(x, training=False)
    outputs = [np.asarray(o)[0] for o in (outputs if isinstance(outputs, (list, tuple)) else [outputs])]
    inputs = [x[0], *outputs[:-1]]
    return [
        LayerIO(i, layer.name, kind_of(layer), inp, out)
        for i, (layer, inp, out) in enumerate(zip(model.layers, inputs, outputs, strict=True))
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
