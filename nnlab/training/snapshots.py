"""The Keras callback that takes a training's snapshots (see ``nnlab.snapshots``) as events.

It imports Keras, so ``engine.train`` imports it only when a training asks for snapshots.
"""

from __future__ import annotations

import math

import numpy as np

from nnlab._tf import keras
from nnlab.events import EventSink, SnapshotEvent
from nnlab.snapshots import FIRST_EPOCH_MARKS, first_kernel_layer, kept_weights


class SnapshotCallback(keras.callbacks.Callback):
    """Emits a ``SnapshotEvent`` at the start, at ``FIRST_EPOCH_MARKS`` of the first epoch and after
    every epoch. Each costs one forward pass over the probe images (about 100) and a weight copy."""

    def __init__(self, sink: EventSink, probe_x: np.ndarray, probe: np.ndarray, steps: int) -> None:
        super().__init__()
        self.sink, self.probe_x, self.probe, self.steps = sink, probe_x, tuple(int(i) for i in probe), steps
        marks = {max(1, math.ceil(f * steps)) for f in FIRST_EPOCH_MARKS}
        self.marks = sorted(m for m in marks if m < steps)  # batches of the first epoch
        self.epoch = self.done = 0
        self.layer = None

    def _snap(self, position: float) -> None:
        if self.layer is None:
            return
        # The model's compiled predict function: about half the time of an eager call after its first.
        probs = np.asarray(self.model.predict_on_batch(self.probe_x), dtype=np.float32)
        weights = kept_weights(self.layer.get_weights()[0])
        self.sink(
            SnapshotEvent(
                epoch=round(position, 3),
                layer=self.layer.name,
                weights=weights,
                probs=probs,
                probe=self.probe,
            )
        )

    def on_train_begin(self, logs=None):
        self.layer = first_kernel_layer(self.model)
        self._snap(0.0)

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch, self.done = epoch, 0

    def on_train_batch_end(self, batch, logs=None):
        self.done = batch + 1
        if self.epoch == 0 and self.done in self.marks:
            self._snap(self.done / self.steps)

    def on_epoch_end(self, epoch, logs=None):
        # an epoch cut short by a stop request is placed where it ended
        self._snap(epoch + 1 if self.done >= self.steps else epoch + self.done / self.steps)
