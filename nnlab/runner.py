"""The background runner: a FIFO queue of runs, a bound on how many train at once, and workers.

``Runner.submit`` validates a training, stores it as a queued run and calls ``dispatch``, which
starts queued runs (oldest first) while fewer than ``max_concurrent`` are running. Dispatching is
safe from many processes (and machines) at once: it holds the store's queue lock
(``RunStore.transaction()``). Each run trains in its own detached worker process
(``python -m nnlab worker RUN_ID``, ``LocalProcessExecutor``), so a training never blocks a web page
and a crash in it cannot take the app down; the worker (``worker.py``) writes its metrics to the
store, honours stop requests, saves the model through the store and finally dispatches the next
queued run itself. After a worker is killed (SIGKILL, out of memory), the next ``dispatch`` notices,
marks its run failed and moves on: page loads call it, and so does the web server's background
dispatcher every few seconds (``dispatcher.py``), so the queue never waits for a visitor.

The executor sits behind the small ``Executor`` interface (launch a run, tell whether a launch is
still alive). With ``NNLAB_BROKER_URL`` set, runs go to Celery workers on any machine instead
(``executors/celery_executor.py``, a ``WorkerPool``): the runner announces each new run to them, and
whichever worker takes the announcement claims the oldest queued run in the store itself
(``claim_queued``: the same FIFO order and bound, under the same lock).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np

from nnlab.runs import Run, RunStore, process_alive, process_handle
from nnlab.runs.database import ENV_DATABASE_URL
from nnlab.runs.queue import QueueTransaction
from nnlab.validation import InvalidSettings, Problem
from nnlab.warm import WarmSpares

ENV_MAX_CONCURRENT = "NNLAB_MAX_CONCURRENT"
ENV_BROKER_URL = "NNLAB_BROKER_URL"
UNBOUNDED = 1_000_000  # with Celery and no bound set: as many at once as there are workers


def broker_url() -> str | None:
    """``$NNLAB_BROKER_URL`` (a ``redis://`` URL) if set: trainings go to Celery workers."""
    return os.environ.get(ENV_BROKER_URL, "").strip() or None


def default_max_concurrent() -> int:
    """The operator's bound on trainings at once ($NNLAB_MAX_CONCURRENT or the secrets file), else 1
    (with Celery workers: no bound but the number of workers)."""
    from nnlab.limits import InvalidLimits, load_limits

    default = UNBOUNDED if broker_url() else 1
    try:
        return load_limits().max_concurrent or default
    except InvalidLimits:
        return default


def default_executor(warm: int = 0, env: dict[str, str] | None = None) -> Executor | WorkerPool:
    """Celery workers if ``NNLAB_BROKER_URL`` is set, else worker processes of this machine (with
    ``warm`` spares and ``env`` added to their environment)."""
    if broker_url():
        from nnlab.executors.celery_executor import CeleryExecutor

        return CeleryExecutor()
    return LocalProcessExecutor(env=env, warm=warm)


@runtime_checkable
class Executor(Protocol):
    """Where queued runs train. ``launch`` starts ``execute_run(store, run_id)`` somewhere and
    returns a JSON-serialisable handle; ``is_alive`` says whether that launch still runs."""

    def launch(self, store: RunStore, run_id: str) -> dict[str, Any]: ...

    def is_alive(self, handle: dict[str, Any]) -> bool: ...


@runtime_checkable
class WorkerPool(Protocol):
    """Workers that claim queued runs from the store themselves (Celery's). ``hand_over`` tells them
    of a new run; ``serve`` (each ``dispatch``) keeps them serving the queue; ``is_alive`` checks a
    handle of this machine."""

    def hand_over(self, store: RunStore, run_id: str, max_concurrent: int) -> None: ...

    def serve(self, store: RunStore, max_concurrent: int) -> None: ...

    def is_alive(self, handle: dict[str, Any]) -> bool: ...


def claim_queued(
    store: RunStore, max_concurrent: int, launch: Callable[[str], dict[str, Any]], limit: int | None = None
) -> list[str]:
    """Claim queued runs, oldest first, while fewer than ``max_concurrent`` run (at most ``limit``).

    ``launch(run_id)`` starts the run's worker (or names it) and returns its handle; a launch that
    fails fails the run with its message. All in one queue transaction: at most ``max_concurrent``
    runs ever run, however many processes and machines claim at once. Returns the ids claimed.
    """
    started: list[str] = []
    with store.transaction() as queue:
        slots = max_concurrent - queue.running_count()
        slots = slots if limit is None else min(slots, limit)
        for run_id in queue.next_queued(slots) if slots > 0 else []:
            try:
                handle = launch(run_id)
            except Exception as exc:  # reported on the run, the queue goes on
                queue.fail(run_id, f"The training process could not be started: {exc}")
                continue
            queue.start(run_id, handle)
            started.append(run_id)
    return started


_children: list[subprocess.Popen] = []
_children_lock = threading.Lock()


def _reap() -> None:
    """Collect finished worker processes so that they do not linger as zombies."""
    with _children_lock:
        _children[:] = [p for p in _children if p.poll() is None]


class LocalProcessExecutor:
    """Each run in a worker process on this machine: a warm spare if one is alive (a worker that came
    back from its last run counts), else a new ``python -m nnlab worker RUN_ID``.

    The worker starts a new session (``start_new_session``), so it outlives the process that
    launched it (the Streamlit server) and ignores its terminal's signals; its output goes to the
    run folder's ``worker.log``. ``env`` adds environment variables for the worker. ``warm`` spares
    (``nnlab/warm.py``, the web server's ``NNLAB_WARM_WORKERS``) are kept ready by ``keep_warm``;
    0 (the default: the terminal, a worker dispatching the next run) starts none.
    """

    def __init__(self, env: dict[str, str] | None = None, python: str | None = None, warm: int = 0):
        self.env = dict(env or {})
        self.python = python or sys.executable
        self.spares = WarmSpares(warm, self.python)

    def keep_warm(self, store: RunStore) -> None:
        """Start the spares that are missing (none with ``warm`` 0)."""
        if self.spares.count > 0:
            self.spares.top_up(store, self.worker_env(store))

    def launch(self, store: RunStore, run_id: str) -> dict[str, Any]:
        _reap()
        run_dir = store.run_dir(run_id)
        run_dir.mkdir(parents=True, exist_ok=True)
        env = self.worker_env(store)
        handed = self.spares.hand(store, run_id, env) if self.spares.count > 0 else None
        if handed is not None:
            handle, proc = handed
        else:
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
            handle = {"kind": "local", **process_handle(proc.pid)}
        with _children_lock:
            if proc not in _children:  # a spare's worker is lent many runs
                _children.append(proc)
        return handle

    def worker_env(self, store: RunStore) -> dict[str, str]:
        """The environment of a worker of ``store``: its folder and database, this package importable."""
        package_parent = str(Path(__file__).resolve().parent.parent)
        env = {**os.environ, **self.env, "NNLAB_HOME": str(store.root)}
        if store.database_url:  # the same database, also when it was given in code
            env[ENV_DATABASE_URL] = store.database_url
        else:
            env.pop(ENV_DATABASE_URL, None)
        env["PYTHONPATH"] = os.pathsep.join(p for p in (package_parent, env.get("PYTHONPATH", "")) if p)
        env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
        return env

    def is_alive(self, handle: dict[str, Any]) -> bool:
        _reap()
        return process_alive(handle)

    def close(self) -> None:
        """Let the spares go (each exits when it sees its pipe closed); runs already lent go on, then
        their workers exit."""
        self.spares.close()


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
            what = "The number of trainings at once must be a whole number of at least 1"
            raise ValueError(f"{what} (got {max_concurrent!r}).")
        self.max_concurrent = max_concurrent
        self.store.clean_orphans()  # folders a crash left behind during a create or delete
        self.executor: Executor | WorkerPool = executor if executor is not None else default_executor()
        if isinstance(self.executor, LocalProcessExecutor):
            # The worker dispatches the next run when it ends: it must use the same bound.
            self.executor.env.setdefault(ENV_MAX_CONCURRENT, str(max_concurrent))

    def submit(self, spec: dict, config: Any, name: str | None = None, owner: str | None = None) -> Run:
        """Validate, store as queued and start it if a slot is free. Bad input: ``InvalidSettings``.

        A visitor's run (``owner`` set) must also fit the operator's limits (parameters, epochs, the
        visitor's queued or running runs, the whole queue), counted in the same transaction as the
        insert: however many tabs press Train at once, the limits hold. The operator's own runs
        (no owner, the terminal) are not refused by them.
        """
        spec, config_dict = check_training(spec, config, name=name)  # before anything is stored
        admit = None if owner is None else _admission(_machine_limits(), owner, spec, config_dict)
        run = self.store.create(spec, config_dict, name=name, owner=owner, admit=admit)
        if isinstance(self.executor, WorkerPool):
            self.executor.hand_over(self.store, run.id, self.max_concurrent)
        self.dispatch()
        return self.store.get(run.id) or run

    def dispatch(self) -> list[str]:
        """Fail runs whose worker died, then start queued runs (oldest first) up to the bound.

        Returns the ids this call started (none with Celery: its workers claim). Safe to call from
        many processes and threads at once.
        """
        self.store.recover(self.executor.is_alive)
        keep_warm = getattr(self.executor, "keep_warm", None)
        if keep_warm is not None:
            keep_warm(self.store)  # the web server's spares, started on its first dispatch
        if not self.store.queued_ids():
            # Pages poll this every second or two: with an empty queue, a plain read instead of the
            # write lock that the workers' metric writes would queue behind. A run queued after this
            # read is dispatched by its own submit().
            return []
        if isinstance(self.executor, WorkerPool):
            self.executor.serve(self.store, self.max_concurrent)
            return []  # its workers claim
        launch = self.executor.launch
        return claim_queued(self.store, self.max_concurrent, lambda run_id: launch(self.store, run_id))

    def stop(self, run_id: str) -> None:
        """Ask a run to stop (a queued run is marked stopped at once)."""
        self.store.request_stop(run_id)


def check_training(spec: Any, config: Any, name: Any = None) -> tuple[dict, dict]:
    """The spec and the config as plain JSON-ready dicts, or ``InvalidSettings`` listing every problem.

    Any input is answered in words, never with a TypeError: a spec that is not a dict of layers,
    settings of the wrong type, a run name with control characters, a network too deep or too
    large in memory for this machine (``Limits.network_problems``), values that cannot be stored.
    """
    from nnlab.architectures import validate
    from nnlab.training import validate_config
    from nnlab.validation import name_problems

    if not isinstance(spec, dict):
        message = "The architecture must be a dict with a list of layers."
        raise InvalidSettings([Problem(message, setting="architecture")])
    config = _as_config(config)
    problems = validate(spec) + validate_config(config) + name_problems(name)
    if not problems:
        problems = _machine_limits().network_problems(spec, config.batch_size)
    if problems:
        raise InvalidSettings(problems)
    return _plain_json(spec, "architecture"), _plain_json(config.to_dict(), "training settings")


def _admission(limits: Any, owner: str, spec: dict, config: dict) -> Callable[[QueueTransaction], None]:
    """What ``RunStore.create`` runs inside the queue's transaction: ``InvalidSettings`` if the
    visitor's run goes past the operator's limits, counted as they stand in that transaction."""
    from nnlab.architectures import count_params

    n_params = count_params(spec)

    def admit(queue: QueueTransaction) -> None:
        problems = limits.problems(
            n_params=n_params,
            epochs=int(config.get("epochs", 0)),
            visitor_active=queue.active_count(owner),
            queued=queue.waiting_count(),
        )
        if problems:
            raise InvalidSettings(problems)

    return admit


def _as_config(config: Any) -> Any:
    from nnlab.training import TrainConfig

    if isinstance(config, dict):
        config = TrainConfig.from_dict({k: v for k, v in config.items() if isinstance(k, str)})
    if not isinstance(config, TrainConfig):
        raise InvalidSettings([Problem("The training settings must be a TrainConfig or a dict.")])
    return config


def _machine_limits() -> Any:
    """The operator's limits; misconfigured ones fall back to the defaults that protect the machine."""
    from nnlab.limits import InvalidLimits, Limits, load_limits

    try:
        return load_limits()
    except InvalidLimits:
        return Limits()


def _plain_json(value: dict, what: str) -> dict:
    """A JSON copy of ``value`` (NumPy numbers become Python ones), as the run store will keep it."""

    def scalar(item: Any) -> Any:
        if isinstance(item, np.generic):
            return item.item()
        raise TypeError(type(item).__name__)

    try:
        return json.loads(json.dumps(value, default=scalar))
    except (TypeError, ValueError, RecursionError) as exc:
        message = (
            f"There is a value in the {what} that cannot be stored ({str(exc)[:80]}): use numbers, "
            "text and lists."
        )
        raise InvalidSettings(
            [Problem(message, setting="architecture" if what == "architecture" else None)]
        ) from None


def _json(value: Any) -> str:
    return json.dumps(value)
