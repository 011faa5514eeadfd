"""Heartbeats: a worker on another machine is known alive by them, and its run fails when they stop.

On both databases (``backend``). The handles of "other machines" name a host that is not this one,
so only their heartbeats can tell (tests/test_cluster.py does the same with real hosts).
"""

from __future__ import annotations

import time

import sqlalchemy as sa
from streamlit.testing.v1 import AppTest

from nnlab import architectures
from nnlab.runs import RunStore
from nnlab.runs.heartbeats import Heartbeat, connected_workers, worker_counts
from nnlab.runs.schema import SCHEMA_VERSION, runs
from nnlab.training import TrainConfig
from nnlab.ui.format import workers_text
from tests.test_app_home import _home

SPEC = architectures.get_preset("Logistic regression 784-10")
CONFIG = TrainConfig(epochs=1, subset=300).to_dict()
ELSEWHERE = {"kind": "celery", "host": "gpu-box-7", "pid": 4242, "start": 99}


def _running_elsewhere(store: RunStore, heartbeat_age: float) -> str:
    """A run claimed by a worker on another machine whose last heartbeat is ``heartbeat_age`` s old."""
    run = store.create(SPEC, CONFIG, name="remote")
    with store.transaction() as queue:
        queue.start(run.id, ELSEWHERE)
    store.update(run.id, heartbeat=time.time() - heartbeat_age)
    return run.id


def test_a_remote_run_lives_by_its_heartbeat_and_fails_in_words_when_it_stops(backend, monkeypatch):
    monkeypatch.setenv("NNLAB_HEARTBEAT_TIMEOUT", "10")
    store = RunStore()
    fresh, stale = _running_elsewhere(store, 1.0), _running_elsewhere(store, 60.0)
    assert store.recover() == [stale]
    assert store.get(fresh).status == "running"  # its pid means nothing here: the heartbeat decides
    lost = store.get(stale)
    assert lost.status == "failed" and "gpu-box-7" in lost.error and "no heartbeat for" in lost.error


def test_a_worker_beats_for_the_run_it_trains_and_is_counted(backend, monkeypatch):
    monkeypatch.setenv("NNLAB_HEARTBEAT_TIMEOUT", "10")
    store = RunStore()
    run_id = _running_elsewhere(store, 60.0)  # stale until its worker beats again
    beat = Heartbeat(store, "celery", handle=dict(ELSEWHERE)).start()
    waiting = Heartbeat(store, "local").start()  # this process, waiting for a run
    try:
        beat.busy(run_id)
        assert store.recover() == [] and store.get(run_id).status == "running"
        counts = worker_counts(store)
        assert (counts.connected, counts.busy, counts.machines) == (2, 1, 2)
        assert {w["run_id"] for w in connected_workers(store)} == {run_id, None}
    finally:
        beat.stop()
        waiting.stop()
    assert worker_counts(store).connected == 0  # a stopped worker leaves the table


def test_a_store_of_version_3_gains_heartbeats(backend):
    store = RunStore()
    kept = store.create(SPEC, CONFIG, name="kept")
    with store.db.write() as con:  # the schema as version 3 left it
        con.execute(sa.text("DROP TABLE workers"))
        con.execute(sa.text("ALTER TABLE runs DROP COLUMN heartbeat"))
        con.execute(sa.text("UPDATE nnlab_schema SET version = 3"))
    from nnlab.runs.database import dispose_engines

    dispose_engines()
    again = RunStore()
    assert again.get(kept.id).name == "kept" and again.get(kept.id).heartbeat is None
    with again.db.connect() as con:
        assert con.scalar(sa.text("SELECT version FROM nnlab_schema")) == SCHEMA_VERSION == 4
        assert "heartbeat" in {c.name for c in runs.c}


def test_workers_are_said_in_words():
    assert workers_text(2, 1, 2, 3, celery=True) == (
        "Workers: 2 workers connected on 2 machines, 1 training · 3 runs waiting."
    )
    assert workers_text(1, 0, 1, 0, celery=False) == "Workers: 1 worker connected, 0 training."
    assert "nnlab worker --celery" in workers_text(0, 0, 0, 1, celery=True)
    assert "starts on this machine" in workers_text(0, 0, 0, 0, celery=False)


def test_home_page_shows_connected_and_busy_workers(monkeypatch):
    store = RunStore()
    remote = Heartbeat(store, "celery", handle=dict(ELSEWHERE)).start()
    remote.busy("a-run")
    here = Heartbeat(store, "local").start()
    try:
        at = _home()
        assert not at.exception
        assert any("2 workers connected on 2 machines, 1 training" in c.value for c in at.caption)
    finally:
        remote.stop()
        here.stop()


def test_with_celery_and_no_worker_the_pages_say_runs_wait(monkeypatch):
    monkeypatch.setenv("NNLAB_BROKER_URL", "redis://127.0.0.1:9/0")  # never reached: no run is queued
    at = _home()
    assert not at.exception
    assert any("No worker is connected" in w.value for w in at.warning)
    build = AppTest.from_file("../pages/1_Build_and_Train.py", default_timeout=60)
    build.query_params["visitor"] = "visitor_a"
    build.run()
    assert not build.exception
    assert any("No worker is connected" in w.value for w in build.warning)


def test_nnlab_workers_lists_connected_workers_and_worker_needs_a_broker(monkeypatch):
    from tests.test_cli import nnlab

    store = RunStore()
    remote = Heartbeat(store, "celery", handle=dict(ELSEWHERE)).start()
    remote.busy("abc123def456")
    try:
        out = nnlab("workers")
    finally:
        remote.stop()
    assert out.returncode == 0, out.stderr
    assert "gpu-box-7" in out.stdout and "abc123def456" in out.stdout
    assert "1 connected, 1 training" in out.stdout
    assert nnlab("workers").stdout.strip() == "no worker connected"
    monkeypatch.delenv("NNLAB_BROKER_URL", raising=False)
    refused = nnlab("worker", "--celery")
    assert refused.returncode == 2 and "set NNLAB_BROKER_URL" in refused.stderr
