"""A stop request to a run on a Celery worker: how soon the training ends, and its final status.

PostgreSQL, Redis and one warm Celery worker (``class_throughput.celery_cluster``, on loopback, the
worker with a folder of its own). Each repeat queues a long run, waits until it trains, asks it to
stop (what Stop does: a flag in the database) and polls the store every 20 ms: the time until the
run's progress is written for the last time (the worker saw the flag, ended the batch and wrote its
final metrics) and until the run is ``stopped`` (its model and test scores kept). Target (issue 12):
a stop request reaches a remote worker within a second.

    .venv/bin/python benchmarks/remote_stop.py [--repeats 5]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from class_throughput import REPO, SPEC, celery_cluster  # noqa: E402

CHILD = r"""
import json, sys, time
from nnlab.runner import Runner
from nnlab.runs import RunStore
spec, repeats = json.loads(sys.argv[1]), int(sys.argv[2])
store, results = RunStore(), []
runner = Runner(store)
for i in range(repeats):
    run = runner.submit(spec, {"epochs": 50, "subset": 6000, "batch_size": 32}, name=f"stop {i}")
    while not (store.require(run.id).progress.get("batch") or 0) > 5:
        time.sleep(0.05)
    asked = time.time()
    runner.stop(run.id)
    last, progress = asked, store.require(run.id).progress
    while (now := store.require(run.id)).status != "stopped":
        if now.progress != progress:
            last, progress = time.time(), now.progress
        time.sleep(0.02)
    results.append({"training_ended_s": last - asked, "stopped_s": time.time() - asked})
print(json.dumps(results))
"""


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    with celery_cluster(1) as web:
        out = subprocess.run(
            [sys.executable, "-c", CHILD, json.dumps(SPEC), str(args.repeats)],
            env=web, capture_output=True, text=True, timeout=1800, cwd=REPO,
        )  # fmt: skip
    if out.returncode != 0:
        raise SystemExit(out.stderr[-3000:])
    results = json.loads(out.stdout.strip().splitlines()[-1])
    ended = [r["training_ended_s"] for r in results]
    stopped = [r["stopped_s"] for r in results]
    print(f"stop request -> last metrics written (training ended): median {statistics.median(ended):.2f} s "
          f"({', '.join(f'{x:.2f}' for x in ended)})")  # fmt: skip
    print(f"stop request -> stopped (model, test scores kept): median {statistics.median(stopped):.2f} s "
          f"({', '.join(f'{x:.2f}' for x in stopped)})")  # fmt: skip


if __name__ == "__main__":
    main()
