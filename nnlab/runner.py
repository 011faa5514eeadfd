"""The background runner: a FIFO queue of runs, a bound on how many train at once, and workers.

``Runner.submit`` validates a training, stores it as a queued run and calls ``dispatch``, which
starts queued runs (oldest first) while fewer than ``max_concurrent`` are running. Dispatching is
safe from many processes at once: it holds the store's write transaction (``BEGIN IMMEDIATE``) as
its lock. Each run trains in its own detached worker process (``python -m nnlab worker RUN_ID``,
``LocalProcessExecutor``), so a training never blocks a web page and a crash in it cannot take the
app down; the worker writes its metrics to the store, honours stop requests, saves the model and
finally dispatches the next queued run itself. Nothing is running in between: after a worker is
killed, the next ``dispatch`` (a page load calls it) notices, marks its run failed and moves on.

The executor sits behind the small ``Executor`` interface (launch a run, tell whether a launch is
still alive), so trainings can later be handed to a distributed engine instead.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from nnlab.runs import Run, RunNotFound, RunStore, process_alive, process_handle

ENV_MAX_CONCURRENT = "NNLAB_MAX_CONCURRENT"
BATCH_FLUSH_SECONDS = 0.5
STOP_POLL_SECONDS = 0.2


def default_max_concurrent() -> int:
    """The operator's bound on trainings at once ($NNLAB_MAX_CONCURRENT or the secrets file), else 1."""
    from nnlab.limits import InvalidLimits, load_limits

    try:
        return load_limits().max_concurrent or 1
    except InvalidLimits:
        return 1


@runtime_checkable
class Executor(Protocol):
    """Where queued runs train. ``launch`` starts ``execute_run(store, run_id)`` somewhere and
    returns a JSON-serialisable handle; ``is_alive`` says whether that launch still runs."""

    def launch(self, store: RunStore, run_id: str) -> dict[str, Any]: ...

    def is_alive(self, handle: dict[str, Any]) -> bool: ...


_children: list[subprocess.Popen] = []
_children_lock = threading.Lock()


def _reap() -> None:
    """Collect finished worker processes so that they do not linger as zombies."""
    with _children_lock:
        _children[:] = [p for p in _children if p.poll() is None]


class LocalProcessExecutor:
    """Each run in its own ``python -m nnlab worker RUN_ID`` process on this machine.

    The worker starts a new session (``start_new_session``), so it outlives the process that
    launched it (the Streamlit server) and ignores its terminal's signals; its output goes to the
    run folder's ``worker.log``. ``env`` adds environment variables for the worker.
    """

    def __init__(self, env: dict[str, str] | None = None, python: str | None = None):
        self.env = dict(env or {})
        self.python = python or sys.executable

    def launch(self, store: RunStore, run_id: str) -> dict[str, Any]:
        _reap()
        run_dir = store.run_dir(run_id)
        run_dir.mkdir(parents=True, exist_ok=True)
        package_parent = str(Path(__file__).resolve().parent.parent)
        env = {**os.environ, **self.env, "NNLAB_HOME": str(store.root)}
        env["PYTHONPATH"] = os.pathsep.join(p for p in (package_parent, env.get("PYTHONPATH", "")) if p)
        env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
        with open(store.log_path(run_id), "ab") as log:
            proc = subprocess.Popen(
                [self.python, "-m", "nnlab", "worker", run_id],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=run_dir,
                env=env,
                start_new_session=True,
                close_fds=True,
            )
        with _children_lock:
            _children.append(proc)
        return {"kind": "local", **process_handle(proc.pid)}

    def is_alive(self, handle: dict[str, Any]) -> bool:
        _reap()
        return process_alive(handle)


class Runner:
    """Submits runs to the queue and starts them, at most ``max_concurrent`` at a time."""

    def __init__(
        self,
        store: RunStore | None = None,
        max_concurrent: int | None = None,
        executor: Executor | None = None,
    ):
        self.store = store if store is not None else RunStore()
        if max_concurrent is None:
            max_concurrent = default_max_concurrent()
        if not isinstance(max_concurrent, int) or isinstance(max_concurrent, bool) or max_concurrent < 1:
            raise ValueError(
                f"The number of trainings at once must be a whole number of at least 1 (got {max_concurrent!r})."
            )
        self.max_concurrent = max_concurrent
        self.executor: Executor = executor if executor is not None else LocalProcessExecutor()
        if isinstance(self.executor, LocalProcessExecutor):
            # The worker dispatches the next run when it ends: it must use the same bound.
            self.executor.env.setdefault(ENV_MAX_CONCURRENT, str(max_concurrent))

    def submit(self, spec: dict, config: Any, name: str | None = None, owner: str | None = None) -> Run:
        """Validate, store as queued and start it if a slot is free. Bad input: ValueError in plain words."""
        spec, config_dict = check_training(spec, config)
        run = self.store.create(spec, config_dict, name=name, owner=owner)
        self.dispatch()
        return self.store.get(run.id) or run

    def dispatch(self) -> list[str]:
        """Fail runs whose worker died, then start queued runs (oldest first) up to the bound.

        Returns the ids started. Safe to call from many processes and threads at once.
        """
        self.store.recover(self.executor.is_alive)
        started: list[str] = []
        if not self.store.queued_ids():
            # Pages poll this every second or two: with an empty queue, a plain read instead of the
            # write lock that the workers' metric writes would queue behind. A run queued after this
            # read is dispatched by its own submit().
            return started
        with self.store.transaction() as con:
            (running,) = con.execute("SELECT COUNT(*) FROM runs WHERE status='running'").fetchone()
            slots = self.max_concurrent - int(running)
            if slots <= 0:
                return started
            rows = con.execute(
                "SELECT id FROM runs WHERE status='queued' AND stop_requested=0 ORDER BY seq LIMIT ?",
                (slots,),
            ).fetchall()
            for (run_id,) in rows:
                now = time.time()
                try:
                    handle = self.executor.launch(self.store, run_id)
                except Exception as exc:  # noqa: BLE001 - reported on the run, the queue goes on
                    con.execute(
                        "UPDATE runs SET status='failed', finished=?, error=? WHERE id=?",
                        (now, f"The training process could not be started: {exc}", run_id),
                    )
                    continue
                con.execute(
                    "UPDATE runs SET status='running', started=?, worker=?, progress='{}' WHERE id=?",
                    (now, _json(handle), run_id),
                )
                started.append(run_id)
        return started

    def stop(self, run_id: str) -> None:
        """Ask a run to stop (a queued run is marked stopped at once)."""
        self.store.request_stop(run_id)


def check_training(spec: Any, config: Any) -> tuple[dict, dict]:
    """The spec and the config as plain dicts, or ValueError listing every problem in plain words."""
    from nnlab.architectures import validate
    from nnlab.training import TrainConfig, validate_config

    if not isinstance(spec, dict):
        raise ValueError("The architecture must be a dict with a list of layers.")
    if isinstance(config, dict):
        config = TrainConfig.from_dict(config)
    if not isinstance(config, TrainConfig):
        raise ValueError("The training settings must be a TrainConfig or a dict.")
    problems = [f"Architecture: {p}" for p in validate(spec)] + [
        f"Settings: {p}" for p in validate_config(config)
    ]
    if problems:
        raise ValueError(" ".join(problems))
    return spec, config.to_dict()


def _json(value: Any) -> str:
    return json.dumps(value)


# ---- the worker side -------------------------------------------------------------------------------


class _Recorder:
    """The training's event sink: batch events buffered and flushed at most every 0.5 s, epoch
    events written at once, and the latest progress kept on the run."""

    def __init__(self, store: RunStore, run_id: str, forward: Callable[[dict], None] | None = None):
        self.store, self.run_id, self.forward = store, run_id, forward
        self.buffer: list[dict] = []
        self.progress: dict[str, Any] = {}
        self.last_flush = 0.0

    def __call__(self, event: dict) -> None:
        kind = event.get("type")
        if kind == "start":
            self.progress.update(
                epoch=0,
                epochs=event.get("epochs"),
                batch=0,
                steps_per_epoch=event.get("steps_per_epoch"),
                elapsed=0.0,
                samples_per_sec=None,
                lr=event.get("lr"),
            )
            self.flush()
        elif kind == "batch":
            steps = self.progress.get("steps_per_epoch") or 0
            event = {**event, "step": (int(event["epoch"]) - 1) * int(steps) + int(event["batch"])}
            self.buffer.append(event)
            self.progress.update(
                {
                    k: event[k]
                    for k in ("epoch", "batch", "elapsed", "samples_per_sec", "loss", "accuracy")
                    if k in event
                }
            )
            if time.monotonic() - self.last_flush >= BATCH_FLUSH_SECONDS:
                self.flush()
        elif kind == "epoch":
            self.buffer.append(event)
            self.progress.update({k: v for k, v in event.items() if k != "type"})
            self.progress["batch"] = self.progress.get("steps_per_epoch") or self.progress.get("batch")
            self.flush()
        if self.forward is not None:
            self.forward(event)

    def flush(self) -> None:
        self.store.add_events(self.run_id, self.buffer, dict(self.progress))
        self.buffer = []
        self.last_flush = time.monotonic()


class _StopCheck:
    """``should_stop`` for ``train``: reads the run's stop flag at most every 0.2 s."""

    def __init__(self, store: RunStore, run_id: str, local_flag: threading.Event | None = None):
        self.store, self.run_id = store, run_id
        self.local_flag = local_flag or threading.Event()
        self.last, self.value = 0.0, False

    def __call__(self) -> bool:
        if self.local_flag.is_set():
            return True
        now = time.monotonic()
        if not self.value and now - self.last >= STOP_POLL_SECONDS:
            self.last = now
            self.value = self.store.stop_requested(self.run_id)
        return self.value


def _failure_message(exc: BaseException) -> str:
    from nnlab.architectures import InvalidArchitecture
    from nnlab.training import InvalidConfig

    if isinstance(exc, InvalidArchitecture):
        return f"The network cannot be built: {exc}"
    if isinstance(exc, InvalidConfig):
        return f"The training settings are invalid: {exc}"
    if isinstance(exc, MemoryError) or type(exc).__name__ == "ResourceExhaustedError":
        return "The training ran out of memory: try a smaller network, batch size or training subset."
    if isinstance(exc, KeyboardInterrupt):
        return "The training was interrupted before it finished."
    return f"The training failed: {type(exc).__name__}: {str(exc)[:500]}"


def execute_run(
    store: RunStore,
    run_id: str,
    on_event: Callable[[dict], None] | None = None,
    stop_flag: threading.Event | None = None,
    dispatch_next: bool = True,
) -> Run | None:
    """Train a run in this process, keeping the store up to date.

    The run is one that a dispatcher claimed for this process (a worker), or a queued run, which is
    claimed here (a foreground training: it starts at once, whatever the queue's bound). Metrics go
    to the store as they come, a stop request is honoured within a batch, the model is saved
    atomically as ``model.keras`` before the final status (completed, stopped or failed with its
    message) is written; then the next queued run is dispatched. ``on_event`` also receives every
    event (the terminal's progress bar); ``stop_flag`` set means stop (a signal handler).
    Returns the final run, or None if the run belongs to another process or has ended.
    """
    me = os.getpid()
    # The write transaction waits until the dispatcher that launched this worker has committed.
    with store.transaction() as con:
        row = con.execute("SELECT status, worker, stop_requested FROM runs WHERE id=?", (run_id,)).fetchone()
        if row is None:
            raise RunNotFound(f"no run {run_id!r}")
        owner = json.loads(row["worker"] or "{}").get("pid")
        if row["status"] == "queued" and not row["stop_requested"]:
            con.execute(
                "UPDATE runs SET status='running', started=?, worker=?, progress='{}' WHERE id=?",
                (time.time(), _json({"kind": "local", **process_handle(me)}), run_id),
            )
        elif row["status"] != "running" or owner not in (None, me):
            return None  # stopped while queued, finished, or another process's
    run = store._require(run_id)
    try:
        if store.stop_requested(run_id):
            store.update(run_id, status="stopped", finished=time.time())
        else:
            _train_and_store(store, run, on_event, stop_flag)
    except BaseException as exc:
        if not isinstance(exc, (KeyboardInterrupt, SystemExit)):
            traceback.print_exc()
        store.update(run_id, status="failed", finished=time.time(), error=_failure_message(exc))
        if not isinstance(exc, Exception):
            raise
    finally:
        if dispatch_next:
            try:
                Runner(store).dispatch()
            except Exception:  # noqa: BLE001 - the next page load dispatches instead
                traceback.print_exc()
    return store.get(run_id)


def _train_and_store(store: RunStore, run: Run, on_event, stop_flag) -> None:
    from nnlab.modelio import save_model_atomically
    from nnlab.training import TrainConfig, train

    recorder = _Recorder(store, run.id, on_event)
    stop = _StopCheck(store, run.id, stop_flag)
    result = train(run.spec, TrainConfig.from_dict(run.config), on_event=recorder, should_stop=stop)
    recorder.flush()
    save_model_atomically(result.model, store.model_path(run.id))
    store.update(
        run.id,
        status="stopped" if result.stopped else "completed",
        finished=time.time(),
        test_loss=float(result.test_loss),
        test_accuracy=float(result.test_accuracy),
        error=None,
    )


def run_here(
    spec: dict,
    config: Any,
    name: str | None = None,
    owner: str | None = None,
    store: RunStore | None = None,
    on_event: Callable[[dict], None] | None = None,
) -> Run:
    """Train in this process and store it as a run, like a background one (``python -m nnlab train``).

    It starts at once, whatever the queue holds (it counts as running for the queue's bound).
    In the main thread, a first Ctrl-C stops the training gracefully (the model is kept); a second
    one interrupts it. Bad input: ValueError in plain words.
    """
    store = store if store is not None else RunStore()
    spec, config_dict = check_training(spec, config)
    run = store.create(
        spec, config_dict, name=name, owner=owner, worker={"kind": "local", **process_handle()}
    )
    flag = threading.Event()
    previous = None
    if threading.current_thread() is threading.main_thread():

        def _on_sigint(signum, frame):  # noqa: ARG001
            if flag.is_set():
                raise KeyboardInterrupt
            flag.set()
            print("\nstopping after this batch (Ctrl-C again to interrupt)", file=sys.stderr)

        previous = signal.signal(signal.SIGINT, _on_sigint)
    try:
        result = execute_run(store, run.id, on_event=on_event, stop_flag=flag)
    finally:
        if previous is not None:
            signal.signal(signal.SIGINT, previous)
    return result or store._require(run.id)


def worker_main(run_id: str, store: RunStore | None = None) -> int:
    """Body of ``python -m nnlab worker RUN_ID``: SIGTERM asks for a graceful stop."""
    store = store if store is not None else RunStore()
    flag = threading.Event()
    signal.signal(signal.SIGTERM, lambda signum, frame: flag.set())
    run = execute_run(store, run_id, stop_flag=flag)
    if run is None:
        print(f"run {run_id} was not claimed for this worker; nothing to do", file=sys.stderr)
    return 0
