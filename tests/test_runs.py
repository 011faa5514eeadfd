"""The run store and the queue, without TensorFlow: persistence, concurrency, FIFO order, bound,
stop requests, recovery of dead workers, deletion, and the ``runs``/``stop``/``delete`` commands.

Every test runs on both databases (the ``backend`` fixture): SQLite and a real PostgreSQL."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from factories import batch_event, epoch_event

from nnlab.architectures import get_preset
from nnlab.cli import main
from nnlab.runner import Runner
from nnlab.runs import DIED_MESSAGE, RunNotFound, RunStore, default_root, process_alive, process_handle
from nnlab.training import TrainConfig

ROOT = Path(__file__).resolve().parent.parent
SPEC = get_preset("Logistic regression 784-10")
CONFIG = TrainConfig(subset=300, epochs=1, validation_fraction=0.1).to_dict()

pytestmark = pytest.mark.usefixtures("backend")


class SleepExecutor:
    """A real executor whose 'training' is a ``sleep`` process: the queue sees real, live pids."""

    def __init__(self) -> None:
        self.launched: list[str] = []
        self.procs: dict[str, subprocess.Popen] = {}

    def launch(self, store, run_id):
        proc = subprocess.Popen(["sleep", "60"])
        self.launched.append(run_id)
        self.procs[run_id] = proc
        return process_handle(proc.pid)

    def is_alive(self, handle):
        for proc in self.procs.values():
            proc.poll()  # reap, so that a killed one is not a zombie
        return process_alive(handle)

    def finish(self, store, run_id, status="completed"):
        store.update(run_id, status=status, finished=time.time())
        self.procs[run_id].kill()
        self.procs[run_id].wait()

    def close(self):
        for proc in self.procs.values():
            proc.kill()
            proc.wait()


@pytest.fixture
def sleeper():
    executor = SleepExecutor()
    yield executor
    executor.close()


def test_default_root_follows_the_environment(tmp_path, monkeypatch, backend):
    monkeypatch.setenv("NNLAB_HOME", str(tmp_path / "elsewhere"))
    assert default_root() == tmp_path / "elsewhere"
    store = RunStore()
    assert store.root == tmp_path / "elsewhere" and (store.root / "runs").is_dir()
    assert (store.root / "runs.sqlite").is_file() == (backend == "sqlite")  # PostgreSQL: no file
    monkeypatch.delenv("NNLAB_HOME")
    assert "nnlab" in str(default_root())


def test_store_survives_a_reopen(tmp_path):
    store = RunStore(tmp_path)
    run = store.create(SPEC, CONFIG, name="first", owner="ann")
    other = store.create(SPEC, CONFIG)
    assert run.status == "queued" and run.n_params == 7850 and run.progress == {} and not run.stop_requested
    store.add_events(
        run.id,
        [batch_event(1, 5, loss=2.0, accuracy=0.2, steps_per_epoch=9)],
        {"epoch": 1, "epochs": 2, "batch": 5, "steps_per_epoch": 9},
    )
    store.add_events(run.id, [epoch_event(1, loss=1.5, accuracy=0.5, val_loss=1.6, val_accuracy=0.45)])
    store.update(run.id, status="completed", finished=time.time(), test_loss=1.4, test_accuracy=0.6)
    del store

    again = RunStore(tmp_path)
    back = again.get(run.id)
    assert back.name == "first" and back.owner == "ann" and back.status == "completed"
    assert back.spec == SPEC and back.config == CONFIG
    assert (back.test_loss, back.test_accuracy) == (1.4, 0.6)
    assert back.progress["steps_per_epoch"] == 9
    epochs = again.metrics(run.id)
    assert list(epochs["val_accuracy"]) == [0.45] and list(epochs.columns[:3]) == [
        "epoch",
        "loss",
        "accuracy",
    ]
    assert list(again.metrics(run.id, "batch")["step"]) == [5]
    assert [r.id for r in again.list()] == [other.id, run.id]  # newest first
    assert [r.id for r in again.list(owner="ann", include_unowned=False)] == [run.id]
    assert [r.id for r in again.list(statuses=["queued"])] == [other.id]
    assert again.metrics(other.id).empty and list(again.metrics(other.id).columns)[:2] == ["epoch", "loss"]


CONCURRENT_WRITER = textwrap.dedent("""
    import sys
    from nnlab.events import BatchEvent, EpochEvent
    from nnlab.runs import RunStore
    store = RunStore(sys.argv[1])
    run_id, n = sys.argv[2], int(sys.argv[3])
    for i in range(1, n + 1):   # one transaction per flush, as a training writes them
        store.add_events(run_id, [BatchEvent(epoch=1, batch=i, step=i, loss=1.0 / i, accuracy=0.5,
                                            elapsed=0.1, samples_per_sec=100.0)], {"batch": i})
        if i % 10 == 0:
            store.add_events(run_id, [EpochEvent(epoch=i // 10, loss=0.5, accuracy=0.5, lr=1e-3, elapsed=1.0,
                                                samples_per_sec=100.0)])
    store.update(run_id, status="completed")
""")


def test_concurrent_writers_and_a_reader_lose_nothing(tmp_path):
    store = RunStore(tmp_path)
    runs = [store.create(SPEC, CONFIG, name=f"writer {i}") for i in range(2)]
    for run in runs:
        store.update(run.id, status="running", worker=process_handle())
    n = 150
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", CONCURRENT_WRITER, str(tmp_path), run.id, str(n)],
            env=env,
            stderr=subprocess.PIPE,
            text=True,
        )
        for run in runs
    ]
    reads = 0
    while any(p.poll() is None for p in procs):  # the reader: what a page's polling does
        for run in store.list():
            frame = store.metrics(run.id, "batch")
            assert list(frame["batch"]) == list(range(1, len(frame) + 1))  # in order, no gaps
        reads += 1
    errors = [p.stderr.read() for p in procs]
    assert [p.returncode for p in procs] == [0, 0], errors
    assert not any("locked" in e for e in errors)
    assert reads > 0
    for run in runs:
        assert len(store.metrics(run.id, "batch")) == n
        assert list(store.metrics(run.id)["epoch"]) == list(range(1, n // 10 + 1))
        assert store.get(run.id).status == "completed" and store.get(run.id).progress == {"batch": n}


def test_queue_is_fifo_and_bounded(tmp_path, sleeper):
    runner = Runner(RunStore(tmp_path), max_concurrent=2, executor=sleeper)
    runs = [runner.submit(SPEC, CONFIG, name=f"run {i}") for i in range(5)]
    store = runner.store
    assert [store.get(r.id).status for r in runs] == ["running", "running", "queued", "queued", "queued"]
    assert [store.queue_position(r.id) for r in runs] == [None, None, 1, 2, 3]
    assert runner.dispatch() == []  # full: nothing more starts

    sleeper.finish(store, runs[0].id)
    assert runner.dispatch() == [runs[2].id]
    assert [store.queue_position(r.id) for r in runs[3:]] == [1, 2]

    store.request_stop(runs[3].id)  # a queued run is stopped without ever training
    assert store.get(runs[3].id).status == "stopped" and store.get(runs[3].id).started is None
    assert store.queue_position(runs[3].id) is None and store.queue_position(runs[4].id) == 1

    sleeper.procs[runs[1].id].kill()  # a worker dies: its slot frees, the queue goes on
    sleeper.procs[runs[1].id].wait()
    assert runner.dispatch() == [runs[4].id]
    assert store.get(runs[1].id).status == "failed"
    assert sleeper.launched == [runs[0].id, runs[1].id, runs[2].id, runs[4].id]


def test_submit_refuses_bad_input_in_plain_words(tmp_path, sleeper):
    runner = Runner(RunStore(tmp_path), executor=sleeper)
    with pytest.raises(ValueError, match="last layer must be Dense with 10 units"):
        runner.submit(
            {"layers": [{"kind": "Flatten"}, {"kind": "Dense", "units": 5, "activation": "softmax"}]}, CONFIG
        )
    with pytest.raises(ValueError, match="batch size"):
        runner.submit(SPEC, {**CONFIG, "batch_size": 0})
    with pytest.raises(ValueError, match="at least 1"):
        Runner(RunStore(tmp_path), max_concurrent=0)
    assert runner.store.list() == [] and sleeper.launched == []


DISPATCHER = textwrap.dedent("""
    import subprocess, sys
    from nnlab.runner import Runner
    from nnlab.runs import RunStore, process_alive, process_handle

    class Sleep:
        def launch(self, store, run_id):
            quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL}
            return process_handle(subprocess.Popen(["sleep", "30"], **quiet, start_new_session=True).pid)
        def is_alive(self, handle):
            return process_alive(handle)

    print("ready", flush=True)
    sys.stdin.readline()  # all dispatch at about the same moment, once every one is ready
    print(len(Runner(RunStore(sys.argv[1]), max_concurrent=2, executor=Sleep()).dispatch()))
""")


def test_dispatch_from_many_processes_keeps_the_bound(tmp_path):
    store = RunStore(tmp_path)
    runs = [store.create(SPEC, CONFIG, name=f"run {i}") for i in range(6)]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", DISPATCHER, str(tmp_path)],
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(4)
    ]
    assert [p.stdout.readline() for p in procs] == ["ready\n"] * 4  # each has imported nnlab
    for p in procs:
        p.stdin.write("go\n")
        p.stdin.flush()
    outs = [p.communicate(timeout=60) for p in procs]
    try:
        assert [p.returncode for p in procs] == [0] * 4, outs
        assert sum(int(out) for out, _ in outs) == 2
        running = [r.id for r in store.list(statuses=["running"])]
        assert sorted(running) == sorted(r.id for r in runs[:2])  # the two oldest
    finally:
        for run in store.list(statuses=["running"]):
            os.kill(run.worker["pid"], 9)


def test_recover_fails_dead_and_recycled_workers_only(tmp_path):
    store = RunStore(tmp_path)
    done = subprocess.Popen(["true"])
    done.wait()
    dead = store.create(SPEC, CONFIG, name="dead")
    recycled = store.create(SPEC, CONFIG, name="recycled pid")
    alive = store.create(SPEC, CONFIG, name="alive")
    finished = store.create(SPEC, CONFIG, name="finished")
    store.update(dead.id, status="running", worker=process_handle(done.pid))
    store.update(
        recycled.id, status="running", worker={"pid": os.getpid(), "start": process_handle()["start"] - 1}
    )
    store.update(alive.id, status="running", worker=process_handle())
    store.update(finished.id, status="completed", test_accuracy=0.9)

    by_name = {r.name: r for r in RunStore(tmp_path).list()}  # listing after a restart
    assert by_name["dead"].status == "failed" and by_name["dead"].error == DIED_MESSAGE
    assert by_name["recycled pid"].status == "failed" and by_name["dead"].finished is not None
    assert by_name["alive"].status == "running"
    assert by_name["finished"].status == "completed" and by_name["finished"].test_accuracy == 0.9


def test_dead_worker_message_quotes_its_last_error(tmp_path):
    store = RunStore(tmp_path)
    run = store.create(SPEC, CONFIG)
    store.log_path(run.id).write_text(
        "E0000 cuda_platform.cc:52] failed call to cuInit: CUDA error\n"
        "Traceback (most recent call last):\nMemoryError: out of memory\n"
    )
    store.update(run.id, status="running", worker={"pid": 2**22 + 7, "start": 1})
    assert store.get(run.id).error == DIED_MESSAGE + " Its last message: MemoryError: out of memory"


def test_stop_request_reaches_a_running_run(tmp_path):
    store = RunStore(tmp_path)
    run = store.create(SPEC, CONFIG)
    store.update(run.id, status="running", worker=process_handle())
    assert not store.stop_requested(run.id)
    store.request_stop(run.id)
    assert store.stop_requested(run.id) and store.get(run.id).status == "running"
    store.update(run.id, status="completed")
    store.request_stop(run.id)  # a finished run is left alone
    assert store.get(run.id).status == "completed"
    with pytest.raises(RunNotFound):
        store.request_stop("nosuchrun")


def test_delete(tmp_path):
    store = RunStore(tmp_path)
    running, done, queued = (store.create(SPEC, CONFIG, name=n) for n in ("running", "done", "queued"))
    store.update(running.id, status="running", worker=process_handle())
    store.update(done.id, status="completed")
    store.add_events(done.id, [epoch_event(1, loss=1.0)])
    store.save_model(done.id, b"model")
    store.write_artifact(done.id, "test_probs.npy", b"probs")
    assert store.has_model(done.id) and store.model_path(done.id).read_bytes() == b"model"
    with pytest.raises(ValueError, match="stop it first"):
        store.delete(running.id)
    store.delete(done.id)
    store.delete(queued.id)
    assert [r.id for r in store.list()] == [running.id]
    assert not store.run_dir(done.id).exists() and store.metrics(done.id).empty
    assert not store.has_model(done.id) and store.read_artifact(done.id, "test_probs.npy") is None
    assert not store.model_path(done.id).exists()
    with pytest.raises(RunNotFound):
        store.delete(done.id)


def test_listing_ignores_crash_leftovers(tmp_path):
    store = RunStore(tmp_path)
    run = store.create(SPEC, CONFIG)
    orphan = store.root / "runs" / "0123abcd4567"  # a folder whose row was never committed
    orphan.mkdir()
    (orphan / ".model.123.tmp.keras").write_bytes(b"half a model")
    os.utime(orphan, (time.time() - 3600, time.time() - 3600))
    (store.run_dir(run.id) / ".model.99.tmp.keras").write_bytes(b"half")
    assert [r.id for r in RunStore(tmp_path).list()] == [run.id]
    assert store.clean_orphans() == [orphan.name] and not orphan.exists()
    assert store.run_dir(run.id).exists()


def test_find_by_prefix_or_name(tmp_path):
    store = RunStore(tmp_path)
    a = store.create(SPEC, CONFIG, name="alpha")
    assert store.find(a.id[:5]).id == a.id and store.find("alpha").id == a.id
    with pytest.raises(RunNotFound, match="no run 'zzz'"):
        store.find("zzz")


def test_cli_runs_stop_delete(capsys, sleeper):
    store = RunStore()  # NNLAB_HOME from the fixture, as the command line uses it
    runner = Runner(store, max_concurrent=1, executor=sleeper)
    first = runner.submit(SPEC, CONFIG, name="first", owner="ann")
    second = runner.submit(SPEC, CONFIG, name="second")
    store.update(first.id, test_accuracy=0.5)

    assert main(["runs", "--json"]) == 0
    records = json.loads(capsys.readouterr().out)
    assert [(r["id"], r["name"], r["status"]) for r in records] == [
        (second.id, "second", "queued"),
        (first.id, "first", "running"),
    ]
    assert records[1]["test_accuracy"] == 0.5 and records[0]["queue_position"] == 1
    assert main(["runs", "--json", "--owner", "bob"]) == 0
    assert [r["id"] for r in json.loads(capsys.readouterr().out)] == [second.id]
    assert main(["runs"]) == 0
    assert "queued #1" in capsys.readouterr().out

    assert main(["stop", first.id]) == 0
    assert store.stop_requested(first.id)
    assert main(["delete", first.id]) == 2
    assert "stop it first" in capsys.readouterr().err
    assert main(["stop", "second"]) == 0 and store.get(second.id).status == "stopped"
    assert main(["delete", second.id[:6]]) == 0 and store.get(second.id) is None
    capsys.readouterr()
    for command in ("stop", "delete"):
        assert main([command, "nosuchrun"]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and "no run 'nosuchrun'" in err


def test_execute_run_leaves_other_processes_runs_alone(tmp_path, sleeper):
    from nnlab.worker import execute_run

    store = RunStore(tmp_path)
    runner = Runner(store, max_concurrent=1, executor=sleeper)
    theirs = runner.submit(SPEC, CONFIG, name="theirs")  # claimed by another live process
    stopped = runner.submit(SPEC, CONFIG, name="stopped")
    store.request_stop(stopped.id)
    done = store.create(SPEC, CONFIG, name="done")
    store.update(done.id, status="completed")
    for run in (theirs, stopped, done):
        before = store.get(run.id)
        assert execute_run(store, run.id) is None
        assert store.get(run.id) == before
    with pytest.raises(RunNotFound):
        execute_run(store, "nosuchrun")


def test_a_worker_on_another_machine_is_left_to_its_machine(tmp_path):
    import socket

    store = RunStore(tmp_path)
    theirs, ours = store.create(SPEC, CONFIG, name="theirs"), store.create(SPEC, CONFIG, name="ours")
    gone = {"pid": 2**22 + 7, "start": 1}  # no such process here
    store.update(theirs.id, status="running", worker={"host": "another-machine", **gone})
    store.update(ours.id, status="running", worker={"host": socket.gethostname(), **gone})
    assert store.get(ours.id).status == "failed"
    assert store.get(theirs.id).status == "running"  # its pid means nothing on this machine
    assert process_handle()["host"] == socket.gethostname()
