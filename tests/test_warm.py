"""Warm spare workers (``nnlab/warm.py``, ``nnlab/spare.py``): real spare processes that import
TensorFlow ahead of time.

A run handed to a spare trains there and its model is evaluable; the spare's pid is the run's worker
identity, so a spare killed with SIGKILL fails its run in words and the queue goes on; a spare
exits when the server that started it goes away, at once even in the middle of its warm-up; the
next queued run goes to the server's warm spare (the worker leaves it to the server while it
lives); a worker that finished its run goes back to the spares and takes the next click itself,
never leaving more than ``count`` idle spares; with no spares the runner starts none.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from types import SimpleNamespace

import pytest
from test_runner import LOGREG, LONG, MLP, SHORT, _test_data, wait_for

from nnlab.dispatcher import BackgroundDispatcher, stop_all
from nnlab.modelio import load_model_safely
from nnlab.runner import LocalProcessExecutor, Runner
from nnlab.runs import DIED_MESSAGE, RunStore, process_alive, process_handle
from nnlab.spare import READY, RunIdPipe
from nnlab.warm import ENV_READY_FD, _extras, dispatcher_env, warm_workers
from nnlab.worker import run_here, server_dispatches

ROOT = Path(__file__).resolve().parent.parent
SPARE_EXIT_S = 180.0  # a spare still importing TensorFlow on a busy machine sees its closed pipe after that


def _gone(pid: int, timeout: float = SPARE_EXIT_S) -> bool:
    handle = process_handle(pid)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not process_alive(handle):
            return True
        time.sleep(0.2)
    return False


@pytest.fixture
def warm_runner():
    """A runner with one warm spare; at the end its spares are let go and every one must exit."""
    store = RunStore()
    executor = LocalProcessExecutor(env=dispatcher_env(), warm=1)  # this process plays the web server
    runner = Runner(store, max_concurrent=1, executor=executor)
    started: set[int] = set()
    original = executor.spares._start

    def tracked(*args):
        proc = original(*args)
        started.add(proc.pid)
        return proc

    executor.spares._start = tracked
    yield runner
    stop_all()  # a test's background dispatcher: no more top-ups
    for run in store.list(statuses=["queued", "running"]):
        store.request_stop(run.id)
    executor.close()
    left = [pid for pid in sorted(started) if not _gone(pid)]
    for pid in left:
        os.kill(pid, signal.SIGKILL)
    assert not left, f"spares {left} outlived their server's pipe"


def test_a_killed_spare_fails_its_run_in_words_and_the_queue_goes_on(warm_runner):
    store = warm_runner.store
    warm_runner.dispatch()
    [spare] = warm_runner.executor.spares.pids()
    doomed = warm_runner.submit(MLP, LONG, name="doomed")
    assert doomed.worker["pid"] == spare
    wait_for(store, lambda: len(store.metrics(doomed.id, "batch")) > 0, "the doomed run to train")
    [next_spare] = warm_runner.executor.spares.pids()
    after = warm_runner.submit(LOGREG, SHORT, name="after")  # waits: one training at a time
    assert store.get(after.id).status == "queued"
    os.kill(spare, signal.SIGKILL)
    wait_for(
        store,
        lambda: store.get(after.id).status == "completed",
        "the queue to go on after the killed spare",
        read=warm_runner.dispatch,  # what the server's background dispatcher does every few seconds
    )
    assert store.get(doomed.id).status == "failed" and store.get(doomed.id).error == DIED_MESSAGE
    assert store.get(after.id).worker["pid"] == next_spare  # the next run went to the next spare


def test_spares_exit_when_their_server_goes_away():
    code = (
        "import sys, time; from nnlab.runner import LocalProcessExecutor; from nnlab.runs import RunStore; "
        "e = LocalProcessExecutor(warm=2); e.keep_warm(RunStore()); "
        "print(*e.spares.pids(), flush=True); time.sleep(600)"
    )
    server = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, cwd=ROOT, text=True)
    try:
        spares = [int(pid) for pid in server.stdout.readline().split()]
    finally:
        server.kill()  # SIGKILL: the server cannot tell its spares anything
        server.wait()
    assert len(spares) == 2
    left = [pid for pid in spares if not _gone(pid)]
    for pid in left:
        os.kill(pid, signal.SIGKILL)
    assert not left, "a spare outlived the server that started it"


def _spare_with_warm_up(seconds: float) -> subprocess.Popen:
    """A spare's own waiting code (``wait_for_run``) whose warm-up takes ``seconds`` (no TensorFlow);
    it prints the run id it gets (into that run's log, where a spare's output goes once given a run)."""
    code = (
        "import time, nnlab.spare as w; "
        f"w.warm_up = lambda: time.sleep({seconds}); "
        "print(w.wait_for_run()[0], flush=True)"
    )
    return subprocess.Popen(
        [sys.executable, "-c", code], stdin=subprocess.PIPE, stdout=subprocess.PIPE, cwd=ROOT, text=True
    )


def test_a_spare_let_go_mid_warm_up_exits_at_once_and_one_given_a_run_keeps_it(_isolated_home):
    let_go = _spare_with_warm_up(600)
    given = _spare_with_warm_up(3)
    try:
        time.sleep(1)  # both are warming up
        let_go.stdin.close()  # the server went away: no run will come
        given.stdin.write("run123\n")
        given.stdin.close()  # the run id, then the server went away
        assert let_go.wait(timeout=60) == 0  # not after its 600 s warm-up
        assert let_go.stdout.read() == ""  # it never got as far as a run
        assert given.wait(timeout=60) == 0
        log = RunStore().log_path("run123")
        assert log.read_text().strip() == "run123"  # read once warm, though sent mid-warm-up
    finally:
        for proc in (let_go, given):
            if proc.poll() is None:
                proc.kill()
                proc.wait()


def test_no_spares_when_turned_off(monkeypatch):
    for raw, count in (("", 1), ("0", 0), ("3", 3), ("99", 8), ("-2", 0), ("many", 1)):
        monkeypatch.setenv("NNLAB_WARM_WORKERS", raw)
        assert warm_workers() == count
    executor = LocalProcessExecutor()  # the terminal's and the workers' runner: never a spare
    runner = Runner(RunStore(), executor=executor)
    runner.dispatch()
    assert executor.spares.pids() == []


def test_runs_handed_to_warm_spares_train_there_like_cold_workers_and_the_queue_uses_the_next_spare(
    warm_runner,
):
    """One server's spares for two checks: a run handed to a spare trains there like a cold worker, and
    the run queued behind it goes to a warm process (the first run's worker, or the next spare)."""
    store = warm_runner.store
    BackgroundDispatcher(warm_runner, interval=0.5).start()  # stopped by conftest at the end
    warm_runner.dispatch()  # the server's first dispatch starts the spare
    [spare] = warm_runner.executor.spares.pids()
    first = warm_runner.submit(LOGREG, SHORT, name="first")
    assert first.worker["pid"] == spare and first.status == "running"
    [next_spare] = warm_runner.executor.spares.pids()  # a new spare waits for the next run
    assert next_spare != spare and process_alive(process_handle(next_spare))
    second = warm_runner.submit(LOGREG, SHORT, name="second")
    assert store.get(second.id).status == "queued"
    wait_for(store, lambda: store.get(second.id).status == "completed", "the queued run to complete")
    done = store.get(first.id)
    assert done.status == "completed" and done.worker["pid"] == spare
    model = load_model_safely(store.model_path(first.id))
    loss, accuracy = model.evaluate(*_test_data(), verbose=0)
    assert abs(accuracy - done.test_accuracy) < 1e-6  # the stored model is the one trained
    # The warm-up left nothing behind: the same training in this process gives the same numbers.
    here = run_here(LOGREG, SHORT, name="cold")
    assert here.test_accuracy == pytest.approx(done.test_accuracy, abs=1e-6)
    assert len(store.metrics(first.id)) == len(store.metrics(here.id)) == 2
    # The queued run was taken by a warm process: the first run's worker itself, free again (it
    # claims the next queued run at once), or, if the server's dispatcher was quicker, its next spare.
    assert store.get(second.id).worker["pid"] in (spare, next_spare)


def test_a_worker_dispatches_the_next_run_itself_unless_its_server_lives(monkeypatch):
    monkeypatch.delenv("NNLAB_DISPATCHER", raising=False)
    assert not server_dispatches()  # started by the terminal or a server without spares
    monkeypatch.setenv("NNLAB_DISPATCHER", dispatcher_env()["NNLAB_DISPATCHER"])
    assert server_dispatches()  # this process plays the server
    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True)
    monkeypatch.setenv("NNLAB_DISPATCHER", f"{int(gone.stdout)}:1")
    assert not server_dispatches()  # its server died: the worker moves the queue on itself


def test_a_worker_back_from_its_run_takes_the_next_click_and_the_pool_keeps_count_idle(warm_runner):
    """Back-to-back clicks: the worker that trained the last run goes back to the spares, warm, and
    the next run goes to it; the replacement started meanwhile is let go (never more than ``count``
    idle spares); at the end, closing the pool makes the returned worker exit (the fixture checks)."""
    store, spares = warm_runner.store, warm_runner.executor.spares
    warm_runner.dispatch()
    [spare] = spares.pids()
    first = warm_runner.submit(LOGREG, SHORT, name="first")
    assert first.worker["pid"] == spare and spares.pids() != [spare]
    [replacement] = spares.pids()
    os.kill(replacement, signal.SIGSTOP)  # it stays mid-warm-up, however fast the machine
    try:
        wait_for(store, lambda: store.get(first.id).status == "completed", "the first run to complete")
        back = lambda: spares.pids() == [spare]  # noqa: E731
        wait_for(store, back, "the worker back among the spares", read=warm_runner.dispatch)
    finally:
        os.kill(replacement, signal.SIGCONT)
    assert _gone(replacement)  # let go while still warming up: one idle spare, the warm one
    second = warm_runner.submit(LOGREG, SHORT, name="second")
    assert second.worker["pid"] == spare  # the same warm process, with no new worker to start
    wait_for(store, lambda: store.get(second.id).status == "completed", "the second run to complete")
    done = store.get(second.id)
    model = load_model_safely(store.model_path(second.id))
    loss, accuracy = model.evaluate(*_test_data(), verbose=0)
    assert abs(accuracy - done.test_accuracy) < 1e-6  # the second run's own model, stored
    assert done.test_accuracy == pytest.approx(store.get(first.id).test_accuracy, abs=1e-6)  # fresh Keras
    assert store.log_path(second.id).exists()  # the worker's output moved to the second run's log
    returned = lambda: spare in spares.pids() or not process_alive(process_handle(spare))  # noqa: E731
    wait_for(store, returned, "the worker to come back again", read=warm_runner.dispatch)
    assert len(spares.pids()) == 1  # it and the next replacement: one of them was let go


def test_a_spare_says_ready_each_time_it_waits_and_reads_run_ids_until_the_end_of_its_pipe(monkeypatch):
    """The spare's side of the two pipes (``spare.RunIdPipe``): "ready" before each wait, the run ids
    one a line, None at the end of file or once its worker is asked to stop."""
    ids_in, ids_out = os.pipe()
    said, says = os.pipe()
    monkeypatch.setenv(ENV_READY_FD, str(says))
    pipe = RunIdPipe(ids_in)
    assert ENV_READY_FD not in os.environ  # not passed on to a worker this one starts
    try:
        os.write(ids_out, b"run1\nrun2\n")
        assert pipe.next_run() == "run1" and pipe.next_run() == "run2"
        assert os.read(said, 100) == READY * 2
        stop = threading.Event()
        threading.Timer(0.3, stop.set).start()
        assert pipe.next_run(stop) is None  # SIGTERM while free: the worker exits
        os.close(ids_out)
        ids_out = None
        assert pipe.next_run() is None  # the server let it go
        assert os.read(said, 100) == READY * 2
    finally:
        for fd in (ids_in, ids_out, said, says):
            if fd is not None:
                os.close(fd)


def test_the_idle_spares_let_go_first_are_those_still_warming_up_then_returned_workers():
    warming = SimpleNamespace(warming=True, handed=0)
    fresh = SimpleNamespace(warming=False, handed=0)
    returned = SimpleNamespace(warming=False, handed=3)
    assert _extras([fresh, returned, warming], 1) == [warming, returned]
    assert _extras([returned, fresh], 1) == [returned]
    assert _extras([warming, returned], 2) == []
