"""The run store's tables (SQLAlchemy Core, the same on SQLite and PostgreSQL) and their migrations.

- ``runs``: one row per training; ``seq`` is the creation order, so the queue is FIFO on it;
- ``events``: the metric events of every run (epoch and batch events as JSON);
- ``artifacts``: what a training leaves besides its metrics (``model.keras``, ``test_probs.npy``),
  as bytes keyed by run id and name, with their SHA-256 (a cached copy is named after it). Only a
  PostgreSQL store keeps them here (reachable from every machine); an SQLite store keeps them as
  files in the run's folder, and its table stays empty;
- ``classes``, ``class_members``, ``class_runs``: class mode (``nnlab/classes/``): a class (its
  teacher secret kept only as a SHA-256 hash, its challenge, limits, hidden parts of the UI and starting
  network), its students (display name per visitor id) and the runs each student trained in it;
- ``sweeps``, ``sweep_runs``: a grid of trainings queued as a group (``nnlab/sweeps/``), each run
  with its place in the grid;
- ``workers``: one row per worker process (a warm local spare, a Celery worker, a training started
  from a terminal) with its heartbeat: how many workers are connected and busy, on every machine
  (version 4, with the ``heartbeat`` of each running run: ``runs/heartbeats.py``);
- ``nnlab_schema``: the schema version, one row.

Migrations: a new database gets the current tables at once; an older one is upgraded step by step
(``STEPS``), in one transaction that also holds the schema lock, so processes opening a store at the
same moment neither race nor see half a schema. Version 1 is the store that kept its version in
SQLite's ``PRAGMA user_version`` (tables ``runs`` and ``events`` only); it has no ``nnlab_schema``.
"""

from __future__ import annotations

from collections.abc import Callable

import sqlalchemy as sa

from nnlab.runs.record import StoreError

SCHEMA_VERSION = 4

metadata = sa.MetaData()

# SQLite's AUTOINCREMENT wants the type INTEGER itself; PostgreSQL gets a 64-bit counter.
_COUNTER = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

runs = sa.Table(
    "runs",
    metadata,
    sa.Column("seq", _COUNTER, primary_key=True, autoincrement=True),
    sa.Column("id", sa.Text, nullable=False, unique=True),
    sa.Column("name", sa.Text, nullable=False),
    sa.Column("owner", sa.Text),
    sa.Column("status", sa.Text, nullable=False),
    sa.Column("created", sa.Double, nullable=False),
    sa.Column("started", sa.Double),
    sa.Column("finished", sa.Double),
    sa.Column("spec", sa.Text, nullable=False),  # JSON
    sa.Column("config", sa.Text, nullable=False),  # JSON
    sa.Column("error", sa.Text),
    sa.Column("test_loss", sa.Double),
    sa.Column("test_accuracy", sa.Double),
    sa.Column("n_params", sa.Integer, nullable=False, server_default="0"),
    sa.Column("progress", sa.Text, nullable=False, server_default="{}"),  # JSON
    sa.Column("stop_requested", sa.Integer, nullable=False, server_default="0"),
    sa.Column("worker", sa.Text, nullable=False, server_default="{}"),  # the executor's handle, JSON
    sa.Column("heartbeat", sa.Double),  # the database's clock at its worker's last heartbeat (version 4)
    sqlite_autoincrement=True,
)
sa.Index("runs_status", runs.c.status, runs.c.seq)

events = sa.Table(
    "events",
    metadata,
    sa.Column("seq", _COUNTER, primary_key=True, autoincrement=True),
    sa.Column("run_id", sa.Text, nullable=False),
    sa.Column("kind", sa.Text, nullable=False),  # "epoch" or "batch"
    sa.Column("data", sa.Text, nullable=False),  # JSON
    sqlite_autoincrement=True,
)
sa.Index("events_run", events.c.run_id, events.c.kind, events.c.seq)

artifacts = sa.Table(
    "artifacts",
    metadata,
    sa.Column("run_id", sa.Text, primary_key=True),
    sa.Column("name", sa.Text, primary_key=True),
    sa.Column("data", sa.LargeBinary, nullable=False),  # bytea on PostgreSQL, BLOB on SQLite
    sa.Column("sha256", sa.Text, nullable=False),
    sa.Column("size", sa.BigInteger, nullable=False),
    sa.Column("updated", sa.Double, nullable=False),
)

# ---- class mode (version 3) -------------------------------------------------------------------------


def _numbered_table(name: str, *columns: sa.Column) -> sa.Table:
    """A table whose rows are numbered in the order they were written (``seq``), like ``runs``."""
    seq = sa.Column("seq", _COUNTER, primary_key=True, autoincrement=True)
    return sa.Table(name, metadata, seq, *columns, sqlite_autoincrement=True)


classes = sa.Table(
    "classes",
    metadata,
    sa.Column("id", sa.Text, primary_key=True),  # the public id in the join link
    sa.Column("name", sa.Text, nullable=False),
    sa.Column("teacher_hash", sa.Text, nullable=False, unique=True),  # SHA-256 of the teacher's secret
    sa.Column("created", sa.Double, nullable=False),
    sa.Column("challenge", sa.Text, nullable=False, server_default="{}"),  # JSON
    sa.Column("limits", sa.Text, nullable=False, server_default="{}"),  # JSON
    sa.Column("hidden", sa.Text, nullable=False, server_default="[]"),  # JSON: parts of the UI hidden
    sa.Column("start", sa.Text),  # a sharing code: the network students start from
)

class_members = sa.Table(
    "class_members",
    metadata,
    sa.Column("visitor", sa.Text, primary_key=True),  # a visitor is in one class at most
    sa.Column("class_id", sa.Text, nullable=False),
    sa.Column("display_name", sa.Text, nullable=False),
    sa.Column("name_key", sa.Text, nullable=False),  # the name folded for comparison: unique per class
    sa.Column("joined", sa.Double, nullable=False),
    sa.UniqueConstraint("class_id", "name_key", name="class_members_name"),
)

class_runs = _numbered_table(
    "class_runs",
    sa.Column("class_id", sa.Text, nullable=False),
    sa.Column("visitor", sa.Text, nullable=False),
    sa.Column("run_id", sa.Text, unique=True),  # None while the slot is reserved, before the run exists
    sa.Column("created", sa.Double, nullable=False),
)
sa.Index("class_runs_member", class_runs.c.class_id, class_runs.c.visitor)

# ---- sweeps (version 3) -----------------------------------------------------------------------------

sweeps = _numbered_table(
    "sweeps",
    sa.Column("id", sa.Text, nullable=False, unique=True),
    sa.Column("owner", sa.Text),
    sa.Column("name", sa.Text, nullable=False),
    sa.Column("created", sa.Double, nullable=False),
    sa.Column("spec", sa.Text, nullable=False),  # JSON: the base network
    sa.Column("config", sa.Text, nullable=False),  # JSON: the base training settings
    sa.Column("axes", sa.Text, nullable=False),  # JSON: the settings varied and their values
)
sa.Index("sweeps_owner", sweeps.c.owner, sweeps.c.seq)

sweep_runs = sa.Table(
    "sweep_runs",
    metadata,
    sa.Column("sweep_id", sa.Text, primary_key=True),
    sa.Column("run_id", sa.Text, primary_key=True),
    sa.Column("grid_row", sa.Integer, nullable=False),  # the index of the value of the first axis
    sa.Column("grid_col", sa.Integer, nullable=False),  # ... of the second (0 with one axis)
)

# ---- workers and their heartbeats (version 4) ---------------------------------------------------------

workers = sa.Table(
    "workers",
    metadata,
    sa.Column("id", sa.Text, primary_key=True),  # "host/pid/start": a process, not a recycled pid
    sa.Column("host", sa.Text, nullable=False),
    sa.Column("pid", sa.Integer, nullable=False),
    sa.Column("kind", sa.Text, nullable=False),  # "local" (a spare or a one-run worker), "celery", "terminal"
    sa.Column("run_id", sa.Text),  # the run it trains now; None while it waits for one
    sa.Column("started", sa.Double, nullable=False),
    sa.Column("beat", sa.Double, nullable=False),  # the database's clock at its last heartbeat
)

schema_version = sa.Table("nnlab_schema", metadata, sa.Column("version", sa.Integer, nullable=False))


def stored_version(con: sa.Connection) -> int:
    """The schema version of the database behind ``con``: 0 for an empty one."""
    inspector = sa.inspect(con)
    if inspector.has_table(schema_version.name):
        return int(con.scalar(sa.select(schema_version.c.version)) or 0)
    return 1 if inspector.has_table(runs.name) else 0


def _to_v2(con: sa.Connection) -> None:
    """Version 2: the artifacts table, and the version kept in a table (the same on every database)."""
    metadata.create_all(con, tables=[artifacts, schema_version])


def _to_v3(con: sa.Connection) -> None:
    """Version 3: class mode and sweeps (new tables only; ``create_all`` skips any that exist)."""
    metadata.create_all(con, tables=[classes, class_members, class_runs, sweeps, sweep_runs])


def _to_v4(con: sa.Connection) -> None:
    """Version 4: heartbeats, of each running run (a column) and of each worker process (a table)."""
    column = runs.c.heartbeat
    if column.name not in {c["name"] for c in sa.inspect(con).get_columns(runs.name)}:
        con.execute(sa.text(f"ALTER TABLE runs ADD COLUMN {column.name} {column.type.compile(con.dialect)}"))
    metadata.create_all(con, tables=[workers])


# The step that brings a database from version ``n - 1`` to ``n``.
STEPS: dict[int, Callable[[sa.Connection], None]] = {2: _to_v2, 3: _to_v3, 4: _to_v4}


def migrate(con: sa.Connection) -> int:
    """Bring the database up to ``SCHEMA_VERSION`` inside the caller's transaction; returns the old version.

    The caller holds the schema lock, so the version read here cannot change before the commit.
    """
    found = stored_version(con)
    if found > SCHEMA_VERSION:
        raise StoreError(
            f"The run database was made by a newer NN Lab (schema version {found}; this one knows "
            f"versions up to {SCHEMA_VERSION}): update NN Lab to open it."
        )
    if found == 0:
        metadata.create_all(con)
    else:
        for step in range(found + 1, SCHEMA_VERSION + 1):
            STEPS[step](con)
    if found < SCHEMA_VERSION:
        con.execute(sa.delete(schema_version))
        con.execute(sa.insert(schema_version).values(version=SCHEMA_VERSION))
    return found
