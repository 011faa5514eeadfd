"""The store's upkeep: run folders a crash left without a run, and runs whose worker died.

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
from nnlab.runs.integrity import MODEL_FILE
from nnlab.runs.processes import log_hint, process_alive
from nnlab.runs.record import DIED_MESSAGE
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
    """Mark ``running`` runs whose worker is gone as failed, in words (``DIED_MESSAGE`` and the
    worker's last error line); returns their ids.

    ``is_alive`` checks an executor's handle (default: the local pid plus start time).
    """
    is_alive = is_alive or process_alive
    with store.db.connect() as con:
        rows = con.execute(sa.select(runs.c.id, runs.c.worker).where(runs.c.status == "running")).all()
    dead = [(r.id, r.worker) for r in rows if not is_alive(loads(r.worker, {}))]
    failed = []
    for run_id, worker in dead:
        message = DIED_MESSAGE + log_hint(store.log_path(run_id))
        # Only if nothing changed meanwhile (the worker may have just finished cleanly).
        unchanged = sa.and_(runs.c.id == run_id, runs.c.status == "running", runs.c.worker == worker)
        with store.db.write() as con:
            result = con.execute(
                sa.update(runs).where(unchanged).values(status="failed", finished=time.time(), error=message)
            )
        if result.rowcount:
            failed.append(run_id)
    return failed
