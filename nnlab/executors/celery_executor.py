"""The runner's side of Celery: each queued run is announced to the workers by one message.

``hand_over`` sends a ``nnlab.train`` message carrying the bound on trainings at once; a worker
that takes it claims the oldest queued run in the store (``celery_app.py``). Messages are
interchangeable, so their order and duplicates do no harm. One can be lost (the broker was down
when the run was submitted, or restarted without keeping its data, or a worker holding it was
killed): ``serve`` (every ``dispatch``, at most every ``RESEND_S`` seconds per process) sends
another when the oldest queued run has waited that long although a slot and a connected worker
are free.
"""

from __future__ import annotations

import sys
import threading
import time
from functools import lru_cache
from typing import Any

from nnlab.runner import broker_url
from nnlab.runs import RunStore, process_alive
from nnlab.runs.heartbeats import worker_counts

RESEND_S = 10.0


@lru_cache(maxsize=8)
def _app(url: str):
    from nnlab.executors.celery_app import make_app

    return make_app(url)


class CeleryExecutor:
    """Queued runs go to Celery workers through the broker at ``url`` (default ``$NNLAB_BROKER_URL``)."""

    def __init__(self, url: str | None = None):
        self.url = url or broker_url()
        if not self.url:
            raise ValueError("NNLAB_BROKER_URL must name the broker, e.g. redis://broker:6379/0")
        self._last_look = 0.0
        self._lock = threading.Lock()

    def hand_over(self, store: RunStore, run_id: str, max_concurrent: int) -> None:
        """Announce a new queued run; a broker that cannot be reached leaves it to ``serve``."""
        self._send(max_concurrent)

    def serve(self, store: RunStore, max_concurrent: int) -> None:
        """Send another message if the queue waits although a slot and a connected worker are free."""
        with self._lock:
            if time.monotonic() - self._last_look < RESEND_S:
                return
            self._last_look = time.monotonic()
        queued = store.queued_ids()
        oldest = store.get(queued[0]) if queued else None
        if oldest is None or oldest.status != "queued" or time.time() - oldest.created < RESEND_S:
            return
        counts = worker_counts(store)
        running = len(store.list(statuses=["running"]))
        if counts.connected > counts.busy and running < max_concurrent:
            self._send(max_concurrent)

    def is_alive(self, handle: dict[str, Any]) -> bool:
        return process_alive(handle)

    def close(self) -> None:
        """Nothing to let go: the workers belong to their machines, not to this web server."""

    def _send(self, max_concurrent: int) -> bool:
        from nnlab.executors.celery_app import TASK

        try:
            _app(self.url).send_task(TASK, kwargs={"max_concurrent": max_concurrent})
        except Exception as exc:  # the broker is down: the run waits in the store, ``serve`` resends
            print(f"the broker cannot be reached ({type(exc).__name__}: {exc})", file=sys.stderr)
            return False
        return True
