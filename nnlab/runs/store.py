"""The run store: every training as a row in a database plus a folder.

Layout under the root (``$NNLAB_HOME``, else the per-user data directory)::

    runs.sqlite            the database (WAL mode, safe for many processes), unless
                           NNLAB_DATABASE_URL names a PostgreSQL one
    runs/<run id>/         a local worker's worker.log; with SQLite also the run's artifacts:
                           model.keras (written atomically), test_probs.npy, and run.json, the
                           run's record, from which ``nnlab repair`` rebuilds a damaged run list
    cache/artifacts/       with PostgreSQL: this machine's copies of artifacts opened by path

The database (SQLite or PostgreSQL, connections, locks) is in ``database.py``, its tables and
migrations in ``schema.py``, the two homes of artifacts in ``artifacts.py``, the dispatcher's view
of the queue in ``queue.py``, the checks of a damaged SQLite file in ``integrity.py``. The store
behaves the same on both databases.

A run whose worker has died while it was ``running`` is turned into ``failed`` by ``recover()``
(``upkeep.py``), which ``list()`` and ``get()`` apply: a worker of this machine is identified by its
pid and process start time (a recycled pid is not taken for a live worker), a worker of another
machine by its heartbeats (``heartbeats.py``).
"""

from __future__ import annotations

import json
import os
import shutil
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from nnlab.events import Event, to_record
from nnlab.runs import upkeep
from nnlab.runs.artifacts import DatabaseArtifacts, FileArtifacts
from nnlab.runs.database import (
    ENV_DATABASE_URL,
    QUEUE_LOCK,
    cannot_open,
    open_database,
    postgres_url,
    row_to_run,
    sqlite_url,
)
from nnlab.runs.folders import write_record
from nnlab.runs.integrity import MODEL_FILE, explain
from nnlab.runs.metrics import metric_frame, read_events
from nnlab.runs.queue import QueueTransaction
from nnlab.runs.record import STATUSES, Run, RunNotFound, StoreError
from nnlab.runs.schema import artifacts, runs
from nnlab.runs.schema import events as events_table

if TYPE_CHECKING:  # pandas is imported where a table is made: the home page needs none
    import pandas as pd

ENV_HOME = "NNLAB_HOME"
DB_NAME = "runs.sqlite"

UPDATABLE = {"name", "status", "started", "finished", "error", "test_loss", "test_accuracy", "progress"}
UPDATABLE |= {"stop_requested", "worker", "heartbeat"}


def default_root() -> Path:
    """``$NNLAB_HOME`` if set, else the per-user data directory (e.g. ``~/.local/share/nnlab``)."""
    env = os.environ.get(ENV_HOME)
    if env:
        return Path(env).expanduser()
    import platformdirs

    return Path(platformdirs.user_data_dir("nnlab", appauthor=False))


def default_database_url() -> str | None:
    """``$NNLAB_DATABASE_URL`` (a PostgreSQL URL) if set, else None: the SQLite file under the root."""
    return os.environ.get(ENV_DATABASE_URL, "").strip() or None


# ---- the store -----------------------------------------------------------------------------------


class RunStore:
    """Runs in a database (SQLite, or PostgreSQL) plus a folder each, safe for many threads and processes.

    ``database_url`` (default: ``$NNLAB_DATABASE_URL``) selects PostgreSQL; without it (or with
    ``""``) the runs are in ``runs.sqlite`` under ``root``. Bad settings or a database that cannot
    be opened: ``StoreError``.
    """

    def __init__(self, root: str | Path | None = None, database_url: str | None = None):
        # Absolute, so that a worker started in another directory finds the same store.
        self.root = (Path(root).expanduser() if root is not None else default_root()).absolute()
        try:
            (self.root / "runs").mkdir(parents=True, exist_ok=True)
        except OSError as exc:  # a read-only folder, a full disk: in words
            raise explain(exc, self.root / DB_NAME) or StoreError(f"{self.root}: {exc.strerror}") from exc
        given = default_database_url() if database_url is None else database_url.strip()
        self.database_url = given or None  # "" means SQLite, whatever the environment says
        url = postgres_url(self.database_url) if self.database_url else sqlite_url(self.root / DB_NAME)
        try:
            self.db = open_database(url, self.root / "runs")  # a damaged SQLite file is said to be so
        except sa.exc.SQLAlchemyError as exc:
            raise StoreError(cannot_open(url, exc)) from exc
        self.artifacts = (
            FileArtifacts(self.run_dir)
            if self.db.is_sqlite
            else DatabaseArtifacts(self.db, self.root / "cache" / "artifacts")
        )

    def __repr__(self) -> str:
        where = "" if self.db.is_sqlite else f", {self.db.describe()!r}"
        return f"RunStore({str(self.root)!r}{where})"

    @contextmanager
    def transaction(self) -> Iterator[QueueTransaction]:
        """The queue's lock, for dispatch and claims: every other ``transaction()`` waits until it ends."""
        with self.db.write(lock=QUEUE_LOCK) as con:
            yield QueueTransaction(con)

    # -- paths -------------------------------------------------------------------------------------

    def run_dir(self, run_id: str) -> Path:
        return self.root / "runs" / _safe_id(run_id)

    def model_path(self, run_id: str) -> Path:
        """The run's ``model.keras`` as a local file (with PostgreSQL, this machine's copy of the
        database's); a path that does not exist where the run has no model."""
        return self.artifacts.path(_safe_id(run_id), MODEL_FILE)

    def log_path(self, run_id: str) -> Path:
        return self.run_dir(run_id) / "worker.log"

    # -- artifacts: what a training leaves besides its metrics (model, test predictions) ---------------

    def write_artifact(self, run_id: str, name: str, data: bytes) -> None:
        """Keep ``data`` as the run's artifact ``name``, atomically (readers see the old or the new whole)."""
        self.artifacts.write(_safe_id(run_id), name, data)

    def read_artifact(self, run_id: str, name: str) -> bytes | None:
        """The run's artifact ``name``, or None where it has none."""
        return self.artifacts.read(_safe_id(run_id), name)

    def save_model(self, run_id: str, model: bytes | Path) -> None:
        """Keep a ``.keras`` file (its bytes, or its path) as the run's model, replacing any before."""
        data = model if isinstance(model, bytes) else Path(model).read_bytes()
        self.write_artifact(run_id, MODEL_FILE, data)

    def has_model(self, run_id: str) -> bool:
        """Whether the run has a saved model (without copying it anywhere)."""
        return self.artifacts.exists(_safe_id(run_id), MODEL_FILE)

    # -- creating and reading ----------------------------------------------------------------------

    def create(
        self, spec: dict, config: dict, *, name: str | None = None, owner: str | None = None,
        worker: dict | None = None, admit: Callable[[QueueTransaction], None] | None = None,
    ) -> Run:  # fmt: skip
        """A new queued run (the caller validates spec and config; see ``Runner.submit``).

        With ``worker`` (a handle), the run is created already running, claimed by that worker
        (a foreground training), so that no dispatcher can start it elsewhere. ``admit``, if given,
        runs first inside the queue's transaction (limits: it raises to refuse; nothing is stored).
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
        row = {
            "id": run_id,
            "name": name,
            "owner": owner,
            "status": "queued" if worker is None else "running",
            "created": now,
            "started": None if worker is None else now,
            "spec": json.dumps(spec),
            "config": json.dumps(config),
            "n_params": n_params,
            "worker": json.dumps(worker or {}),
            "heartbeat": None if worker is None else now,
        }
        with self.transaction() as queue:
            if admit is not None:
                admit(queue)
            queue.insert(row)
            self.run_dir(run_id).mkdir(parents=True, exist_ok=True)  # not committed without its folder
            self._keep_record(queue.get(run_id))  # nor without its record (a full disk: neither)
        run = self.get(run_id)
        assert run is not None
        return run

    def _keep_record(self, run: Run | None) -> None:
        """With SQLite, the run's record also in its folder (``folders.py``: what a repair reads)."""
        if run is not None and self.db.is_sqlite:
            with self.db.explained():  # a full disk or a read-only folder, in words
                write_record(self.run_dir(run.id), run)

    def get(self, run_id: str) -> Run | None:
        """The run, or None. A run whose worker has died is reported (and stored) as failed."""
        return self._failed_if_dead(self._get(run_id))

    def _get(self, run_id: str) -> Run | None:
        with self.db.connect() as con:
            return _read_run(con, run_id)

    def _failed_if_dead(self, run: Run | None) -> Run | None:
        """``run`` as read; if its worker has died, as stored once it is marked failed."""
        if run is not None and run.status == "running" and upkeep.seems_dead(run):
            self.recover()
            return self._get(run.id)
        return run

    def find(self, ref: str) -> Run:
        """A run by id, unique id prefix, or unique exact name (for the command line)."""
        run = self.get(ref)
        if run is not None:
            return run
        query = sa.select(runs.c.id).where(
            sa.or_(runs.c.id.startswith(ref, autoescape=True), runs.c.name == ref)
        )
        with self.db.connect() as con:
            ids = sorted(set(con.scalars(query)))
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
        query = sa.select(runs).order_by(runs.c.seq.desc())
        if owner is not None:
            mine = runs.c.owner == owner
            query = query.where(sa.or_(mine, runs.c.owner.is_(None)) if include_unowned else mine)
        if statuses is not None:
            query = query.where(runs.c.status.in_(list(statuses)))
        with self.db.connect() as con:
            return [row_to_run(r) for r in con.execute(query)]

    def queue_position(self, run_id: str) -> int | None:
        """1 = the next queued run to start; None if the run is not waiting in the queue."""
        with self.db.connect() as con:
            row = con.execute(
                sa.select(runs.c.seq, runs.c.status, runs.c.stop_requested).where(runs.c.id == run_id)
            ).first()
            if row is None or row.status != "queued" or row.stop_requested:
                return None
            ahead = sa.select(sa.func.count()).where(_WAITING, runs.c.seq <= row.seq)
            return int(con.scalar(ahead))

    def queued_ids(self) -> list[str]:
        """Ids waiting in the queue, next first."""
        with self.db.connect() as con:
            return list(con.scalars(sa.select(runs.c.id).where(_WAITING).order_by(runs.c.seq)))

    # -- metrics -----------------------------------------------------------------------------------

    def add_events(self, run_id: str, events: Iterable[Event], progress: dict | None = None) -> None:
        """Append metric events (epoch and batch events) and the latest progress, in one transaction."""
        rows = [{"run_id": run_id, "kind": e.kind, "data": json.dumps(to_record(e))} for e in events]
        with self.db.write() as con:
            if rows:
                con.execute(sa.insert(events_table), rows)
            if progress is not None:
                con.execute(sa.update(runs).where(runs.c.id == run_id).values(progress=json.dumps(progress)))

    def metrics(self, run_id: str, kind: str = "epoch") -> pd.DataFrame:
        """The metric history: one row per epoch (``kind="epoch"``) or per reported batch (``"batch"``).

        Batch rows carry ``step``, the batch number counted over the whole training.
        """
        with self.db.connect() as con:
            return metric_frame(con, run_id, kind)

    def events_after(self, run_id: str, after: int = 0) -> list[tuple[int, str, dict]]:
        """``(number, kind, record)`` of the run's metric events stored after number ``after``, oldest
        first: a live view reads only what is new each second (issue 13), not the whole history."""
        with self.db.connect() as con:
            return read_events(con, run_id, after=after)

    def get_with_events(
        self, run_id: str, after: int, wanted: Callable[[Run], bool]
    ) -> tuple[Run | None, list[tuple[int, str, dict]]]:
        """The run (as ``get``) and, if ``wanted(run)``, its events after ``after`` (as ``events_after``)
        in one read: a live view's refresh each second, for each watcher (issue 13)."""
        with self.db.connect() as con:
            run = _read_run(con, run_id)
            new = read_events(con, run_id, after=after) if run is not None and wanted(run) else []
        return self._failed_if_dead(run), new  # what a dead worker stored before it died is kept

    # -- changes -----------------------------------------------------------------------------------

    def update(self, run_id: str, **values: Any) -> None:
        """Set columns of one run (JSON-encoding dicts); for the runner and the worker."""
        if not values:
            return
        bad = set(values) - UPDATABLE
        if bad:
            raise ValueError(f"cannot update {', '.join(sorted(bad))}")
        if "status" in values and values["status"] not in STATUSES:
            raise ValueError(f"unknown status {values['status']!r}")
        values = {k: json.dumps(v) if isinstance(v, dict) else v for k, v in values.items()}
        with self.db.write() as con:
            con.execute(sa.update(runs).where(runs.c.id == run_id).values(**values))
        if "status" in values:
            self._keep_record(self._get(run_id))

    def stop_requested(self, run_id: str) -> bool:
        with self.db.connect() as con:
            return bool(con.scalar(sa.select(runs.c.stop_requested).where(runs.c.id == run_id)))

    def request_stop(self, run_id: str) -> None:
        """Ask a run to stop: a queued run is marked stopped at once (it never trains); a running one
        stops within a batch, keeping its model as it stands; a finished run is left as it is."""
        this = runs.c.id == run_id
        with self.db.write() as con:
            status = con.scalar(sa.select(runs.c.status).where(this).with_for_update())
            if status is None:
                raise RunNotFound(f"no run {run_id!r}")
            if status == "queued":
                stopped = {"status": "stopped", "stop_requested": 1, "finished": time.time(), "error": None}
                con.execute(sa.update(runs).where(this).values(**stopped))
            elif status == "running":
                con.execute(sa.update(runs).where(this).values(stop_requested=1))

    def delete(self, run_id: str) -> None:
        """Remove a run, its metrics, its artifacts and its folder.

        Refuses (ValueError) while the run is running: stop it first and delete it once it has
        stopped. A queued run can be deleted at once (it leaves the queue).
        """
        run = self.get(run_id)  # applies recovery: a dead worker's run can be deleted
        if run is None:
            raise RunNotFound(f"no run {run_id!r}")
        with self.db.write() as con:
            status = con.scalar(sa.select(runs.c.status).where(runs.c.id == run_id).with_for_update())
            if status is None:
                return
            if status == "running":
                raise ValueError(
                    f"Run {run.name!r} is still training: stop it first, then delete it once it has stopped."
                )
            for table in (events_table, artifacts):
                con.execute(sa.delete(table).where(table.c.run_id == run_id))
            con.execute(sa.delete(runs).where(runs.c.id == run_id))
        # The folder goes after the row: a crash in between leaves only an orphan folder, which
        # the listing never reads and ``clean_orphans`` removes.
        self.artifacts.forget(run_id)
        shutil.rmtree(self.run_dir(run_id), ignore_errors=True)

    def clean_orphans(self) -> list[str]:
        """Remove run folders that have no run and no model; their ids (``upkeep.clean_orphans``)."""
        return upkeep.clean_orphans(self)

    def recover(self, is_alive: Callable[[dict], bool] | None = None) -> list[str]:
        """Mark ``running`` runs whose worker is gone as failed; their ids (``upkeep.recover``)."""
        return upkeep.recover(self, is_alive)

    def require(self, run_id: str) -> Run:
        """The run, or ``RunNotFound``."""
        run = self._get(run_id)
        if run is None:
            raise RunNotFound(f"no run {run_id!r}")
        return run


_WAITING = sa.and_(runs.c.status == "queued", runs.c.stop_requested == 0)


def _safe_id(run_id: str) -> str:
    if not run_id or not all(c.isalnum() or c in "-_" for c in run_id):
        raise RunNotFound(f"no run {run_id!r}")
    return run_id


def _read_run(con: sa.Connection, run_id: str) -> Run | None:
    row = con.execute(sa.select(runs).where(runs.c.id == run_id)).first()
    return row_to_run(row) if row else None
