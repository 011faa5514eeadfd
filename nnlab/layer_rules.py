"""The standard Keras layers an uploaded model may use: each one's output shape and parameter count.

``output_of(kind, config, inputs)`` works them out from a layer's saved settings the way Keras would,
without building anything (shapes exclude the batch axis; ``channels_last`` images). A kind not
listed here, or settings Keras would not accept, raise ``LayerRefused``; its message has a
``{layer}`` placeholder for the layer's name.
"""

from __future__ import annotations

import math
from typing import Any

Shape = tuple[int, ...]

SAME_SHAPE = {  # layers that change values, not shapes, and have no parameters
    "Dropout", "SpatialDropout2D", "GaussianNoise", "GaussianDropout", "AlphaDropout",
    "ActivityRegularization", "Activation", "ReLU", "LeakyReLU", "ELU", "Softmax", "Rescaling",
    "Identity", "UnitNormalization", "RandomFlip", "RandomRotation", "RandomTranslation", "RandomZoom",
    "RandomContrast", "RandomBrightness",
}  # fmt: skip
MERGE = {"Add", "Subtract", "Multiply", "Average", "Maximum", "Minimum"}
CODE_LAYERS = {"Lambda", "TFSMLayer", "TorchModuleWrapper", "JaxLayer", "FlaxLayer"}
KERAS_NOT_FOR_IMAGES = {  # Keras layers an upload may not use (text, sequences, lookups, 1D and 3D data)
    "StringLookup", "IntegerLookup", "TextVectorization", "Hashing", "HashedCrossing", "Discretization",
    "CategoryEncoding", "Embedding", "Normalization", "Resizing", "CenterCrop", "RandomCrop",
    "ConvLSTM2D", "Bidirectional", "TimeDistributed", "RNN", "Attention",
    "MultiHeadAttention", "GroupQueryAttention", "AdditiveAttention", "EinsumDense", "Conv1D",
    "Conv3D", "Conv2DTranspose", "Conv1DTranspose", "Conv3DTranspose", "MaxPooling1D",
    "MaxPooling3D", "AveragePooling1D", "AveragePooling3D", "UpSampling1D", "UpSampling3D",
    "ZeroPadding1D", "ZeroPadding3D", "Cropping1D", "Cropping3D", "Masking", "RepeatVector",
}  # fmt: skip


class LayerRefused(ValueError):
    """A layer NN Lab will not build; ``{layer}`` in the message stands for its name."""


def output_of(kind: str, cfg: dict, inputs: list[Shape]) -> tuple[Shape, int]:
    """The output shape and parameter count of one layer of ``kind`` reading ``inputs``."""
    if kind in MERGE or kind == "Concatenate":
        return _merge(kind, cfg, inputs)
    if len(inputs) != 1:
        raise LayerRefused(f"{{layer}} reads {len(inputs)} inputs; NN Lab expects one.")
    shape = inputs[0]
    if kind in SAME_SHAPE:
        return shape, 0
    rule = RULES.get(kind)
    if rule is None:
        raise LayerRefused(_unknown(kind))
    return rule(cfg, shape)


def _unknown(kind: str) -> str:
    if kind in CODE_LAYERS:
        return (
            f"This model contains a {kind} layer (code rather than a standard layer). NN Lab refuses "
            "to run code from a model file for safety; use a model built from standard layers."
        )
    if kind in KERAS_NOT_FOR_IMAGES:
        return (
            f"This model uses a {kind} layer, which NN Lab does not accept in an uploaded model: it "
            "evaluates image classifiers made of standard layers (Dense, Conv2D, pooling, "
            "normalisation, dropout...)."
        )
    return (
        f"This model uses a custom layer or function ({kind!r}) that NN Lab does not know, so it cannot "
        "be loaded."
    )


# ---- reading settings ----------------------------------------------------------------------------


def _int(cfg: dict, key: str, default: Any = None, low: int = 1) -> int:
    value = cfg.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise LayerRefused(f"{{layer}} has {key} = {str(value)[:40]}, which Keras would not accept.")
    return value


def _pair(cfg: dict, key: str, default: Any = None) -> tuple[int, int]:
    value = cfg.get(key, default)
    if isinstance(value, list | tuple) and len(value) == 2:
        return _int({key: value[0]}, key), _int({key: value[1]}, key)
    single = _int({key: value}, key)
    return single, single


def _image(shape: Shape, cfg: dict) -> tuple[int, int, int]:
    if len(shape) != 3:
        raise LayerRefused(f"{{layer}} needs an image (height, width, channels) but gets shape {shape}.")
    if cfg.get("data_format", "channels_last") not in (None, "channels_last"):
        raise LayerRefused("{layer} uses channels_first images; NN Lab feeds channels_last (28, 28, 1).")
    return shape  # type: ignore[return-value]


def _windowed(cfg: dict, shape: Shape, window: tuple[int, int], strides: tuple[int, int]) -> tuple[int, int]:
    """Height and width after sliding ``window`` (dilated) with ``strides``; a window larger than its
    input is refused, whatever the padding ('same' pads around it: a window of 10^9 is mostly padding)."""
    h, w, _ = _image(shape, cfg)
    dh, dw = _pair(cfg, "dilation_rate", 1)
    kh, kw = dh * (window[0] - 1) + 1, dw * (window[1] - 1) + 1
    if kh > h or kw > w:
        raise LayerRefused(f"{{layer}} slides a {kh}x{kw} window over a {h}x{w} input: the window is larger.")
    padding = cfg.get("padding", "valid")
    if padding == "same":
        return math.ceil(h / strides[0]), math.ceil(w / strides[1])
    if padding == "valid":
        return (h - kh) // strides[0] + 1, (w - kw) // strides[1] + 1
    raise LayerRefused(f"{{layer}} has padding {str(padding)[:20]!r}; Keras takes 'valid' or 'same'.")


# ---- the rules ------------------------------------------------------------------------------------


def _dense(cfg: dict, shape: Shape) -> tuple[Shape, int]:
    units = _int(cfg, "units")
    if not shape:
        raise LayerRefused("{layer} gets a scalar input.")
    return (*shape[:-1], units), shape[-1] * units + (units if cfg.get("use_bias", True) else 0)


def _conv(cfg: dict, shape: Shape) -> tuple[Shape, int]:
    filters, groups = _int(cfg, "filters"), _int(cfg, "groups", 1)
    kernel = _pair(cfg, "kernel_size")
    h, w = _windowed(cfg, shape, kernel, _pair(cfg, "strides", 1))
    channels = shape[2]
    if channels % groups or filters % groups:
        raise LayerRefused("{layer} splits its channels into groups that do not divide them.")
    params = kernel[0] * kernel[1] * (channels // groups) * filters
    return (h, w, filters), params + (filters if cfg.get("use_bias", True) else 0)


def _depthwise(cfg: dict, shape: Shape) -> tuple[Shape, int]:
    multiplier, kernel = _int(cfg, "depth_multiplier", 1), _pair(cfg, "kernel_size")
    h, w = _windowed(cfg, shape, kernel, _pair(cfg, "strides", 1))
    out = shape[2] * multiplier
    return (h, w, out), kernel[0] * kernel[1] * out + (out if cfg.get("use_bias", True) else 0)


def _separable(cfg: dict, shape: Shape) -> tuple[Shape, int]:
    (h, w, middle), depthwise = _depthwise({**cfg, "use_bias": False}, shape)
    filters = _int(cfg, "filters")
    return (h, w, filters), depthwise + middle * filters + (filters if cfg.get("use_bias", True) else 0)


def _pool(cfg: dict, shape: Shape) -> tuple[Shape, int]:
    window = _pair(cfg, "pool_size", 2)
    strides = window if cfg.get("strides") is None else _pair(cfg, "strides")
    h, w = _windowed({**cfg, "dilation_rate": 1}, shape, window, strides)
    return (h, w, shape[2]), 0


def _global_pool(cfg: dict, shape: Shape) -> tuple[Shape, int]:
    _, _, c = _image(shape, cfg)
    return ((1, 1, c) if cfg.get("keepdims") else (c,)), 0


def _flatten(cfg: dict, shape: Shape) -> tuple[Shape, int]:
    return (math.prod(shape),), 0


def _reshape(cfg: dict, shape: Shape) -> tuple[Shape, int]:
    target = cfg.get("target_shape")
    if not isinstance(target, list | tuple) or not target or len(target) > 4:
        raise LayerRefused("{layer} has a target shape Keras would not accept.")
    dims = [_int({"d": d}, "d", low=-1) for d in target]
    known = math.prod(d for d in dims if d != -1)
    total = math.prod(shape)
    if dims.count(-1) > 1 or 0 in dims or (dims.count(-1) == 0 and known != total) or total % known:
        raise LayerRefused(f"{{layer}} cannot reshape {shape} into {tuple(dims)}.")
    return tuple(total // known if d == -1 else d for d in dims), 0


def _batch_norm(cfg: dict, shape: Shape) -> tuple[Shape, int]:
    trained = int(cfg.get("center", True) is not False) + int(cfg.get("scale", True) is not False)
    return shape, shape[-1] * (2 + trained)  # and the moving mean and variance


def _layer_norm(cfg: dict, shape: Shape) -> tuple[Shape, int]:
    return shape, 2 * shape[-1]


def _prelu(cfg: dict, shape: Shape) -> tuple[Shape, int]:
    return shape, math.prod(shape)  # at most one slope per value


def _amounts(value: Any) -> tuple[int, int, int, int]:
    """Keras' padding or cropping: n, (height, width) or ((top, bottom), (left, right))."""
    if isinstance(value, list | tuple) and len(value) == 2:
        if all(isinstance(v, list | tuple) and len(v) == 2 for v in value):
            (top, bottom), (left, right) = ((_int({"p": a}, "p", low=0) for a in v) for v in value)
            return top, bottom, left, right
        height, width = (_int({"p": v}, "p", low=0) for v in value)
        return height, height, width, width
    n = _int({"p": value}, "p", low=0)
    return n, n, n, n


def _padding(cfg: dict, shape: Shape, sign: int, key: str) -> tuple[Shape, int]:
    h, w, c = _image(shape, cfg)
    try:
        top, bottom, left, right = _amounts(cfg.get(key, 1))
    except (LayerRefused, ValueError):
        raise LayerRefused(f"{{layer}} has {key} Keras would not accept.") from None
    if max(top, bottom, left, right) > 1024:
        raise LayerRefused("{layer} pads or crops by more than 1,024 pixels.")
    out = (h + sign * (top + bottom), w + sign * (left + right), c)
    if min(out) < 1:
        raise LayerRefused(f"{{layer}} crops its {h}x{w} input to nothing.")
    return out, 0


def _upsample(cfg: dict, shape: Shape) -> tuple[Shape, int]:
    h, w, c = _image(shape, cfg)
    sh, sw = _pair(cfg, "size", 2)
    return (h * sh, w * sw, c), 0


def _permute(cfg: dict, shape: Shape) -> tuple[Shape, int]:
    dims = cfg.get("dims")
    if not isinstance(dims, list | tuple) or sorted(dims) != list(range(1, len(shape) + 1)):
        raise LayerRefused("{layer} has a permutation Keras would not accept.")
    return tuple(shape[d - 1] for d in dims), 0


def _merge(kind: str, cfg: dict, inputs: list[Shape]) -> tuple[Shape, int]:
    if len(inputs) < 2:
        raise LayerRefused(f"{{layer}} merges {len(inputs)} input; Keras needs at least two.")
    if kind != "Concatenate":
        if len({len(s) for s in inputs}) != 1:
            raise LayerRefused("{layer} merges inputs of different shapes.")
        return tuple(max(dims) for dims in zip(*inputs, strict=True)), 0
    axis, rank = cfg.get("axis", -1), len(inputs[0])
    index = axis - 1 if isinstance(axis, int) and axis > 0 else (rank + axis if isinstance(axis, int) else -1)
    same_rank = len({len(s) for s in inputs}) == 1
    if isinstance(axis, bool) or not 0 <= index < rank or not same_rank:
        raise LayerRefused("{layer} concatenates inputs Keras would not accept.")
    out = list(inputs[0])
    out[index] = sum(s[index] for s in inputs)
    return tuple(out), 0


def _recurrent(gates: int, biases: int = 1):
    """A recurrent layer reading an image row by row (timesteps, features), as the tutorials' MNIST RNNs do.

    Each of its ``gates`` has a kernel (features x units), a recurrent kernel (units x units) and
    ``biases`` bias vectors: SimpleRNN has 1 gate, GRU 3 (with 2 biases when ``reset_after``), LSTM 4.
    """

    def rule(cfg: dict, shape: Shape) -> tuple[Shape, int]:
        units = _int(cfg, "units")
        if len(shape) != 2:
            raise LayerRefused(f"{{layer}} reads sequences (timesteps, features) but gets shape {shape}.")
        steps, features = shape
        bias = (biases if cfg.get("reset_after", True) else 1) if cfg.get("use_bias", True) else 0
        params = gates * units * (features + units + bias)
        return ((steps, units) if cfg.get("return_sequences") else (units,)), params

    return rule


RULES = {
    "SimpleRNN": _recurrent(1),
    "GRU": _recurrent(3, biases=2),
    "LSTM": _recurrent(4),
    "Dense": _dense,
    "Conv2D": _conv,
    "DepthwiseConv2D": _depthwise,
    "SeparableConv2D": _separable,
    "MaxPooling2D": _pool,
    "AveragePooling2D": _pool,
    "GlobalAveragePooling2D": _global_pool,
    "GlobalMaxPooling2D": _global_pool,
    "Flatten": _flatten,
    "Reshape": _reshape,
    "BatchNormalization": _batch_norm,
    "LayerNormalization": _layer_norm,
    "PReLU": _prelu,
    "ZeroPadding2D": lambda cfg, shape: _padding(cfg, shape, 1, "padding"),
    "Cropping2D": lambda cfg, shape: _padding(cfg, shape, -1, "cropping"),
    "UpSampling2D": _upsample,
    "Permute": _permute,
}
