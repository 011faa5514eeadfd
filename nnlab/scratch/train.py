"""Training the NumPy network on MNIST: its settings, its data, the loop, and its Keras twin.

``train`` runs minibatch SGD (with optional momentum and L2) and reports progress with the same
events as the Keras trainer (``nnlab.events``), plus the per-layer gradient norms. Training uses
float32 (fast); the gradient check in ``net.py`` float64 (exact enough to compare).
"""

from __future__ import annotations

import contextlib
import math
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from nnlab import data as nndata
from nnlab.events import BatchEvent, EndEvent, EpochEvent, EventSink, StartEvent, StopCheck, global_step
from nnlab.scratch.net import ACTIVATIONS, INITS, MLP, SGD
from nnlab.training import BOUNDS as TRAINING_BOUNDS
from nnlab.validation import (
    InvalidSettings,
    Problem,
    SettingsDict,
    choice_problems,
    is_int,
    range_problems,
    subset_problems,
)
from nnlab.words import plural

# ---- configuration -------------------------------------------------------------------------------


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
_SHARED = ("learning_rate", "momentum", "batch_size", "epochs", "validation_fraction", "subset", "seed")
BOUNDS = {**{k: TRAINING_BOUNDS[k] for k in (*_SHARED, "batch_event_every")}, "l2": (0.0, 1.0)}
MAX_UNITS = 4096
MAX_HIDDEN_LAYERS = 10


def validate_config(config: ScratchConfig) -> list[Problem]:
    """Every problem with ``config`` in plain words; empty means it can be used."""
    problems = _hidden_problems(config.hidden)
    choices = {"activation": ACTIVATIONS, "init": INITS}
    problems += choice_problems(config, choices, {"init": "initialisation"})
    whole = {"batch_size", "epochs", "subset", "seed", "batch_event_every"}
    problems += range_problems(config, BOUNDS, whole=whole, optional={"subset"})
    threads = config.blas_threads
    if threads is not None and not (is_int(threads) and 1 <= threads <= 256):
        message = f"The number of BLAS threads must be a whole number from 1 to 256 (got {threads!r})."
        problems.append(Problem(message, setting="blas_threads"))
    if config.digits is not None:
        d = list(config.digits)
        if len(d) < 2 or len(set(d)) != len(d) or not all(is_int(v) and 0 <= v <= 9 for v in d):
            message = "The digits to keep must be at least two different digits from 0 to 9."
            problems.append(Problem(message, setting="digits"))
    if not problems:
        problems += subset_problems(config)
    return problems


def _hidden_problems(hidden: Any) -> list[Problem]:
    if not isinstance(hidden, (list, tuple)):
        return [Problem("The hidden layer sizes must be a list of whole numbers.", setting="hidden")]
    if len(hidden) > MAX_HIDDEN_LAYERS:
        return [Problem(f"At most {MAX_HIDDEN_LAYERS} hidden layers (got {len(hidden)}).", setting="hidden")]
    return [
        Problem(
            f"Hidden layer {i + 1} must have between 1 and {MAX_UNITS} units (got {h!r}).", setting="hidden"
        )
        for i, h in enumerate(hidden)
        if not is_int(h) or not 1 <= h <= MAX_UNITS
    ]


# ---- data ----------------------------------------------------------------------------------------


@dataclass
class ScratchData(nndata.Splits):
    """Flattened images (N, 784) as float32, labels 0..k-1, and the k class names."""

    class_names: list[str] = field(default_factory=lambda: list(nndata.CLASS_NAMES))


def prepare_data(config: ScratchConfig, source: str | None = None) -> ScratchData:
    """MNIST with the same subset and validation split as ``nnlab.training`` (same seed, same images)."""
    (x_train, y_train), (x_test, y_test) = nndata.load_mnist(source)
    names = list(nndata.CLASS_NAMES)
    if config.digits is not None:
        keep = np.asarray(sorted(config.digits))
        names = [names[d] for d in keep]
        relabel = np.full(10, -1, dtype=np.int64)  # digit -> class index 0..k-1 (for the digits kept)
        relabel[keep] = np.arange(len(keep))
        mask_tr, mask_te = np.isin(y_train, keep), np.isin(y_test, keep)
        x_train, y_train = x_train[mask_tr], relabel[y_train[mask_tr]]
        x_test, y_test = x_test[mask_te], relabel[y_test[mask_te]]
    y_train, y_test = np.asarray(y_train, dtype=np.int64), np.asarray(y_test, dtype=np.int64)
    splits = nndata.training_splits(
        (x_train, y_train), (x_test, y_test), config.subset, config.validation_fraction, config.seed
    )

    def prepare(x: np.ndarray) -> np.ndarray:
        flat = np.asarray(x, dtype=np.float32).reshape(len(x), int(np.prod(x.shape[1:])))
        return flat / np.float32(255.0) if config.scale_inputs else flat

    return ScratchData(**vars(splits.map_images(prepare)), class_names=names)


def build_net(config: ScratchConfig, n_inputs: int = 784, n_classes: int | None = None) -> MLP:
    """The float32 network ``config`` describes, seeded."""
    k = n_classes if n_classes is not None else (len(config.digits) if config.digits else 10)
    return MLP(n_inputs, config.hidden, k, config.activation, config.init, config.seed, np.float32)


# ---- training -------------------------------------------------------------------------------------


@dataclass
class ScratchResult:
    net: MLP
    history: list[EpochEvent]  # one per finished epoch
    test_loss: float
    test_accuracy: float
    stopped: bool
    diverged: bool  # the loss became NaN or infinite (e.g. raw 0-255 inputs with a large rate)
    elapsed: float  # seconds of training (without the final test evaluation)
    n_train: int
    n_val: int


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


def evaluate(
    net: MLP, x: np.ndarray, y: np.ndarray, l2: float = 0.0, batch_size: int = 2048
) -> tuple[float, float]:
    """Mean loss (with the L2 penalty, as Keras reports val_loss) and accuracy of ``net`` over ``x``."""
    if len(y) == 0:
        return float("nan"), float("nan")
    total, correct = 0.0, 0
    for s in range(0, len(y), batch_size):
        xb, yb = x[s : s + batch_size], y[s : s + batch_size]
        loss, p, _ = net.output_loss(net.forward(xb)[1], yb)
        total += loss * len(yb)
        correct += int(np.count_nonzero(net.classify(p) == yb))
    penalty = l2 * sum(float(np.vdot(W, W)) for W in net.W) if l2 else 0.0
    return total / len(y) + penalty, correct / len(y)


def train(
    config: ScratchConfig, *, on_event: EventSink | None = None, should_stop: StopCheck | None = None,
    data: ScratchData | None = None, net: MLP | None = None,
) -> ScratchResult:  # fmt: skip
    """Train the from-scratch MLP; events as in ``nnlab.training`` plus ``grad_norms`` per layer.

    Batch events carry the running mean loss/accuracy over the epoch so far (as Keras reports
    them) and the gradient norms of that batch; epoch events the mean norms over the epoch. A
    non-finite loss ends the training (``diverged``). The same seed gives the same numbers.
    """
    problems = validate_config(config)
    if problems:
        raise InvalidSettings(problems)
    data = data if data is not None else prepare_data(config)
    net = net if net is not None else build_net(config, data.x_train.shape[1], len(data.class_names))
    loop = _Loop(config, data, net, on_event or (lambda event: None), should_stop or (lambda: False))
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"), _blas_limit(config.blas_threads):
        loop.run()
        elapsed = time.perf_counter() - loop.t0
        test_loss, test_accuracy = evaluate(net, data.x_test, data.y_test, config.l2)
    loop.emit(
        EndEvent(
            stopped=loop.stopped,
            test_loss=test_loss,
            test_accuracy=test_accuracy,
            elapsed=elapsed,
            diverged=loop.diverged,
        )
    )
    n_train, n_val = len(data.y_train), len(data.y_val)
    return ScratchResult(
        net, loop.history, test_loss, test_accuracy, loop.stopped, loop.diverged, elapsed, n_train, n_val
    )


class _Loop:
    """Minibatch SGD over the epochs, emitting events; ends early on a stop request or divergence."""

    def __init__(
        self, config: ScratchConfig, data: ScratchData, net: MLP, emit: EventSink, should_stop: StopCheck
    ):
        self.config, self.data, self.net, self.emit, self.should_stop = config, data, net, emit, should_stop
        self.steps = math.ceil(
            len(data.y_train) / config.batch_size
        )  # ceiling division: a partial last batch
        self.optimizer = SGD(net.params, config.learning_rate, config.momentum)
        self.rng = np.random.default_rng(config.seed)
        self.history: list[EpochEvent] = []
        self.stopped = self.diverged = False
        self.t0 = time.perf_counter()

    def run(self) -> None:
        n_train, lr = len(self.data.y_train), self.config.learning_rate
        self.emit(
            StartEvent(
                epochs=self.config.epochs,
                steps_per_epoch=self.steps,
                n_train=n_train,
                lr=lr,
                time=time.time(),
                layers=len(self.net.W),
            )
        )
        for epoch in range(1, self.config.epochs + 1):
            self.epoch(epoch)
            if self.stopped or self.diverged:
                break

    def epoch(self, epoch: int) -> None:
        config, data, net = self.config, self.data, self.net
        t_epoch = time.perf_counter()
        order = self.rng.permutation(len(data.y_train))  # a fresh shuffle every epoch
        loss_sum, correct, seen, batches = 0.0, 0, 0, 0
        norm_sum = np.zeros(len(net.W))
        for step in range(1, self.steps + 1):
            idx = order[(step - 1) * config.batch_size : step * config.batch_size]
            xb, yb = data.x_train[idx], data.y_train[idx]
            loss, p, gW, gb = net.loss_and_grads(xb, yb, config.l2)
            norms = grad_norms(gW)
            self.optimizer.step(net.params, [g for pair in zip(gW, gb, strict=True) for g in pair])
            batches, seen = batches + 1, seen + len(yb)
            loss_sum += loss * len(yb)
            correct += int(np.count_nonzero(net.classify(p) == yb))
            norm_sum += norms
            self.diverged = not math.isfinite(loss)
            self.stopped = self.should_stop()
            if step % config.batch_event_every == 0 or self.stopped or self.diverged:
                now = time.perf_counter()
                self.emit(BatchEvent(
                    epoch=epoch, batch=step, step=global_step(epoch, step, self.steps),
                    loss=loss_sum / seen, accuracy=correct / seen, elapsed=now - self.t0,
                    samples_per_sec=seen / max(now - t_epoch, 1e-9), grad_norms=norms,
                ))  # fmt: skip
            if self.stopped or self.diverged:
                break
        now = time.perf_counter()
        val_loss, val_accuracy = (
            evaluate(net, data.x_val, data.y_val, config.l2) if len(data.y_val) else (None, None)
        )
        event = EpochEvent(
            epoch=epoch, loss=loss_sum / seen, accuracy=correct / seen, lr=config.learning_rate,
            elapsed=now - self.t0, samples_per_sec=seen / max(now - t_epoch, 1e-9),
            val_loss=val_loss, val_accuracy=val_accuracy, grad_norms=(norm_sum / max(batches, 1)).tolist(),
        )  # fmt: skip
        self.history.append(event)
        self.emit(event)


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
    return sum(a * b + b for a, b in zip(sizes[:-1], sizes[1:], strict=True))


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
    epochs = plural(config.epochs, "epoch")
    return (
        f"{arch} (Keras twin · lr {config.learning_rate:g} · momentum {config.momentum:g} · "
        f"batch {config.batch_size} · {epochs} · {stamp})"
    )


def keras_train_config(config: ScratchConfig):
    """The ``TrainConfig`` that trains the Keras twin the same way: plain SGD, same data and split.

    Keras always sees scaled inputs and all ten digits, so those two settings have no twin.
    """
    from nnlab.training import TrainConfig

    return TrainConfig(optimizer="sgd", **{k: getattr(config, k) for k in (*_SHARED, "batch_event_every")})
