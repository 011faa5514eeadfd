"""A class pressing Train at once: N quick runs submitted together, trained by K workers.

For each setting, the runs are submitted in one go (as N visitors clicking Train at the same moment)
and the script reports, from the store's own timestamps: the time from the submission to the first
chart point of the first run (its first stored batch), and to the first and the last result.

Settings:
- ``embedded``: the default (SQLite, workers of this machine, one training at a time), with a warm
  spare (``NNLAB_WARM_WORKERS=1``, what a web server keeps) and without (``cold``: a new process that
  imports TensorFlow per run, the app before issue 12/13);
- ``celery-K``: PostgreSQL and Redis (started here, on loopback) and K Celery workers
  (``nnlab worker --celery``), warm before the clock starts, no bound on trainings at once.

A quick run is the Build & Train page's quick default: MLP 784-128-10, 6,000 images, 1 epoch.
On a 2-core machine more workers cannot add compute: the figures show the queue's and start-up's
costs; with one machine per worker, K workers train K runs in the time of one.

    .venv/bin/python benchmarks/class_throughput.py [--n 8 30] [--workers 1 2 4] [--skip-embedded]
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from nnlab.architectures import get_preset  # noqa: E402

SPEC = get_preset("MLP 784-128-10")
CONFIG = {"epochs": 1, "subset": 6000, "batch_size": 32, "validation_fraction": 0.1}
TIMEOUT_S = 3600

# Run in a child process with the setting's environment: submit N runs, wait, print the timings.
CHILD = r"""
import json, sys, time
from nnlab.runner import Runner
from nnlab.runs import RunStore
n, spec, config, warm = int(sys.argv[1]), json.loads(sys.argv[2]), json.loads(sys.argv[3]), int(sys.argv[4])
store = RunStore()
executor = None
if warm:
    from nnlab.runner import LocalProcessExecutor
    from nnlab.warm import dispatcher_env
    executor = LocalProcessExecutor(env=dispatcher_env(), warm=warm)  # what a web server keeps
runner = Runner(store, executor=executor)
if warm:
    runner.dispatch()  # the spare starts (a web server's first page view)
    from nnlab.runs.heartbeats import worker_counts
    while worker_counts(store).connected < warm:  # warm: it beats once it has warmed up
        time.sleep(0.2)
t0 = time.time()
ids = [runner.submit(spec, config, name=f"class run {i}", owner=f"student-{i}").id for i in range(n)]
submitted = time.time() - t0
first_point = None
while True:
    runner.dispatch()  # the web server's background dispatcher
    runs = [store.require(i) for i in ids]
    if first_point is None and any(r.progress.get("batch") or r.status == "completed" for r in runs):
        first_point = time.time() - t0  # a chart's first point: a run's first stored batch
    if not any(r.is_active for r in runs):
        break
    time.sleep(0.1)
print(json.dumps({
    "submitted_s": submitted,
    "first_point_s": first_point,
    "statuses": sorted({r.status for r in runs}),
    "results_s": sorted(r.finished - t0 for r in runs),
    "started_s": sorted(r.started - t0 for r in runs if r.started),
}))
if executor is not None:
    executor.close()
"""


def run_setting(n: int, env: dict[str, str], warm: int = 0) -> dict:
    out = subprocess.run(
        [sys.executable, "-c", CHILD, str(n), json.dumps(SPEC), json.dumps(CONFIG), str(warm)],
        env=env, capture_output=True, text=True, timeout=TIMEOUT_S, cwd=REPO,
    )  # fmt: skip
    if out.returncode != 0:
        raise RuntimeError(out.stderr[-3000:])
    return json.loads(out.stdout.strip().splitlines()[-1])


def embedded(n: int, warm: int) -> dict:
    home = tempfile.mkdtemp(prefix="nnlab-class-")
    env = {**os.environ, "NNLAB_HOME": home, "NNLAB_WARM_WORKERS": str(warm), "TF_CPP_MIN_LOG_LEVEL": "2"}
    for key in ("NNLAB_DATABASE_URL", "NNLAB_BROKER_URL", "NNLAB_MAX_CONCURRENT"):
        env.pop(key, None)
    return run_setting(n, env, warm)


@contextmanager
def celery_cluster(workers: int) -> Iterator[dict[str, str]]:
    """PostgreSQL, Redis and ``workers`` warm Celery workers on loopback; the web tier's environment."""
    from tests.servers import PostgresServer, RedisServer

    pg, redis = PostgresServer.start(), RedisServer.start()
    procs, logs = [], []
    try:
        base = {**os.environ, "NNLAB_DATABASE_URL": pg.create_database(), "NNLAB_BROKER_URL": redis.url}
        base |= {"PYTHONPATH": str(REPO), "TF_CPP_MIN_LOG_LEVEL": "2"}
        base.pop("NNLAB_MAX_CONCURRENT", None)
        for _ in range(workers):  # one worker process each, with a folder of its own (another machine)
            log = Path(tempfile.mkdtemp(prefix="nnlab-worker-")) / "worker.log"
            env = {**base, "NNLAB_HOME": str(log.parent)}
            args = [sys.executable, "-m", "nnlab", "worker", "--celery", "--loglevel", "WARNING"]
            procs.append(subprocess.Popen(args, env=env, stdout=log.open("wb"), stderr=subprocess.STDOUT,
                                          start_new_session=True))  # fmt: skip
            logs.append(log)
        deadline = time.monotonic() + 600
        while not all(b": warm in" in log.read_bytes() for log in logs):  # warm before the clock starts
            if time.monotonic() > deadline:
                raise RuntimeError("the workers did not warm up in 10 minutes")
            time.sleep(0.5)
        yield {**base, "NNLAB_HOME": tempfile.mkdtemp(prefix="nnlab-web-")}
    finally:
        for proc in procs:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        redis.stop()
        pg.stop()


def celery(n: int, workers: int) -> dict:
    with celery_cluster(workers) as web:
        return run_setting(n, web)


def report(name: str, n: int, result: dict) -> None:
    results = result["results_s"]
    print(
        f"{name:<16} N={n:<3} first point {result['first_point_s']:6.1f} s   first result {results[0]:6.1f} s"
        f"   last result {results[-1]:6.1f} s   ({', '.join(result['statuses'])}; load "
        f"{os.getloadavg()[0]:.1f})",
        flush=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--n", type=int, nargs="+", default=[8, 30])
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2, 4])
    parser.add_argument("--skip-embedded", action="store_true")
    parser.add_argument("--cold", action="store_true", help="also the embedded default without a warm spare")
    args = parser.parse_args()
    for n in args.n:
        if not args.skip_embedded:
            report("embedded, warm", n, embedded(n, warm=1))
            if args.cold:
                report("embedded, cold", n, embedded(n, warm=0))
        for k in args.workers:
            report(f"celery, {k} worker{'s' if k > 1 else ''}", n, celery(n, k))


if __name__ == "__main__":
    main()
