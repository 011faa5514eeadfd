"""The database under a run store: an embedded SQLite file by default, PostgreSQL when configured.

This is the one module that knows SQL dialects; the rest of ``runs/`` builds SQLAlchemy Core
statements over the tables of ``schema.py``, which read the same on both.

**SQLite** (``runs.sqlite`` under the store's root; nothing to set up): one file, no server, and
transactions make every change all-or-nothing, so a crash or a ``kill -9`` never leaves a
half-written run. Each operation takes a connection from a small pool for its own transaction, so
one store object can be shared between Streamlit's threads and used from any number of processes at
once; writers take ``BEGIN IMMEDIATE``, the database's one write lock, so two writers wait for each
other (``busy_timeout``) instead of failing, and that lock is also the queue's. WAL mode lets readers
go on while a writer writes. (Kept open, pooled connections also spare each write the checkpoint
SQLite makes when the last connection to a file closes: a metric flush takes under a millisecond.)

**PostgreSQL** (``NNLAB_DATABASE_URL=postgresql://user:password@host:5432/db``; driver: psycopg 3):
a small pool of connections per process, checked before use so that a restarted server is simply
reconnected; read-committed transactions. Writers do not take turns here, so the queue's lock
(dispatch and claims) is a transaction-level advisory lock, and a statement that reads a row before
changing it locks that row (``SELECT ... FOR UPDATE``, which SQLite ignores: it does not need it).
"""

from __future__ import annotations

import itertools
import json
import random
import re
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as postgres_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.pool import QueuePool

from nnlab.runs import integrity, schema
from nnlab.runs.record import Run, StoreError

ENV_DATABASE_URL = "NNLAB_DATABASE_URL"
BUSY_TIMEOUT_MS = 10_000
CONNECT_TIMEOUT_S = 10
# Advisory lock keys (PostgreSQL): the queue (dispatch, claims) and the schema while it migrates.
QUEUE_LOCK = 0x4E4E_4C01
SCHEMA_LOCK = 0x4E4E_4C02
_WRITE = "nnlab_write"  # execution option marking a connection whose transaction writes

_engines: dict[str, sa.Engine] = {}
_engines_lock = threading.Lock()


def hide_password(text: str) -> str:
    """A database URL as it may be shown: any password replaced by ``***``."""
    return re.sub(r"(://[^:/@]*):[^@/]*@", r"\1:***@", text)


def postgres_url(text: str) -> sa.URL:
    """``NNLAB_DATABASE_URL`` as SQLAlchemy's URL for psycopg 3; ``StoreError`` if it is not PostgreSQL's."""
    example = "postgresql://user:password@host:5432/nnlab"
    try:
        url = sa.make_url(text.strip())
    except sa.exc.ArgumentError:
        url = None
    if url is None or url.get_backend_name() not in ("postgresql", "postgres"):
        raise StoreError(
            f"{ENV_DATABASE_URL} must be a PostgreSQL URL such as {example} "
            f"(got {hide_password(text)!r}); leave it unset to keep the runs in an SQLite file."
        )
    return url.set(drivername="postgresql+psycopg")


def sqlite_url(path: Path) -> sa.URL:
    return sa.URL.create("sqlite", database=str(path))


def describe_error(exc: BaseException) -> str:
    """What the database driver said, on one line, without SQLAlchemy's statement and links."""
    cause = getattr(exc, "orig", None) or exc
    lines = str(cause).strip().splitlines()
    return lines[0] if lines else type(cause).__name__


def cannot_open(url: sa.URL, exc: BaseException) -> str:
    """Why the database at ``url`` cannot be opened, and what to do, in words (never advice that
    would hide the runs: a full disk, a read-only folder or a damaged file is called so)."""
    if url.get_backend_name() == "sqlite":
        explained = integrity.explain(exc, Path(str(url.database)))
        return (
            str(explained)
            if explained
            else (
                f"The run database {url.database} cannot be opened ({describe_error(exc)}). The trained "
                "models stay safe in its runs/ folder; if the file is damaged, `nnlab repair` rebuilds "
                "the run list from them."
            )
        )
    return (
        f"The run database {url.render_as_string(hide_password=True)} cannot be reached or opened "
        f"({describe_error(exc)}): check {ENV_DATABASE_URL} and that PostgreSQL is running there."
    )


def clock(dialect: str) -> sa.ColumnElement:
    """Now, in seconds since 1970, as a SQL expression: the database server's clock on PostgreSQL (one
    clock for every machine, so heartbeats compare whatever the machines' clocks say), this
    machine's on SQLite (which only this machine reaches)."""
    if dialect == "sqlite":
        return sa.literal(time.time(), sa.Double)
    return sa.cast(sa.func.extract("epoch", sa.func.clock_timestamp()), sa.Double)


def engine_for(url: sa.URL) -> sa.Engine:
    """The process's one engine (connection pool) for ``url``, made on first use."""
    key = url.render_as_string(hide_password=False)
    with _engines_lock:
        engine = _engines.get(key)
        if engine is None:
            engine = _sqlite_engine(url) if url.get_backend_name() == "sqlite" else _postgres_engine(url)
            _engines[key] = engine
        return engine


def dispose_engines() -> None:
    """Close every pooled connection of this process (a test dropping its database, a shutdown)."""
    with _engines_lock:
        for engine in _engines.values():
            engine.dispose()
        _engines.clear()


def _sqlite_engine(url: sa.URL) -> sa.Engine:
    engine = sa.create_engine(
        url,
        poolclass=QueuePool,
        pool_size=5,
        max_overflow=20,
        connect_args={"timeout": BUSY_TIMEOUT_MS / 1000, "check_same_thread": False},
    )

    @sa.event.listens_for(engine, "connect")
    def _connect(dbapi_con, _record) -> None:
        dbapi_con.isolation_level = None  # the driver begins no transaction: ``_begin`` does
        dbapi_con.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
        dbapi_con.execute("PRAGMA synchronous=NORMAL")

    @sa.event.listens_for(engine, "begin")
    def _begin(con: sa.Connection) -> None:
        # A writer takes the write lock up front; a reader gets one snapshot for its statements.
        con.exec_driver_sql("BEGIN IMMEDIATE" if con.get_execution_options().get(_WRITE) else "BEGIN")

    return engine


def _postgres_engine(url: sa.URL) -> sa.Engine:
    return sa.create_engine(
        url,
        pool_size=5,
        max_overflow=10,
        pool_pre_ping=True,  # a connection the server dropped (a restart) is replaced, not used
        connect_args={"connect_timeout": CONNECT_TIMEOUT_S, "application_name": "nnlab"},
    )


def open_database(url: sa.URL, runs_dir: Path) -> Database:
    """The database at ``url``; an SQLite file is checked for damage first (``integrity.py``)."""
    if url.get_backend_name() != "sqlite":
        return Database(url)
    path = Path(str(url.database))
    integrity.check_file(path, runs_dir)
    integrity.check_contents(path, runs_dir)
    return Database(url)


class Database:
    """The runs database at ``url``, its schema created or upgraded on first use."""

    def __init__(self, url: sa.URL):
        self.url = url
        self.is_sqlite = url.get_backend_name() == "sqlite"
        self.engine = engine_for(url)
        if self._current_version() != schema.SCHEMA_VERSION:
            self._migrate()

    def clock(self) -> sa.ColumnElement:
        """Now by the database's clock (see ``clock``)."""
        return clock(self.engine.dialect.name)

    def describe(self) -> str:
        """Where the database is, for messages: a file path, or the URL without its password."""
        return str(self.url.database) if self.is_sqlite else self.url.render_as_string(hide_password=True)

    def _current_version(self) -> int | None:
        """The schema version (the cheap check each opening makes); None where it cannot be read."""
        with self.connect() as con:
            try:
                return con.scalar(sa.select(schema.schema_version.c.version))
            except sa.exc.DBAPIError:  # no such table yet (or a damaged file: the migration says so)
                return None

    def _migrate(self) -> None:
        if self.is_sqlite:
            self._use_wal()
        with self.write(lock=SCHEMA_LOCK) as con:
            schema.migrate(con)

    def _use_wal(self) -> None:
        """Put the SQLite file in WAL mode (a property of the file, set outside any transaction).

        Processes opening a new store at once race for it, and SQLite answers "database is locked"
        at once, without waiting its busy timeout, to one of two connections that upgrade their
        locks together (waiting could deadlock them): asked again until the busy timeout has passed.
        """
        deadline = time.monotonic() + BUSY_TIMEOUT_MS / 1000
        for attempt in itertools.count():
            raw = self.engine.raw_connection()
            try:
                raw.driver_connection.execute("PRAGMA journal_mode=WAL")
                return
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) or time.monotonic() > deadline:
                    raise
            finally:
                raw.close()
            time.sleep(min(0.01 * 2**attempt, 0.2) * random.uniform(0.5, 1.0))

    @contextmanager
    def explained(self) -> Iterator[None]:
        """SQLite's damaged file, full disk or read-only folder raised as a ``StoreError`` in words."""
        try:
            yield
        except (sa.exc.DatabaseError, OSError) as exc:
            explained = integrity.explain(exc, Path(str(self.url.database))) if self.is_sqlite else None
            if explained is None:
                raise
            raise explained from exc

    @contextmanager
    def connect(self) -> Iterator[sa.Connection]:
        """A connection for reads (one snapshot on SQLite), closed or given back afterwards."""
        with self.explained(), self.engine.connect() as con:
            yield con

    @contextmanager
    def write(self, lock: int | None = None) -> Iterator[sa.Connection]:
        """A write transaction: committed at the end, rolled back on an error.

        ``lock`` (``QUEUE_LOCK``, ``SCHEMA_LOCK``) makes others asking for it wait until this one
        ends: an advisory lock on PostgreSQL; on SQLite every writer already waits for every other.
        """
        with self.explained(), self.engine.connect() as con:
            con.execution_options(**{_WRITE: True})
            with con.begin():
                if lock is not None and not self.is_sqlite:
                    con.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": lock})
                yield con

    def upsert(self, con: sa.Connection, table: sa.Table, values: dict[str, Any]) -> None:
        """Insert a row, or replace the one with the same primary key (atomically, on both dialects)."""
        insert = (sqlite_insert if self.is_sqlite else postgres_insert)(table).values(**values)
        keys = [c.name for c in table.primary_key.columns]
        changes = {name: insert.excluded[name] for name in values if name not in keys}
        con.execute(insert.on_conflict_do_update(index_elements=keys, set_=changes))


def loads(text: str | None, default: Any) -> Any:
    """A JSON column's value, or ``default`` where it is empty or unreadable."""
    try:
        return json.loads(text) if text else default
    except (TypeError, ValueError):
        return default


def row_to_run(row: sa.Row) -> Run:
    """A ``runs`` table row as a ``Run`` (JSON columns decoded)."""
    values = row._mapping
    return Run(
        id=values["id"],
        name=values["name"],
        owner=values["owner"],
        status=values["status"],
        created=values["created"],
        started=values["started"],
        finished=values["finished"],
        spec=loads(values["spec"], {}),
        config=loads(values["config"], {}),
        error=values["error"],
        test_loss=values["test_loss"],
        test_accuracy=values["test_accuracy"],
        n_params=int(values["n_params"] or 0),
        progress=loads(values["progress"], {}),
        stop_requested=bool(values["stop_requested"]),
        worker=loads(values["worker"], {}),
        heartbeat=values.get("heartbeat"),
    )
