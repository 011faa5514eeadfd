"""The live view through Streamlit's AppTest: refreshes draw what is new, and the queue moves on.

Runs are written straight into a real store (no TensorFlow, no waiting); the one worker process a
test starts is killed at once.
"""

from __future__ import annotations

import base64
import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest
from factories import batch_event, epoch_event
from streamlit.testing.v1 import AppTest

from nnlab.architectures import get_preset
from nnlab.runs import RunStore, process_alive, process_handle
from nnlab.ui import live_metrics

PAGE = str(Path(__file__).resolve().parent.parent / "pages" / "1_Build_and_Train.py")
SPEC = get_preset("MLP 784-128-10")


@pytest.fixture(autouse=True)
def _each_run_reads(monkeypatch):
    """Each ``at.run()`` here stands for a refresh a second after the last: it reads the store (in the
    app, watchers refreshing within ``SHARED_READ_SECONDS`` of each other share one read)."""
    monkeypatch.setattr(live_metrics, "SHARED_READ_SECONDS", 0.0)


@pytest.fixture
def store(_isolated_home):
    s = RunStore()
    yield s
    for run in s.list():
        if run.worker.get("pid") not in (None, os.getpid()) and process_alive(run.worker):
            os.kill(run.worker["pid"], signal.SIGKILL)


def _page(run_id: str) -> AppTest:
    at = AppTest.from_file(PAGE, default_timeout=90)
    at.query_params["visitor"] = "visitor-a"  # the owner: visitors see only their own runs
    at.query_params["run"] = run_id
    at.run()
    assert not at.exception, at.exception
    return at


def _charts(at: AppTest) -> dict[str, dict]:
    """The page's charts by name (loss, acc, lr), as the JSON the browser gets."""
    return {c.key.split("_")[1]: json.loads(c.proto.spec) for c in at.get("plotly_chart")}


def _points(spec: dict) -> int:
    """Points drawn in a chart (plotly sends numeric arrays as base64 float64)."""
    return sum(len(base64.b64decode(t["x"]["bdata"])) // 8 for t in spec["data"] if "bdata" in t["x"])


def _write(store: RunStore, run_id: str, epoch: int, batches: range, **progress) -> None:
    events = [batch_event(epoch, b, loss=1.0 / b, accuracy=0.005 * b) for b in batches]
    if batches[-1] == 100:
        events.append(epoch_event(epoch, loss=0.5, accuracy=0.8, val_loss=0.55, val_accuracy=0.78))
    prog = {"epoch": epoch, "epochs": 3, "batch": batches[-1], "steps_per_epoch": 100, "elapsed": 5.0 * epoch}
    store.add_events(run_id, events, {**prog, **progress})


def test_a_refresh_draws_the_new_batches_as_a_fresh_visitor_sees_them(store):
    run = store.create(SPEC, {"epochs": 3}, name="watched", owner="visitor-a")
    store.update(run.id, status="running", started=time.time(), worker=process_handle())
    _write(store, run.id, 1, range(5, 101, 5))
    at = _page(run.id)
    before = _charts(at)
    _write(store, run.id, 2, range(5, 51, 5))
    at.run()  # the fragment's refresh, as its timer would ask for it
    after = _charts(at)
    assert _points(after["loss"]) > _points(before["loss"])
    assert after["lr"] == before["lr"]  # no new epoch: the same learning-rate chart
    fresh = _charts(_page(run.id))  # a new session (a second tab) reads the whole history at once
    assert after == fresh


def test_a_waiting_runs_view_starts_the_queue_again_after_a_dead_worker(store):
    done = subprocess.Popen(["true"])
    done.wait()
    dead = store.create(SPEC, {"epochs": 1, "subset": 500}, name="its worker died", owner="x")
    store.update(dead.id, status="running", started=time.time(), worker=process_handle(done.pid))
    first = store.create(SPEC, {"epochs": 1, "subset": 500}, name="next in the queue", owner="y")
    mine = store.create(SPEC, {"epochs": 1, "subset": 500}, name="mine", owner="visitor-a")
    at = _page(mine.id)  # only the second run in the queue is watched
    assert store.get(dead.id).status == "failed"
    started = store.get(first.id)
    assert started.status == "running" and started.worker.get("pid")
    os.kill(started.worker["pid"], signal.SIGKILL)  # the test needs no training
    infos = [str(i.value) for i in at.info]
    assert any("Waiting, position 1 in the queue" in i for i in infos), infos


def test_a_waiting_run_says_about_how_long_it_waits_from_recent_trainings(store):
    for seconds in (50, 70, 60):  # recent trainings took a minute (the median)
        old = store.create(SPEC, {"epochs": 1, "subset": 500}, name="done", owner="z")
        store.update(old.id, status="completed", started=1000.0, finished=1000.0 + seconds)
    busy = store.create(SPEC, {"epochs": 1, "subset": 500}, name="training", owner="x")
    store.update(busy.id, status="running", started=time.time(), worker=process_handle())  # this process
    store.create(SPEC, {"epochs": 1, "subset": 500}, name="ahead", owner="y")
    mine = store.create(SPEC, {"epochs": 1, "subset": 500}, name="mine", owner="visitor-a")
    infos = [str(i.value) for i in _page(mine.id).info]  # one slot: two rounds of about a minute
    assert any("Waiting, position 2 in the queue (about 2:00)" in i for i in infos), infos


def test_the_wait_estimate_counts_whole_rounds_of_the_slots():
    from nnlab.runs.eta import estimated_wait

    assert estimated_wait(1, 1, 30.0) == 30.0
    assert estimated_wait(5, 2, 30.0) == 90.0  # runs 1-2, 3-4, then 5
    assert estimated_wait(3, 4, 30.0) == 30.0
    assert estimated_wait(3, 1, None) is None  # no recent training: no estimate
