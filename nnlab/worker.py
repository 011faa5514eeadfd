"""The worker side of a run: train it in this process and keep the store up to date.

``python -m nnlab worker RUN_ID`` (started by the runner's ``LocalProcessExecutor``) calls
``worker_main``, and so does a warm spare (``spare.py``) once its web server lends it a run: a spare's
worker, once no queued run is left for it, goes back to its server for the next run instead of
exiting (``warm.py``). ``python -m nnlab train`` calls ``run_here`` for a training in the foreground.
All end in ``execute_run``: claim the run, train it with a ``StoreRecorder`` as the event sink and a
``StoreStopCheck`` as the stop check, save the model, write the final status, dispatch the next run.
While it trains, the run's worker keeps a heartbeat in the store (``runs/heartbeats.py``): a warm
spare and a Celery worker (``executors/celery_app.py``) keep one for their whole life and pass it in;
otherwise one beats for this run alone. A web server on another machine tells by it that the worker
is alive; the pages count connected and busy workers from it.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
import time
import traceback
from typing import TYPE_CHECKING, Any

from nnlab.events import EventSink
from nnlab.runner import Runner, check_training
from nnlab.runs import Run, RunNotFound, RunStore, StoreError, default_root, process_alive, process_handle
from nnlab.runs.heartbeats import Heartbeat
from nnlab.runs.integrity import explain
from nnlab.runs.recorder import StoreRecorder, StoreStopCheck
from nnlab.runs.retry import retrying
from nnlab.validation import InvalidSettings

if TYPE_CHECKING:
    from nnlab.spare import RunIdPipe


def failure_message(exc: BaseException) -> str:
    """Why a training failed, in words for the run's page."""
    if isinstance(exc, InvalidSettings):
        what = "The network cannot be built" if exc.about_network else "The training settings are invalid"
        return f"{what}: {exc}"
    if isinstance(exc, MemoryError) or type(exc).__name__ == "ResourceExhaustedError":
        return "The training ran out of memory: try a smaller network, batch size or training subset."
    if isinstance(exc, (StoreError, OSError)):  # a full disk, a read-only store folder: in words
        explained = exc if isinstance(exc, StoreError) else explain(exc, default_root() / "runs.sqlite")
        if explained is not None:
            return f"The training could not be kept: {explained}"
    if isinstance(exc, KeyboardInterrupt):
        return "The training was interrupted before it finished."
    return f"The training failed: {type(exc).__name__}: {str(exc)[:500]}"


def execute_run(
    store: RunStore,
    run_id: str,
    on_event: EventSink | None = None,
    stop_flag: threading.Event | None = None,
    dispatch_next: bool = True,
    heartbeat: Heartbeat | None = None,
) -> Run | None:
    """Train a run in this process, keeping the store up to date.

    The run is one that a dispatcher claimed for this process (a worker), or a queued run, which is
    claimed here (a foreground training: it starts at once, whatever the queue's bound). Metrics go
    to the store as they come, a stop request is honoured within a batch, the model is saved
    atomically as ``model.keras`` before the final status (completed, stopped or failed with its
    message) is written; then the next queued run is dispatched. ``on_event`` also receives every
    event (the terminal's progress bar); ``stop_flag`` set means stop (a signal handler);
    ``heartbeat``: this worker process's own (else one beats for this run alone).
    Returns the final run, or None if the run belongs to another process or has ended.
    """
    if not _claim(store, run_id):
        return None  # stopped while queued, finished, or another process's
    beat = heartbeat or Heartbeat(store, "local").start()
    beat.busy(run_id)
    run = store.require(run_id)
    try:
        if store.stop_requested(run_id):
            store.update(run_id, status="stopped", finished=time.time())
        else:
            _train_and_store(store, run, on_event, stop_flag)
    except BaseException as exc:
        if not isinstance(exc, (KeyboardInterrupt, SystemExit)):
            traceback.print_exc()
        failed = {"status": "failed", "finished": time.time(), "error": failure_message(exc)}
        retrying(lambda: store.update(run_id, **failed))
        if not isinstance(exc, Exception):
            raise
    finally:
        if heartbeat is None:
            beat.stop()
        else:
            heartbeat.busy(None)  # the process's heartbeat goes on: it waits for its next run
        if dispatch_next:
            _dispatch_unless_the_server_does(store)
    return store.get(run_id)


def _dispatch_unless_the_server_does(store: RunStore) -> None:
    if server_dispatches():
        return
    try:
        Runner(store).dispatch()
    except Exception:  # the next page load dispatches instead
        traceback.print_exc()


def server_dispatches() -> bool:
    """Whether the web server that started this worker is alive to start the next run itself, on a
    warm spare (``warm.ENV_DISPATCHER``); a worker started otherwise, or orphaned, dispatches it."""
    from nnlab.warm import dispatching_server

    server = dispatching_server()
    return server is not None and process_alive(server)


def _claim(store: RunStore, run_id: str) -> bool:
    """Whether this process may train the run: claimed for it by a dispatcher, or queued (claimed now)."""
    me = os.getpid()
    # The queue's lock waits until the dispatcher that launched this worker has committed.
    with store.transaction() as queue:
        run = queue.get(run_id)
        if run is None:
            raise RunNotFound(f"no run {run_id!r}")
        if run.status == "queued" and not run.stop_requested:
            queue.start(run_id, {"kind": "local", **process_handle(me)})
            return True
        return run.status == "running" and run.worker.get("pid") in (None, me)


def _train_and_store(store: RunStore, run: Run, on_event, stop_flag) -> None:
    from nnlab.training import TrainConfig, train

    recorder = StoreRecorder(store, run.id, on_event)
    stop = StoreStopCheck(store, run.id, stop_flag)
    config = TrainConfig.from_dict(run.config)
    result = train(run.spec, config, on_event=recorder, should_stop=stop, snapshots=True)
    recorder.flush(wait=True)
    record_result(store, run.id, result)


def record_result(store: RunStore, run_id: str, result: Any, started: float | None = None) -> None:
    """Keep a finished training's model (in the store, atomically), then its final status and test scores.

    ``result`` is a ``training.TrainResult``; ``started``, if given, is when the training began.
    """
    from nnlab.modelio import model_bytes

    model = model_bytes(result.model)
    retrying(lambda: store.save_model(run_id, model))
    times = {"finished": time.time()} | ({"started": started} if started is not None else {})
    final = {
        "status": "stopped" if result.stopped else "completed",
        "test_loss": float(result.test_loss),
        "test_accuracy": float(result.test_accuracy),
        "error": None,
    }
    retrying(lambda: store.update(run_id, **final, **times))


def run_here(
    spec: dict, config: Any, *, name: str | None = None, owner: str | None = None,
    store: RunStore | None = None, on_event: EventSink | None = None,
) -> Run:  # fmt: skip
    """Train in this process and store it as a run, like a background one (``python -m nnlab train``).

    It starts at once, whatever the queue holds (it counts as running for the queue's bound).
    In the main thread, a first Ctrl-C stops the training gracefully (the model is kept); a second
    one interrupts it. Bad input: ``InvalidSettings``.
    """
    store = store if store is not None else RunStore()
    spec, config_dict = check_training(spec, config, name=name)
    run = store.create(
        spec, config_dict, name=name, owner=owner, worker={"kind": "local", **process_handle()}
    )
    beat = Heartbeat(store, "terminal").start()
    flag = threading.Event()
    previous = None
    if threading.current_thread() is threading.main_thread():

        def _on_sigint(signum, frame):
            if flag.is_set():
                raise KeyboardInterrupt
            flag.set()
            print("\nstopping after this batch (Ctrl-C again to interrupt)", file=sys.stderr)

        previous = signal.signal(signal.SIGINT, _on_sigint)
    try:
        result = execute_run(store, run.id, on_event=on_event, stop_flag=flag, heartbeat=beat)
    finally:
        beat.stop()
        if previous is not None:
            signal.signal(signal.SIGINT, previous)
    return result or store.require(run.id)


RUNS_PER_WORKER = 20  # a worker process trains at most this many runs (memory Keras keeps stays bounded)


def worker_main(
    run_id: str,
    store: RunStore | None = None,
    heartbeat: Heartbeat | None = None,
    lent_by: RunIdPipe | None = None,
) -> int:
    """Body of ``python -m nnlab worker RUN_ID`` (and of a spare given its first run): SIGTERM asks for
    a graceful stop.

    After its run, the worker takes the next queued run itself while one waits with a slot free: it
    has imported TensorFlow already, so a class's queue moves at the speed of training rather than of
    starting processes. A spare's worker (``heartbeat``: the spare's, beating since it warmed up;
    ``lent_by``: the ``spare.RunIdPipe`` of the web server that lent it its run) then goes back to that
    server: it says it is free and waits for the next run the server lends it (none: the server let it
    go, or SIGTERM: it exits); another worker exits. At most ``RUNS_PER_WORKER`` runs in all, each
    from a fresh Keras state and with its own log. A crash still stays in this process, never in the
    web server.
    """
    store = store if store is not None else RunStore()
    flag = threading.Event()
    signal.signal(signal.SIGTERM, lambda signum, frame: flag.set())
    from nnlab.spare import move_to_run

    trained = 0
    try:
        while run_id is not None:
            if trained:
                move_to_run(store, run_id)
            run = execute_run(store, run_id, stop_flag=flag, heartbeat=heartbeat, dispatch_next=False)
            if run is None:
                print(f"run {run_id} was not claimed for this worker; nothing to do", file=sys.stderr)
            trained += 1
            done = trained >= RUNS_PER_WORKER or flag.is_set()
            run_id = None if done else _next_run(store, run is not None, flag, lent_by)
    finally:
        if heartbeat is not None:
            heartbeat.stop()
        _dispatch_unless_the_server_does(store)
    return 0


def _next_run(store: RunStore, trained: bool, flag: threading.Event, lent_by: RunIdPipe | None) -> str | None:
    """The oldest queued run if this worker trained its last run and a slot is free (claimed for it),
    else the run its server lends it once it is free (a spare's worker), else None; Keras cleaned."""
    next_id = claim_next(store) if trained else None
    if next_id is None and lent_by is None:
        return None
    if next_id is None:
        lent_by.say_ready()  # first, so that a click that comes now finds this worker free
    fresh_keras()  # while it waits: a run lent now starts once it is done, one lent later at once
    return next_id if next_id is not None else lent_by.read_run(flag)


def claim_next(store: RunStore, kind: str = "local", max_concurrent: int | None = None) -> str | None:
    """Claim the oldest queued run for this process if a slot is free (the same bound and lock as a
    dispatcher; ``max_concurrent`` None: the operator's); its id, or None."""
    from nnlab.runner import claim_queued, default_max_concurrent

    handle = {"kind": kind, **process_handle()}
    bound = default_max_concurrent() if max_concurrent is None else max_concurrent
    claimed = claim_queued(store, bound, lambda _run_id: handle, limit=1)
    return claimed[0] if claimed else None


def fresh_keras() -> None:
    """Let go of the previous run's model and graphs, so the next run starts from a clean slate."""
    import gc

    from nnlab._tf import keras

    keras.backend.clear_session()
    gc.collect()
