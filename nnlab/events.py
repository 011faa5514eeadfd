"""What a training reports while it runs: five kinds of event, and where a batch sits in time.

Live metrics travel this path, one file each::

    training.py / scratch/train.py   emit events while they train        (this module's types)
    runs/recorder.py                 writes them to the run store
    runs/store.py                    keeps them (``metrics()`` reads them back as tables)
    ui/live.py                       polls the store once a second
    figures/training.py              draws the tables

An event sink is any callable taking one event; a stop check is a callable saying whether the
training should end now. Events are frozen dataclasses; ``to_record`` gives the JSON-ready dict
the store keeps (fields that are None are left out, so a run without validation has no val_*).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any, ClassVar


@dataclass(frozen=True, kw_only=True)
class StartEvent:
    """Once, before the first batch."""

    kind: ClassVar[str] = "start"
    epochs: int
    steps_per_epoch: int  # batches per epoch
    n_train: int  # training images
    lr: float  # the learning rate at the start
    time: float  # wall-clock time.time()
    layers: int | None = None  # weight layers (the NumPy network reports them)


@dataclass(frozen=True, kw_only=True)
class _Metrics:
    """What batch and epoch events both report: how the training is doing, and how fast."""

    loss: float
    accuracy: float
    elapsed: float  # seconds since the training started
    samples_per_sec: float  # during this epoch (so far)
    grad_norms: list[float] | None = None  # ||dW|| per layer (the NumPy network)


@dataclass(frozen=True, kw_only=True)
class BatchEvent(_Metrics):
    """Every few batches: the running mean loss and accuracy over the epoch so far (as Keras reports them)."""

    kind: ClassVar[str] = "batch"
    epoch: int  # 1-based
    batch: int  # 1-based, within the epoch; 0: the untrained network, before the first batch
    step: int  # 1-based, over the whole training (``global_step``); 0 before the first batch


@dataclass(frozen=True, kw_only=True)
class EpochEvent(_Metrics):
    """At the end of each epoch; ``epoch`` is fractional for an epoch cut short by a stop (e.g. 0.22).

    Its ``grad_norms`` are the means over the epoch.
    """

    kind: ClassVar[str] = "epoch"
    epoch: float
    lr: float  # the rate this epoch trained with
    val_loss: float | None = None
    val_accuracy: float | None = None


@dataclass(frozen=True, kw_only=True)
class EndEvent:
    """Once, after the test evaluation."""

    kind: ClassVar[str] = "end"
    stopped: bool
    test_loss: float
    test_accuracy: float
    elapsed: float  # seconds of training, without the test evaluation
    diverged: bool = False  # the loss became NaN or infinite (the NumPy network)


@dataclass(frozen=True, kw_only=True, eq=False)
class SnapshotEvent:
    """A few times in the first epoch and after each epoch (a worker's training asks for them): the
    first weight layer's kernels or weights, and the predictions on a fixed probe set of test images.

    ``nnlab.snapshots`` keeps them with the run; the Inspect page replays them.
    """

    kind: ClassVar[str] = "snapshot"
    epoch: float  # epochs trained so far: 0 (the random start), 0.1, 0.25, 0.5, 1, 2, ...
    layer: str  # the Keras layer the weights come from
    weights: Any  # np.ndarray: a Conv2D's (kh, kw, in, filters) or a Dense layer's (inputs, units)
    probs: Any  # np.ndarray (probe images, 10): the network's probabilities for the probe images
    probe: tuple[int, ...]  # the probe images' numbers in the MNIST test set


Event = StartEvent | BatchEvent | EpochEvent | EndEvent | SnapshotEvent
EventSink = Callable[[Event], None]
StopCheck = Callable[[], bool]


def to_record(event: Event) -> dict[str, Any]:
    """The event's fields as a JSON-ready dict, leaving out those that are None."""
    return {k: v for k, v in asdict(event).items() if v is not None}


# ---- where a batch sits -------------------------------------------------------------------------


def global_step(epoch: int, batch: int, steps_per_epoch: int) -> int:
    """The batch's number over the whole training: epoch 2, batch 5 of 100 -> 105."""
    return (int(epoch) - 1) * int(steps_per_epoch) + int(batch)


def epoch_position(epoch, batch, steps_per_epoch):
    """Where the end of a batch sits on an axis counted in epochs: epoch 2, batch 50 of 100 -> 1.5.

    Works on numbers and, element by element, on NumPy arrays and pandas columns.
    """
    return epoch - 1 + batch / steps_per_epoch


def fraction_done(epoch: int, batch: int, steps_per_epoch: int, epochs: int) -> float:
    """Share of the whole training done after ``batch`` of ``epoch`` (0 before it starts, at most 1).

    After an epoch's end event, batch == steps_per_epoch and the formula gives epoch / epochs.
    """
    if not steps_per_epoch or not epoch:
        return 0.0
    return min(1.0, max(0, global_step(epoch, batch, steps_per_epoch)) / (epochs * steps_per_epoch))
