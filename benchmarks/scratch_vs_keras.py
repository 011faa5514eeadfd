"""The from-scratch NumPy MLP against the same network in Keras, measured in one run.

Full MNIST (60,000 training images, no validation split), 784-128-10 relu, plain SGD with
momentum, the same learning rate, batch size and epochs for both. Prints the training time,
throughput and test accuracy of each and the time ratio scratch / Keras. The issue's targets:
scratch >= 97 % test accuracy, in a few minutes, within 2x of Keras' time.

    .venv/bin/python benchmarks/scratch_vs_keras.py [--epochs 5] [--batch-size 128] [--blas-threads 1]
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from nnlab import scratch  # noqa: E402
from nnlab.events import EpochEvent  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--hidden", type=int, default=128)
    parser.add_argument("--lr", type=float, default=0.1)
    parser.add_argument("--momentum", type=float, default=0.9)
    parser.add_argument(
        "--blas-threads",
        type=int,
        nargs="*",
        default=[0, 1],
        help="scratch runs to make, one per BLAS thread count; 0 = leave the machine's setting "
        "(default: 0 1, i.e. the machine's setting, then 1 thread)",
    )
    parser.add_argument("--skip-keras", action="store_true")
    args = parser.parse_args()

    config = scratch.ScratchConfig(
        hidden=(args.hidden,),
        learning_rate=args.lr,
        momentum=args.momentum,
        batch_size=args.batch_size,
        epochs=args.epochs,
        validation_fraction=0.0,
        batch_event_every=1000,
    )
    print(
        f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
        f"load average {os.getloadavg()[0]:.1f} (shared with other jobs: timings are indicative)"
    )
    print(
        f"network 784-{args.hidden}-10 relu, SGD lr={args.lr} momentum={args.momentum}, "
        f"batch {args.batch_size}, {args.epochs} epochs, 60,000 training images"
    )

    data = scratch.prepare_data(config)

    def epoch_line(who: str):
        def show(e) -> None:
            if isinstance(e, EpochEvent):
                print(
                    f"  {who} epoch {e.epoch}: loss {e.loss:.4f} acc {e.accuracy:.4f} "
                    f"({e.samples_per_sec:,.0f} samples/s, {e.elapsed:.1f} s)",
                    flush=True,
                )

        return show

    results = {}
    for threads in args.blas_threads:
        config.blas_threads = threads or None
        label = f"scratch ({'machine BLAS setting' if not threads else f'{threads} BLAS thread(s)'})"
        results[label] = scratch.train(config, on_event=epoch_line(label), data=data)
        print(
            f"{label}: {results[label].elapsed:.1f} s training, test accuracy "
            f"{results[label].test_accuracy:.4f}",
            flush=True,
        )

    if not args.skip_keras:
        from nnlab import training

        keras_config = scratch.keras_train_config(config)
        keras_config.batch_event_every = 1000
        theirs = training.train(scratch.keras_spec(config), keras_config, on_event=epoch_line("keras"))
        print(f"keras:   {theirs.elapsed:.1f} s training, test accuracy {theirs.test_accuracy:.4f}")
        for label, mine in results.items():
            print(f"ratio {label} / keras time: {mine.elapsed / theirs.elapsed:.2f}")
    ok = all(r.test_accuracy >= 0.97 for r in results.values())
    print(f"scratch reaches 97 %: {'yes' if ok else 'NO'}")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
