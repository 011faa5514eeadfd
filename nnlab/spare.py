"""The spare's side of a warm worker (``python -m nnlab worker --warm``; the server's side is ``warm.py``).

A spare imports TensorFlow, loads the bundled MNIST and trains a tiny network once (``warm_up``, at
nice 10, so Keras's own lazy imports are done too), then waits for a run id on its stdin
(``wait_for_run``), exiting at once on end of file, even mid-warm-up (``_PipeWatch``). Its
``RunIdPipe`` reads the run ids, one a line, and writes ``ready`` on the pipe its server named in
``warm.ENV_READY_FD`` each time it waits for one: after the warm-up, and each time the worker it
became (``worker.worker_main``) is free again. The pipe stays open between runs: a worker lent a run
by its server comes back to it afterwards, warm, for the next run id.
"""

from __future__ import annotations

import fcntl
import os
import select
import struct
import sys
import termios
import threading
from pathlib import Path

from nnlab.runs import RunStore
from nnlab.runs.heartbeats import Heartbeat
from nnlab.warm import ENV_READY_FD

WARM_UP_NICENESS = 10
READY = b"ready\n"
_WARM_UP_SPEC = {
    "layers": [
        {"kind": "Conv2D", "filters": 4, "kernel_size": 3},
        {"kind": "MaxPooling2D", "pool_size": 2},
        {"kind": "Flatten"},
        {"kind": "Dropout", "rate": 0.1},
        {"kind": "Dense", "units": 10, "activation": "softmax"},
    ]
}


class RunIdPipe:
    """Run ids from the server, one a line on ``fd`` (stdin); ``ready`` back on ``$NNLAB_SPARE_READY_FD``
    (nothing where the process was started without one). Read from the file descriptor itself, with
    no hidden buffer, so that a wait can also watch a stop flag."""

    def __init__(self, fd: int = 0):
        self.fd = fd
        self._buffer = b""
        said = os.environ.pop(ENV_READY_FD, "")  # not passed on to the processes this one starts
        self._ready_fd = int(said) if said.isdigit() else None

    def next_run(self, stop: threading.Event | None = None) -> str | None:
        """Say ``ready``, then wait for the next run id (``read_run``)."""
        self.say_ready()
        return self.read_run(stop)

    def say_ready(self) -> None:
        """Tell the server that this worker waits for a run id: it may lend it the next run."""
        if self._ready_fd is not None:
            try:
                os.write(self._ready_fd, READY)
            except OSError:  # the server is gone: the end of file follows on stdin
                pass

    def read_run(self, stop: threading.Event | None = None) -> str | None:
        """The next run id: None at the end of file (the server went away or let this worker go) or
        once ``stop`` is set."""
        while b"\n" not in self._buffer:
            if stop is not None and stop.is_set():
                return None
            if not select.select([self.fd], [], [], 0.5)[0]:
                continue
            data = os.read(self.fd, 4096)
            if not data:
                return None
            self._buffer += data
        line, _, self._buffer = self._buffer.partition(b"\n")
        return line.decode(errors="replace").strip() or None


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


def wait_for_run(pipe: RunIdPipe | None = None) -> tuple[str | None, Heartbeat | None]:
    """The spare's life before its first run: warm up, then the run id it is given on ``pipe``
    (None: end of file), and the spare's heartbeat (``runs/heartbeats.py``: it counts as a connected
    worker from its warm-up on; the run's worker passes it on to ``worker_main``).

    The warm-up runs at a lower CPU priority (nice 10), so that a spare warming up beside a training
    (the one it replaces was just given a run) takes only the CPU that the training leaves; the
    priority is raised back when the run arrives, where the system allows it.
    """
    niceness = _lower_priority()
    pipe = pipe if pipe is not None else RunIdPipe()
    watch = _PipeWatch(pipe.fd)
    try:
        warm_up()
    except Exception as exc:  # the run will say why, if it fails the same way
        print(f"spare: the warm-up failed: {type(exc).__name__}: {exc}", file=sys.stderr, flush=True)
    watch.done()  # warmed up: from now on the run id (or the end of file) is read below
    store = RunStore()
    beat = _start_heartbeat(store)
    run_id = pipe.next_run()  # says "ready": the server hands a run to a warm spare first
    if run_id is None:
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

    def __init__(self, fd: int):
        self._lock = threading.Lock()
        self._warm = False
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
