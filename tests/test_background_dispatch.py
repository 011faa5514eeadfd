"""The queue moves on by itself after a worker dies: once the web server has served a page, a run whose
worker is killed with SIGKILL (as the kernel kills a process out of memory) becomes failed, in words,
and the run waiting behind it trains to the end, with no page opened in between.

Real workers (TensorFlow processes), on the default store (SQLite): what the dispatcher thread calls,
``Runner.dispatch`` failing a dead worker's run and starting the next one, runs on both databases in
test_runs (the queue going on after a killed worker) and test_runner (a real worker killed). The test
reads the store without the recovery that a page's read applies (``RunStore.require``), and never
dispatches itself.
"""

from __future__ import annotations

import os
import signal
import threading
import time
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from nnlab.architectures import get_preset
from nnlab.dispatcher import THREAD_NAME, BackgroundDispatcher
from nnlab.runner import Runner
from nnlab.runs import DIED_MESSAGE, RunStore, process_alive
from nnlab.training import TrainConfig

ROOT = Path(__file__).resolve().parent.parent
LONG = TrainConfig(subset=1000, epochs=500, validation_fraction=0.1, batch_size=16)
SHORT = TrainConfig(subset=300, epochs=1, validation_fraction=0.1, batch_size=32)


def _until(predicate, what: str, store: RunStore, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.25)
    runs = [(store.require(r).name, store.require(r).status) for r in _ids(store)]  # no recovery
    raise AssertionError(f"timed out waiting for {what}; runs: {runs}")


def _ids(store: RunStore) -> list[str]:
    return [p.name for p in (store.root / "runs").iterdir()]


def _dispatchers() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == THREAD_NAME and t.is_alive()]


@pytest.fixture
def store():
    s = RunStore()
    yield s
    for run_id in _ids(s):
        run = s.require(run_id)
        if run.is_active:
            s.request_stop(run.id)
        if run.status == "running" and process_alive(run.worker) and run.worker.get("pid") != os.getpid():
            os.kill(run.worker["pid"], signal.SIGKILL)


def test_a_killed_worker_is_failed_and_the_next_run_starts_without_a_page_load(store):
    before = len(_dispatchers())
    home = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
    home.query_params["visitor"] = "a" * 32
    home.run()  # a visitor opens the home page once; from now on nobody opens a page
    assert not home.exception
    AppTest.from_file(str(ROOT / "app.py"), default_timeout=120).run()  # a second visitor: still one
    assert len(_dispatchers()) == before + 1

    runner = Runner(store, max_concurrent=1)
    doomed = runner.submit(get_preset("MLP 784-128-10"), LONG, name="doomed", owner="a" * 32)
    waiting = runner.submit(get_preset("Logistic regression 784-10"), SHORT, name="waiting", owner="b" * 32)
    assert store.require(waiting.id).status == "queued"
    _until(
        lambda: store.require(doomed.id).progress.get("batch", 0) > 0, "the first run to train", store, 150
    )

    os.kill(store.require(doomed.id).worker["pid"], signal.SIGKILL)  # as the out-of-memory killer does
    _until(lambda: store.require(doomed.id).status == "failed", "the killed run to be failed", store, 30)
    dead = store.require(doomed.id)
    assert dead.error.startswith(DIED_MESSAGE) and "ended unexpectedly" in dead.error
    _until(lambda: store.require(waiting.id).status == "completed", "the waiting run to complete", store, 150)
    done = store.require(waiting.id)
    assert done.error is None and 0 <= done.test_accuracy <= 1 and store.has_model(done.id)


def test_the_dispatcher_keeps_going_after_an_error_and_stops_when_asked(tmp_path):
    calls = []

    class Flaky:
        store = RunStore(tmp_path / "store")

        def dispatch(self):
            calls.append(time.monotonic())
            if len(calls) == 1:
                raise RuntimeError("the database is restarting")
            return []

    dispatcher = BackgroundDispatcher(Flaky(), interval=0.05).start()
    deadline = time.monotonic() + 10
    while len(calls) < 3 and time.monotonic() < deadline:
        time.sleep(0.02)
    dispatcher.stop()
    assert len(calls) >= 3 and not dispatcher.alive
