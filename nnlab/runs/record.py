"""One training as the store keeps it, its possible statuses, and the store's errors."""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from typing import Any

STATUSES = ("queued", "running", "completed", "stopped", "failed")
ACTIVE = ("queued", "running")

DIED_MESSAGE = (
    "The training process ended unexpectedly (it was killed, ran out of memory or crashed) "
    "before the training finished."
)
LOST_MESSAGE = (
    "The training's worker on {host} stopped answering (no heartbeat for {seconds:.0f} s): its process "
    "was killed, its machine was lost or it lost the connection to the run database, before the "
    "training finished."
)


class RunNotFound(LookupError):
    """No run has this id (or the reference matches none, or several)."""

    def __str__(self) -> str:  # plain words, not KeyError's quoted repr
        return str(self.args[0]) if self.args else "run not found"


class StoreError(RuntimeError):
    """The run database cannot be opened (damaged, or not a database)."""


@dataclass
class Run:
    """One training as stored; a snapshot (read it again for fresh values)."""

    id: str
    name: str
    owner: str | None
    status: str
    created: float
    started: float | None
    finished: float | None
    spec: dict
    config: dict
    error: str | None
    test_loss: float | None
    test_accuracy: float | None
    n_params: int
    progress: dict
    stop_requested: bool
    worker: dict = field(default_factory=dict)  # the executor's handle (local: pid and start time)
    heartbeat: float | None = None  # the database's clock at its worker's last heartbeat (running runs)

    @property
    def is_active(self) -> bool:
        return self.status in ACTIVE

    @property
    def architecture(self) -> str:
        return str(self.spec.get("name", "Custom network"))

    @property
    def duration(self) -> float | None:
        """Seconds from start to finish (or to now while running); None before it starts."""
        if self.started is None:
            return None
        return (self.finished or time.time()) - self.started

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)
