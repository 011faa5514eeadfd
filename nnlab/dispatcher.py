"""The queue moves on by itself: a background thread that dispatches every few seconds.

A worker dispatches the next queued run when it ends, and pages dispatch when they load; but a worker
killed with SIGKILL (or by the kernel when memory runs out) ends nothing, and a hosted demo may have no
visitor for hours. So the web server runs one ``BackgroundDispatcher`` (started once per process by
``ui/services.py``): every ``DISPATCH_INTERVAL_S`` seconds it calls ``Runner.dispatch``, which marks
runs whose worker is gone as failed (``runs.DIED_MESSAGE``, in words, with the worker's last error
line) and starts queued runs while slots are free. ``dispatch`` holds the queue's lock, so any number
of servers (and workers) may do this at once. No Streamlit here: the thread needs only a runner.
"""

from __future__ import annotations

import logging
import threading
import weakref
from typing import Any

DISPATCH_INTERVAL_S = 2.0
THREAD_NAME = "nnlab-dispatcher"

_log = logging.getLogger(__name__)
_running: weakref.WeakSet[BackgroundDispatcher] = weakref.WeakSet()


class BackgroundDispatcher:
    """Calls ``runner.dispatch()`` every ``interval`` seconds in a daemon thread until ``stop()``.

    An error (the database unreachable for a while) is logged once, not every round, and the thread
    goes on; it ends by itself when the store's folder is gone.
    """

    def __init__(self, runner: Any, interval: float = DISPATCH_INTERVAL_S):
        self.runner = runner
        self.interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name=THREAD_NAME, daemon=True)
        self._last_error: str | None = None

    def start(self) -> BackgroundDispatcher:
        self._thread.start()
        _running.add(self)
        return self

    def stop(self, wait: float = 5.0) -> None:
        """End the thread (after the round in progress, waiting at most ``wait`` seconds)."""
        self._stop.set()
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join(wait)

    @property
    def alive(self) -> bool:
        return self._thread.is_alive()

    def _loop(self) -> None:
        while not self._stop.wait(self.interval):
            if not self.runner.store.root.exists():
                return  # the store went away (a removed folder): nothing left to dispatch
            try:
                self.runner.dispatch()
            except Exception as exc:  # reported once; the next round tries again
                if str(exc) != self._last_error:
                    _log.warning("NN Lab's background dispatch failed: %s", exc)
                self._last_error = str(exc)
            else:
                self._last_error = None


def stop_all() -> None:
    """Stop every background dispatcher of this process (a shutdown; a test's end)."""
    for dispatcher in list(_running):
        dispatcher.stop()
