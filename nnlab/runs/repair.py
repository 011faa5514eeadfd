"""``nnlab repair``: rebuild an SQLite store's run list from its run folders, keeping the damaged file.

What each folder holds decides what comes back, best first:

1. the run's row, where the old database can still be read (then its metrics come back too);
2. its ``run.json`` (``folders.py``): name, owner, network, settings, status, test scores;
3. its ``model.keras`` alone (a folder written before ``run.json`` existed): the network is read
   from the model (``importing.convert``), the test scores from its saved test predictions.

A run that was queued or running is brought back as failed (its worker, if any, lost its list).
The new database is built beside the old one (``runs.sqlite.rebuilding``); only once it is complete
is the old file moved aside, never deleted (``runs.sqlite.damaged-<time>``), and the new one put in
its place. Stop NN Lab's servers and workers first.
"""

from __future__ import annotations

import json
import os
import sqlite3
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from nnlab.runs.database import Database, dispose_engines, sqlite_url
from nnlab.runs.folders import KEPT, read_record
from nnlab.runs.integrity import MODEL_FILE
from nnlab.runs.record import ACTIVE, STATUSES
from nnlab.runs.schema import events, runs

DB_NAME = "runs.sqlite"
INTERRUPTED = (
    "This run was interrupted: the run list was rebuilt (nnlab repair) while it was waiting or training."
)
RECOVERED_NAME = "Recovered run {id}"


@dataclass
class RepairReport:
    """What a repair did: the runs brought back (by source) and where the old file was kept."""

    from_database: list[str] = field(default_factory=list)
    from_records: list[str] = field(default_factory=list)
    from_models: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)  # folders with neither a record nor a model
    kept_as: Path | None = None

    @property
    def runs(self) -> int:
        return len(self.from_database) + len(self.from_records) + len(self.from_models)


def repair(root: str | Path) -> RepairReport:
    """Rebuild ``root``'s run list (see the module's description); returns what was done."""
    root = Path(root).expanduser().absolute()
    path, runs_dir = root / DB_NAME, root / "runs"
    dispose_engines()  # this process's connections to the old file
    old_rows, old_events = _salvage(path)
    report, rows = RepairReport(), []
    for folder in sorted(p for p in runs_dir.iterdir() if p.is_dir()) if runs_dir.is_dir() else []:
        row, source = _row_for(folder, old_rows)
        if row is None:
            report.skipped.append(folder.name)
            continue
        rows.append(row)
        getattr(report, source).append(folder.name)
    fresh = root / f"{DB_NAME}.rebuilding"
    _remove_with_journal(fresh)
    db = Database(sqlite_url(fresh))
    with db.write() as con:
        for row in sorted(rows, key=lambda r: r["created"]):
            con.execute(sa.insert(runs).values(**row))
        kept = set(report.from_database)
        metrics = [e for e in old_events if e["run_id"] in kept]
        if metrics:
            con.execute(sa.insert(events), metrics)
    dispose_engines()  # the new file complete and closed (its journal folded in)
    if path.exists():
        report.kept_as = root / f"{DB_NAME}.damaged-{time.strftime('%Y%m%d-%H%M%S')}"
        for suffix in ("", "-wal", "-shm"):
            if Path(f"{path}{suffix}").exists():
                os.replace(f"{path}{suffix}", f"{report.kept_as}{suffix}")
    os.replace(fresh, path)
    return report


def _salvage(path: Path) -> tuple[dict[str, dict], list[dict]]:
    """The rows of ``runs`` and ``events`` that can still be read from the old file (maybe none)."""
    found: dict[str, dict] = {}
    found_events: list[dict] = []
    if not path.is_file() or path.stat().st_size == 0:
        return found, found_events
    try:
        con = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    except sqlite3.Error:
        return found, found_events
    con.row_factory = sqlite3.Row
    try:
        for row in con.execute("SELECT * FROM runs ORDER BY seq"):
            found[str(row["id"])] = dict(row)
        for row in con.execute("SELECT run_id, kind, data FROM events ORDER BY seq"):
            found_events.append(dict(row))
    except sqlite3.Error:
        pass  # what was read before the damaged page is kept
    finally:
        con.close()
    return found, found_events


def _row_for(folder: Path, old_rows: dict[str, dict]) -> tuple[dict | None, str]:
    old = old_rows.get(folder.name)
    if old is not None:
        values = {k: old.get(k) for k in KEPT} | {
            "spec": _loads(old.get("spec")),
            "config": _loads(old.get("config")),
        }
        row = _clean(values, folder)
        if row is not None:
            row["progress"] = str(old.get("progress") or "{}")
            return row, "from_database"
    record = read_record(folder)
    if record is not None and (row := _clean(record, folder)) is not None:
        return row, "from_records"
    if (folder / MODEL_FILE).is_file():
        return _from_model(folder), "from_models"
    return None, ""


def _clean(values: dict[str, Any], folder: Path) -> dict | None:
    """A ``runs`` row from untrusted values (a salvaged row, a record); None if it cannot be one."""
    spec, config = values.get("spec"), values.get("config")
    if not isinstance(spec, dict) or not isinstance(config, dict):
        return None
    status = values.get("status") if values.get("status") in STATUSES else "failed"
    error = values.get("error") if isinstance(values.get("error"), str) else None
    if status in ACTIVE:
        status, error = "failed", INTERRUPTED
    name = values.get("name")
    return {
        "id": folder.name,
        "name": name if isinstance(name, str) and name else RECOVERED_NAME.format(id=folder.name),
        "owner": values.get("owner") if isinstance(values.get("owner"), str) else None,
        "status": status,
        "created": _number(values.get("created")) or folder.stat().st_mtime,
        "started": _number(values.get("started")),
        "finished": _number(values.get("finished")) or (time.time() if error == INTERRUPTED else None),
        "spec": json.dumps(spec),
        "config": json.dumps(config),
        "error": error,
        "test_loss": _number(values.get("test_loss")),
        "test_accuracy": _number(values.get("test_accuracy")),
        "n_params": int(_number(values.get("n_params")) or 0),
    }


def _from_model(folder: Path) -> dict:
    """A run rebuilt from its model alone: the network read from the model, the scores from its
    saved test predictions (or none)."""
    from nnlab.importing.convert import convert
    from nnlab.modelio import load_model_safely
    from nnlab.training import TrainConfig

    name = RECOVERED_NAME.format(id=folder.name)
    conversion = convert(load_model_safely(folder / MODEL_FILE), name=name)
    loss, accuracy = _scores(folder)
    finished = (folder / MODEL_FILE).stat().st_mtime
    values = {"name": name, "status": "completed", "created": finished, "finished": finished}
    values |= {"test_loss": loss, "test_accuracy": accuracy, "spec": dict(conversion.spec)}
    values |= {"config": TrainConfig().to_dict(), "n_params": _count(conversion.spec)}
    row = _clean(values, folder)
    assert row is not None
    return row


def _scores(folder: Path) -> tuple[float | None, float | None]:
    import numpy as np

    from nnlab.evaluation import PREDICTIONS_FILE, accuracy_and_loss, mnist_test_set

    try:
        probs = np.load(folder / PREDICTIONS_FILE, allow_pickle=False)
        accuracy, loss = accuracy_and_loss(probs, mnist_test_set()[1])
    except (OSError, ValueError, EOFError, IndexError):  # none, or not the test set's predictions
        return None, None
    return float(loss), float(accuracy)


def _count(spec: Any) -> int:
    from nnlab.architectures import count_params

    try:
        return int(count_params(spec))
    except Exception:  # a network with layers NN Lab cannot build: its count is unknown here
        return 0


def _loads(text: Any) -> Any:
    try:
        return json.loads(text) if isinstance(text, str) else None
    except ValueError:
        return None


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def _remove_with_journal(path: Path) -> None:
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
