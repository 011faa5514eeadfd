"""Network architectures as plain data, checked in words a learner understands.

An architecture ("spec") is a JSON-serialisable dict::

    {"name": "MLP 784-128-10",
     "layers": [{"kind": "Flatten"},
                {"kind": "Dense", "units": 128, "activation": "relu"},
                {"kind": "Dense", "units": 10, "activation": "softmax"}]}

The input is always one MNIST image, shape (28, 28, 1).

- ``spec.py``: the layer kinds, their settings and defaults, ``normalize`` and ``describe_layer``;
- ``presets.py``: the tutorial networks and our strong CNN;
- ``shapes.py``: ``validate`` (every problem), ``summary`` and ``count_params`` without TensorFlow;
- ``keras_model.py``: ``build_model`` turns a valid spec into a ``keras.Model``.
"""

from nnlab.architectures.keras_model import build_model
from nnlab.architectures.presets import PRESETS, get_preset
from nnlab.architectures.shapes import count_params, layer_shapes, memory_bytes, summary, validate
from nnlab.architectures.spec import (
    ACTIVATIONS,
    IMPORTED,
    INPUT_SHAPE,
    LAYER_DEFAULTS,
    LAYER_KINDS,
    NUM_CLASSES,
    PADDINGS,
    Spec,
    describe_layer,
    format_shape,
    from_json,
    normalize,
    short_name,
    to_json,
)

__all__ = [
    "ACTIVATIONS",
    "IMPORTED",
    "INPUT_SHAPE",
    "LAYER_DEFAULTS",
    "LAYER_KINDS",
    "NUM_CLASSES",
    "PADDINGS",
    "PRESETS",
    "Spec",
    "build_model",
    "count_params",
    "describe_layer",
    "format_shape",
    "from_json",
    "get_preset",
    "layer_shapes",
    "memory_bytes",
    "normalize",
    "short_name",
    "summary",
    "to_json",
    "validate",
]
