"""``python -m nnlab runs | stop RUN | delete RUN`` (the workers' commands are in ``workers.py``).

RUN is a run id, a unique prefix of one, or a run's exact name. An unknown RUN is a one-line
error with exit status 2. The command line is the operator's: it lists every visitor's runs. Names
and errors reach the terminal with their control characters written out (``\\x1b``), so a name
cannot move the cursor, retitle the window or clear the screen.
"""

from __future__ import annotations

import argparse
import json
import time

from nnlab.cli import UsageError
from nnlab.runs import STATUSES, Run, RunNotFound, RunStore
from nnlab.ui.format import plain_error, short_status, terminal_text


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("runs", help="list the stored runs, newest first")
    p.add_argument("--json", action="store_true", help="machine-readable output (a JSON list)")
    p.add_argument("--owner", default=None, help="only this owner's runs (and unowned ones)")
    p.add_argument(
        "--status",
        choices=STATUSES,
        action="append",
        default=None,
        help="only runs with this status (repeatable)",
    )
    p.set_defaults(func=_runs)

    s = sub.add_parser("stop", help="ask a queued or running run to stop")
    s.add_argument("run", metavar="RUN", help="run id (or a unique prefix, or its name)")
    s.set_defaults(func=_stop)

    d = sub.add_parser("delete", help="delete a run (stop a running one first)")
    d.add_argument("run", metavar="RUN", help="run id (or a unique prefix, or its name)")
    d.set_defaults(func=_delete)


def _store() -> RunStore:
    return RunStore()  # a store that cannot be used: ``cli.main`` says why, in words (exit status 1)


def _find(store: RunStore, ref: str) -> Run:
    try:
        return store.find(ref)
    except RunNotFound as exc:
        raise UsageError(str(exc)) from None


def run_record(run: Run, store: RunStore) -> dict:
    """What ``runs --json`` prints for one run."""
    return {
        "id": run.id,
        "name": run.name,
        "owner": run.owner,
        "status": run.status,
        "architecture": run.architecture,
        "created": run.created,
        "started": run.started,
        "finished": run.finished,
        "test_loss": run.test_loss,
        "test_accuracy": run.test_accuracy,
        "n_params": run.n_params,
        "error": run.error,
        "progress": run.progress,
        "stop_requested": run.stop_requested,
        "queue_position": store.queue_position(run.id) if run.status == "queued" else None,
        "model_path": str(store.model_path(run.id)) if store.has_model(run.id) else None,
        "config": run.config,
    }


def _runs(args: argparse.Namespace) -> int:
    store = _store()
    runs = store.list(owner=args.owner, statuses=args.status)
    if args.json:
        print(json.dumps([run_record(r, store) for r in runs], indent=1))
        return 0
    if not runs:
        print(f"no runs yet (store: {store.root})")
        return 0
    header = f"{'ID':<12}  {'STATUS':<9}  {'TEST ACC':>8}  {'CREATED':<16}  NAME"
    print(header)
    for run in runs:
        acc = f"{run.test_accuracy:.2%}" if run.test_accuracy is not None else "-"
        status = short_status(run, store.queue_position(run.id) if run.status == "queued" else None)
        created = time.strftime("%Y-%m-%d %H:%M", time.localtime(run.created))
        print(f"{run.id:<12}  {status:<9}  {acc:>8}  {created:<16}  {terminal_text(run.name)}")
        if run.status == "failed":
            print(f"{'':<12}  {terminal_text(plain_error(run.error))}")
    return 0


def _stop(args: argparse.Namespace) -> int:
    store = _store()
    run = _find(store, args.run)
    if not run.is_active:
        print(f"run {run.id} is already {run.status}")
        return 0
    store.request_stop(run.id)
    print(f"stop requested for run {run.id} ({terminal_text(run.name)})")
    return 0


def _delete(args: argparse.Namespace) -> int:
    store = _store()
    run = _find(store, args.run)
    try:
        store.delete(run.id)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    print(f"deleted run {run.id} ({terminal_text(run.name)})")
    return 0
