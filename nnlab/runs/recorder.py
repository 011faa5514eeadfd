"""A training's link to the run store: its events go in, its stop flag comes out.

``StoreRecorder`` is the event sink a worker hands to ``training.train``: the first batch event is
written at once (the chart's first point), later ones are buffered and written at most every
``BATCH_FLUSH_SECONDS`` (a batch takes milliseconds: one write each would cost more than the
training), epoch events at once, and the run's ``progress`` (epoch, batch, pace,
latest metrics) is kept up to date with them in the same transaction. ``StoreStopCheck`` is the
``should_stop`` it is given: it reads the run's stop flag at most every ``STOP_POLL_SECONDS``.
Snapshot events (learning replayed) are kept as the run's artifacts by ``nnlab.snapshots``.
A database that restarts does not end the training (``retry.py``): a flush refused for a transient
reason is tried again at the next one, and a stop check keeps its last answer.
"""

from __future__ import annotations

import threading
import time
from typing import Any

from nnlab.events import BatchEvent, EpochEvent, Event, EventSink, SnapshotEvent, StartEvent
from nnlab.runs.retry import retrying, transient
from nnlab.runs.store import RunStore
from nnlab.snapshots import SnapshotWriter

BATCH_FLUSH_SECONDS = 0.5
STOP_POLL_SECONDS = 0.2
PROGRESS_FIELDS = ("epoch", "batch", "elapsed", "samples_per_sec", "loss", "accuracy")  # kept from each batch


class StoreRecorder:
    """Writes a run's events to the store and keeps its progress; ``forward`` gets every event too."""

    def __init__(self, store: RunStore, run_id: str, forward: EventSink | None = None):
        self.store, self.run_id, self.forward = store, run_id, forward
        self.buffer: list[Event] = []
        self.progress: dict[str, Any] = {}
        self.last_flush = 0.0
        self.first_batch = True
        self.snapshots = SnapshotWriter(store, run_id)

    def __call__(self, event: Event) -> None:
        if isinstance(event, StartEvent):
            self.progress.update(
                epoch=0,
                epochs=event.epochs,
                batch=0,
                steps_per_epoch=event.steps_per_epoch,
                elapsed=0.0,
                samples_per_sec=None,
                lr=event.lr,
            )
            self.flush()
        elif isinstance(event, BatchEvent):
            self.buffer.append(event)
            self.progress.update({k: getattr(event, k) for k in PROGRESS_FIELDS})
            # The first batch at once (the chart's first point right after a Train click), then in bulk.
            if self.first_batch or time.monotonic() - self.last_flush >= BATCH_FLUSH_SECONDS:
                self.first_batch = False
                self.flush()
        elif isinstance(event, EpochEvent):
            self.buffer.append(event)
            self.progress.update(
                {k: v for k, v in vars(event).items() if v is not None and k != "grad_norms"}
            )
            self.progress["batch"] = self.progress.get("steps_per_epoch") or self.progress.get("batch")
            self.flush()
        elif isinstance(event, SnapshotEvent):
            self.snapshots(event)
        if self.forward is not None:
            self.forward(event)

    def flush(self, wait: bool = False) -> None:
        """Write the buffered events and the progress now; ``wait``: until the database takes them.

        Without ``wait``, a transient failure keeps the events for the next flush.
        """
        self.last_flush = time.monotonic()
        try:
            retrying(self._write) if wait else self._write()
        except Exception as exc:
            if wait or not transient(exc):
                raise
            return
        self.buffer = []

    def _write(self) -> None:
        self.store.add_events(self.run_id, self.buffer, dict(self.progress))


class StoreStopCheck:
    """``should_stop`` for ``train``: true once the run's stop flag is set (or ``local_flag``, a signal)."""

    def __init__(self, store: RunStore, run_id: str, local_flag: threading.Event | None = None):
        self.store, self.run_id = store, run_id
        self.local_flag = local_flag or threading.Event()
        self.last, self.value = 0.0, False

    def __call__(self) -> bool:
        if self.local_flag.is_set():
            return True
        now = time.monotonic()
        if not self.value and now - self.last >= STOP_POLL_SECONDS:
            self.last = now
            try:
                self.value = self.store.stop_requested(self.run_id)
            except Exception as exc:  # the database is restarting: ask again at the next poll
                if not transient(exc):
                    raise
        return self.value
