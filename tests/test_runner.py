"""Real background trainings in worker processes: two at once with a reader, the FIFO queue moving
on when a worker ends, a stop request from another process, and a worker killed with SIGKILL.
(How the queue goes on after a killed worker is tested in test_runs with lighter processes.)

One scenario keeps the number of TensorFlow start-ups (the slow part) small. Both tests run on
both databases (the ``backend`` fixture): SQLite, and a real PostgreSQL holding the models too.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from nnlab.architectures import get_preset
from nnlab.modelio import load_model_safely
from nnlab.runner import Runner
from nnlab.runs import DIED_MESSAGE, RunStore, process_alive
from nnlab.training import TrainConfig
from nnlab.worker import run_here

ROOT = Path(__file__).resolve().parent.parent
MLP = get_preset("MLP 784-128-10")
LOGREG = get_preset("Logistic regression 784-10")
SHORT = TrainConfig(subset=300, epochs=2, validation_fraction=0.1, batch_size=32, batch_event_every=1)
LONG = TrainConfig(subset=1000, epochs=500, validation_fraction=0.1, batch_size=16)


def wait_for(store: RunStore, predicate, what: str, timeout: float = 150.0, read=None):
    """Poll the store (as a page does) until ``predicate()`` holds; ``read`` runs on every poll."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if read is not None:
            read()
        if predicate():
            return
        time.sleep(0.2)
    logs = {p.parent.name: p.read_text()[-1500:] for p in (store.root / "runs").glob("*/worker.log")}
    raise AssertionError(
        f"timed out waiting for {what}; runs: "
        f"{[(r.name, r.status, r.error) for r in store.list()]}; logs: {logs}"
    )


@pytest.fixture
def store(backend):
    """The test's store; at the end no worker is left training (even when the test fails)."""
    s = RunStore()
    yield s
    for run in s.list(statuses=["queued", "running"]):
        s.request_stop(run.id)
        if process_alive(run.worker) and run.worker.get("pid") != os.getpid():
            os.kill(run.worker["pid"], signal.SIGKILL)


def test_background_runs_queue_stop_and_kill(store):
    runner = Runner(store, max_concurrent=2)
    doomed = runner.submit(MLP, LONG, name="doomed")  # will be killed with SIGKILL
    # Submitted by a process that exits at once, as a web server may: its worker lives on.
    env = {**os.environ, "PYTHONPATH": str(ROOT), "NNLAB_MAX_CONCURRENT": "2"}
    submit = (
        "import sys; from nnlab.runner import Runner; from nnlab.architectures import get_preset; "
        "from nnlab.training import TrainConfig; "
        f"print(Runner().submit(get_preset('{LOGREG['name']}'), "
        f"TrainConfig(**{SHORT.to_dict()!r}), name='quick').id)"
    )
    launcher = subprocess.run(
        [sys.executable, "-c", submit], env=env, capture_output=True, text=True, timeout=60
    )
    assert launcher.returncode == 0, launcher.stderr
    quick = store.get(launcher.stdout.strip())
    stoppable = runner.submit(MLP, LONG, name="stoppable")  # waits; started by quick's worker
    assert [store.get(r.id).status for r in (doomed, quick, stoppable)] == ["running", "running", "queued"]
    assert store.queue_position(stoppable.id) == 1

    seen_epochs: dict[str, int] = {}

    def read():  # a reader in another process than the two writers: never an error, never a step back
        for run in store.list():
            n = len(store.metrics(run.id))
            assert n >= seen_epochs.get(run.id, 0)
            seen_epochs[run.id] = n
            store.metrics(run.id, "batch")

    wait_for(store, lambda: store.get(quick.id).status == "completed", "the quick run", read=read)
    wait_for(
        store,
        lambda: (
            store.get(stoppable.id).progress.get("batch", 0) > 0
            and store.get(doomed.id).progress.get("batch", 0) > 0
        ),
        "both long runs to train",
        read=read,
    )
    os.kill(store.get(doomed.id).worker["pid"], signal.SIGKILL)
    stop = subprocess.run(
        [sys.executable, "-m", "nnlab", "stop", stoppable.id],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert stop.returncode == 0, stop.stderr
    wait_for(store, lambda: store.get(doomed.id).status == "failed", "the killed run to show as failed")
    wait_for(store, lambda: not any(r.is_active for r in store.list()), "every run to end")

    runs = {r.name: r for r in RunStore(store.root).list()}  # as after a restart
    assert runs["doomed"].status == "failed" and runs["doomed"].error == DIED_MESSAGE
    assert runs["stoppable"].status == "stopped" and runs["stoppable"].stop_requested
    assert len(store.metrics(stoppable.id, "batch")) > 0 and len(store.metrics(stoppable.id)) < LONG.epochs
    quick = runs["quick"]
    assert quick.status == "completed" and quick.error is None, quick.error
    assert 0 <= quick.test_accuracy <= 1 and quick.test_loss > 0
    epochs = store.metrics(quick.id)
    assert list(epochs["epoch"]) == [1, 2] and epochs["val_accuracy"].notna().all()
    batches = store.metrics(quick.id, "batch")
    assert list(batches["step"]) == list(
        range(0, 2 * quick.progress["steps_per_epoch"] + 1)
    )  # the untrained network's score (step 0), then every batch, in order
    assert quick.progress["epoch"] == 2 and quick.progress["epochs"] == 2
    assert runs["stoppable"].started >= runs["quick"].finished
    # quick's worker, warm already, took the queued run itself (worker.claim_next), writing its own log.
    assert runs["stoppable"].worker["pid"] == runs["quick"].worker["pid"]
    assert store.log_path(stoppable.id).exists()
    for name in ("quick", "stoppable"):  # the saved models load back safely
        model = load_model_safely(store.model_path(runs[name].id))
        assert model.output_shape == (None, 10)
    assert not store.model_path(doomed.id).exists() and not store.has_model(doomed.id)


def test_run_here_stores_a_foreground_training(store, backend):
    events = []
    run = run_here(LOGREG, SHORT, name="terminal", on_event=events.append)
    assert run.status == "completed" and run.worker["pid"] == os.getpid()
    assert [e.kind for e in events][0] == "start" and events[-1].kind == "end"
    assert store.list()[0].id == run.id and len(store.metrics(run.id)) == 2
    assert (store.run_dir(run.id) / "model.keras").is_file() == (backend == "sqlite")  # else in the database
    model = load_model_safely(store.model_path(run.id))
    x = np.zeros((2, 28, 28, 1), dtype=np.float32)
    assert model.predict(x, verbose=0).shape == (2, 10)
    loss, accuracy = model.evaluate(*_test_data(), verbose=0)
    assert abs(accuracy - run.test_accuracy) < 1e-6  # the stored model is the trained one


def _test_data():
    from nnlab import data as nndata

    (_, _), (x_test, y_test) = nndata.load_mnist()
    return nndata.add_channel(nndata.scale(x_test)), y_test
