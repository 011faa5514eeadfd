"""Two versions of the app side by side, watched alike: the CPU a watcher costs each, as a ratio.

One store, one training (a worker process of its own, niced), two web servers on that store: this
checkout's app and another's (``--before``, e.g. a worktree of an older commit). Each server gets
the same number of light watchers (``light_watchers.py``) of the same run, and the servers' CPU is
read over the same windows: both see the same machine, the same training and the same run history,
so their ratio holds where the machine's noise moves both (on this shared 2-core machine one
server's figure moves by a third between runs). Reported per window and as medians: each server's
CPU per watcher-second above its own idle rate (measured before the watchers came), and after/before.

With ``--keras``, a visitor first opens Inspect and Draw on a finished run on each server (a quick
training here, before the watched one): the server imports TensorFlow and loads the model, as in a class
where someone has used Evaluate, Inspect or Draw. (Streamlit then cleared Keras's session, with a
full garbage collection, after every refresh of every watcher: ``nnlab/ui/script_cleanup.py``.)

    .venv/bin/python benchmarks/watchers_ab.py --before /tmp/before [--watchers 1] [--windows 5] [--keras]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from browser_app import ROOT, serve, stop_runs  # noqa: E402
from light_watchers import LightCrowd, LightWatcher, page_run_seconds  # noqa: E402
from watchers import OWNER, PAGE, start_training, wait_for_batches  # noqa: E402


def rates(apps: dict, seconds: float) -> dict[str, float]:
    """Each server's CPU seconds per second over the same window."""
    start = {name: app.cpu_seconds() for name, app in apps.items()}
    time.sleep(seconds)
    return {name: (app.cpu_seconds() - start[name]) / seconds for name, app in apps.items()}


def open_a_finished_run(home: Path, apps: dict) -> None:
    """A quick training to its end, then its Inspect and Draw pages opened on each server (TensorFlow
    imported there and the model loaded: checked in the server's memory map)."""
    from nnlab.architectures import get_preset
    from nnlab.runner import Runner
    from nnlab.runs import RunStore
    from nnlab.training import TrainConfig

    runner = Runner(RunStore(home), max_concurrent=1)
    run = runner.submit(get_preset("MLP 784-128-10"), TrainConfig(epochs=1, subset=2000), owner=OWNER)
    deadline = time.time() + 300
    while runner.store.get(run.id).is_active and time.time() < deadline:
        time.sleep(1)
    if runner.store.get(run.id).status != "completed":
        raise SystemExit(f"the quick training did not complete: {runner.store.get(run.id).error}")
    for name, app in apps.items():
        for page in ("Inspect", "Draw"):
            page_run_seconds(app.url, page=page, query=f"visitor={OWNER}&run={run.id}")
        maps, waited = Path(f"/proc/{app.process.pid}/maps"), time.time()
        while "tensorflow" not in maps.read_text():  # the model is loaded as the pages draw
            if time.time() - waited > 120:
                raise SystemExit(f"{name}: Inspect and Draw opened, but the server has not loaded TensorFlow")
            time.sleep(1)
        print(f"{name}: Inspect and Draw opened on a finished run (TensorFlow loaded)", flush=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--before", type=Path, required=True, help="the other checkout (its app.py)")
    parser.add_argument("--watchers", type=int, default=1, help="light watchers on each server")
    parser.add_argument("--windows", type=int, default=5)
    parser.add_argument("--window", type=float, default=20.0, help="seconds each")
    parser.add_argument("--preset", default="CNN with dropout (Keras tutorial)")
    parser.add_argument(
        "--keras",
        action="store_true",
        help="first open Inspect and Draw on a finished run on each server (TensorFlow loaded)",
    )
    args = parser.parse_args()

    home = Path(tempfile.mkdtemp(prefix="nnlab-watchers-ab-"))
    with ExitStack() as stack:
        apps = {
            "before": stack.enter_context(serve(home, args.before, NNLAB_WARM_WORKERS="0")),
            "after": stack.enter_context(serve(home, ROOT, NNLAB_WARM_WORKERS="0")),
        }
        if args.keras:
            open_a_finished_run(home, apps)
        runner, run = start_training(home, args.preset, epochs=30, nice=10)
        stack.callback(stop_runs, home)
        wait_for_batches(runner.store, run.id)
        idle = [rates(apps, args.window) for _ in range(2)]
        idle_rate = {name: statistics.median(r[name] for r in idle) for name in apps}
        print("idle: " + ", ".join(f"{n} {v:.2%}" for n, v in idle_rate.items()), flush=True)
        crowd = LightCrowd()
        stack.callback(crowd.close)
        for app in apps.values():
            for _ in range(args.watchers):
                crowd.add(LightWatcher(app.url, PAGE, f"visitor={OWNER}&run={run.id}"))
        time.sleep(10)
        per_watcher: dict[str, list[float]] = {name: [] for name in apps}
        for i in range(args.windows):
            window = rates(apps, args.window)
            for name in apps:
                per_watcher[name].append((window[name] - idle_rate[name]) / args.watchers)
            b, a = per_watcher["before"][-1], per_watcher["after"][-1]
            line = f"window {i + 1}: before {b:.2%}, after {a:.2%} of a core per watcher"
            print(f"{line}; after/before {a / b:.2f}", flush=True)
    b, a = (statistics.median(per_watcher[n]) for n in ("before", "after"))
    ratios = [x / y for x, y in zip(per_watcher["after"], per_watcher["before"], strict=True)]
    spread = f"windows {min(ratios):.2f}-{max(ratios):.2f}"
    print(
        f"\n{args.watchers} light watcher(s) on each server, medians of {args.windows} windows of "
        f"{args.window:.0f} s, above each server's idle rate: before {b:.2%}, after {a:.2%} of a core "
        f"per watcher; after/before {statistics.median(ratios):.2f} ({spread})"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
