"""The run store: every training as a row in an embedded SQLite database plus a folder.

Layout under the root (``$NNLAB_HOME``, else the per-user data directory)::

    runs.sqlite            the runs, their metric events (WAL mode, safe for many processes)
    runs/<run id>/         model.keras (written atomically) and worker.log

Why SQLite: one file, no server, and transactions make every change all-or-nothing, so a crash or a
``kill -9`` can never leave a half-written run that breaks the listing. Each operation opens its own
short-lived connection (cheap), so a store object can be shared between Streamlit's threads and
used from any number of processes at once; writes take ``BEGIN IMMEDIATE`` so that two writers
wait for each other (``busy_timeout``) instead of failing.

A run whose worker process has died while it was ``running`` is turned into ``failed`` by
``recover()``, which ``list()`` and ``get()`` apply; a worker is identified by its pid plus the
process start time, so a recycled pid is not taken for a live worker.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import sqlite3
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

STATUSES = ("queued", "running", "completed", "stopped", "failed")
ACTIVE = ("queued", "running")
ENV_HOME = "NNLAB_HOME"
DB_NAME = "runs.sqlite"
BUSY_TIMEOUT_MS = 10_000
SCHEMA_VERSION = 1

EPOCH_COLUMNS = ["epoch", "loss", "accuracy", "val_loss", "val_accuracy", "lr", "elapsed", "samples_per_sec"]
BATCH_COLUMNS = ["epoch", "batch", "step", "loss", "accuracy", "elapsed", "samples_per_sec"]

DIED_MESSAGE = (
    "The training process ended unexpectedly (it was killed, ran out of memory or crashed) "
    "before the training finished."
)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,   -- creation order: the queue is FIFO on it
    id TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    owner TEXT,
    status TEXT NOT NULL,
    created REAL NOT NULL,
    started REAL,
    finished REAL,
    spec TEXT NOT NULL,
    config TEXT NOT NULL,
    error TEXT,
    test_loss REAL,
    test_accuracy REAL,
    n_params INTEGER NOT NULL DEFAULT 0,
    progress TEXT NOT NULL DEFAULT '{}',
    stop_requested INTEGER NOT NULL DEFAULT 0,
    worker TEXT NOT NULL DEFAULT '{}'        -- executor handle, e.g. {"pid": 123, "start": 456}
);
CREATE INDEX IF NOT EXISTS runs_status ON runs(status, seq);
CREATE TABLE IF NOT EXISTS events (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    run_id TEXT NOT NULL,
    kind TEXT NOT NULL,                      -- "epoch" or "batch"
    data TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS events_run ON events(run_id, kind, seq);
"""


class RunNotFound(LookupError):
    """No run has this id (or the reference matches none, or several)."""

    def __str__(self) -> str:  # plain words, not KeyError's quoted repr
        return str(self.args[0]) if self.args else "run not found"


class StoreError(RuntimeError):
    """The run database cannot be opened (damaged, or not a database)."""


def default_root() -> Path:
    """``$NNLAB_HOME`` if set, else the per-user data directory (e.g. ``~/.local/share/nnlab``)."""
    env = os.environ.get(ENV_HOME)
    if env:
        return Path(env).expanduser()
    import platformdirs

    return Path(platformdirs.user_data_dir("nnlab", appauthor=False))


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


# ---- process identity (local workers) ---------------------------------------------------------------


def _stat_fields(pid: int) -> list[str] | None:
    """Fields 3 onwards of ``/proc/<pid>/stat`` (``[0]`` is the state); None if there is no such process."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # The command name (field 2) may hold spaces and parentheses: split after the last ')'.
    return raw[raw.rfind(")") + 2 :].split()


def _start_time(fields: list[str] | None) -> int | None:
    try:
        return int(fields[19]) if fields else None  # fields[0] is field 3 (state), so field 22 is fields[19]
    except (IndexError, ValueError):
        return None


def process_start_time(pid: int) -> int | None:
    """Field 22 of ``/proc/<pid>/stat`` (start time in clock ticks after boot); None if unknown."""
    return _start_time(_stat_fields(pid))


def process_handle(pid: int | None = None) -> dict[str, Any]:
    """The handle that identifies a local process: its pid and start time."""
    pid = os.getpid() if pid is None else pid
    return {"pid": pid, "start": process_start_time(pid)}


def process_alive(handle: dict[str, Any]) -> bool:
    """Whether the local process named by ``handle`` still runs (a zombie counts as dead).

    A handle without a pid (another kind of executor) is taken as alive: only its executor can tell.
    """
    if not handle:
        return False  # a running run that no worker owns
    pid = handle.get("pid")
    if pid is None:
        return True
    if not isinstance(pid, int) or pid <= 0:
        return False
    if Path("/proc/self/stat").exists():
        fields = _stat_fields(pid)  # one read gives both the state and the start time
        if not fields or fields[0] in ("Z", "X", "x"):
            return False
        start = handle.get("start")
        return start is None or _start_time(fields) == start
    try:  # no /proc (macOS): only the pid can be checked
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


# ---- the store ----------------------------------------------------------------------------------------


def _loads(text: str | None, default: Any) -> Any:
    try:
        return json.loads(text) if text else default
    except (TypeError, ValueError):
        return default


class RunStore:
    """Runs in SQLite plus a folder each, safe for many threads and processes at once."""

    def __init__(self, root: str | Path | None = None):
        # Absolute, so that a worker started in another directory finds the same store.
        self.root = (Path(root).expanduser() if root is not None else default_root()).absolute()
        (self.root / "runs").mkdir(parents=True, exist_ok=True)
        self.db_path = self.root / DB_NAME
        try:
            self._setup()
        except sqlite3.DatabaseError as exc:
            raise StoreError(
                f"The run database {self.db_path} cannot be opened ({exc}); "
                "move it away to start with an empty store."
            ) from exc

    def _setup(self) -> None:
        with self._connect() as con:
            if con.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION:
                return  # already set up (pages open the store on every rerun: keep that cheap)
            con.execute("PRAGMA journal_mode=WAL")  # persistent: set once for the database file
        with self._write() as con:
            for statement in _SCHEMA.split(";"):
                if statement.strip():
                    con.execute(statement)
            con.execute(f"PRAGMA user_version={SCHEMA_VERSION}")

    def __repr__(self) -> str:
        return f"RunStore({str(self.root)!r})"

    # -- connections: one short-lived connection per operation ---------------------------------------

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        con = sqlite3.connect(self.db_path, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None)
        try:
            con.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
            con.execute("PRAGMA synchronous=NORMAL")
            con.row_factory = sqlite3.Row
            yield con
        finally:
            con.close()

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        """A write transaction; ``BEGIN IMMEDIATE`` takes the write lock up front (the queue's lock)."""
        with self._connect() as con:
            con.execute("BEGIN IMMEDIATE")
            try:
                yield con
            except BaseException:
                con.execute("ROLLBACK")
                raise
            con.execute("COMMIT")

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """A write transaction for the runner (dispatch): every other writer waits until it ends."""
        with self._write() as con:
            yield con

    # -- paths --------------------------------------------------------------------------------------------

    def run_dir(self, run_id: str) -> Path:
        return self.root / "runs" / _safe_id(run_id)

    def model_path(self, run_id: str) -> Path:
        return self.run_dir(run_id) / "model.keras"

    def log_path(self, run_id: str) -> Path:
        return self.run_dir(run_id) / "worker.log"

    # -- creating and reading -------------------------------------------------------------------------------

    def create(
        self,
        spec: dict,
        config: dict,
        name: str | None = None,
        owner: str | None = None,
        worker: dict | None = None,
    ) -> Run:
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
        with self._write() as con:
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
        with self._connect() as con:
            row = con.execute("SELECT * FROM runs WHERE id=?", (run_id,)).fetchone()
        return _row_to_run(row) if row else None

    def find(self, ref: str) -> Run:
        """A run by id, unique id prefix, or unique exact name (for the command line)."""
        run = self.get(ref)
        if run is not None:
            return run
        with self._connect() as con:
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
        with self._connect() as con:
            rows = con.execute(query + " ORDER BY seq DESC", params).fetchall()
        return [_row_to_run(r) for r in rows]

    def queue_position(self, run_id: str) -> int | None:
        """1 = the next queued run to start; None if the run is not waiting in the queue."""
        with self._connect() as con:
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
        with self._connect() as con:
            rows = con.execute(
                "SELECT id FROM runs WHERE status='queued' AND stop_requested=0 ORDER BY seq"
            ).fetchall()
        return [r["id"] for r in rows]

    # -- metrics ---------------------------------------------------------------------------------------------

    def add_events(self, run_id: str, events: list[dict], progress: dict | None = None) -> None:
        """Append metric events (``{"type": "epoch"|"batch", ...}``) and the latest progress, at once."""
        rows = [(run_id, e["type"], json.dumps({k: v for k, v in e.items() if k != "type"})) for e in events]
        with self._write() as con:
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
        with self._connect() as con:
            rows = con.execute(
                "SELECT data FROM events WHERE run_id=? AND kind=? ORDER BY seq", (run_id, kind)
            ).fetchall()
            prog = con.execute("SELECT progress FROM runs WHERE id=?", (run_id,)).fetchone()
        records = [_loads(r["data"], {}) for r in rows]
        columns = list(EPOCH_COLUMNS if kind == "epoch" else BATCH_COLUMNS)
        if kind == "batch":
            steps = _loads(prog["progress"], {}).get("steps_per_epoch") if prog else None
            for rec in records:
                if "step" not in rec and steps and "epoch" in rec and "batch" in rec:
                    rec["step"] = (int(rec["epoch"]) - 1) * int(steps) + int(rec["batch"])
        frame = pd.DataFrame.from_records(records) if records else pd.DataFrame(columns=columns)
        extra = [c for c in frame.columns if c not in columns]
        return frame.reindex(columns=columns + extra)

    # -- changes ------------------------------------------------------------------------------------------------

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
        with self._write() as con:
            con.execute(f"UPDATE runs SET {cols} WHERE id=?", (*params, run_id))

    def rename(self, run_id: str, name: str) -> None:
        name = name.strip()
        if not name:
            raise ValueError("A run needs a name.")
        self._require(run_id)
        self.update(run_id, name=name)

    def stop_requested(self, run_id: str) -> bool:
        with self._connect() as con:
            row = con.execute("SELECT stop_requested FROM runs WHERE id=?", (run_id,)).fetchone()
        return bool(row and row["stop_requested"])

    def request_stop(self, run_id: str) -> None:
        """Ask a run to stop: a queued run is marked stopped at once (it never trains); a running one
        stops within a batch, keeping its model as it stands; a finished run is left as it is."""
        with self._write() as con:
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
        with self._write() as con:
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
        """Remove run folders that have no run (left by a crash during delete or create)."""
        with self._connect() as con:
            known = {r["id"] for r in con.execute("SELECT id FROM runs").fetchall()}
        removed = []
        cutoff = time.time() - 60  # a folder being created right now has no row yet
        for path in (self.root / "runs").iterdir():
            if path.is_dir() and path.name not in known and path.stat().st_mtime < cutoff:
                shutil.rmtree(path, ignore_errors=True)
                removed.append(path.name)
        return removed

    def recover(self, is_alive: Callable[[dict], bool] | None = None) -> list[str]:
        """Mark ``running`` runs whose worker is gone as failed; returns their ids.

        ``is_alive`` checks an executor's handle (default: the local pid plus start time).
        """
        is_alive = is_alive or process_alive
        with self._connect() as con:
            rows = con.execute("SELECT id, worker FROM runs WHERE status='running'").fetchall()
        dead = [(r["id"], r["worker"]) for r in rows if not is_alive(_loads(r["worker"], {}))]
        if not dead:
            return []
        failed = []
        with self._write() as con:
            for run_id, worker in dead:
                # Only if nothing changed meanwhile (the worker may have just finished cleanly).
                message = DIED_MESSAGE + _log_hint(self.log_path(run_id))
                cur = con.execute(
                    "UPDATE runs SET status='failed', finished=?, error=? WHERE id=? AND status='running' AND worker=?",
                    (time.time(), message, run_id, worker),
                )
                if cur.rowcount:
                    failed.append(run_id)
        return failed

    def _require(self, run_id: str) -> Run:
        run = self._get(run_id)
        if run is None:
            raise RunNotFound(f"no run {run_id!r}")
        return run


def _safe_id(run_id: str) -> str:
    if not run_id or not all(c.isalnum() or c in "-_" for c in run_id):
        raise RunNotFound(f"no run {run_id!r}")
    return run_id


def _log_hint(path: Path) -> str:
    """The last error line a dead worker wrote, if any, to say why it died."""
    try:
        with open(path, "rb") as fh:
            fh.seek(0, os.SEEK_END)
            fh.seek(max(0, fh.tell() - 4000))
            lines = fh.read().decode("utf-8", "replace").splitlines()
    except OSError:
        return ""
    for line in reversed(lines):  # the last line of a Python traceback: "SomeError: message"
        if _EXCEPTION_LINE.match(line):
            return f" Its last message: {line.strip()[:300]}"
    return ""


_EXCEPTION_LINE = re.compile(r"^[A-Za-z_][\w.]*(Error|Exception|Exit|Interrupt)(: .*)?$")


def _row_to_run(row: sqlite3.Row) -> Run:
    return Run(
        id=row["id"],
        name=row["name"],
        owner=row["owner"],
        status=row["status"],
        created=row["created"],
        started=row["started"],
        finished=row["finished"],
        spec=_loads(row["spec"], {}),
        config=_loads(row["config"], {}),
        error=row["error"],
        test_loss=row["test_loss"],
        test_accuracy=row["test_accuracy"],
        n_params=int(row["n_params"] or 0),
        progress=_loads(row["progress"], {}),
        stop_requested=bool(row["stop_requested"]),
        worker=_loads(row["worker"], {}),
    )
