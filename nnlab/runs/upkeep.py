"""The store's upkeep: run folders a crash left without a run, and runs whose worker died (here or
on another machine: ``heartbeats.py``).

Both take a ``RunStore``; ``RunStore.clean_orphans`` and ``RunStore.recover`` call them (``recover``
also on every listing, and the background dispatcher every few seconds through ``Runner.dispatch``).
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable
from typing import Any

import sqlalchemy as sa

from nnlab.runs.database import loads
from nnlab.runs.heartbeats import heartbeat_timeout, is_here, presumed_dead
from nnlab.runs.integrity import MODEL_FILE
from nnlab.runs.processes import log_hint
from nnlab.runs.record import DIED_MESSAGE, LOST_MESSAGE
from nnlab.runs.schema import runs


def clean_orphans(store: Any) -> list[str]:
    """Remove run folders that have no run (left by a crash during delete or create).

    A folder that still holds a model is never removed: a model is what a user made.
    """
    with store.db.connect() as con:
        known = set(con.scalars(sa.select(runs.c.id)))
    removed = []
    cutoff = time.time() - 60  # a folder being created right now has no row yet
    for path in (store.root / "runs").iterdir():
        orphan = path.is_dir() and path.name not in known and not (path / MODEL_FILE).exists()
        if orphan and path.stat().st_mtime < cutoff:
            shutil.rmtree(path, ignore_errors=True)
            removed.append(path.name)
    return removed


def recover(store: Any, is_alive: Callable[[dict], bool] | None = None) -> list[str]:
    """Mark ``running`` runs whose worker is gone as failed, in words; returns their ids.

    A worker of this machine is gone when its process is (``is_alive``, default: the pid plus start
    time; the message then quotes the worker's last error line); a worker of another machine when
    the run's heartbeat is stale (``heartbeats.presumed_dead``, ``LOST_MESSAGE``). Every machine and
    web server may recover at once: a run is failed only if nothing changed since it was read (its
    status, its worker, its heartbeat), so a worker that just finished, or just beat, wins.
    """
    timeout = heartbeat_timeout()
    with store.db.connect() as con:
        now = float(con.scalar(sa.select(store.db.clock())))
        rows = con.execute(
            sa.select(runs.c.id, runs.c.worker, runs.c.heartbeat).where(runs.c.status == "running")
        ).all()
    failed = []
    for row in rows:
        handle = loads(row.worker, {})
        if not presumed_dead(handle, row.heartbeat, now, timeout, is_alive):
            continue
        if handle.get("pid") is not None and not is_here(handle) and row.heartbeat is not None:
            message = LOST_MESSAGE.format(host=handle.get("host"), seconds=now - row.heartbeat)
        else:
            message = DIED_MESSAGE + log_hint(store.log_path(row.id))
        unchanged = sa.and_(
            runs.c.id == row.id,
            runs.c.status == "running",
            runs.c.worker == row.worker,
            runs.c.heartbeat.is_not_distinct_from(row.heartbeat),
        )
        with store.db.write() as con:
            result = con.execute(
                sa.update(runs).where(unchanged).values(status="failed", finished=time.time(), error=message)
            )
        if result.rowcount:
            failed.append(row.id)
    return failed


def seems_dead(run: Any) -> bool:
    """A cheap first look at one running run (this machine's clock): worth a ``recover``?"""
    return presumed_dead(run.worker, run.heartbeat, time.time(), heartbeat_timeout())
