"""Heartbeats: how any machine tells that a worker, on this machine or another, is still alive.

Every worker process (a warm local one, a Celery one, a terminal's foreground training) registers a
row in the ``workers`` table and, from a daemon thread, writes a heartbeat every few seconds: its
row's ``beat`` and, while it trains, the run's own ``heartbeat`` column, both by the database's clock
(``Database.clock``), so machines whose clocks disagree still agree on what is stale.

A running run's worker is presumed dead (``presumed_dead``):

- on this machine, when its process is gone (pid plus start time: noticed at once, a ``kill -9``
  included);
- on another machine, when the run's heartbeat is older than the timeout (``NNLAB_HEARTBEAT_TIMEOUT``
  seconds, 30 by default): the process was killed, the machine was lost, or it cannot reach the
  database any more.

The ``workers`` rows also say how many workers are connected and how many of them train right now
(``worker_counts``), for the pages and ``nnlab workers``.
"""

from __future__ import annotations

import os
import socket
import sys
import threading
import time
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from nnlab.runs.processes import process_alive, process_handle
from nnlab.runs.schema import runs, workers

ENV_TIMEOUT = "NNLAB_HEARTBEAT_TIMEOUT"
DEFAULT_TIMEOUT_S = 30.0
FORGET_AFTER_S = 3600.0  # rows of workers silent for this long are removed


def heartbeat_timeout() -> float:
    """Seconds without a heartbeat after which a worker is presumed dead (``$NNLAB_HEARTBEAT_TIMEOUT``)."""
    try:
        value = float(os.environ.get(ENV_TIMEOUT, "") or DEFAULT_TIMEOUT_S)
    except ValueError:
        return DEFAULT_TIMEOUT_S
    return value if value > 0 else DEFAULT_TIMEOUT_S


def beat_interval(timeout: float | None = None) -> float:
    """How often a worker beats: five beats per timeout, at most every 2 s."""
    return min(2.0, (timeout or heartbeat_timeout()) / 5)


def worker_id(handle: dict[str, Any]) -> str | None:
    """The ``workers`` row of the process a handle names ("host/pid/start"), or None (no process)."""
    if not handle or handle.get("pid") is None:
        return None
    return f"{handle.get('host') or socket.gethostname()}/{handle['pid']}/{handle.get('start')}"


def is_here(handle: dict[str, Any]) -> bool:
    """Whether the handle names a process of this machine (a handle without a machine is local)."""
    return handle.get("host", socket.gethostname()) == socket.gethostname()


def presumed_dead(handle: dict, heartbeat: float | None, now: float, timeout: float, is_alive=None) -> bool:
    """Whether a running run's worker is gone: its process here, else its heartbeat, decides.

    ``is_alive`` checks a handle of this machine (default: pid plus start time). A run without a
    heartbeat (stored before heartbeats, or by an executor of its own) is left to ``is_alive``.
    """
    if not handle:
        return True  # a running run that no worker owns
    if handle.get("pid") is not None and is_here(handle):
        return not (is_alive or process_alive)(handle)
    if heartbeat is not None:
        return heartbeat < now - timeout
    return not (is_alive or process_alive)(handle)


class Heartbeat:
    """This process as a worker in the store: registered by ``start``, beating from a daemon thread.

    ``busy(run_id)`` says which run it trains (its heartbeat then keeps that run alive too) and
    ``busy(None)`` that it waits; ``stop`` removes the row. A failed beat (the database restarting)
    is retried at the next one: the training goes on.
    """

    def __init__(self, store, kind: str, handle: dict[str, Any] | None = None):
        self.db = store.db
        self.kind = kind
        self.handle = handle or process_handle()
        self.id = worker_id(self.handle)
        self.run_id: str | None = None
        self.started = time.time()
        self.interval = beat_interval()
        self._stopping = threading.Event()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    def start(self) -> Heartbeat:
        """Register (the first beat) and keep beating until ``stop``."""
        self.beat()
        with self.db.write() as con:  # workers that went silent long ago
            con.execute(sa.delete(workers).where(workers.c.beat < self.db.clock() - FORGET_AFTER_S))
        self._thread = threading.Thread(target=self._loop, name="nnlab-heartbeat", daemon=True)
        self._thread.start()
        return self

    def busy(self, run_id: str | None) -> None:
        """From now on this worker trains ``run_id`` (None: it waits for a run); said at once."""
        self.run_id = run_id
        self._try_beat()

    def beat(self) -> None:
        """Write one heartbeat now (raises what the database raises)."""
        with self._lock, self.db.write() as con:
            now = self.db.clock()
            row = {
                "id": self.id,
                "host": self.handle.get("host") or socket.gethostname(),
                "pid": int(self.handle["pid"]),
                "kind": self.kind,
                "run_id": self.run_id,
                "started": self.started,
                "beat": now,
            }
            self.db.upsert(con, workers, row)
            if self.run_id is not None:
                mine = sa.and_(runs.c.id == self.run_id, runs.c.status == "running")
                con.execute(sa.update(runs).where(mine).values(heartbeat=now))

    def _try_beat(self) -> None:
        try:
            self.beat()
        except Exception as exc:  # the database is restarting or unreachable: the next beat retries
            print(f"heartbeat not written ({type(exc).__name__}); retrying", file=sys.stderr, flush=True)

    def _loop(self) -> None:
        while not self._stopping.wait(self.interval):
            self._try_beat()

    def stop(self) -> None:
        """Stop beating and leave the table (this worker is no longer connected)."""
        self._stopping.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=5)
        try:
            with self._lock, self.db.write() as con:
                con.execute(sa.delete(workers).where(workers.c.id == self.id))
        except Exception:  # gone with the database: the row goes stale and is forgotten
            pass


@dataclass(frozen=True)
class WorkerCounts:
    """Workers whose heartbeat is fresh: how many, how many train now, on how many machines."""

    connected: int
    busy: int
    machines: int


def connected_workers(store) -> list[dict[str, Any]]:
    """Workers with a fresh heartbeat, oldest first (a dead process of this machine left out at once)."""
    with store.db.connect() as con:
        fresh = workers.c.beat >= store.db.clock() - heartbeat_timeout()
        rows = con.execute(sa.select(workers).where(fresh).order_by(workers.c.started)).all()
    found = [dict(r._mapping) for r in rows]
    return [w for w in found if not _dead_here(w)]


def worker_counts(store) -> WorkerCounts:
    """How many workers are connected, busy, and on how many machines (from the heartbeats)."""
    found = connected_workers(store)
    return WorkerCounts(
        connected=len(found),
        busy=sum(w["run_id"] is not None for w in found),
        machines=len({w["host"] for w in found}),
    )


def _dead_here(row: dict[str, Any]) -> bool:
    if row["host"] != socket.gethostname():
        return False
    _, _, start = row["id"].rpartition("/")
    return not process_alive({"pid": row["pid"], "start": None if start == "None" else int(start)})
