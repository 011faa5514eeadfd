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

``gradient_check`` verifies these formulas against finite differences. ``train`` runs minibatch
SGD (with optional momentum and L2) and reports progress as the same event dicts as
``nnlab.training``, plus the per-layer gradient norms. ``ScratchJob`` runs a training in a thread
for the app. Training uses float32 (fast); the gradient check float64 (exact enough to compare).
"""

from __future__ import annotations

import contextlib
import math
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from nnlab import data as nndata
from nnlab.training import LIMITS as TRAIN_LIMITS
from nnlab.validation import InvalidConfig, SettingsDict, is_int, range_problems, subset_problems

ACTIVATIONS = ("relu", "sigmoid", "tanh")
INITS = ("auto", "he", "xavier")

Event = dict[str, Any]
EventSink = Callable[[Event], None]
StopCheck = Callable[[], bool]


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
        for i, (fan_in, fan_out) in enumerate(zip(self.sizes[:-1], self.sizes[1:])):
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
        return [p for pair in zip(self.W, self.b) for p in pair]

    def forward(self, x: np.ndarray) -> tuple[list[np.ndarray], np.ndarray]:
        """The inputs of every layer ``[a_0, ..., a_{L-1}]`` (kept for backprop) and the logits z_L."""
        acts = [x]
        for W, b in zip(self.W[:-1], self.b[:-1]):
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
        for l in range(len(self.W) - 1, -1, -1):
            grads_W[l] = acts[l].T @ dz
            grads_b[l] = dz.sum(axis=0)
            if l2:
                grads_W[l] += (2 * l2) * self.W[l]
            if l > 0:  # the input pixels need no gradient: skip that (large) product
                dz = (dz @ self.W[l].T) * activation_grad(self.activation, acts[l])
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

    def evaluate(
        self, x: np.ndarray, y: np.ndarray, l2: float = 0.0, batch_size: int = 2048
    ) -> tuple[float, float]:
        """Mean loss (with the L2 penalty, as Keras reports val_loss) and accuracy over ``x``."""
        if len(y) == 0:
            return float("nan"), float("nan")
        total, correct = 0.0, 0
        for s in range(0, len(y), batch_size):
            xb, yb = x[s : s + batch_size], y[s : s + batch_size]
            loss, p, _ = self.output_loss(self.forward(xb)[1], yb)
            total += loss * len(yb)
            correct += int(np.count_nonzero(self.classify(p) == yb))
        penalty = l2 * sum(float(np.vdot(W, W)) for W in self.W) if l2 else 0.0
        return total / len(y) + penalty, correct / len(y)


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
    analytic = [g for pair in zip(gW, gb) for g in pair]
    names = [f"{kind}{i + 1}" for i in range(len(net.W)) for kind in ("W", "b")]
    rng = np.random.default_rng(seed)
    errors: dict[str, float] = {}
    for name, param, grad in zip(names, net.params, analytic):
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
            for p, g in zip(params, grads):
                p -= self.lr * g
            return
        for p, g, v in zip(params, grads, self.velocity):
            v *= self.momentum
            v -= self.lr * g
            p += v


# ---- configuration and data -----------------------------------------------------------------------


@dataclass
class ScratchConfig(SettingsDict):
    """Every setting of one from-scratch training."""

    hidden: tuple[int, ...] = (128,)
    activation: str = "relu"
    init: str = "auto"  # auto = He for relu layers, Xavier for sigmoid/tanh and the output
    learning_rate: float = 0.1
    momentum: float = 0.9
    l2: float = 0.0  # penalty l2 * sum(W^2) on every weight matrix (Keras' L2 convention)
    batch_size: int = 64
    epochs: int = 5
    validation_fraction: float = 0.1
    subset: int | None = None  # training images to use; None = all 60,000
    digits: tuple[int, ...] | None = None  # keep only these digits (two of them: a binary task)
    scale_inputs: bool = True  # pixels / 255 -> [0, 1]; off, the network sees raw 0-255 values
    seed: int = 0
    batch_event_every: int = 10
    # Threads for NumPy's BLAS during this training; None leaves the machine's setting alone. On a
    # busy machine, 1 can be much faster than several threads waiting for each other.
    blas_threads: int | None = None


# The Keras trainer's bounds (the Keras twin must accept every config this page allows), plus L2.
LIMITS = {
    k: (0.0, 1.0) if k == "l2" else TRAIN_LIMITS[k]
    for k in (
        "learning_rate",
        "momentum",
        "l2",
        "batch_size",
        "epochs",
        "validation_fraction",
        "subset",
        "seed",
        "batch_event_every",
    )
}
MAX_UNITS = 4096
MAX_HIDDEN_LAYERS = 10


def validate_config(config: ScratchConfig) -> list[str]:
    """Every problem with ``config`` in plain words; empty means it can be used."""
    problems = []
    hidden = list(config.hidden) if isinstance(config.hidden, (list, tuple)) else None
    if hidden is None:
        problems.append("The hidden layer sizes must be a list of whole numbers.")
    elif len(hidden) > MAX_HIDDEN_LAYERS:
        problems.append(f"At most {MAX_HIDDEN_LAYERS} hidden layers (got {len(hidden)}).")
    else:
        for i, h in enumerate(hidden):
            if not is_int(h) or not 1 <= h <= MAX_UNITS:
                problems.append(
                    f"Hidden layer {i + 1} must have between 1 and {MAX_UNITS} units (got {h!r})."
                )
    if config.activation not in ACTIVATIONS:
        problems.append(f"Unknown activation {config.activation!r}; choose one of {', '.join(ACTIVATIONS)}.")
    if config.init not in INITS:
        problems.append(f"Unknown initialisation {config.init!r}; choose one of {', '.join(INITS)}.")
    problems += range_problems(
        config,
        LIMITS,
        whole={"batch_size", "epochs", "subset", "seed", "batch_event_every"},
        optional={"subset"},
    )
    if config.blas_threads is not None and not (
        is_int(config.blas_threads) and 1 <= config.blas_threads <= 256
    ):
        problems.append(
            f"The number of BLAS threads must be a whole number from 1 to 256 (got {config.blas_threads!r})."
        )
    if config.digits is not None:
        d = list(config.digits)
        if len(d) < 2 or len(set(d)) != len(d) or not all(is_int(v) and 0 <= v <= 9 for v in d):
            problems.append("The digits to keep must be at least two different digits from 0 to 9.")
    if not problems:
        problems += subset_problems(config)
    return problems


@dataclass
class ScratchData:
    """Flattened images (N, 784) as float32 and labels 0..k-1 (k = number of classes)."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_val: np.ndarray
    y_val: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    class_names: list[str]


def prepare_data(config: ScratchConfig, source: str | None = None) -> ScratchData:
    """MNIST with the same subset and validation split as ``nnlab.training`` (same seed, same images)."""
    (x_train, y_train), (x_test, y_test) = nndata.load_mnist(source)
    names = list(nndata.CLASS_NAMES)
    if config.digits is not None:
        keep = np.asarray(sorted(config.digits))
        names = [names[d] for d in keep]
        relabel = np.full(10, -1, dtype=np.int64)
        relabel[keep] = np.arange(len(keep))
        mask_tr, mask_te = np.isin(y_train, keep), np.isin(y_test, keep)
        x_train, y_train = x_train[mask_tr], relabel[y_train[mask_tr]]
        x_test, y_test = x_test[mask_te], relabel[y_test[mask_te]]
    if config.subset is not None:
        x_train, y_train = nndata.stratified_subset(x_train, y_train, config.subset, seed=config.seed)
    x_tr, y_tr, x_val, y_val = nndata.stratified_split(
        x_train, y_train, config.validation_fraction, seed=config.seed
    )

    def prep(x: np.ndarray) -> np.ndarray:
        flat = np.asarray(x, dtype=np.float32).reshape(len(x), int(np.prod(x.shape[1:])))
        return flat / np.float32(255.0) if config.scale_inputs else flat

    as_int = lambda y: np.asarray(y, dtype=np.int64)  # noqa: E731
    return ScratchData(
        prep(x_tr), as_int(y_tr), prep(x_val), as_int(y_val), prep(x_test), as_int(y_test), names
    )


def build_net(config: ScratchConfig, n_inputs: int = 784, n_classes: int | None = None) -> MLP:
    """The float32 network ``config`` describes, seeded."""
    k = n_classes if n_classes is not None else (len(config.digits) if config.digits else 10)
    return MLP(n_inputs, config.hidden, k, config.activation, config.init, config.seed, np.float32)


# ---- training -------------------------------------------------------------------------------------


@dataclass
class ScratchResult:
    net: MLP
    history: list[dict[str, Any]]  # one dict per finished epoch
    test_loss: float
    test_accuracy: float
    stopped: bool
    diverged: bool  # the loss became NaN or infinite (e.g. raw 0-255 inputs with a large rate)
    elapsed: float  # seconds of training (without the final test evaluation)
    n_train: int
    n_val: int
    extra: dict[str, Any] = field(default_factory=dict)


@contextlib.contextmanager
def _blas_limit(threads: int | None):
    """Cap NumPy's BLAS threads for the duration (process-wide), or change nothing for None."""
    if threads is None:
        yield
        return
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=threads, user_api="blas"):
        yield


def grad_norms(grads_W: list[np.ndarray]) -> list[float]:
    """||dW_l|| for each layer: how strongly each layer is being pushed (vanishing gradients show here)."""
    return [math.sqrt(float(np.vdot(g, g))) for g in grads_W]


def train(
    config: ScratchConfig,
    on_event: EventSink | None = None,
    should_stop: StopCheck | None = None,
    data: ScratchData | None = None,
    net: MLP | None = None,
) -> ScratchResult:
    """Train the from-scratch MLP; events as in ``nnlab.training`` plus ``grad_norms`` per layer.

    Batch events carry the running mean loss/accuracy over the epoch so far (as Keras reports
    them) and the gradient norms of that batch; epoch events the mean norms over the epoch. A
    non-finite loss ends the training (``diverged``). The same seed gives the same numbers.
    """
    problems = validate_config(config)
    if problems:
        raise InvalidConfig(problems)
    emit = on_event or (lambda event: None)
    if data is None:
        data = prepare_data(config)
    if net is None:
        net = build_net(config, data.x_train.shape[1], len(data.class_names))
    x, y = data.x_train, data.y_train
    n_train, n_val = len(y), len(data.y_val)
    bs = config.batch_size
    steps = math.ceil(n_train / bs)
    opt = SGD(net.params, config.learning_rate, config.momentum)
    rng = np.random.default_rng(config.seed)
    history: list[dict[str, Any]] = []
    stopped = diverged = False
    t0 = time.perf_counter()
    emit(
        {
            "type": "start",
            "epochs": config.epochs,
            "steps_per_epoch": steps,
            "n_train": n_train,
            "lr": config.learning_rate,
            "time": time.time(),
            "layers": len(net.W),
        }
    )
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"), _blas_limit(config.blas_threads):
        for epoch in range(1, config.epochs + 1):
            t_epoch = time.perf_counter()
            order = rng.permutation(n_train)  # a fresh shuffle every epoch
            loss_sum, correct, seen = 0.0, 0, 0
            norm_sum = np.zeros(len(net.W))
            batches = 0
            for step in range(1, steps + 1):
                idx = order[(step - 1) * bs : step * bs]
                xb, yb = x[idx], y[idx]
                loss, p, gW, gb = net.loss_and_grads(xb, yb, config.l2)
                norms = grad_norms(gW)
                opt.step(net.params, [g for pair in zip(gW, gb) for g in pair])
                batches += 1
                seen += len(yb)
                loss_sum += loss * len(yb)
                correct += int(np.count_nonzero(net.classify(p) == yb))
                norm_sum += norms
                diverged = not math.isfinite(loss)
                stopped = should_stop is not None and should_stop()
                if step % config.batch_event_every == 0 or stopped or diverged:
                    now = time.perf_counter()
                    emit(
                        {
                            "type": "batch",
                            "epoch": epoch,
                            "batch": step,
                            "loss": loss_sum / seen,
                            "accuracy": correct / seen,
                            "elapsed": now - t0,
                            "samples_per_sec": seen / max(now - t_epoch, 1e-9),
                            "grad_norms": norms,
                        }
                    )
                if stopped or diverged:
                    break
            now = time.perf_counter()
            row: dict[str, Any] = {"epoch": epoch, "loss": loss_sum / seen, "accuracy": correct / seen}
            if n_val:
                row["val_loss"], row["val_accuracy"] = net.evaluate(data.x_val, data.y_val, config.l2)
            row.update(
                {
                    "lr": config.learning_rate,
                    "elapsed": now - t0,
                    "samples_per_sec": seen / max(now - t_epoch, 1e-9),
                    "grad_norms": (norm_sum / max(batches, 1)).tolist(),
                }
            )
            history.append(row)
            emit({"type": "epoch", **row})
            if stopped or diverged:
                break
        elapsed = time.perf_counter() - t0
        test_loss, test_accuracy = net.evaluate(data.x_test, data.y_test, config.l2)
    emit(
        {
            "type": "end",
            "stopped": stopped,
            "diverged": diverged,
            "test_loss": test_loss,
            "test_accuracy": test_accuracy,
            "elapsed": elapsed,
        }
    )
    return ScratchResult(net, history, test_loss, test_accuracy, stopped, diverged, elapsed, n_train, n_val)


def first_layer_images(net: MLP, max_units: int | None = None, side: int = 28) -> np.ndarray:
    """The first layer's weights as one ``side x side`` image per unit: the pattern each unit looks for."""
    if net.W[0].shape[0] != side * side:
        raise ValueError(f"the first layer has {net.W[0].shape[0]} inputs, not {side}x{side}")
    W = np.array(net.W[0][:, :max_units], copy=True)  # copy: training may be updating it in another thread
    return W.T.reshape(-1, side, side)


def n_params(config: ScratchConfig, n_inputs: int = 784) -> int:
    """Weights and biases of the network ``config`` describes."""
    k = len(config.digits) if config.digits else 10
    sizes = [n_inputs, *config.hidden, 1 if k == 2 else k]
    return sum(a * b + b for a, b in zip(sizes[:-1], sizes[1:]))


# ---- the same network in Keras, for a side-by-side comparison --------------------------------------


def keras_spec(config: ScratchConfig) -> dict[str, Any]:
    """The architecture spec of the same network for ``nnlab.architectures`` / the runner."""
    layers: list[dict[str, Any]] = [{"kind": "Flatten"}]
    layers += [
        {"kind": "Dense", "units": int(h), "activation": config.activation, "l2": float(config.l2)}
        for h in config.hidden
    ]
    layers.append({"kind": "Dense", "units": 10, "activation": "softmax", "l2": float(config.l2)})
    name = "MLP " + "-".join(str(n) for n in (784, *config.hidden, 10)) + f" {config.activation} (Keras twin)"
    return {"name": name, "layers": layers}


def keras_twin_name(config: ScratchConfig, when: float | None = None) -> str:
    """The Keras twin's run name: its network plus the settings and time that set it apart from other twins.

    e.g. 'MLP 784-128-10 relu (Keras twin · lr 0.1 · momentum 0.9 · batch 64 · 3 epochs · 14:05:33)'.
    """
    stamp = time.strftime("%H:%M:%S", time.localtime(time.time() if when is None else when))
    arch = keras_spec(config)["name"].replace(" (Keras twin)", "")
    epochs = f"{config.epochs} epoch" + ("s" if config.epochs != 1 else "")
    return (
        f"{arch} (Keras twin · lr {config.learning_rate:g} · momentum {config.momentum:g} · "
        f"batch {config.batch_size} · {epochs} · {stamp})"
    )


def keras_train_config(config: ScratchConfig):
    """The ``TrainConfig`` that trains the Keras twin the same way: plain SGD, same data and split.

    Keras always sees scaled inputs and all ten digits, so those two settings have no twin.
    """
    from nnlab.training import TrainConfig

    return TrainConfig(
        optimizer="sgd",
        learning_rate=config.learning_rate,
        momentum=config.momentum,
        batch_size=config.batch_size,
        epochs=config.epochs,
        validation_fraction=config.validation_fraction,
        subset=config.subset,
        seed=config.seed,
        batch_event_every=config.batch_event_every,
    )


# ---- a training in a background thread (for the app) ----------------------------------------------


class ScratchJob:
    """One training running in a daemon thread; its progress is read with ``snapshot()``.

    Everything the thread writes sits behind a lock, so a UI thread can poll it safely; ``stop()``
    asks the training to end after the current batch.
    """

    def __init__(self, config: ScratchConfig, data: ScratchData | None = None) -> None:
        problems = validate_config(config)
        if problems:
            raise InvalidConfig(problems)
        self.config = config
        self._data = data
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._start: Event | None = None
        self._batches: list[Event] = []
        self._epochs: list[Event] = []
        self._end: Event | None = None
        self.error: str | None = None
        self.net: MLP | None = None
        self.result: ScratchResult | None = None
        self.created = time.time()
        self._thread = threading.Thread(target=self._run, name="nnlab-scratch", daemon=True)

    def start(self) -> ScratchJob:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()

    @property
    def running(self) -> bool:
        return self._thread.is_alive()

    def join(self, timeout: float | None = None) -> None:
        self._thread.join(timeout)

    def _on_event(self, event: Event) -> None:
        with self._lock:
            kind = event["type"]
            if kind == "start":
                self._start = event
            elif kind == "batch":
                self._batches.append(event)
            elif kind == "epoch":
                self._epochs.append(event)
            elif kind == "end":
                self._end = event

    def _run(self) -> None:
        try:
            data = self._data or prepare_data(self.config)
            net = build_net(self.config, data.x_train.shape[1], len(data.class_names))
            with self._lock:
                self.net = net
            result = train(self.config, self._on_event, self._stop.is_set, data=data, net=net)
            with self._lock:
                self.result = result
        except Exception as exc:  # shown to the user by the page; the thread must not die silently
            with self._lock:
                self.error = f"{type(exc).__name__}: {exc}"

    def snapshot(self) -> dict[str, Any]:
        """Copies of everything so far: start/end events, batch and epoch event lists, error, running."""
        with self._lock:
            return {
                "start": self._start,
                "batches": list(self._batches),
                "epochs": list(self._epochs),
                "end": self._end,
                "error": self.error,
                "running": self._thread.is_alive(),
                "stop_requested": self._stop.is_set(),
            }
