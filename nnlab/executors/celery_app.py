"""Celery workers: ``nnlab worker --celery`` trains queued runs on any machine that reaches the store.

The command wraps ``celery -A nnlab.executors.celery_app worker`` with the options NN Lab needs
(``worker_command``): a prefork pool of ``--concurrency`` processes (default 1; one per GPU, each
started with its own ``CUDA_VISIBLE_DEVICES``), each training one run at a time; a prefetch of one
with late acknowledgements, so a message never waits behind a busy worker while another is free.
Each pool process imports TensorFlow and warms up once, when it starts (``nnlab.spare.warm_up``), and
keeps a heartbeat in the store for its whole life (``runs/heartbeats.py``).

The message (task ``nnlab.train``) carries no run: the store stays the source of truth. The worker
that takes it claims the oldest queued run in the store (``runner.claim_queued``, which keeps the
FIFO order and the ``max_concurrent`` bound the message carries, across every machine), waiting
for a free slot if the bound is reached, and trains it; a message that finds no queued run (its
run was stopped or taken by another worker) ends at once. A worker killed in a training is noticed
through its heartbeat (``runs/recovery.py``); its message is not retried.

The machine needs ``NNLAB_BROKER_URL`` (Redis) and ``NNLAB_DATABASE_URL`` (PostgreSQL: the runs,
their metrics and models reach the web servers through it); ``NNLAB_HOME`` holds its local cache.
"""

from __future__ import annotations

import os
import threading
import time

from celery import Celery, signals

from nnlab.runner import UNBOUNDED, broker_url

QUEUE = "nnlab"
TASK = "nnlab.train"
WAIT_FOR_SLOT_S = 0.5  # how often a worker holding a message looks for a free slot
VISIBILITY_TIMEOUT_S = 12 * 3600  # a message a lost worker held comes back after this (and finds no run)


def make_app(url: str) -> Celery:
    """A Celery app for the broker at ``url``, configured for trainings."""
    app = Celery("nnlab", broker=url, set_as_current=False)
    app.conf.update(
        task_default_queue=QUEUE,
        task_acks_late=True,  # acknowledged after the training: a message never sits in a busy worker
        task_reject_on_worker_lost=False,  # a worker killed mid-run: its run fails (heartbeat), no rerun
        worker_prefetch_multiplier=1,
        task_ignore_result=True,
        task_serializer="json",
        accept_content=["json"],
        broker_connection_retry_on_startup=True,
        broker_connection_max_retries=None,  # Redis restarting: reconnect, however long it takes
        broker_connection_timeout=3,
        worker_cancel_long_running_tasks_on_connection_loss=False,  # a Redis restart never ends a training
        broker_transport_options={"visibility_timeout": VISIBILITY_TIMEOUT_S, "socket_connect_timeout": 3},
        task_publish_retry_policy={"max_retries": 2, "interval_start": 0.2, "interval_step": 0.5},
        worker_enable_remote_control=False,
        worker_send_task_events=False,
        worker_hijack_root_logger=False,
        worker_proc_alive_timeout=180,  # a pool process warms up (imports TensorFlow) before it says so
    )
    return app


app = make_app(broker_url() or "redis://127.0.0.1:6379/0")
_worker: dict = {}  # this pool process's store, heartbeat and stop flag (made at its start)


@signals.worker_process_init.connect
def _start_process(**_kwargs) -> None:
    """A pool process starts: open the store, start its heartbeat, warm up TensorFlow."""
    from nnlab.runs import RunStore
    from nnlab.runs.heartbeats import Heartbeat
    from nnlab.spare import warm_up

    began = time.monotonic()
    warm_up()
    store = RunStore()
    _worker.update(store=store, beat=Heartbeat(store, "celery").start(), stop=threading.Event())
    seconds = time.monotonic() - began
    print(f"nnlab worker {os.getpid()}: warm in {seconds:.1f} s, serving {store!r}", flush=True)


@signals.worker_process_shutdown.connect
def _stop_process(**_kwargs) -> None:
    if "beat" in _worker:
        _worker["beat"].stop()


@app.task(name=TASK)
def train_next(max_concurrent: int = UNBOUNDED) -> str | None:
    """Claim the oldest queued run (waiting for a free slot) and train it here; its id, or None."""
    from nnlab.worker import claim_next, execute_run, fresh_keras

    store, beat = _worker["store"], _worker["beat"]
    while (run_id := claim_next(store, "celery", max_concurrent)) is None:
        if not store.queued_ids():
            return None  # its run was stopped, deleted or taken by another worker
        time.sleep(WAIT_FOR_SLOT_S)
    try:
        execute_run(store, run_id, stop_flag=_worker["stop"], dispatch_next=False, heartbeat=beat)
    finally:
        fresh_keras()  # the next run starts from a clean slate
    return run_id


def worker_command(concurrency: int = 1, loglevel: str = "INFO") -> list[str]:
    """The ``celery worker`` arguments ``nnlab worker --celery`` runs with."""
    return [
        "worker",
        "--pool=prefork",
        f"--concurrency={concurrency}",
        "--prefetch-multiplier=1",
        f"--queues={QUEUE}",
        f"--hostname=nnlab-{os.getpid()}@%h",
        "--without-gossip",
        "--without-mingle",
        "--without-heartbeat",
        f"--loglevel={loglevel}",
    ]
