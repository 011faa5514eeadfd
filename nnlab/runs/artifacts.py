"""Where a run's artifacts live: files in its folder (SQLite), or rows of the database (PostgreSQL).

An artifact is what a training leaves besides its metrics: ``model.keras``, the cached test-set
predictions, anything written with ``RunStore.write_artifact``. Both kinds of storage write
atomically (a reader sees the old or the new whole, never half).

- ``FileArtifacts``: ``<root>/runs/<run id>/<name>``, as a user finds them on disk.
- ``DatabaseArtifacts``: the ``artifacts`` table, so that a worker on another machine and every web
  server reach them with no shared disk. A file that must be opened by path (Keras loads a model
  from a path) is copied into this machine's cache, ``<root>/cache/artifacts/<run id>/``, under a
  name made of its SHA-256: a re-trained model gets a new name, so a stale copy is never served.
  An artifact written for a run that was deleted meanwhile is not kept.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import time
from pathlib import Path

import sqlalchemy as sa

from nnlab.runs.database import Database
from nnlab.runs.schema import artifacts, runs


def safe_name(name: str) -> str:
    """An artifact's name: letters, digits, '.', '-' and '_' only, not starting with a dot."""
    if not name or name.startswith(".") or not all(c.isalnum() or c in "-_." for c in name):
        raise ValueError(f"not an artifact name: {name!r}")
    return name


def write_atomically(path: Path, data: bytes) -> None:
    """Write ``data`` to a temporary file beside ``path`` and rename it over ``path``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with open(tmp, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())  # on disk before it takes the name: a power cut leaves old or new
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


class FileArtifacts:
    """Artifacts as files in each run's folder (``run_dir(run_id)``)."""

    def __init__(self, run_dir):
        self.run_dir = run_dir

    def write(self, run_id: str, name: str, data: bytes) -> None:
        write_atomically(self.path(run_id, name), data)

    def read(self, run_id: str, name: str) -> bytes | None:
        try:
            return self.path(run_id, name).read_bytes()
        except (FileNotFoundError, NotADirectoryError):
            return None

    def exists(self, run_id: str, name: str) -> bool:
        return self.path(run_id, name).is_file()

    def path(self, run_id: str, name: str) -> Path:
        """The artifact's file (which may not exist)."""
        return self.run_dir(run_id) / safe_name(name)

    def forget(self, run_id: str) -> None:
        """Nothing to do: the run's folder, removed by the store, holds them."""


class DatabaseArtifacts:
    """Artifacts as rows of the ``artifacts`` table, with a local cache of files under ``cache_dir``."""

    def __init__(self, db: Database, cache_dir: Path):
        self.db, self.cache_dir = db, cache_dir

    def write(self, run_id: str, name: str, data: bytes) -> None:
        """Keep ``data``; nothing is kept for a run that no longer exists (deleted meanwhile)."""
        row = {
            "run_id": run_id,
            "name": safe_name(name),
            "data": data,
            "sha256": hashlib.sha256(data).hexdigest(),
            "size": len(data),
            "updated": time.time(),
        }
        with self.db.write() as con:
            # The run's row stays locked until the commit: a delete waits, then removes this too.
            found = con.scalar(sa.select(runs.c.seq).where(runs.c.id == run_id).with_for_update(read=True))
            if found is not None:
                self.db.upsert(con, artifacts, row)

    def read(self, run_id: str, name: str) -> bytes | None:
        with self.db.connect() as con:
            data = con.scalar(sa.select(artifacts.c.data).where(*self._key(run_id, name)))
        return None if data is None else bytes(data)

    def exists(self, run_id: str, name: str) -> bool:
        return self._digest(run_id, name) is not None

    def path(self, run_id: str, name: str) -> Path:
        """A local file holding the artifact, copied from the database unless this machine has it.

        Where the run has no such artifact, a path that does not exist (and old copies go).
        """
        folder = self.cache_dir / run_id
        digest = self._digest(run_id, name)
        if digest is None:
            shutil.rmtree(folder, ignore_errors=True)
            return folder / safe_name(name)
        path = folder / f"{digest[:32]}-{safe_name(name)}"
        if not path.is_file():
            data = self.read(run_id, name)
            if data is None:  # deleted in between
                return folder / name
            write_atomically(path, data)
            for old in folder.glob(f"*-{name}"):
                if old != path:
                    old.unlink(missing_ok=True)
        return path

    def forget(self, run_id: str) -> None:
        """Drop this machine's cached copies of a deleted run's artifacts."""
        shutil.rmtree(self.cache_dir / run_id, ignore_errors=True)

    def _key(self, run_id: str, name: str) -> tuple:
        return artifacts.c.run_id == run_id, artifacts.c.name == safe_name(name)

    def _digest(self, run_id: str, name: str) -> str | None:
        with self.db.connect() as con:
            return con.scalar(sa.select(artifacts.c.sha256).where(*self._key(run_id, name)))
