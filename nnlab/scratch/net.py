"""A multilayer perceptron in NumPy only, written to be read next to the maths.

Notation for one minibatch of B examples and L weight layers (layer l = 1..L)::

    a_0 = x                           (B, n_0)   the input pixels, one row per image
    z_l = a_{l-1} W_l + b_l           (B, n_l)   pre-activation ("logits" at the output)
    a_l = f(z_l)                                 hidden activation: relu, sigmoid or tanh
    p   = softmax(z_L)                           class probabilities (sigmoid for two classes)
    loss = mean_i -log p[i, y_i]  +  l2 * sum_l ||W_l||^2

Backpropagation is the chain rule applied from the output down. With softmax + cross-entropy
(or sigmoid + binary cross-entropy) the gradient at the output logits is simply::

    dz_L = (p - Y) / B                           Y = the one-hot labels (or the 0/1 labels)

and then, for each layer going down::

    dW_l = a_{l-1}^T dz_l + 2 l2 W_l             db_l = sum over the batch of dz_l
    dz_{l-1} = (dz_l W_l^T) * f'(z_{l-1})

``gradient_check`` verifies these formulas against finite differences; ``SGD`` takes the steps.
Training it on MNIST (data, loop, events) is in ``train.py``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

ACTIVATIONS = ("relu", "sigmoid", "tanh")
INITS = ("auto", "he", "xavier")


# ---- activations ----------------------------------------------------------------------------------


def activate(name: str, z: np.ndarray) -> np.ndarray:
    """f(z) for a hidden layer."""
    if name == "relu":
        return np.maximum(z, 0)
    if name == "sigmoid":
        # 1 / (1 + e^-z), written with tanh so that large |z| cannot overflow.
        return 0.5 * (1.0 + np.tanh(0.5 * z))
    if name == "tanh":
        return np.tanh(z)
    raise ValueError(f"unknown activation {name!r}; choose one of {', '.join(ACTIVATIONS)}")


def activation_grad(name: str, a: np.ndarray) -> np.ndarray:
    """f'(z), written in terms of the activation a = f(z) that the forward pass kept."""
    if name == "relu":
        return (a > 0).astype(a.dtype)  # 1 where the unit was active, 0 elsewhere
    if name == "sigmoid":
        return a * (1 - a)  # at most 0.25: stacked sigmoids shrink the gradient (vanishing)
    if name == "tanh":
        return 1 - a * a
    raise ValueError(f"unknown activation {name!r}")


# ---- the network ----------------------------------------------------------------------------------


class MLP:
    """Dense layers ``n_inputs -> hidden... -> n_classes`` with one hidden activation.

    Two classes use a single sigmoid output unit (binary cross-entropy); more use softmax
    (cross-entropy). Weights are updated in place, so a reference to ``W[0]`` stays live.
    """

    def __init__(
        self,
        n_inputs: int,
        hidden: Sequence[int],
        n_classes: int = 10,
        activation: str = "relu",
        init: str = "auto",
        seed: int = 0,
        dtype: Any = np.float32,
    ) -> None:
        if activation not in ACTIVATIONS:
            raise ValueError(f"unknown activation {activation!r}; choose one of {', '.join(ACTIVATIONS)}")
        if init not in INITS:
            raise ValueError(f"unknown initialisation {init!r}; choose one of {', '.join(INITS)}")
        if n_classes < 2:
            raise ValueError("a classifier needs at least 2 classes")
        self.activation = activation
        self.n_classes = n_classes
        self.binary = n_classes == 2
        self.sizes = [int(n_inputs), *(int(h) for h in hidden), 1 if self.binary else int(n_classes)]
        rng = np.random.default_rng(seed)
        self.W: list[np.ndarray] = []
        self.b: list[np.ndarray] = []
        for i, (fan_in, fan_out) in enumerate(zip(self.sizes[:-1], self.sizes[1:], strict=True)):
            is_output = i == len(self.sizes) - 2
            scheme = (
                init if init != "auto" else ("he" if activation == "relu" and not is_output else "xavier")
            )
            if scheme == "he":
                # He: variance 2 / fan_in keeps the variance of relu activations constant with depth.
                w = rng.normal(0.0, math.sqrt(2.0 / fan_in), size=(fan_in, fan_out))
            else:
                # Xavier/Glorot uniform: variance 2 / (fan_in + fan_out), suited to sigmoid/tanh.
                limit = math.sqrt(6.0 / (fan_in + fan_out))
                w = rng.uniform(-limit, limit, size=(fan_in, fan_out))
            self.W.append(w.astype(dtype))
            self.b.append(np.zeros(fan_out, dtype=dtype))

    @property
    def params(self) -> list[np.ndarray]:
        """Every parameter array, in the order W_1, b_1, W_2, b_2, ..."""
        return [p for pair in zip(self.W, self.b, strict=True) for p in pair]

    def forward(self, x: np.ndarray) -> tuple[list[np.ndarray], np.ndarray]:
        """The inputs of every layer ``[a_0, ..., a_{L-1}]`` (kept for backprop) and the logits z_L."""
        acts = [x]
        for W, b in zip(self.W[:-1], self.b[:-1], strict=True):
            acts.append(activate(self.activation, acts[-1] @ W + b))
        return acts, acts[-1] @ self.W[-1] + self.b[-1]

    def output_loss(self, z: np.ndarray, y: np.ndarray) -> tuple[float, np.ndarray, np.ndarray]:
        """Mean data loss, the probabilities and dloss/dz at the output logits, from logits ``z``."""
        B = len(y)
        if self.binary:
            t = y.reshape(-1, 1).astype(z.dtype)
            # BCE = -t log p - (1-t) log(1-p) with p = sigmoid(z) equals log(1 + e^z) - t z (stable).
            loss = float(np.mean(np.logaddexp(0, z) - t * z))
            p = activate("sigmoid", z)
            return loss, p, (p - t) / B
        z = z - z.max(axis=1, keepdims=True)  # softmax is unchanged by a shift; this avoids overflow
        log_p = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
        rows = np.arange(B)
        loss = float(-log_p[rows, y].mean())
        p = np.exp(log_p)
        dz = p.copy()
        dz[rows, y] -= 1  # p - one_hot(y)
        return loss, p, dz / B

    def loss_and_grads(
        self, x: np.ndarray, y: np.ndarray, l2: float = 0.0
    ) -> tuple[float, np.ndarray, list[np.ndarray], list[np.ndarray]]:
        """Loss (L2 penalty included), probabilities, and the gradients of every W and b."""
        acts, z = self.forward(x)
        loss, p, dz = self.output_loss(z, y)
        grads_W: list[np.ndarray] = [None] * len(self.W)  # type: ignore[list-item]
        grads_b: list[np.ndarray] = [None] * len(self.b)  # type: ignore[list-item]
        for layer in range(len(self.W) - 1, -1, -1):  # l = L..1 in the maths (0-based here)
            grads_W[layer] = acts[layer].T @ dz  # dW_l = a_{l-1}^T dz_l
            grads_b[layer] = dz.sum(axis=0)
            if l2:
                grads_W[layer] += (2 * l2) * self.W[layer]
            if layer > 0:  # the input pixels need no gradient: skip that (large) product
                dz = (dz @ self.W[layer].T) * activation_grad(self.activation, acts[layer])
        if l2:
            loss += l2 * sum(float(np.vdot(W, W)) for W in self.W)
        return loss, p, grads_W, grads_b

    def classify(self, p: np.ndarray) -> np.ndarray:
        """Predicted class indices from output probabilities."""
        return (p[:, 0] > 0.5).astype(np.int64) if self.binary else p.argmax(axis=1)

    def predict_proba(self, x: np.ndarray, batch_size: int = 2048) -> np.ndarray:
        """Probability of each class, shape (N, n_classes)."""
        out = []
        for s in range(0, len(x), batch_size):
            z = self.forward(x[s : s + batch_size])[1]
            if self.binary:
                p1 = activate("sigmoid", z)
                out.append(np.hstack([1 - p1, p1]))
            else:
                z = z - z.max(axis=1, keepdims=True)
                e = np.exp(z)
                out.append(e / e.sum(axis=1, keepdims=True))
        return np.concatenate(out) if out else np.zeros((0, self.n_classes), dtype=self.W[0].dtype)


# ---- gradient check -------------------------------------------------------------------------------


def gradient_check(
    net: MLP,
    x: np.ndarray,
    y: np.ndarray,
    l2: float = 0.0,
    eps: float = 1e-6,
    max_per_param: int | None = None,
    seed: int = 0,
) -> dict[str, float]:
    """Relative error between backprop's gradients and centred finite differences, per parameter.

    For each checked entry theta_k: numeric = (loss(theta_k + eps) - loss(theta_k - eps)) / (2 eps).
    The error of each array is ||analytic - numeric|| / (||analytic|| + ||numeric||); use a
    float64 network (``dtype=np.float64``) or rounding swamps the differences. ``max_per_param``
    checks a seeded random sample of entries per array instead of all of them (for big nets).
    """
    x = np.asarray(x, dtype=net.W[0].dtype)
    _, _, gW, gb = net.loss_and_grads(x, y, l2)
    analytic = [g for pair in zip(gW, gb, strict=True) for g in pair]
    names = [f"{kind}{i + 1}" for i in range(len(net.W)) for kind in ("W", "b")]
    rng = np.random.default_rng(seed)
    errors: dict[str, float] = {}
    for name, param, grad in zip(names, net.params, analytic, strict=True):
        flat, gflat = param.reshape(-1), grad.reshape(-1)  # views: editing flat edits the network
        idx = np.arange(flat.size)
        if max_per_param is not None and flat.size > max_per_param:
            idx = rng.choice(flat.size, size=max_per_param, replace=False)
        numeric = np.empty(len(idx))
        for j, k in enumerate(idx):
            old = flat[k]
            flat[k] = old + eps
            plus = net.loss_and_grads(x, y, l2)[0]
            flat[k] = old - eps
            minus = net.loss_and_grads(x, y, l2)[0]
            flat[k] = old
            numeric[j] = (plus - minus) / (2 * eps)
        a = gflat[idx].astype(np.float64)
        denom = np.linalg.norm(a) + np.linalg.norm(numeric)
        errors[name] = float(np.linalg.norm(a - numeric) / denom) if denom > 0 else 0.0
    errors["max"] = max(errors.values())
    return errors


# ---- optimiser ------------------------------------------------------------------------------------


class SGD:
    """Minibatch SGD, with momentum when ``momentum > 0``: v <- m v - lr g;  theta <- theta + v.

    (The same rule as ``keras.optimizers.SGD``.)
    """

    def __init__(self, params: list[np.ndarray], learning_rate: float, momentum: float = 0.0) -> None:
        self.lr = learning_rate
        self.momentum = momentum
        self.velocity = [np.zeros_like(p) for p in params] if momentum else []

    def step(self, params: list[np.ndarray], grads: list[np.ndarray]) -> None:
        if not self.momentum:
            for p, g in zip(params, grads, strict=True):
                p -= self.lr * g
            return
        for p, g, v in zip(params, grads, self.velocity, strict=True):
            v *= self.momentum
            v -= self.lr * g
            p += v
