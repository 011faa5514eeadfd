"""The run store on SQLite and on PostgreSQL: what its common operations cost, and a dispatch race.

Prints, for each database, the median milliseconds of the operations a page or a worker repeats
(create a run, a worker's metric flush, get, the batch metrics of a run with 1,000 events, the list
of 50 runs, the queue position, a 2 MB model written and copied to another machine's cache), and
then the race: PROCESSES processes dispatch the same queue at the same moment with
``max_concurrent=BOUND``; every round must start exactly BOUND runs, the oldest.

PostgreSQL: a throw-away server started with ``tests/servers.py`` (Debian's postgresql package).
Run from the repository root: .venv/bin/python benchmarks/store_backends.py
"""

import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from nnlab.runs import RunStore  # noqa: E402
from nnlab.runs.database import dispose_engines  # noqa: E402

PROCESSES, BOUND, ROUNDS, QUEUED = 8, 3, 3, 12
SPEC = {"name": "bench", "layers": [{"kind": "Flatten"}, {"kind": "Dense", "units": 10}]}
RACER = """
import subprocess, sys, time
from nnlab.runner import Runner
from nnlab.runs import RunStore, process_alive, process_handle

class Sleeper:  # a worker that only sleeps: the race is about the queue, not the training
    def launch(self, store, run_id):
        quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL}  # not holding our pipe open
        return process_handle(subprocess.Popen(["sleep", "30"], start_new_session=True, **quiet).pid)
    def is_alive(self, handle):
        return process_alive(handle)

runner = Runner(RunStore(sys.argv[1]), max_concurrent=int(sys.argv[3]), executor=Sleeper())
time.sleep(max(0.0, float(sys.argv[2]) - time.time()))
t = time.perf_counter()
started = runner.dispatch()
print(len(started), time.perf_counter() - t)   # runs this one started, seconds inside dispatch()
"""


def median_ms(action, repeat: int = 50) -> float:
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        action()
        times.append(time.perf_counter() - t)
    return statistics.median(times) * 1000


def operations(root: Path) -> dict[str, float]:
    from nnlab.events import BatchEvent

    store = RunStore(root / "web")
    runs = [store.create(SPEC, {}, name=f"run {i}") for i in range(50)]
    run = runs[0].id
    fields = {"epoch": 1, "loss": 1.0, "accuracy": 0.5, "elapsed": 0.1, "samples_per_sec": 100.0}
    batch = [BatchEvent(batch=i, step=i, **fields) for i in range(10)]
    for _ in range(100):
        store.add_events(run, batch, {"batch": 10})
    model = os.urandom(2_000_000)
    other = RunStore(root / "other machine")

    def copy_model():
        store.save_model(run, model)
        other.model_path(run)

    shared = not store.db.is_sqlite  # with SQLite another machine has another store: nothing to copy
    return {
        "create": median_ms(lambda: store.create(SPEC, {})),
        "metric flush (10 batch events + progress)": median_ms(
            lambda: store.add_events(runs[1].id, batch, {})
        ),
        "get": median_ms(lambda: store.get(run)),
        "metrics of 1,000 batch events": median_ms(lambda: store.metrics(run, "batch")),
        "list of 100 runs": median_ms(store.list),
        "queue position": median_ms(lambda: store.queue_position(runs[-1].id)),
        "2 MB model saved (and copied to another machine)": median_ms(
            copy_model if shared else lambda: store.save_model(run, model), 10
        ),
        "model path (PostgreSQL: the copy already there)": median_ms(lambda: other.model_path(run)),
    }


def race(root: Path, new_database) -> list[tuple[int, float, bool]]:
    """Per round: runs started by all racers together, the longest dispatch() (s), oldest started?"""
    rounds = []
    for r in range(ROUNDS):
        new_database()  # every round on an empty store
        store = RunStore(root / f"race {r}")
        queued = [store.create(SPEC, {}, name=f"queued {i}").id for i in range(QUEUED)]
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        at = time.time() + 15  # time for every racer to import and open the store first
        args = [sys.executable, "-c", RACER, str(store.root), str(at), str(BOUND)]
        procs = [subprocess.Popen(args, env=env, stdout=subprocess.PIPE, text=True) for _ in range(PROCESSES)]
        outs = [p.communicate(timeout=300)[0].split() for p in procs]
        started, slowest = sum(int(n) for n, _ in outs), max(float(t) for _, t in outs)
        running = store.list(statuses=["running"])
        rounds.append((started, slowest, sorted(r.id for r in running) == sorted(queued[:BOUND])))
        for run in running:
            os.kill(run.worker["pid"], 9)
    return rounds


def report(name: str, root: Path, new_database) -> None:
    print(f"\n{name}")
    new_database()
    for what, ms in operations(root).items():
        print(f"  {what:<46} {ms:7.2f} ms")
    for started, slowest, oldest in race(root, new_database):
        which = "the oldest" if oldest else "NOT the oldest"
        print(
            f"  race: {PROCESSES} processes dispatching at once, bound {BOUND}: {started} started ({which});"
            f" the longest dispatch() took {slowest * 1000:.0f} ms"
        )


def main() -> None:
    from servers import PostgresServer

    home = Path(tempfile.mkdtemp(prefix="nnlab-bench-"))
    os.environ.pop("NNLAB_DATABASE_URL", None)
    report("SQLite (the embedded default)", home / "sqlite", lambda: None)  # a new root: a new file
    server = PostgresServer.start()

    def new_database():
        os.environ["NNLAB_DATABASE_URL"] = server.create_database()

    try:
        report("PostgreSQL 15 (127.0.0.1, this machine)", home / "postgresql", new_database)
    finally:
        dispose_engines()
        server.stop()


if __name__ == "__main__":
    main()
