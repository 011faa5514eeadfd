"""The one Keras callback of a training: it turns ``fit`` into events and honours stop requests.

This module imports Keras, so ``engine.train`` imports it only when a training starts (the rest of
``nnlab.training`` loads without TensorFlow).
"""

from __future__ import annotations

import math
import time

import numpy as np

from nnlab._tf import keras
from nnlab.events import BatchEvent, EpochEvent, EventSink, StartEvent, StopCheck, global_step


def current_lr(model) -> float:
    """The optimizer's learning rate right now (schedules included)."""
    return float(np.asarray(model.optimizer.learning_rate))


def event_callback(
    sink: EventSink | None,
    should_stop: StopCheck | None,
    *,
    every: int,
    batch_size: int,
    n_train: int,
    epochs: int,
    first_batch: tuple[np.ndarray, np.ndarray] | None = None,
) -> EventCallback:
    """The callback for one ``fit``: a batch event every ``every`` batches, an event per epoch.

    With ``first_batch`` (images, labels), the first event is the untrained network's loss and
    accuracy on those images, at step 0 (see ``EventCallback.on_train_begin``).
    """
    return EventCallback(
        sink, should_stop, every=every, batch_size=batch_size, n_train=n_train, epochs=epochs,
        first_batch=first_batch,
    )  # fmt: skip


def untrained_scores(model, images: np.ndarray, labels: np.ndarray) -> tuple[float, float]:
    """The loss ``fit`` minimises and the accuracy of ``model`` on one batch, as it stands.

    loss = mean over the batch of -log p(true class) (sparse categorical cross-entropy) + the
    layers' weight penalties (L1/L2), as Keras adds them; accuracy = share of argmax p = label.
    One forward pass, run eagerly (no graph to trace) and without training behaviour (dropout off).
    """
    probabilities = keras.ops.convert_to_numpy(model(images, training=False))  # (n, 10)
    true = np.clip(probabilities[np.arange(len(labels)), labels], 1e-7, 1.0)
    penalty = sum(float(keras.ops.convert_to_numpy(loss)) for loss in model.losses)
    loss = float(-np.log(true).mean()) + penalty
    return loss, float((probabilities.argmax(axis=1) == labels).mean())


class EventCallback(keras.callbacks.Callback):
    """Emits start, batch and epoch events to ``sink``; stops ``fit`` within a batch when asked.

    ``history`` keeps every epoch event; ``stopped`` tells whether a stop request ended the training.
    """

    def __init__(
        self, sink, should_stop, *, every: int, batch_size: int, n_train: int, epochs: int, first_batch=None
    ) -> None:
        super().__init__()
        self.first_batch = first_batch
        self.sink, self.should_stop, self.every = sink, should_stop, every
        self.batch_size, self.n_train, self.epochs = batch_size, n_train, epochs
        self.steps = math.ceil(n_train / batch_size)  # ceiling division: the last batch may be partial
        self.stopped = False
        self.history: list[EpochEvent] = []
        self.t0 = self.epoch_t0 = 0.0
        self.epoch = self.batches_done = 0
        self.epoch_lr = 0.0

    def _emit(self, event) -> None:
        if self.sink is not None:
            self.sink(event)

    def on_train_begin(self, logs=None):
        self.t0 = time.perf_counter()
        lr = current_lr(self.model)
        self._emit(
            StartEvent(
                epochs=self.epochs, steps_per_epoch=self.steps, n_train=self.n_train, lr=lr, time=time.time()
            )
        )
        if self.first_batch is not None and self.sink is not None:
            self._untrained_point(*self.first_batch)

    def _untrained_point(self, images: np.ndarray, labels: np.ndarray) -> None:
        """Step 0: where the loss starts (about ln 10 = 2.30 for 10 classes guessed evenly) and the
        accuracy (about 10 %, chance). The chart's first point, a fraction of a second after the
        start: ``fit``'s first batches wait for Keras to trace the training step (about a second).
        """
        loss, accuracy = untrained_scores(self.model, images, labels)
        elapsed = time.perf_counter() - self.t0
        self._emit(
            BatchEvent(
                epoch=1, batch=0, step=0, loss=loss, accuracy=accuracy, elapsed=elapsed, samples_per_sec=0.0
            )
        )

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch
        self.epoch_t0 = time.perf_counter()
        self.epoch_lr = current_lr(self.model)  # the rate this epoch trains with
        self.batches_done = 0

    def on_train_batch_end(self, batch, logs=None):
        self.batches_done = batch + 1  # in this epoch
        if self.should_stop is not None and self.should_stop():
            self.stopped = True
            self.model.stop_training = True
        if self.sink is None or ((batch + 1) % self.every and not self.stopped):
            return
        now = time.perf_counter()
        seen = min((batch + 1) * self.batch_size, self.n_train)
        self._emit(
            BatchEvent(
                epoch=self.epoch + 1,
                batch=batch + 1,
                step=global_step(self.epoch + 1, batch + 1, self.steps),
                loss=float(logs["loss"]),
                accuracy=float(logs["accuracy"]),
                elapsed=now - self.t0,
                samples_per_sec=seen / max(now - self.epoch_t0, 1e-9),
            )
        )

    def on_epoch_end(self, epoch, logs=None):
        now = time.perf_counter()
        done, logs = self.batches_done, logs or {}
        # An epoch cut short by a stop request is placed where it ended (e.g. 0.22), not at 1.
        position = epoch + 1 if done >= self.steps else round(epoch + done / self.steps, 3)
        val = {k: float(logs[k]) for k in ("val_loss", "val_accuracy") if k in logs}
        event = EpochEvent(
            epoch=position,
            loss=float(logs["loss"]),
            accuracy=float(logs["accuracy"]),
            lr=self.epoch_lr,
            elapsed=now - self.t0,
            samples_per_sec=min(done * self.batch_size, self.n_train) / max(now - self.epoch_t0, 1e-9),
            **val,
        )
        self.history.append(event)
        self._emit(event)
