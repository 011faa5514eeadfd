"""What the store's new safety costs: the damage check when an SQLite store opens, the run's record
(``run.json``) written beside its model, the limits counted inside the insert, and one round of the
web server's background dispatcher.

Prints medians in milliseconds:

- opening a store (``RunStore()``: header and ``PRAGMA quick_check``) against opening its database
  alone (``Database``: no checks), for stores of about 2, 20 and 100 MB of metric events;
- ``create`` through ``Runner.submit``'s admission (counts in the insert's transaction, ``run.json``)
  against a plain ``create``; ``update(status=...)`` (rewrites ``run.json``);
- one ``Runner.dispatch()`` with an empty queue and 50 runs stored (what the dispatcher does every
  two seconds).

Run from the repository root: .venv/bin/python benchmarks/store_health.py
"""

import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT)]

from nnlab.limits import Limits  # noqa: E402
from nnlab.runner import Runner, _admission  # noqa: E402
from nnlab.runs import RunStore  # noqa: E402
from nnlab.runs.database import Database, dispose_engines, sqlite_url  # noqa: E402
from nnlab.runs.folders import write_record  # noqa: E402

SPEC = {"name": "bench", "layers": [{"kind": "Flatten"}, {"kind": "Dense", "units": 10}]}
CONFIG = {"epochs": 1}
REPEATS = 7


def median_ms(action, repeats: int = REPEATS) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        action()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def filled_store(root: Path, megabytes: int) -> RunStore:
    store = RunStore(root, "")
    row = json.dumps({"epoch": 1, "batch": 1, "step": 1, "loss": 0.5, "accuracy": 0.5, "elapsed": 1.0})
    run = store.create(SPEC, CONFIG, name="filled")
    per_batch = 2000
    for _ in range(megabytes * 1_000_000 // (per_batch * (len(row) + 40))):
        with store.db.write() as con:
            con.exec_driver_sql(
                "INSERT INTO events (run_id, kind, data) VALUES (?, 'batch', ?)", [(run.id, row)] * per_batch
            )
    dispose_engines()
    return store


def opening(root: Path) -> tuple[float, float]:
    def checked():
        RunStore(root, "")
        dispose_engines()

    def plain():
        Database(sqlite_url(root / "runs.sqlite"))
        dispose_engines()

    return median_ms(checked), median_ms(plain)


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        print("store size   open (checked)   open (database alone)")
        for megabytes in (2, 20, 100):
            root = Path(tmp) / f"s{megabytes}"
            filled_store(root, megabytes)
            size = (root / "runs.sqlite").stat().st_size / 1e6
            checked, plain = opening(root)
            print(f"{size:7.1f} MB   {checked:10.1f} ms   {plain:10.1f} ms")

        store = RunStore(Path(tmp) / "ops", "")
        admit = _admission(Limits(max_queued_per_visitor=1000), "visitor", SPEC, CONFIG)
        ids = []
        admitted = median_ms(
            lambda: ids.append(store.create(SPEC, CONFIG, owner="visitor", admit=admit).id), 25
        )
        plain = median_ms(lambda: ids.append(store.create(SPEC, CONFIG).id), 25)
        status = median_ms(lambda: store.update(ids[0], status="stopped"), 25)
        record = median_ms(lambda: write_record(store.run_dir(ids[0]), store.get(ids[0])), 25)
        print(
            f"create with the limits counted in its transaction: {admitted:.2f} ms; without: {plain:.2f} ms"
        )
        print(f"update(status=...), run.json rewritten: {status:.2f} ms (run.json alone: {record:.2f} ms)")
        for run_id in ids:
            store.update(run_id, status="completed")
        runner = Runner(store, max_concurrent=1)
        round_ms = median_ms(runner.dispatch, 25)
        print(f"one background dispatch round, {len(ids)} runs, none queued: {round_ms:.2f} ms")


if __name__ == "__main__":
    main()
