"""Does watching a training cost anything? nnlab's training vs a plain ``model.fit``.

Whole-process timing (Python start, TF import, data, build, fit, test evaluation), the modes
interleaved so that machine noise hits them alike; the ratio of medians is the figure to report.
Target (issue 2): nnlab <= 1.05 x plain.

    python benchmarks/event_overhead.py [--epochs 2] [--repeats 3] [--preset NAME]

Modes:
  plain         keras model.fit on NumPy arrays, verbose=0 (the baseline)
  plain-tfdata  the same fit fed by a tf.data pipeline (to pick the fastest input pipeline)
  nnlab         nnlab.training.train with every event delivered to a consumer
  nnlab-store   a stored run executed by the runner (events written to SQLite), if nnlab.runner exists
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PRESET = "CNN with dropout (Keras tutorial)"


def child(mode: str, preset: str, epochs: int) -> None:
    sys.path.insert(0, str(ROOT))
    from nnlab import architectures
    from nnlab.training import TrainConfig, prepare_data, train

    config = TrainConfig(epochs=epochs, batch_size=128, validation_fraction=0.1, seed=0)
    spec = architectures.get_preset(preset)
    if mode.startswith("plain"):
        from nnlab._tf import keras, tf

        keras.utils.set_random_seed(0)
        data = prepare_data(config)
        model = architectures.build_model(spec)
        model.compile(
            optimizer=keras.optimizers.Adam(1e-3),
            loss="sparse_categorical_crossentropy",
            metrics=["accuracy"],
        )
        if mode == "plain":
            model.fit(
                data.x_train,
                data.y_train,
                batch_size=128,
                epochs=epochs,
                validation_data=(data.x_val, data.y_val),
                verbose=0,
            )
        else:
            ds = (
                tf.data.Dataset.from_tensor_slices((data.x_train, data.y_train))
                .shuffle(len(data.y_train), seed=0)
                .batch(128)
                .prefetch(tf.data.AUTOTUNE)
            )
            model.fit(ds, epochs=epochs, validation_data=(data.x_val, data.y_val), verbose=0)
        acc = model.evaluate(data.x_test, data.y_test, batch_size=512, verbose=0)[1]
    elif mode == "nnlab":
        events: list[dict] = []
        acc = train(spec, config, on_event=events.append, should_stop=lambda: False).test_accuracy
    elif mode == "nnlab-store":
        from nnlab.runs import RunStore
        from nnlab.worker import execute_run

        store = RunStore()
        run = store.create(spec, config.to_dict(), name="benchmark")
        execute_run(store, run.id)
        acc = store.get(run.id).test_accuracy
    else:
        raise SystemExit(f"unknown mode {mode}")
    print(json.dumps({"mode": mode, "test_accuracy": acc}))


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--epochs", type=int, default=2)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--preset", default=PRESET)
    p.add_argument("--modes", default="plain,nnlab,nnlab-store,plain-tfdata")
    p.add_argument("--child", default=None)
    args = p.parse_args()
    if args.child:
        child(args.child, args.preset, args.epochs)
        return
    modes = [
        m for m in args.modes.split(",") if m != "nnlab-store" or (ROOT / "nnlab" / "runner.py").exists()
    ]
    import tempfile

    times: dict[str, list[float]] = {m: [] for m in modes}
    for rep in range(args.repeats):
        for mode in modes if rep % 2 == 0 else reversed(modes):
            env = {
                **os.environ,
                "TF_CPP_MIN_LOG_LEVEL": "3",
                "NNLAB_HOME": tempfile.mkdtemp(prefix="nnlab-bench-"),
            }
            t0 = time.perf_counter()
            out = subprocess.run(
                [
                    sys.executable,
                    __file__,
                    "--child",
                    mode,
                    "--epochs",
                    str(args.epochs),
                    "--preset",
                    args.preset,
                ],
                env=env,
                capture_output=True,
                text=True,
            )
            dt = time.perf_counter() - t0
            if out.returncode:
                raise SystemExit(f"{mode} failed:\n{out.stderr[-3000:]}")
            acc = json.loads(out.stdout.strip().splitlines()[-1])["test_accuracy"]
            times[mode].append(dt)
            print(f"repeat {rep + 1} {mode:<13} {dt:7.2f} s  test accuracy {acc:.4f}", flush=True)
    base = statistics.median(times["plain"])
    print(
        f"\n{args.preset}, {args.epochs} epoch(s) on 54,000 images, {args.repeats} repeats, "
        "whole-process medians:"
    )
    for mode in modes:
        med = statistics.median(times[mode])
        print(f"  {mode:<13} {med:7.2f} s   ratio to plain {med / base:.3f}")


if __name__ == "__main__":
    main()
