"""Warm spare workers: a run starts training at once instead of after a worker imports TensorFlow.

A cold worker (``python -m nnlab worker RUN_ID``) spends 5-15 s importing TensorFlow and loading
MNIST before its first batch. A spare (``python -m nnlab worker --warm``) does that ahead of time:
it imports TensorFlow, loads the bundled MNIST and trains a tiny network once (so Keras's own lazy
imports are done too), then waits for one run id on its stdin. Given one, it trains exactly that
run, like a cold worker (``worker.execute_run``), and exits: one run per process, so a crash or an
out-of-memory kill takes down that training only, never the web server or another run. On end of
file (the web server that started it went away, or closed it) it exits without training.

``WarmSpares`` is the web server's side (kept by ``runner.LocalProcessExecutor``): at most ``count``
spares, started lazily (``top_up``, called by every dispatch) and replaced as soon as one is given a
run (``hand``). The run's worker identity is the spare's pid and start time, so recovery of dead
workers and stop requests work as with a cold worker. ``NNLAB_WARM_WORKERS`` (default 1; 0 turns
spares off) is read by the web server only: the ``nnlab`` command never starts spares. A worker of
a server with spares leaves the next queued run to that server's background dispatcher while the
server lives (``dispatcher_env``), so the queue moves on to a warm spare, not to a cold worker.
"""

from __future__ import annotations

import fcntl
import os
import select
import socket
import struct
import subprocess
import sys
import termios
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from nnlab.runs import RunStore, process_handle
from nnlab.runs.heartbeats import Heartbeat

ENV_WARM_WORKERS = "NNLAB_WARM_WORKERS"
DEFAULT_WARM_WORKERS = 1
MAX_WARM_WORKERS = 8
ENV_DISPATCHER = "NNLAB_DISPATCHER"  # "pid:start" of the web server whose dispatcher starts the next run
WARM_UP_NICENESS = 10
SPARE_LOG = "spares.log"  # in the store's folder: what spares print before they are given a run
_WARM_UP_SPEC = {
    "layers": [
        {"kind": "Conv2D", "filters": 4, "kernel_size": 3},
        {"kind": "MaxPooling2D", "pool_size": 2},
        {"kind": "Flatten"},
        {"kind": "Dropout", "rate": 0.1},
        {"kind": "Dense", "units": 10, "activation": "softmax"},
    ]
}


def dispatcher_env() -> dict[str, str]:
    """What tells a worker that this process (a web server with a background dispatcher and warm
    spares) starts the next queued run: the worker then leaves it to it, so that the run goes to a
    warm spare within a dispatch round instead of a new worker that imports TensorFlow."""
    handle = process_handle()
    return {ENV_DISPATCHER: f"{handle['pid']}:{handle['start']}"}


def dispatching_server() -> dict[str, Any] | None:
    """The handle of the web server named by ``ENV_DISPATCHER``, or None."""
    pid, _, start = os.environ.get(ENV_DISPATCHER, "").partition(":")
    if not pid.isdigit() or not start.isdigit():
        return None
    return {"host": socket.gethostname(), "pid": int(pid), "start": int(start)}


def warm_workers() -> int:
    """How many spares the web server keeps ($NNLAB_WARM_WORKERS, 0-8); a bad value: the default."""
    raw = os.environ.get(ENV_WARM_WORKERS, "").strip()
    try:
        count = int(raw) if raw else DEFAULT_WARM_WORKERS
    except ValueError:
        print(
            f"{ENV_WARM_WORKERS}={raw!r} is not a whole number: using {DEFAULT_WARM_WORKERS}", file=sys.stderr
        )
        return DEFAULT_WARM_WORKERS
    return max(0, min(count, MAX_WARM_WORKERS))


class WarmSpares:
    """The spares of one web server: started by ``top_up``, each given one run by ``hand``."""

    def __init__(self, count: int, python: str | None = None):
        self.count = count
        self.python = python or sys.executable
        self._spares: list[tuple[str, subprocess.Popen]] = []  # (store key, process)
        self._lock = threading.Lock()

    def top_up(self, store: RunStore, env: dict[str, str]) -> None:
        """Start spares for ``store`` until ``count`` of them are alive (a dead one is replaced)."""
        if self.count <= 0:
            return
        key = _store_key(store)
        with self._lock:
            alive = [(k, p) for k, p in self._spares if k == key and p.poll() is None]
            for _, proc in [s for s in self._spares if s not in alive]:
                _close(proc)
            self._spares = alive
            while len(self._spares) < self.count:
                self._spares.append((key, self._start(store, env)))

    def hand(self, store: RunStore, run_id: str, env: dict[str, str]) -> tuple[dict[str, Any], Any] | None:
        """Give ``run_id`` to a live spare of ``store``: its handle and process, or None if none is alive."""
        key = _store_key(store)
        with self._lock:
            while self._spares:
                spare_key, proc = self._spares.pop(0)
                if spare_key != key or proc.poll() is not None or not _send(proc, run_id):
                    _close(proc)
                    continue
                break
            else:
                return None
        self.top_up(store, env)  # the next run finds a spare that is already warm
        return {"kind": "local", **process_handle(proc.pid)}, proc

    def close(self) -> None:
        """Close every spare's pipe: each one exits, at once if it is still warming up."""
        with self._lock:
            for _, proc in self._spares:
                _close(proc)
            self._spares = []

    def pids(self) -> list[int]:
        with self._lock:
            return [p.pid for _, p in self._spares]

    def _start(self, store: RunStore, env: dict[str, str]) -> subprocess.Popen:
        with open(store.root / SPARE_LOG, "ab") as log:
            return subprocess.Popen(
                [self.python, "-m", "nnlab", "worker", "--warm"],
                stdin=subprocess.PIPE,
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=store.root,
                env=env,
                start_new_session=True,  # outlives a server killed from its terminal, like a cold worker
                close_fds=True,
            )


def _store_key(store: RunStore) -> str:
    return f"{store.root}|{store.database_url or ''}"


def _send(proc: subprocess.Popen, run_id: str) -> bool:
    """Write the run id to the spare and close its pipe; False if the spare is gone."""
    try:
        proc.stdin.write(f"{run_id}\n".encode())
        proc.stdin.close()
    except (BrokenPipeError, OSError, ValueError):
        return False
    return True


def _close(proc: subprocess.Popen) -> bool:
    try:
        proc.stdin.close()
    except (BrokenPipeError, OSError, ValueError):
        pass
    return False


def warm_up() -> None:
    """Import TensorFlow, Keras and the worker's modules, load MNIST, train a tiny network once (with
    snapshots and a saved model, as a run does); then leave Keras clean for the run."""
    from nnlab._tf import keras
    from nnlab.modelio import model_bytes
    from nnlab.training import TrainConfig, train
    from nnlab.worker import execute_run  # noqa: F401  (the run's own path, imported now)

    config = TrainConfig(subset=200, epochs=1, batch_size=64, validation_fraction=0.1)
    result = train(_WARM_UP_SPEC, config, on_event=lambda event: None, snapshots=True)
    model_bytes(result.model)
    keras.backend.clear_session()  # the run's model starts from a fresh Keras state


def wait_for_run(read_line: Callable[[], str] = sys.stdin.readline) -> tuple[str | None, Heartbeat | None]:
    """The spare's life before its run: warm up, then the run id it is given (None: end of file),
    and the spare's heartbeat (``runs/heartbeats.py``: it counts as a connected worker from its
    warm-up on; the run's worker passes it on to ``worker_main``).

    The warm-up runs at a lower CPU priority (nice 10), so that a spare warming up beside a training
    (the one it replaces was just given a run) takes only the CPU that the training leaves; the
    priority is raised back when the run arrives, where the system allows it.
    """
    niceness = _lower_priority()
    watch = _PipeWatch(getattr(read_line, "__self__", None))  # the stream read_line reads
    try:
        warm_up()
    except Exception as exc:  # the run will say why, if it fails the same way
        print(f"spare: the warm-up failed: {type(exc).__name__}: {exc}", file=sys.stderr, flush=True)
    watch.done()  # warmed up: from now on the run id (or the end of file) is read below
    store = RunStore()
    beat = _start_heartbeat(store)
    run_id = read_line().strip()
    if not run_id:
        if beat is not None:
            beat.stop()
        return None, None  # the server closed the pipe or went away
    _restore_priority(niceness)
    move_to_run(store, run_id)
    return run_id, beat


def move_to_run(store: RunStore, run_id: str) -> None:
    """From now on this process works in ``run_id``'s folder and writes its output to the run's
    ``worker.log`` (what recovery quotes), as a cold worker started for that run does."""
    log_path = store.log_path(run_id)
    log_path.parent.mkdir(parents=True, exist_ok=True)
    output_to(log_path)
    os.chdir(log_path.parent)


def _start_heartbeat(store: RunStore) -> Heartbeat | None:
    try:
        return Heartbeat(store, "local").start()
    except Exception as exc:  # the run's own heartbeat takes over; the spare still serves
        print(f"spare: no heartbeat ({type(exc).__name__}: {exc})", file=sys.stderr, flush=True)
        return None


class _PipeWatch:
    """While the spare warms up, a thread watches its stdin (a pipe): if the writer closes it with
    nothing in it (the server went away or let its spares go), the spare exits at once instead of
    finishing a warm-up nobody will use. The watcher never reads: a run id sent meanwhile is read
    after the warm-up. ``done()`` ends the watch; after it the process never exits from here."""

    def __init__(self, stream):
        self._lock = threading.Lock()
        self._warm = False
        try:
            fd = stream.fileno()
        except (AttributeError, OSError, ValueError):  # not a real pipe (a test's stand-in): no watch
            return
        threading.Thread(target=self._watch, args=(fd,), name="spare-pipe-watch", daemon=True).start()

    def done(self) -> None:
        with self._lock:
            self._warm = True

    def _watch(self, fd: int) -> None:
        poller = select.poll()
        poller.register(fd, select.POLLIN | select.POLLHUP)
        while not self._warm:
            if not poller.poll(200):
                continue
            if _waiting_bytes(fd) > 0:
                return  # a run id arrived: the spare reads it once warm
            with self._lock:  # readable with nothing in it: the end of file, no run will come
                if not self._warm:
                    os._exit(0)  # nothing of this process is worth keeping
            return


def _waiting_bytes(fd: int) -> int:
    try:
        return struct.unpack("i", fcntl.ioctl(fd, termios.FIONREAD, b"\0\0\0\0"))[0]
    except OSError:
        return 0


def _lower_priority() -> int | None:
    """Nice 10 more; the niceness before, or None where priorities cannot be changed."""
    try:
        before = os.getpriority(os.PRIO_PROCESS, 0)
        os.setpriority(os.PRIO_PROCESS, 0, min(before + WARM_UP_NICENESS, 19))
    except (AttributeError, OSError):
        return None
    return before


def _restore_priority(niceness: int | None) -> None:
    if niceness is None:
        return
    try:
        os.setpriority(os.PRIO_PROCESS, 0, niceness)
    except OSError:  # an unprivileged user cannot raise a priority: the run trains at nice 10
        pass


def output_to(path: Path) -> None:
    """From now on this process's output (Python's and TensorFlow's) goes to the run's log."""
    sys.stdout.flush()
    sys.stderr.flush()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    os.dup2(fd, 1)
    os.dup2(fd, 2)
    os.close(fd)
