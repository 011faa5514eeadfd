"""What do snapshots (learning replayed) cost a training? The same model on the same data, trained
as a worker trains it (events to the run store), with and without snapshots.

Two figures, in one process (the data prepared once, the modes interleaved so that machine noise
hits them alike):

- the ratio of the median training times (``fit`` only, without the test evaluation): the target
  (issue 14) is at most 1.03;
- the time spent inside the snapshots themselves (the forward pass over the probe images, the
  weight copy and the artifact writes), measured around each one, as a share of the training time:
  the same cost without the noise of a busy machine.

    python benchmarks/snapshot_overhead.py [--preset NAME] [--subset N] [--epochs 2] [--repeats 3]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def timed_snapshots():
    """Wrap the snapshot callback so that the seconds spent in snapshots are counted."""
    from nnlab.training import snapshots

    spent = {"seconds": 0.0, "count": 0}
    original = snapshots.SnapshotCallback._snap

    def _snap(self, position):
        t0 = time.perf_counter()
        original(self, position)
        spent["seconds"] += time.perf_counter() - t0
        spent["count"] += 1

    snapshots.SnapshotCallback._snap = _snap
    return spent


def one_training(spec, config, data, store, with_snapshots: bool) -> float:
    from nnlab.runs.recorder import StoreRecorder
    from nnlab.training import train

    run = store.create(spec, config.to_dict(), name="benchmark")
    recorder = StoreRecorder(store, run.id)
    result = train(spec, config, on_event=recorder, data=data, snapshots=with_snapshots)
    recorder.flush()
    return result.elapsed


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--preset", default="Strong CNN (BatchNorm, 99.4 %+)")
    p.add_argument("--subset", type=int, default=None, help="training images (default: all 60,000)")
    p.add_argument("--epochs", type=int, default=2)
    p.add_argument("--repeats", type=int, default=3)
    args = p.parse_args()

    from nnlab.architectures import get_preset
    from nnlab.runs import RunStore
    from nnlab.training import TrainConfig, prepare_data

    spec = get_preset(args.preset)
    config = TrainConfig(
        epochs=args.epochs, subset=args.subset, batch_size=128, validation_fraction=0.1, seed=0
    )
    data = prepare_data(config)
    store = RunStore(tempfile.mkdtemp(prefix="nnlab-bench-"))
    spent = timed_snapshots()
    one_training(spec, config, data, store, True)  # warm-up: graph building, caches
    times: dict[bool, list[float]] = {False: [], True: []}
    snapshot_seconds = []
    for rep in range(args.repeats):
        for mode in (False, True) if rep % 2 == 0 else (True, False):
            before = spent["seconds"]
            elapsed = one_training(spec, config, data, store, mode)
            times[mode].append(elapsed)
            if mode:
                snapshot_seconds.append((spent["seconds"] - before, elapsed))
            label = "with snapshots   " if mode else "without snapshots"
            print(f"repeat {rep + 1} {label} {elapsed:7.2f} s", flush=True)
    plain, snap = statistics.median(times[False]), statistics.median(times[True])
    share = statistics.median(s / e for s, e in snapshot_seconds)
    per_run = statistics.median(s for s, _ in snapshot_seconds)
    n = spent["count"] // (args.repeats + 1)
    print(f"\n{args.preset}, {args.epochs} epoch(s) on {len(data.y_train):,} images, {args.repeats} repeats:")
    print(f"  training without snapshots  {plain:7.2f} s (median)")
    print(f"  training with snapshots     {snap:7.2f} s (median)   ratio {snap / plain:.3f}")
    print(f"  inside the {n} snapshots      {per_run:7.3f} s per training = {share:.2%} of its time")


if __name__ == "__main__":
    main()
