"""A run's record in its own folder, ``run.json``: what ``nnlab repair`` rebuilds the run list from.

With SQLite, the database is one file: if it is damaged, the run list would be lost while the models
sit safely in ``runs/<id>/``. So the store also writes each run's record (name, owner, network,
settings, status, test scores, error; not its metrics) into its folder when the run is created and
whenever its status changes, atomically. ``read_record`` reads one back, trusting nothing.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from nnlab.runs.artifacts import write_atomically
from nnlab.runs.integrity import RECORD_FILE
from nnlab.runs.record import Run

KEPT = ("id", "name", "owner", "status", "created", "started", "finished", "spec", "config", "error")
KEPT += ("test_loss", "test_accuracy", "n_params")


def write_record(run_dir: Path, run: Run) -> None:
    """Keep ``run``'s record as ``run_dir/run.json`` (a reader sees the old or the new whole)."""
    values = run.to_dict()
    record = {"format": 1, **{key: values[key] for key in KEPT}}
    write_atomically(run_dir / RECORD_FILE, json.dumps(record, indent=1).encode())


def read_record(run_dir: Path) -> dict[str, Any] | None:
    """The record in ``run_dir``, or None where there is none or it cannot be read."""
    try:
        record = json.loads((run_dir / RECORD_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(record, dict) or record.get("id") != run_dir.name:
        return None
    return {key: record.get(key) for key in KEPT}
