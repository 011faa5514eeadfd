"""The SQLite database under a run store: its schema, and one short-lived connection per operation.

Why SQLite: one file, no server, and transactions make every change all-or-nothing, so a crash or a
``kill -9`` can never leave a half-written run that breaks the listing. Each operation opens its own
connection (cheap), so one store object can be shared between Streamlit's threads and used from any
number of processes at once; writes take ``BEGIN IMMEDIATE`` so that two writers wait for each
other (``busy_timeout``) instead of failing. WAL mode lets readers go on while a writer writes.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from nnlab.runs.record import Run

BUSY_TIMEOUT_MS = 10_000
SCHEMA_VERSION = 1

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


class Database:
    """The runs database file at ``path``, created with its schema on first use."""

    def __init__(self, path: Path):
        self.path = path
        with self.connect() as con:
            if con.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION:
                return  # already set up (pages open the store on every rerun: keep that cheap)
            con.execute("PRAGMA journal_mode=WAL")  # persistent: set once for the database file
        with self.write() as con:
            for statement in _SCHEMA.split(";"):
                if statement.strip():
                    con.execute(statement)
            con.execute(f"PRAGMA user_version={SCHEMA_VERSION}")

    @contextmanager
    def connect(self) -> Iterator[sqlite3.Connection]:
        """A connection for reads (autocommit), closed afterwards."""
        con = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None)
        try:
            con.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
            con.execute("PRAGMA synchronous=NORMAL")
            con.row_factory = sqlite3.Row
            yield con
        finally:
            con.close()

    @contextmanager
    def write(self) -> Iterator[sqlite3.Connection]:
        """A write transaction; ``BEGIN IMMEDIATE`` takes the write lock up front (the queue's lock)."""
        with self.connect() as con:
            con.execute("BEGIN IMMEDIATE")
            try:
                yield con
            except BaseException:
                con.execute("ROLLBACK")
                raise
            con.execute("COMMIT")


def loads(text: str | None, default: Any) -> Any:
    """A JSON column's value, or ``default`` where it is empty or unreadable."""
    try:
        return json.loads(text) if text else default
    except (TypeError, ValueError):
        return default


def row_to_run(row: sqlite3.Row) -> Run:
    """A ``runs`` table row as a ``Run`` (JSON columns decoded)."""
    return Run(
        id=row["id"],
        name=row["name"],
        owner=row["owner"],
        status=row["status"],
        created=row["created"],
        started=row["started"],
        finished=row["finished"],
        spec=loads(row["spec"], {}),
        config=loads(row["config"], {}),
        error=row["error"],
        test_loss=row["test_loss"],
        test_accuracy=row["test_accuracy"],
        n_params=int(row["n_params"] or 0),
        progress=loads(row["progress"], {}),
        stop_requested=bool(row["stop_requested"]),
        worker=loads(row["worker"], {}),
    )
