"""The run store: every training as a row in an embedded SQLite database plus a folder.

Layout under the root (``$NNLAB_HOME``, else the per-user data directory)::

    runs.sqlite            the runs, their metric events (WAL mode, safe for many processes)
    runs/<run id>/         model.keras (written atomically) and worker.log

The database itself (schema, connections, why SQLite) is in ``database.py``.

A run whose worker process has died while it was ``running`` is turned into ``failed`` by
``recover()``, which ``list()`` and ``get()`` apply; a worker is identified by its pid plus the
process start time, so a recycled pid is not taken for a live worker.
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pandas as pd

from nnlab.events import Event, global_step, to_record
from nnlab.runs.database import Database, loads, row_to_run
from nnlab.runs.processes import log_hint, process_alive
from nnlab.runs.record import DIED_MESSAGE, STATUSES, Run, RunNotFound, StoreError

ENV_HOME = "NNLAB_HOME"
DB_NAME = "runs.sqlite"

EPOCH_COLUMNS = ["epoch", "loss", "accuracy", "val_loss", "val_accuracy", "lr", "elapsed", "samples_per_sec"]
BATCH_COLUMNS = ["epoch", "batch", "step", "loss", "accuracy", "elapsed", "samples_per_sec"]


def default_root() -> Path:
    """``$NNLAB_HOME`` if set, else the per-user data directory (e.g. ``~/.local/share/nnlab``)."""
    env = os.environ.get(ENV_HOME)
    if env:
        return Path(env).expanduser()
    import platformdirs

    return Path(platformdirs.user_data_dir("nnlab", appauthor=False))


# ---- the store -----------------------------------------------------------------------------------


class RunStore:
    """Runs in SQLite plus a folder each, safe for many threads and processes at once."""

    def __init__(self, root: str | Path | None = None):
        # Absolute, so that a worker started in another directory finds the same store.
        self.root = (Path(root).expanduser() if root is not None else default_root()).absolute()
        (self.root / "runs").mkdir(parents=True, exist_ok=True)
        self.db_path = self.root / DB_NAME
        try:
            self.db = Database(self.db_path)
        except sqlite3.DatabaseError as exc:
            raise StoreError(
                f"The run database {self.db_path} cannot be opened ({exc}); "
                "move it away to start with an empty store."
            ) from exc

    def __repr__(self) -> str:
        return f"RunStore({str(self.root)!r})"

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """A write transaction for the runner (dispatch): every other writer waits until it ends."""
        with self.db.write() as con:
            yield con

    # -- paths -------------------------------------------------------------------------------------

    def run_dir(self, run_id: str) -> Path:
        return self.root / "runs" / _safe_id(run_id)

    def model_path(self, run_id: str) -> Path:
        return self.run_dir(run_id) / "model.keras"

    def log_path(self, run_id: str) -> Path:
        return self.run_dir(run_id) / "worker.log"

    # -- artifacts: what a training leaves besides its metrics (test predictions, snapshots) -----------

    def write_artifact(self, run_id: str, name: str, data: bytes) -> None:
        """Keep ``data`` as the run's artifact ``name``, atomically (readers see the old or the new whole)."""
        path = self.run_dir(run_id) / _safe_name(name)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        try:
            tmp.write_bytes(data)
            os.replace(tmp, path)
        finally:
            tmp.unlink(missing_ok=True)

    def read_artifact(self, run_id: str, name: str) -> bytes | None:
        """The run's artifact ``name``, or None where it has none."""
        try:
            return (self.run_dir(run_id) / _safe_name(name)).read_bytes()
        except (FileNotFoundError, NotADirectoryError):
            return None

    # -- creating and reading ----------------------------------------------------------------------

    def create(
        self, spec: dict, config: dict, *,
        name: str | None = None, owner: str | None = None, worker: dict | None = None,
    ) -> Run:  # fmt: skip
        """A new queued run (the caller validates spec and config; see ``Runner.submit``).

        With ``worker`` (a handle), the run is created already running, claimed by that worker
        (a foreground training), so that no dispatcher can start it elsewhere.
        """
        from nnlab.architectures import count_params

        try:
            n_params = int(count_params(spec))
        except Exception:  # an invalid spec still gets stored (it will fail with a message)
            n_params = 0
        run_id = uuid.uuid4().hex[:12]
        now = time.time()
        spec_name = str(spec.get("name", "Custom network")) if isinstance(spec, dict) else "Custom network"
        name = (name or "").strip() or f"{spec_name}, {time.strftime('%b %d %H:%M:%S', time.localtime(now))}"
        self.run_dir(run_id).mkdir(parents=True, exist_ok=True)
        with self.db.write() as con:
            con.execute(
                "INSERT INTO runs (id, name, owner, status, created, started, spec, config, n_params, worker)"
                " VALUES (?,?,?,?,?,?,?,?,?,?)",
                (
                    run_id,
                    name,
                    owner,
                    "queued" if worker is None else "running",
                    now,
                    None if worker is None else now,
                    json.dumps(spec),
                    json.dumps(config),
                    n_params,
                    json.dumps(worker or {}),
                ),
            )
        run = self.get(run_id)
        assert run is not None
        return run

    def get(self, run_id: str) -> Run | None:
        """The run, or None. A run whose worker has died is reported (and stored) as failed."""
        run = self._get(run_id)
        if run is not None and run.status == "running" and not process_alive(run.worker):
            self.recover()
            run = self._get(run_id)
        return run

    def _get(self, run_id: str) -> Run | None:
        with self.db.connect() as con:
            row = con.execute("SELECT * FROM runs WHERE id=?", (run_id,)).fetchone()
        return row_to_run(row) if row else None

    def find(self, ref: str) -> Run:
        """A run by id, unique id prefix, or unique exact name (for the command line)."""
        run = self.get(ref)
        if run is not None:
            return run
        with self.db.connect() as con:
            rows = con.execute(
                "SELECT id FROM runs WHERE id LIKE ? ESCAPE '\\' OR name=?",
                (ref.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%", ref),
            ).fetchall()
        ids = sorted({r["id"] for r in rows})
        if len(ids) == 1:
            run = self.get(ids[0])
            if run is not None:
                return run
        if len(ids) > 1:
            raise RunNotFound(f"{ref!r} matches several runs ({', '.join(ids)}); give more of the id")
        raise RunNotFound(f"no run {ref!r}")

    def list(
        self, owner: str | None = None, include_unowned: bool = True, statuses: Iterable[str] | None = None
    ) -> list[Run]:
        """Runs, newest first; ``owner`` keeps that owner's runs (plus unowned ones if asked)."""
        self.recover()
        query, params = "SELECT * FROM runs", []
        where = []
        if owner is not None:
            where.append("(owner=? OR owner IS NULL)" if include_unowned else "owner=?")
            params.append(owner)
        if statuses is not None:
            wanted = list(statuses)
            where.append(f"status IN ({','.join('?' * len(wanted))})" if wanted else "0")
            params.extend(wanted)
        if where:
            query += " WHERE " + " AND ".join(where)
        with self.db.connect() as con:
            rows = con.execute(query + " ORDER BY seq DESC", params).fetchall()
        return [row_to_run(r) for r in rows]

    def queue_position(self, run_id: str) -> int | None:
        """1 = the next queued run to start; None if the run is not waiting in the queue."""
        with self.db.connect() as con:
            row = con.execute("SELECT seq, status, stop_requested FROM runs WHERE id=?", (run_id,)).fetchone()
            if row is None or row["status"] != "queued" or row["stop_requested"]:
                return None
            (ahead,) = con.execute(
                "SELECT COUNT(*) FROM runs WHERE status='queued' AND stop_requested=0 AND seq<=?",
                (row["seq"],),
            ).fetchone()
        return int(ahead)

    def queued_ids(self) -> list[str]:
        """Ids waiting in the queue, next first."""
        with self.db.connect() as con:
            rows = con.execute(
                "SELECT id FROM runs WHERE status='queued' AND stop_requested=0 ORDER BY seq"
            ).fetchall()
        return [r["id"] for r in rows]

    # -- metrics -----------------------------------------------------------------------------------

    def add_events(self, run_id: str, events: Iterable[Event], progress: dict | None = None) -> None:
        """Append metric events (epoch and batch events) and the latest progress, in one transaction."""
        rows = [(run_id, e.kind, json.dumps(to_record(e))) for e in events]
        with self.db.write() as con:
            if rows:
                con.executemany("INSERT INTO events (run_id, kind, data) VALUES (?,?,?)", rows)
            if progress is not None:
                con.execute("UPDATE runs SET progress=? WHERE id=?", (json.dumps(progress), run_id))

    def metrics(self, run_id: str, kind: str = "epoch") -> pd.DataFrame:
        """The metric history: one row per epoch (``kind="epoch"``) or per reported batch (``"batch"``).

        Batch rows carry ``step``, the batch number counted over the whole training.
        """
        if kind not in ("epoch", "batch"):
            raise ValueError("kind must be 'epoch' or 'batch'")
        with self.db.connect() as con:
            rows = con.execute(
                "SELECT data FROM events WHERE run_id=? AND kind=? ORDER BY seq", (run_id, kind)
            ).fetchall()
            prog = con.execute("SELECT progress FROM runs WHERE id=?", (run_id,)).fetchone()
        records = [loads(r["data"], {}) for r in rows]
        columns = list(EPOCH_COLUMNS if kind == "epoch" else BATCH_COLUMNS)
        if kind == "batch":
            steps = loads(prog["progress"], {}).get("steps_per_epoch") if prog else None
            for rec in records:  # rows stored by an older version have no step
                if "step" not in rec and steps and "epoch" in rec and "batch" in rec:
                    rec["step"] = global_step(rec["epoch"], rec["batch"], steps)
        frame = pd.DataFrame.from_records(records) if records else pd.DataFrame(columns=columns)
        extra = [c for c in frame.columns if c not in columns]
        return frame.reindex(columns=columns + extra)

    def events_after(self, run_id: str, after: int = 0) -> list[tuple[int, str, dict]]:
        """``(number, kind, record)`` of the run's metric events stored after number ``after``, oldest
        first: a live view reads only what is new each second (issue 13), not the whole history."""
        query = "SELECT seq, kind, data FROM events WHERE run_id=? AND kind IN ('batch','epoch') AND seq>?"
        with self.db.connect() as con:
            rows = con.execute(query + " ORDER BY seq", (run_id, after)).fetchall()
        return [(int(r["seq"]), r["kind"], loads(r["data"], {})) for r in rows]

    # -- changes -----------------------------------------------------------------------------------

    def update(self, run_id: str, **values: Any) -> None:
        """Set columns of one run (JSON-encoding dicts); for the runner and the worker."""
        if not values:
            return
        allowed = {
            "name",
            "status",
            "started",
            "finished",
            "error",
            "test_loss",
            "test_accuracy",
            "progress",
            "stop_requested",
            "worker",
        }
        bad = set(values) - allowed
        if bad:
            raise ValueError(f"cannot update {', '.join(sorted(bad))}")
        if "status" in values and values["status"] not in STATUSES:
            raise ValueError(f"unknown status {values['status']!r}")
        cols = ", ".join(f"{k}=?" for k in values)
        params = [json.dumps(v) if isinstance(v, dict) else v for v in values.values()]
        with self.db.write() as con:
            con.execute(f"UPDATE runs SET {cols} WHERE id=?", (*params, run_id))

    def stop_requested(self, run_id: str) -> bool:
        with self.db.connect() as con:
            row = con.execute("SELECT stop_requested FROM runs WHERE id=?", (run_id,)).fetchone()
        return bool(row and row["stop_requested"])

    def request_stop(self, run_id: str) -> None:
        """Ask a run to stop: a queued run is marked stopped at once (it never trains); a running one
        stops within a batch, keeping its model as it stands; a finished run is left as it is."""
        with self.db.write() as con:
            row = con.execute("SELECT status FROM runs WHERE id=?", (run_id,)).fetchone()
            if row is None:
                raise RunNotFound(f"no run {run_id!r}")
            if row["status"] == "queued":
                con.execute(
                    "UPDATE runs SET status='stopped', stop_requested=1, finished=?, error=NULL WHERE id=?",
                    (time.time(), run_id),
                )
            elif row["status"] == "running":
                con.execute("UPDATE runs SET stop_requested=1 WHERE id=?", (run_id,))

    def delete(self, run_id: str) -> None:
        """Remove a run, its metrics and its folder.

        Refuses (ValueError) while the run is running: stop it first and delete it once it has
        stopped. A queued run can be deleted at once (it leaves the queue).
        """
        run = self.get(run_id)  # applies recovery: a dead worker's run can be deleted
        if run is None:
            raise RunNotFound(f"no run {run_id!r}")
        with self.db.write() as con:
            row = con.execute("SELECT status FROM runs WHERE id=?", (run_id,)).fetchone()
            if row is None:
                return
            if row["status"] == "running":
                raise ValueError(
                    f"Run {run.name!r} is still training: stop it first, then delete it once it has stopped."
                )
            con.execute("DELETE FROM events WHERE run_id=?", (run_id,))
            con.execute("DELETE FROM runs WHERE id=?", (run_id,))
        # The folder goes after the row: a crash in between leaves only an orphan folder, which
        # the listing never reads and ``clean_orphans`` removes.
        shutil.rmtree(self.run_dir(run_id), ignore_errors=True)

    def clean_orphans(self) -> list[str]:
        """Remove run folders that have no run (left by a crash during delete or create).

        A folder that still holds a model is never removed: a model is what a user made.
        """
        with self.db.connect() as con:
            known = {r["id"] for r in con.execute("SELECT id FROM runs").fetchall()}
        removed = []
        cutoff = time.time() - 60  # a folder being created right now has no row yet
        for path in (self.root / "runs").iterdir():
            orphan = path.is_dir() and path.name not in known and not (path / "model.keras").exists()
            if orphan and path.stat().st_mtime < cutoff:
                shutil.rmtree(path, ignore_errors=True)
                removed.append(path.name)
        return removed

    def recover(self, is_alive: Callable[[dict], bool] | None = None) -> list[str]:
        """Mark ``running`` runs whose worker is gone as failed; returns their ids.

        ``is_alive`` checks an executor's handle (default: the local pid plus start time).
        """
        is_alive = is_alive or process_alive
        with self.db.connect() as con:
            rows = con.execute("SELECT id, worker FROM runs WHERE status='running'").fetchall()
        dead = [(r["id"], r["worker"]) for r in rows if not is_alive(loads(r["worker"], {}))]
        if not dead:
            return []
        failed = []
        with self.db.write() as con:
            for run_id, worker in dead:
                # Only if nothing changed meanwhile (the worker may have just finished cleanly).
                message = DIED_MESSAGE + log_hint(self.log_path(run_id))
                cur = con.execute(
                    "UPDATE runs SET status='failed', finished=?, error=?"
                    " WHERE id=? AND status='running' AND worker=?",
                    (time.time(), message, run_id, worker),
                )
                if cur.rowcount:
                    failed.append(run_id)
        return failed

    def require(self, run_id: str) -> Run:
        """The run, or ``RunNotFound``."""
        run = self._get(run_id)
        if run is None:
            raise RunNotFound(f"no run {run_id!r}")
        return run


def _safe_id(run_id: str) -> str:
    if not run_id or not all(c.isalnum() or c in "-_" for c in run_id):
        raise RunNotFound(f"no run {run_id!r}")
    return run_id


def _safe_name(name: str) -> str:
    """An artifact's file name: letters, digits, '.', '-' and '_' only, not starting with a dot."""
    if not name or name.startswith(".") or not all(c.isalnum() or c in "-_." for c in name):
        raise ValueError(f"not an artifact name: {name!r}")
    return name
