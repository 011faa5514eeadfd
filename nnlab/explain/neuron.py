"""How one number of a layer's output was made, worked out in NumPy from the layer's own weights.

Each function takes the Keras layer (for its weights and settings), the layer's input for one image
(``explain.layers.LayerIO.input``) and the position of one output number, and returns the steps a
learner follows to that number. The tests check that ``output`` equals what Keras computed.

    Conv2D      y[r, c, f] = act( sum over the window and every input channel of x * kernel + bias )
    Pooling     y[r, c, ch] = the largest (max) or the mean (average) value of the window
    Dense       y[u] = act( sum_i x[i] * w[i, u] + b[u] )        (softmax: over all units' scores)
    BatchNorm   y = gamma * (x - moving mean) / sqrt(moving variance + epsilon) + beta
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.special import erf

from nnlab.explain.layers import kind_of

ACTIVATIONS = {
    "linear": lambda z: z,
    "relu": lambda z: np.maximum(z, 0.0),
    "sigmoid": lambda z: 1.0 / (1.0 + np.exp(-z)),
    "tanh": np.tanh,
    "elu": lambda z: np.where(z > 0, z, np.expm1(np.minimum(z, 0.0))),
    "gelu": lambda z: 0.5 * z * (1.0 + erf(z / math.sqrt(2.0))),
}
FORMULAS = {
    "linear": "z (no activation)",
    "relu": "max(0, z)",
    "sigmoid": "1 / (1 + e^-z)",
    "tanh": "tanh(z)",
    "elu": "z if z > 0, else e^z - 1",
    "gelu": "z · Φ(z) (Φ: the normal distribution's CDF)",
    "softmax": "e^z / (sum of e^z over the 10 digits)",
}


def activation_name(layer: Any) -> str:
    return getattr(getattr(layer, "activation", None), "__name__", "linear")


def activate(name: str, z: np.ndarray, unit: int | None = None) -> float:
    """The activation ``name`` of scores ``z``; softmax needs every unit's score and the ``unit``."""
    z = np.asarray(z, dtype=np.float64)
    if name == "softmax":
        e = np.exp(z - z.max())
        return float(e[unit] / e.sum())
    if name not in ACTIVATIONS:
        raise ValueError(f"the step-by-step view does not know the activation {name!r}")
    return float(ACTIVATIONS[name](z))


class _WeightedSum:
    """What a convolution and a dense unit share: z = the sum of inputs x weights + bias, then act(z)."""

    bias: float
    activation: str

    @property
    def total(self) -> float:
        raise NotImplementedError

    @property
    def pre_activation(self) -> float:
        return self.total + self.bias

    @property
    def output(self) -> float:
        return activate(self.activation, self.pre_activation)


@dataclass(frozen=True, eq=False)
class ConvStep(_WeightedSum):
    """One convolution output: the input window (all channels), the kernel, their products, the sum."""

    position: tuple[int, int, int]  # row, column, filter
    rows: tuple[int, int]  # the window in the input: first and last row + 1 (may reach into padding)
    cols: tuple[int, int]
    patch: np.ndarray  # (kh, kw, in channels); padding counts as 0
    kernel: np.ndarray  # (kh, kw, in channels): this filter's weights
    bias: float
    activation: str
    padded: bool = False  # the window reaches outside the input ('same' padding)

    @property
    def products(self) -> np.ndarray:
        return self.patch * self.kernel

    @property
    def total(self) -> float:
        return float(self.products.sum(dtype=np.float64))


@dataclass(frozen=True, eq=False)
class PoolStep:
    """One pooling output: the window of one map and the value chosen (max) or averaged from it."""

    position: tuple[int, int, int]
    rows: tuple[int, int]
    cols: tuple[int, int]
    window: np.ndarray  # (h, w) of the input map; NaN where the window reaches into padding
    mode: str  # "max" or "average"

    @property
    def chosen(self) -> tuple[int, int] | None:
        """Where in the window the largest value sits (max pooling)."""
        if self.mode != "max":
            return None
        r, c = np.unravel_index(int(np.nanargmax(self.window)), self.window.shape)
        return int(r), int(c)

    @property
    def output(self) -> float:
        return float(np.nanmax(self.window) if self.mode == "max" else np.nanmean(self.window))


@dataclass(frozen=True, eq=False)
class DenseStep(_WeightedSum):
    """One dense unit: its inputs times their weights (largest first), the rest summed, the bias."""

    unit: int
    inputs: np.ndarray  # (n,)
    weights: np.ndarray  # (n,): the weights into this unit
    bias: float
    activation: str
    scores: np.ndarray  # every unit's z (softmax needs them all)
    top: int = 10

    @property
    def contributions(self) -> np.ndarray:
        return self.inputs * self.weights

    @property
    def largest(self) -> np.ndarray:
        """The input numbers of the ``top`` largest contributions (by size), largest first."""
        order = np.argsort(-np.abs(self.contributions), kind="stable")
        return order[: self.top]

    @property
    def rest(self) -> float:
        """The sum of every other contribution."""
        return self.total - float(self.contributions[self.largest].sum(dtype=np.float64))

    @property
    def total(self) -> float:
        return float(self.contributions.sum(dtype=np.float64))

    @property
    def output(self) -> float:
        if self.activation == "softmax":  # every unit's score is needed
            return activate("softmax", self.scores, self.unit)
        return super().output


@dataclass(frozen=True, eq=False)
class NormStep:
    """One batch-normalisation output, with the layer's own statistics for its channel."""

    position: tuple[int, ...]
    value: float  # the input number
    mean: float  # the moving mean of its channel (learnt over the training batches)
    variance: float
    epsilon: float
    gamma: float
    beta: float

    @property
    def normalized(self) -> float:
        return (self.value - self.mean) / math.sqrt(self.variance + self.epsilon)

    @property
    def output(self) -> float:
        return self.gamma * self.normalized + self.beta


@dataclass(frozen=True, eq=False)
class PassStep:
    """Layers that compute nothing new: Flatten (moves a number), Dropout (off after training),
    Rescaling (multiplies by its scale)."""

    kind: str
    position: tuple[int, ...]
    source: tuple[int, ...]  # where in the input the number comes from
    value: float
    scale: float = 1.0

    @property
    def output(self) -> float:
        return self.value * self.scale


Step = ConvStep | PoolStep | DenseStep | NormStep | PassStep


def _window(size: int, out: int, k: int, stride: int, padding: str, i: int) -> tuple[int, int]:
    """The first and last + 1 input index of output ``i``'s window, as TensorFlow pads ('same': the
    padding split with the extra row or column after)."""
    pad = max((out - 1) * stride + k - size, 0) // 2 if padding == "same" else 0
    start = i * stride - pad
    return start, start + k


def _cut(x: np.ndarray, rows: tuple[int, int], cols: tuple[int, int], fill: float) -> np.ndarray:
    """``x[rows, cols, ...]`` where the window may reach outside ``x`` (filled with ``fill``)."""
    h, w = x.shape[:2]
    out = np.full((rows[1] - rows[0], cols[1] - cols[0], *x.shape[2:]), fill, dtype=np.float64)
    r0, r1, c0, c1 = max(rows[0], 0), min(rows[1], h), max(cols[0], 0), min(cols[1], w)
    out[r0 - rows[0] : r1 - rows[0], c0 - cols[0] : c1 - cols[0]] = x[r0:r1, c0:c1]
    return out


def conv_step(layer: Any, x: np.ndarray, row: int, col: int, filt: int) -> ConvStep:
    kernel, bias = (np.asarray(w, dtype=np.float64) for w in layer.get_weights()[:2])
    (kh, kw), (sh, sw) = layer.kernel_size, layer.strides
    (h, w), out = x.shape[:2], layer.compute_output_shape((None, *x.shape))
    rows = _window(h, out[1], kh, sh, layer.padding, row)
    cols = _window(w, out[2], kw, sw, layer.padding, col)
    patch = _cut(np.asarray(x, np.float64), rows, cols, 0.0)
    padded = min(rows[0], cols[0]) < 0 or rows[1] > h or cols[1] > w
    return ConvStep(
        (row, col, filt),
        rows,
        cols,
        patch,
        kernel[..., filt],
        float(bias[filt]),
        activation_name(layer),
        padded,
    )


def pool_step(layer: Any, x: np.ndarray, row: int, col: int, channel: int) -> PoolStep:
    (kh, kw), (sh, sw) = layer.pool_size, layer.strides
    (h, w), out = x.shape[:2], layer.compute_output_shape((None, *x.shape))
    rows = _window(h, out[1], kh, sh, layer.padding, row)
    cols = _window(w, out[2], kw, sw, layer.padding, col)
    window = _cut(np.asarray(x[..., channel], np.float64), rows, cols, np.nan)
    mode = "max" if kind_of(layer) == "MaxPooling2D" else "average"
    return PoolStep((row, col, channel), rows, cols, window, mode)


def dense_step(layer: Any, x: np.ndarray, unit: int, top: int = 10) -> DenseStep:
    kernel, bias = (np.asarray(w, dtype=np.float64) for w in layer.get_weights()[:2])
    inputs = np.asarray(x, np.float64).reshape(-1)
    scores = inputs @ kernel + bias
    return DenseStep(unit, inputs, kernel[:, unit], float(bias[unit]), activation_name(layer), scores, top)


def norm_step(layer: Any, x: np.ndarray, position: tuple[int, ...]) -> NormStep:
    channel = position[-1]

    def stat(name: str) -> float:
        return float(np.asarray(getattr(layer, name))[channel])

    return NormStep(
        tuple(position),
        float(x[position]),
        stat("moving_mean"),
        stat("moving_variance"),
        float(layer.epsilon),
        stat("gamma"),
        stat("beta"),
    )


def pass_step(layer: Any, x: np.ndarray, position: tuple[int, ...]) -> PassStep:
    kind = kind_of(layer)
    if kind == "Flatten":
        source = tuple(int(i) for i in np.unravel_index(position[0], x.shape))
        return PassStep(kind, position, source, float(x[source]))
    if kind == "Rescaling":
        offset = float(np.asarray(layer.offset))
        if offset:
            raise ValueError("the step-by-step view does not know a rescaling with an offset")
        return PassStep(kind, position, position, float(x[position]), float(np.asarray(layer.scale)))
    return PassStep(kind, position, position, float(x[position]))  # Dropout: off after training


def explain(layer: Any, x: np.ndarray, position: tuple[int, ...], top: int = 10) -> Step:
    """How output ``position`` of ``layer`` (row, column, channel; or unit) comes from its input ``x``."""
    kind = kind_of(layer)
    position = tuple(int(p) for p in position)
    if kind == "Conv2D":
        return conv_step(layer, x, *position)
    if kind in ("MaxPooling2D", "AveragePooling2D"):
        return pool_step(layer, x, *position)
    if kind == "Dense":
        return dense_step(layer, x, position[0], top)
    if kind == "BatchNormalization":
        return norm_step(layer, x, position)
    if kind in ("Flatten", "Dropout", "Rescaling"):
        return pass_step(layer, x, position)
    raise ValueError(f"the step-by-step view does not know {kind} layers")
