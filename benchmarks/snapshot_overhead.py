"""What do snapshots (learning replayed) cost a training? The same model on the same data, trained
as a worker trains it (in a fresh process, events going to a run store), with and without snapshots.

The modes are interleaved, each training in a process of its own (as a worker's), and three figures
are reported as medians:

- the training's wall time (``fit`` only, without the test evaluation): the target (issue 14) is a
  ratio of at most 1.03; on a busy machine this figure is noisy;
- the process's CPU time over the whole ``train`` call (build, fit, test evaluation): the work
  added, far less disturbed by other processes;
- the time spent inside the snapshots themselves (the probe images' forward pass, the weight copy,
  the artifact writes), measured around each one; the first includes warming up the forward pass,
  part of which the training would otherwise pay in its first batch.

    python benchmarks/snapshot_overhead.py [--preset NAME] [--subset N] [--epochs 2] [--repeats 3]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def timed_snapshots():
    """Wrap the snapshot callback so that the seconds spent in snapshots are counted."""
    from nnlab.training import snapshots

    spent = {"seconds": 0.0, "cpu": 0.0, "count": 0}
    original = snapshots.SnapshotCallback._snap

    def _snap(self, position):
        t0, c0 = time.perf_counter(), time.process_time()
        original(self, position)
        spent["seconds"] += time.perf_counter() - t0
        spent["cpu"] += time.process_time() - c0
        spent["count"] += 1

    snapshots.SnapshotCallback._snap = _snap
    return spent


def child(preset: str, subset: int | None, epochs: int, with_snapshots: bool) -> None:
    from nnlab.architectures import get_preset
    from nnlab.runs import RunStore
    from nnlab.runs.recorder import StoreRecorder
    from nnlab.training import TrainConfig, prepare_data, train

    spent = timed_snapshots()
    spec = get_preset(preset)
    config = TrainConfig(epochs=epochs, subset=subset, batch_size=128, validation_fraction=0.1, seed=0)
    data = prepare_data(config)
    store = RunStore(tempfile.mkdtemp(prefix="nnlab-bench-"))
    run = store.create(spec, config.to_dict(), name="benchmark")
    recorder = StoreRecorder(store, run.id)
    cpu = time.process_time()
    result = train(spec, config, on_event=recorder, data=data, snapshots=with_snapshots)
    recorder.flush()
    cpu = time.process_time() - cpu
    print(
        json.dumps(
            {
                "fit": result.elapsed,
                "cpu": cpu,
                "snapshots": spent["seconds"],
                "snapshots_cpu": spent["cpu"],
                "count": spent["count"],
                "n_train": len(data.y_train),
                "accuracy": result.test_accuracy,
            }
        )
    )


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--preset", default="Strong CNN (BatchNorm, 99.4 %+)")
    p.add_argument("--subset", type=int, default=None, help="training images (default: all 60,000)")
    p.add_argument("--epochs", type=int, default=2)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--child", choices=("with", "without"), default=None)
    args = p.parse_args()
    if args.child:
        child(args.preset, args.subset, args.epochs, args.child == "with")
        return
    results: dict[str, list[dict]] = {"without": [], "with": []}
    for rep in range(args.repeats):
        for mode in ("without", "with") if rep % 2 == 0 else ("with", "without"):
            command = [
                sys.executable,
                __file__,
                "--child",
                mode,
                "--preset",
                args.preset,
                "--epochs",
                str(args.epochs),
            ]
            command += ["--subset", str(args.subset)] if args.subset else []
            env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
            out = subprocess.run(command, env=env, capture_output=True, text=True)
            if out.returncode:
                raise SystemExit(f"{mode} failed:\n{out.stderr[-3000:]}")
            r = json.loads(out.stdout.strip().splitlines()[-1])
            results[mode].append(r)
            print(
                f"repeat {rep + 1} {mode:<7} snapshots: fit {r['fit']:7.2f} s, CPU {r['cpu']:7.2f} s, "
                f"inside {r['count']} snapshots {r['snapshots']:.3f} s",
                flush=True,
            )

    def med(mode: str, key: str) -> float:
        return statistics.median(r[key] for r in results[mode])

    n = results["with"][0]["n_train"]
    print(f"\n{args.preset}, {args.epochs} epoch(s) on {n:,} images, {args.repeats} fresh processes each:")
    for key, what in (("fit", "training wall time (fit)"), ("cpu", "CPU time of the whole train()")):
        a, b = med("without", key), med("with", key)
        print(f"  {what:<32} without {a:7.2f} s   with {b:7.2f} s   ratio {b / a:.3f}")
    inside = med("with", "snapshots")
    share = inside / med("with", "fit")
    print(f"  inside the snapshots             {inside:7.3f} s = {share:.2%} of the fit time")
    inside_cpu = med("with", "snapshots_cpu")
    cpu_share = inside_cpu / med("with", "cpu")
    print(f"  CPU inside the snapshots         {inside_cpu:7.3f} s = {cpu_share:.2%} of train()'s CPU time")


if __name__ == "__main__":
    main()
