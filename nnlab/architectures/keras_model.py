"""A valid spec as a ``keras.Sequential`` model, one Keras layer per spec layer.

With ``raw_pixels`` the model starts with a ``Rescaling(255)`` layer named ``raw_pixels``: it is fed
0-1 images like every other model (so every page feeds every model the same way), but its weights
see the raw 0-255 pixel values, the lesson of the "scale the inputs" training setting.
"""

from __future__ import annotations

from typing import Any

from nnlab.architectures.shapes import validate
from nnlab.architectures.spec import INPUT_SHAPE, Spec, normalize
from nnlab.validation import InvalidSettings

RAW_PIXELS_LAYER = "raw_pixels"


def build_model(spec: Spec, *, raw_pixels: bool = False) -> Any:
    """A Keras model for a valid spec (raises ``InvalidSettings`` listing every problem)."""
    problems = validate(spec)
    if problems:
        raise InvalidSettings(problems)
    from nnlab._tf import keras

    model = keras.Sequential(name="nnlab")
    model.add(keras.Input(shape=INPUT_SHAPE, name="image"))
    if raw_pixels:
        model.add(keras.layers.Rescaling(255.0, name=RAW_PIXELS_LAYER))
    for i, layer in enumerate(normalize(spec)["layers"]):
        model.add(_keras_layer(keras, layer, name=f"{layer['kind'].lower()}_{i + 1}"))
    return model


def _keras_layer(keras: Any, layer: dict[str, Any], name: str) -> Any:
    layers, kind = keras.layers, layer["kind"]
    reg = None
    if kind in ("Dense", "Conv2D") and (layer["l1"] or layer["l2"]):
        reg = keras.regularizers.L1L2(l1=float(layer["l1"]), l2=float(layer["l2"]))
    if kind == "Dense":
        return layers.Dense(layer["units"], activation=layer["activation"], kernel_regularizer=reg, name=name)
    if kind == "Conv2D":
        return layers.Conv2D(
            layer["filters"],
            layer["kernel_size"],
            strides=layer["strides"],
            padding=layer["padding"],
            activation=layer["activation"],
            kernel_regularizer=reg,
            name=name,
        )
    if kind in ("MaxPooling2D", "AveragePooling2D"):
        pooling = getattr(layers, kind)
        return pooling(layer["pool_size"], strides=layer["strides"], padding=layer["padding"], name=name)
    if kind == "Flatten":
        return layers.Flatten(name=name)
    if kind == "Dropout":
        return layers.Dropout(float(layer["rate"]), name=name)
    # BatchNormalization. momentum 0.9 (Keras: 0.99) so the running statistics settle within a
    # quick run's few dozen batches; otherwise a short training tests far worse than it trained.
    return layers.BatchNormalization(momentum=0.9, name=name)
