"""``python -m nnlab worker ...`` (the processes that train) and ``nnlab workers`` (who is connected).

- ``worker --celery [--concurrency N]``: a Celery worker on this machine (``executors/celery_app.py``)
  for ``NNLAB_BROKER_URL`` and ``NNLAB_DATABASE_URL``; one per GPU, each with its own
  ``CUDA_VISIBLE_DEVICES``;
- ``worker --warm``: (internal) a warm spare of a web server (``nnlab/spare.py``, ``nnlab/warm.py``):
  it trains the runs its server lends it, one after another, until the server lets it go;
- ``worker RUN_ID``: (internal) train one claimed run in this process;
- ``workers``: the workers whose heartbeat is fresh, on every machine, and what each one trains.
"""

from __future__ import annotations

import argparse
import sys
import time

from nnlab.cli import UsageError
from nnlab.runs import RunNotFound, RunStore, StoreError
from nnlab.ui.format import format_seconds


def register(sub: argparse._SubParsersAction) -> None:
    w = sub.add_parser("worker", help="a process that trains runs: a Celery worker (--celery), or internal")
    mode = w.add_mutually_exclusive_group()
    mode.add_argument(
        "--celery", action="store_true", help="serve the queue as a Celery worker (needs NNLAB_BROKER_URL)"
    )
    mode.add_argument(
        "--warm", action="store_true", help="(internal) a spare: warm up, train the run ids read from stdin"
    )
    w.add_argument("--concurrency", type=int, default=1, help="with --celery: trainings at once here (1)")
    w.add_argument("--loglevel", default="INFO", help="with --celery: Celery's log level")
    w.add_argument("run_id", nargs="?", help="(internal) train this claimed run here")
    w.set_defaults(func=_worker)

    s = sub.add_parser("workers", help="the workers connected to the run store, and what they train")
    s.set_defaults(func=_workers)


def _worker(args: argparse.Namespace) -> int:
    if args.celery:
        return _celery(args)
    from nnlab.worker import worker_main

    run_id, beat, pipe = args.run_id, None, None
    if args.warm:
        from nnlab.spare import RunIdPipe, wait_for_run

        pipe = RunIdPipe()
        run_id, beat = wait_for_run(pipe)
        if run_id is None:
            return 0  # the web server let this spare go
    elif not run_id:
        raise UsageError("give --celery to start a Celery worker (or a RUN_ID to train one claimed run)")
    try:
        return worker_main(run_id, heartbeat=beat, lent_by=pipe)  # once free: back to the web server
    except RunNotFound as exc:
        print(f"worker: {exc}", file=sys.stderr)
        return 2


def _celery(args: argparse.Namespace) -> int:
    from nnlab.runner import broker_url

    if not broker_url():
        raise UsageError("set NNLAB_BROKER_URL to the broker, e.g. redis://broker:6379/0")
    if args.concurrency < 1:
        raise UsageError(f"--concurrency must be at least 1 (got {args.concurrency})")
    store = _store()  # reachable before any message is taken; the schema exists from now on
    if store.database_url is None:
        print(
            "note: the runs are in this machine's SQLite file; workers on other machines need "
            "NNLAB_DATABASE_URL (PostgreSQL)",
            file=sys.stderr,
        )
    from nnlab.executors.celery_app import app, worker_command

    app.worker_main(worker_command(args.concurrency, args.loglevel))
    return 0


def _store() -> RunStore:
    try:
        return RunStore()
    except StoreError as exc:
        raise UsageError(str(exc)) from None


def _workers(args: argparse.Namespace) -> int:
    from nnlab.runs.heartbeats import connected_workers

    found = connected_workers(_store())
    if not found:
        print("no worker connected")
        return 0
    print(f"{'HOST':<24}  {'PID':>7}  {'KIND':<8}  {'UP':>8}  RUN")
    for w in found:
        up = format_seconds(time.time() - w["started"])
        print(f"{w['host'][:24]:<24}  {w['pid']:>7}  {w['kind']:<8}  {up:>8}  {w['run_id'] or '(waiting)'}")
    busy = sum(w["run_id"] is not None for w in found)
    print(f"{len(found)} connected, {busy} training")
    return 0
