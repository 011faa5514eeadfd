"""Learning replayed: small snapshots of a network taken while it trains, kept with its run.

A worker's training takes a ``SnapshotEvent`` (``training/snapshots.py``) at the random start, a
few times in the first epoch and after every epoch: the first weight layer's kernels (or its first
``MAX_UNITS`` units' weights) and the probabilities it gives a fixed probe set of ``PROBE_PER_DIGIT``
test images of each digit. ``SnapshotWriter`` keeps each as a run artifact of its own
(``snapshot_003.npz``, a few kB) and rewrites a small index (``snapshots.json``), so a snapshot costs
one small file write however long the training; ``read_snapshots`` and ``latest_snapshot`` read
them back for the Inspect page's slider and the live view. No TensorFlow here.
"""

from __future__ import annotations

import io
import json
from dataclasses import dataclass
from typing import Any

import numpy as np

from nnlab.events import SnapshotEvent
from nnlab.runs.retry import retrying, transient

INDEX = "snapshots.json"
PROBE_PER_DIGIT = 10  # 100 probe images
FIRST_EPOCH_MARKS = (0.1, 0.5)  # shares of the first epoch after which a snapshot is taken
MAX_UNITS = 32  # a first Dense layer keeps this many units' weights (784 each); kernels are kept whole
KERNEL_KINDS = ("Conv2D", "Dense")


@dataclass(frozen=True, eq=False)
class Snapshot:
    """The network after ``epoch`` epochs: its first layer's weights and its probe probabilities."""

    epoch: float
    layer: str
    weights: np.ndarray
    probs: np.ndarray  # (probe images, 10)
    probe: np.ndarray  # the probe images' numbers in the test set
    labels: np.ndarray  # their true digits

    @property
    def predictions(self) -> np.ndarray:
        return self.probs.argmax(axis=1)

    @property
    def accuracy(self) -> float:
        return float(np.mean(self.predictions == self.labels))


def probe_indices(labels: np.ndarray, per_digit: int = PROBE_PER_DIGIT) -> np.ndarray:
    """The first ``per_digit`` test images of each digit, digit by digit: the same set for every run."""
    y = np.asarray(labels)
    return np.concatenate([np.flatnonzero(y == d)[:per_digit] for d in range(10)]).astype(np.int64)


def first_kernel_layer(model: Any) -> Any | None:
    """The model's first Conv2D or Dense layer (the one whose weights read the pixels), or None."""
    return next((layer for layer in model.layers if type(layer).__name__ in KERNEL_KINDS), None)


def kept_weights(kernel: np.ndarray) -> np.ndarray:
    """What a snapshot keeps of a kernel: every conv kernel, or a Dense layer's first MAX_UNITS units."""
    k = np.asarray(kernel, dtype=np.float32)
    return k if k.ndim == 4 else k[:, :MAX_UNITS]


def epoch_label(epoch: float) -> str:
    """0 -> 'the start', 0.25 -> '0.25 epochs', 1 -> '1 epoch'."""
    if epoch == 0:
        return "the start"
    return f"{epoch:g} epoch" + ("" if epoch == 1 else "s")


SNAPSHOT_WAIT_S = 30.0  # how long a snapshot waits for the database before it is skipped


class SnapshotWriter:
    """Keeps a run's snapshot events in the store, one artifact each plus the index."""

    def __init__(self, store: Any, run_id: str):
        self.store, self.run_id = store, run_id
        self.entries: list[dict[str, Any]] = []

    def __call__(self, event: SnapshotEvent) -> None:
        name = f"snapshot_{len(self.entries):03d}.npz"
        buffer = io.BytesIO()
        np.savez(
            buffer, weights=np.asarray(event.weights, np.float32), probs=np.asarray(event.probs, np.float32)
        )
        entries = [*self.entries, {"epoch": float(event.epoch), "file": name}]
        index = {"layer": event.layer, "probe": [int(i) for i in event.probe], "snapshots": entries}
        try:  # a database restarting (PostgreSQL) is waited for a while, then this snapshot is skipped
            retrying(lambda: self.store.write_artifact(self.run_id, name, buffer.getvalue()), SNAPSHOT_WAIT_S)
            retrying(
                lambda: self.store.write_artifact(self.run_id, INDEX, json.dumps(index).encode()),
                SNAPSHOT_WAIT_S,
            )
        except Exception as exc:
            if not transient(exc):
                raise
            print(
                f"snapshot at epoch {event.epoch:.2f} not kept: the run database is not answering", flush=True
            )
            return
        self.entries = entries


def _index(store: Any, run_id: str) -> dict[str, Any] | None:
    raw = store.read_artifact(run_id, INDEX)
    try:
        index = json.loads(raw) if raw else None
    except ValueError:
        return None
    return index if isinstance(index, dict) and index.get("snapshots") else None


def _load(store: Any, run_id: str, index: dict[str, Any], entry: dict[str, Any]) -> Snapshot | None:
    from nnlab.evaluation import mnist_test_set

    raw = store.read_artifact(run_id, entry["file"])
    if raw is None:
        return None
    try:
        with np.load(io.BytesIO(raw), allow_pickle=False) as npz:
            weights, probs = npz["weights"], npz["probs"]
    except (OSError, ValueError, KeyError, EOFError):
        return None
    probe = np.asarray(index["probe"], dtype=np.int64)
    labels = mnist_test_set()[1][probe]
    return Snapshot(float(entry["epoch"]), str(index["layer"]), weights, probs, probe, labels)


def snapshot_epochs(store: Any, run_id: str) -> list[float]:
    """When the run's snapshots were taken, in epochs (empty where it has none)."""
    index = _index(store, run_id)
    return [float(e["epoch"]) for e in index["snapshots"]] if index else []


def read_snapshots(store: Any, run_id: str) -> list[Snapshot]:
    """Every snapshot of a run, oldest first (those that cannot be read are left out)."""
    index = _index(store, run_id)
    if index is None:
        return []
    loaded = (_load(store, run_id, index, entry) for entry in index["snapshots"])
    return [s for s in loaded if s is not None]


def latest_snapshot(store: Any, run_id: str) -> Snapshot | None:
    """The run's newest snapshot (the live view shows it), or None."""
    index = _index(store, run_id)
    return _load(store, run_id, index, index["snapshots"][-1]) if index else None
