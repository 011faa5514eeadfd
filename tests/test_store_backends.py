"""What differs between the run store's two databases: opening a store made by the previous version
(SQLite), a damaged file, a wrong or unreachable PostgreSQL, a schema from a newer NN Lab, many
processes opening a new store at once, and PostgreSQL's artifacts, which every machine reaches
through the database alone (no shared disk), each machine keeping its own copy of a model."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import sqlalchemy as sa

from nnlab.architectures import get_preset
from nnlab.runs import RunStore, StoreError
from nnlab.runs.schema import SCHEMA_VERSION
from nnlab.training import TrainConfig

ROOT = Path(__file__).resolve().parent.parent
SPEC = get_preset("Logistic regression 784-10")
CONFIG = TrainConfig(subset=300, epochs=1, validation_fraction=0.1).to_dict()

# The schema of the store before this version, verbatim (kept in PRAGMA user_version=1).
VERSION_1 = """
CREATE TABLE IF NOT EXISTS runs (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT NOT NULL UNIQUE, name TEXT NOT NULL, owner TEXT,
    status TEXT NOT NULL, created REAL NOT NULL, started REAL, finished REAL, spec TEXT NOT NULL,
    config TEXT NOT NULL, error TEXT, test_loss REAL, test_accuracy REAL,
    n_params INTEGER NOT NULL DEFAULT 0, progress TEXT NOT NULL DEFAULT '{}',
    stop_requested INTEGER NOT NULL DEFAULT 0, worker TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX IF NOT EXISTS runs_status ON runs(status, seq);
CREATE TABLE IF NOT EXISTS events (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, run_id TEXT NOT NULL, kind TEXT NOT NULL, data TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS events_run ON events(run_id, kind, seq);
"""


def _version_1_store(root: Path) -> None:
    """A store as the previous version left it: a finished run with its model and metrics, a queued run."""
    con = sqlite3.connect(root / "runs.sqlite", isolation_level=None)
    con.execute("PRAGMA journal_mode=WAL")
    con.executescript(VERSION_1)
    con.execute("PRAGMA user_version=1")
    row = (
        "INSERT INTO runs (id, name, owner, status, created, finished, spec, config, test_accuracy, progress)"
    )
    con.execute(
        row + " VALUES (?,?,?,?,?,?,?,?,?,?)",
        ("0ld0ne", "old", "ann", "completed", 1.0, 2.0, json.dumps(SPEC), json.dumps(CONFIG), 0.9,
         json.dumps({"steps_per_epoch": 10})),
    )  # fmt: skip
    con.execute(
        "INSERT INTO runs (id, name, status, created, spec, config) VALUES (?,?,?,?,?,?)",
        ("0ldqueued", "old queued", "queued", 3.0, json.dumps(SPEC), json.dumps(CONFIG)),
    )
    for kind, data in (
        ("epoch", {"epoch": 1, "loss": 0.5}),
        ("batch", {"epoch": 1, "batch": 4, "loss": 0.6}),
    ):
        con.execute(
            "INSERT INTO events (run_id, kind, data) VALUES (?,?,?)", ("0ld0ne", kind, json.dumps(data))
        )
    con.close()
    (root / "runs" / "0ld0ne").mkdir(parents=True)
    (root / "runs" / "0ld0ne" / "model.keras").write_bytes(b"the old model")


def test_a_store_made_by_the_previous_version_keeps_every_run(tmp_path):
    _version_1_store(tmp_path)
    store = RunStore(tmp_path)
    old, queued = store.get("0ld0ne"), store.get("0ldqueued")
    assert (old.name, old.owner, old.status, old.test_accuracy, old.spec) == (
        "old",
        "ann",
        "completed",
        0.9,
        SPEC,
    )
    assert list(store.metrics(old.id)["loss"]) == [0.5]
    assert list(store.metrics(old.id, "batch")["step"]) == [4]  # computed for rows stored without it
    assert store.has_model(old.id) and store.model_path(old.id).read_bytes() == b"the old model"
    new = store.create(SPEC, CONFIG, name="new")
    assert store.queued_ids() == [queued.id, new.id]  # the old queue keeps its place
    assert [r.name for r in store.list()] == ["new", "old queued", "old"]
    store.write_artifact(old.id, "test_probs.npy", b"probs")
    assert store.read_artifact(old.id, "test_probs.npy") == b"probs"
    con = sqlite3.connect(tmp_path / "runs.sqlite")
    assert con.execute("SELECT version FROM nnlab_schema").fetchall() == [(SCHEMA_VERSION,)]
    assert con.execute("PRAGMA journal_mode").fetchone() == ("wal",)
    con.close()
    assert [r.name for r in RunStore(tmp_path).list()] == ["new", "old queued", "old"]  # opened again


def test_a_damaged_database_gives_a_clear_error(tmp_path):
    (tmp_path / "runs.sqlite").write_bytes(b"this is not a database" * 100)
    with pytest.raises(StoreError, match="is damaged: its first bytes are not an SQLite.*nnlab repair"):
        RunStore(tmp_path)


def test_a_wrong_or_unreachable_database_url_is_explained(tmp_path, monkeypatch):
    monkeypatch.setenv("NNLAB_DATABASE_URL", "mysql://nnlab:s3cret@db.example/nnlab")
    with pytest.raises(StoreError, match="must be a PostgreSQL URL") as wrong:
        RunStore(tmp_path)
    from servers import free_port

    nobody = f"postgresql://nnlab:s3cret@127.0.0.1:{free_port()}/nnlab"
    with pytest.raises(StoreError, match="cannot be reached.*NNLAB_DATABASE_URL") as unreachable:
        RunStore(tmp_path, database_url=nobody)
    for error in (wrong, unreachable):
        assert "s3cret" not in str(error.value)  # a password is never shown
    assert not (tmp_path / "runs.sqlite").exists()  # no silent fall-back to another database


def test_a_schema_from_a_newer_nnlab_is_refused(tmp_path, backend):
    store = RunStore(tmp_path)
    with store.db.write() as con:
        con.execute(sa.text("UPDATE nnlab_schema SET version = 99"))
    with pytest.raises(StoreError, match="newer NN Lab"):
        RunStore(tmp_path)


OPENERS = 8  # before SQLite's WAL switch was asked again, 1 round in 15 of 8 failed (a CI run: of 4)
OPENER = textwrap.dedent("""
    import sys
    from nnlab.runs import RunStore
    print("ready", flush=True)
    sys.stdin.readline()  # all open the new store at the same moment, once every one is ready
    store = RunStore(sys.argv[1])
    print(store.create({"layers": []}, {}, name=sys.argv[2]).id)
""")


def test_many_processes_opening_a_new_store_at_once(tmp_path, backend):
    """Eight processes open one new store at the same moment: all of them create it (SQLite: set its
    WAL mode, which SQLite refuses at once, without waiting, to one of two racing for it) and use it."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", OPENER, str(tmp_path), f"opener {i}"],
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for i in range(OPENERS)
    ]
    assert [p.stdout.readline() for p in procs] == ["ready\n"] * OPENERS  # each has imported nnlab
    for p in procs:
        p.stdin.write("go\n")
        p.stdin.flush()
    outs = [p.communicate(timeout=120) for p in procs]
    assert [p.returncode for p in procs] == [0] * OPENERS, outs
    runs = RunStore(tmp_path).list()
    assert sorted(r.name for r in runs) == [f"opener {i}" for i in range(OPENERS)]
    assert {r.id for r in runs} == {out.strip() for out, _ in outs}


@pytest.fixture
def postgres_url(postgres, monkeypatch):
    from nnlab.runs.database import dispose_engines

    url = postgres.create_database()
    monkeypatch.setenv("NNLAB_DATABASE_URL", url)
    yield url
    dispose_engines()
    postgres.drop_database(url)


@pytest.mark.distributed
def test_postgresql_artifacts_reach_every_machine_through_the_database(tmp_path, postgres_url):
    worker = RunStore(tmp_path / "worker machine")  # two machines: the same database, no shared disk
    web = RunStore(tmp_path / "web machine")
    run = worker.create(SPEC, CONFIG)
    assert not web.has_model(run.id) and not web.model_path(run.id).exists()
    worker.save_model(run.id, b"first model")
    worker.write_artifact(run.id, "test_probs.npy", b"probs")
    assert not any(p.name != "worker.log" for p in worker.run_dir(run.id).iterdir())  # nothing on disk

    first = web.model_path(run.id)  # the web server's own copy, under its NNLAB_HOME
    assert first.is_relative_to(web.root / "cache") and first.read_bytes() == b"first model"
    assert web.model_path(run.id) == first and web.read_artifact(run.id, "test_probs.npy") == b"probs"
    worker.save_model(run.id, b"retrained model")  # a new model is never served from the old copy
    second = web.model_path(run.id)
    assert second != first and second.read_bytes() == b"retrained model" and not first.exists()

    web.delete(run.id)
    assert not worker.has_model(run.id) and worker.read_artifact(run.id, "test_probs.npy") is None
    assert not second.exists() and not worker.model_path(run.id).exists()
    worker.write_artifact(run.id, "late.bin", b"written after the delete")  # kept nowhere
    with worker.db.connect() as con:
        assert con.scalar(sa.text("SELECT count(*) FROM artifacts")) == 0
