"""Warm spare workers: a run starts training at once instead of after a worker imports TensorFlow.

A cold worker (``python -m nnlab worker RUN_ID``) spends 5-15 s importing TensorFlow and loading
MNIST before its first batch. A spare (``python -m nnlab worker --warm``, ``spare.py``) does that
ahead of time, then waits for a run id on its stdin. Given one, it trains that run like a cold
worker (``worker.worker_main``: the run, then the queued runs it can take itself); once no queued
run is left for it, it tells its web server that it is free and waits on its stdin for the next run
id, warm, instead of exiting (at most ``worker.RUNS_PER_WORKER`` runs in its life). On end of file
(the web server went away, or let it go) it exits. Every run trains in a worker process, never in
the web server: a crash or an out-of-memory kill takes down that worker and its training only.

``WarmSpares`` is the web server's side (kept by ``runner.LocalProcessExecutor``): at most ``count``
idle spares per store, started lazily (``top_up``, called by every dispatch); ``hand`` lends a run
to an idle spare (one that finished warming up first) and starts a replacement. A spare writes
``ready`` on a second pipe (``ENV_READY_FD``) after its warm-up and each time it is free again; the
server reads it without blocking at each dispatch, and so knows which spares are warm and which lent
workers came back. A returned worker counts as an idle spare: beyond ``count``, the extra ones are
let go (their stdin closed), those still warming up first. So back-to-back Train clicks find a warm
worker: the one that trained the last run. The run's worker identity is the spare's pid and start
time, so recovery of dead workers and stop requests work as with a cold worker.
``NNLAB_WARM_WORKERS`` (default 1; 0 turns spares off) is read by the web server only: the ``nnlab``
command never starts spares. A worker of a server with spares leaves the next queued run to that
server's background dispatcher while the server lives (``dispatcher_env``), so the queue moves on
to a warm worker, not to a cold one.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
from typing import Any

from nnlab.runs import RunStore, process_handle

ENV_WARM_WORKERS = "NNLAB_WARM_WORKERS"
DEFAULT_WARM_WORKERS = 1
MAX_WARM_WORKERS = 8
ENV_DISPATCHER = "NNLAB_DISPATCHER"  # "pid:start" of the web server whose dispatcher starts the next run
ENV_READY_FD = "NNLAB_SPARE_READY_FD"  # the spare's end of the pipe on which it says "ready"
SPARE_LOG = "spares.log"  # in the store's folder: what spares print before they are given a run


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
    """The spares of one web server: started by ``top_up``, lent runs by ``hand``, back when free.

    Each spare is idle (warming up, or warm and waiting for a run id) or lent (it trains a run it was
    handed, and the queued runs it takes itself). At most ``count`` idle spares are kept per store:
    a lent worker that comes back to more than that lets the extra go, one still warming up first.
    """

    def __init__(self, count: int, python: str | None = None):
        self.count = count
        self.python = python or sys.executable
        self._spares: list[_Spare] = []
        self._lock = threading.Lock()

    def top_up(self, store: RunStore, env: dict[str, str]) -> None:
        """Start spares for ``store`` until ``count`` of them are idle (returned workers count)."""
        if self.count <= 0:
            return
        key = _store_key(store)
        with self._lock:
            self._tidy(key)
            while len(self._idle(key)) < self.count:
                self._spares.append(self._start(store, env))

    def hand(self, store: RunStore, run_id: str, env: dict[str, str]) -> tuple[dict[str, Any], Any] | None:
        """Lend ``run_id`` to an idle spare of ``store`` (a warm one first): its handle and process, or
        None if none is alive."""
        key = _store_key(store)
        with self._lock:
            self._tidy(key)
            for spare in sorted(self._idle(key), key=lambda s: not s.waiting):
                if spare.send(run_id):
                    break
                spare.let_go()
                self._spares.remove(spare)
            else:
                return None
        self.top_up(store, env)  # the next run finds a spare that is already warm
        return {"kind": "local", **process_handle(spare.pid)}, spare.proc

    def close(self) -> None:
        """Close every spare's pipe: an idle one exits, at once if it is still warming up; a lent one
        finishes its run (and the queued runs it takes itself), then exits."""
        with self._lock:
            for spare in self._spares:
                spare.let_go()
            self._spares = []

    def pids(self) -> list[int]:
        """The idle spares' pids (lent workers are not counted)."""
        with self._lock:
            self._tidy(None)
            return [s.pid for s in self._spares if not s.lent]

    def _idle(self, key: str) -> list[_Spare]:
        return [s for s in self._spares if s.key == key and not s.lent]

    def _tidy(self, key: str | None) -> None:
        """Hear what the spares said; forget those that are gone; let go the idle ones of another store
        than ``key`` and, per store, those beyond ``count`` (``_extras``)."""
        kept = []
        for spare in self._spares:
            if not spare.listen() or (key is not None and spare.key != key and not spare.lent):
                spare.let_go()
            else:
                kept.append(spare)
        for store_key in {s.key for s in kept}:
            for spare in _extras([s for s in kept if s.key == store_key and not s.lent], self.count):
                spare.let_go()
                kept.remove(spare)
        self._spares = kept

    def _start(self, store: RunStore, env: dict[str, str]) -> _Spare:
        said, says = os.pipe()  # the spare writes "ready" on ``says``; this process reads ``said``
        os.set_blocking(said, False)
        try:
            with open(store.root / SPARE_LOG, "ab") as log:
                proc = subprocess.Popen(
                    [self.python, "-m", "nnlab", "worker", "--warm"],
                    stdin=subprocess.PIPE,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    cwd=store.root,
                    env={**env, ENV_READY_FD: str(says)},
                    pass_fds=(says,),
                    start_new_session=True,  # outlives a server killed from its terminal, like a cold worker
                    close_fds=True,
                )
        except BaseException:
            os.close(said)
            raise
        finally:
            os.close(says)
        return _Spare(_store_key(store), proc, said)


class _Spare:
    """One spare process as its server sees it: run ids go down its stdin, one a line, and each
    ``ready`` it writes back says that it waits for one (after its warm-up, and each time it is free
    again). It was handed ``handed`` ids: it waits for the next when it said ``ready`` more often."""

    def __init__(self, key: str, proc: subprocess.Popen, said: int):
        self.key = key
        self.proc = proc
        self.pid = proc.pid
        self._said: int | None = said
        self.handed = 0
        self.readies = 0

    @property
    def waiting(self) -> bool:
        """Warmed up and free: it reads a run id at once."""
        return self.readies > self.handed

    @property
    def lent(self) -> bool:
        return self.handed > 0 and not self.waiting

    @property
    def warming(self) -> bool:
        return self.handed == 0 and self.readies == 0

    def listen(self) -> bool:
        """Count the ``ready`` it wrote since; False if the process is gone."""
        while self._said is not None:
            try:
                said = os.read(self._said, 4096)
            except BlockingIOError:
                break
            except OSError:
                said = b""
            if not said:  # the process closed its end: it is ending
                break
            self.readies += said.count(b"\n")
        return self.proc.poll() is None

    def send(self, run_id: str) -> bool:
        """Write a run id to the spare (the pipe stays open for the next); False if it is gone."""
        try:
            self.proc.stdin.write(f"{run_id}\n".encode())
            self.proc.stdin.flush()
        except (BrokenPipeError, OSError, ValueError):
            return False
        self.handed += 1
        return True

    def let_go(self) -> None:
        """Close its pipes: the end of file tells it to exit once it is free (at once if warming up)."""
        try:
            self.proc.stdin.close()
        except (BrokenPipeError, OSError, ValueError):
            pass
        if self._said is not None:
            os.close(self._said)
            self._said = None


def _extras(idle: list[_Spare], count: int) -> list[_Spare]:
    """The idle spares beyond ``count`` to let go: those still warming up first (they exit at once),
    then workers that came back from runs, then warm spares that never trained."""
    order = sorted(idle, key=lambda s: (not s.warming, s.handed == 0))
    return order[: max(0, len(idle) - count)]


def _store_key(store: RunStore) -> str:
    return f"{store.root}|{store.database_url or ''}"
