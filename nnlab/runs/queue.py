"""The queue as the dispatcher and a claiming worker see it, inside ``RunStore.transaction()``.

While one ``QueueTransaction`` lasts, every other one waits (SQLite: the write lock; PostgreSQL: an
advisory lock), so counting the running runs and starting queued ones is one atomic step however
many processes and machines dispatch at once: at most ``max_concurrent`` runs ever start. The rows
it reads are locked until the commit (``FOR UPDATE``), so a stop request or a delete arriving at
the same moment waits and then sees the run as started. ``Runner.submit`` stores a new run inside
one too, after counting what its limits count (``active_count``, ``waiting_count``): two submits at
once cannot both see room for one more.
"""

from __future__ import annotations

import json
import time
from typing import Any

import sqlalchemy as sa

from nnlab.runs.database import clock, row_to_run
from nnlab.runs.record import ACTIVE, Run
from nnlab.runs.schema import runs


class QueueTransaction:
    """The queue inside the dispatcher's lock; ``connection`` is the transaction's SQLAlchemy connection."""

    def __init__(self, connection: sa.Connection):
        self.connection = connection

    def running_count(self) -> int:
        """How many runs are running now."""
        count = sa.select(sa.func.count()).select_from(runs).where(runs.c.status == "running")
        return int(self.connection.scalar(count) or 0)

    def active_count(self, owner: str) -> int:
        """How many runs of ``owner`` are queued or running."""
        query = sa.select(sa.func.count()).where(runs.c.owner == owner, runs.c.status.in_(ACTIVE))
        return int(self.connection.scalar(query) or 0)

    def waiting_count(self) -> int:
        """How many runs wait in the queue (queued, no stop asked)."""
        query = sa.select(sa.func.count()).where(runs.c.status == "queued", runs.c.stop_requested == 0)
        return int(self.connection.scalar(query) or 0)

    def insert(self, row: dict[str, Any]) -> None:
        """Store a new run (a ``runs`` row), committed with the transaction."""
        self.connection.execute(sa.insert(runs).values(**row))

    def next_queued(self, limit: int) -> list[str]:
        """The ids of up to ``limit`` queued runs, oldest first (locked until the commit)."""
        query = (
            sa.select(runs.c.id)
            .where(runs.c.status == "queued", runs.c.stop_requested == 0)
            .order_by(runs.c.seq)
            .limit(limit)
            .with_for_update()
        )
        return list(self.connection.scalars(query))

    def get(self, run_id: str) -> Run | None:
        """The run as it stands (locked until the commit), or None."""
        row = self.connection.execute(sa.select(runs).where(runs.c.id == run_id).with_for_update()).first()
        return row_to_run(row) if row else None

    def start(self, run_id: str, handle: dict[str, Any]) -> None:
        """Mark the run running, claimed by the worker ``handle`` names, from now on (its first heartbeat)."""
        values = {"status": "running", "started": time.time(), "worker": json.dumps(handle), "progress": "{}"}
        self._set(run_id, heartbeat=clock(self.connection.dialect.name), **values)

    def fail(self, run_id: str, message: str) -> None:
        """Mark the run failed with ``message`` (its worker could not be started)."""
        self._set(run_id, status="failed", finished=time.time(), error=message)

    def _set(self, run_id: str, **values: Any) -> None:
        self.connection.execute(sa.update(runs).where(runs.c.id == run_id).values(**values))
