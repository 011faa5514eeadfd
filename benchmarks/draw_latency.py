"""Latency of one Draw-page update: canvas_to_mnist + predict_digit, the model already loaded.

Trains a CNN preset briefly (the weights do not change the cost of a prediction), saves and reloads
it once as the page does, then times one update per canvas on varied 280 x 280 RGBA canvases: MNIST
test digits enlarged to random sizes, placed at random spots and drawn thin or thick. Target: median
under 30 ms. Prints wall-clock and process-CPU figures (the CPU ones are steadier on a busy machine).

    .venv/bin/python benchmarks/draw_latency.py [--calls 200] [--preset NAME]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image
from scipy import ndimage

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from nnlab import data  # noqa: E402
from nnlab.architectures import get_preset  # noqa: E402
from nnlab.canvas import canvas_to_mnist  # noqa: E402
from nnlab.predict import predict_digit  # noqa: E402
from nnlab.training import TrainConfig, train  # noqa: E402

TARGET_MS = 30.0


def make_canvases(n: int, seed: int = 0) -> tuple[list[np.ndarray], np.ndarray]:
    """``n`` canvases as streamlit-drawable-canvas returns them (RGBA, black, alpha 255)."""
    rng = np.random.default_rng(seed)
    (_, _), (x_test, y_test) = data.load_mnist()
    picks = rng.choice(len(y_test), size=n, replace=False)
    canvases = []
    for i in picks:
        side = int(rng.integers(70, 270))
        digit = np.asarray(Image.fromarray(x_test[i]).resize((side, side), Image.Resampling.BILINEAR)) > 127
        thickness = int(rng.integers(-2, 6))  # thinner or thicker than the original stroke
        if thickness > 0:
            digit = ndimage.binary_dilation(digit, iterations=thickness)
        elif thickness < 0:
            thinner = ndimage.binary_erosion(digit, iterations=-thickness)
            digit = thinner if thinner.any() else digit
        top, left = (int(rng.integers(0, 280 - side + 1)) for _ in range(2))
        canvas = np.zeros((280, 280, 4), np.uint8)
        canvas[..., 3] = 255
        canvas[top : top + side, left : left + side, :3] = (digit * 255).astype(np.uint8)[..., np.newaxis]
        canvases.append(canvas)
    return canvases, y_test[picks]


def percentiles(ms: list[float]) -> str:
    a = np.asarray(ms)
    return f"median {np.median(a):6.2f} ms   p90 {np.percentile(a, 90):6.2f} ms   max {a.max():6.2f} ms"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=200)
    parser.add_argument("--preset", default="CNN Conv32-Pool-Conv64-Pool-Dense64")
    parser.add_argument("--train-images", type=int, default=600)
    args = parser.parse_args()

    print(f"Machine: {os.cpu_count()} CPUs, load average {', '.join(f'{v:.1f}' for v in os.getloadavg())}")
    t = time.perf_counter()
    config = TrainConfig(epochs=1, subset=args.train_images, batch_size=32, validation_fraction=0.1)
    result = train(get_preset(args.preset), config, on_event=lambda e: None, should_stop=lambda: False)
    print(
        f"Trained {args.preset!r} on {result.n_train} images, 1 epoch: test accuracy "
        f"{result.test_accuracy:.3f} ({time.perf_counter() - t:.1f} s)"
    )

    from nnlab._tf import keras

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "model.keras"
        result.model.save(path)
        t = time.perf_counter()
        model = keras.models.load_model(path)  # once per process, as the page's cache does
        load_s = time.perf_counter() - t
    print(f"Model loaded from .keras once: {load_s * 1000:.0f} ms")

    canvases, labels = make_canvases(args.calls + 10)
    for canvas in canvases[:10]:  # warm-up: first calls build the predict function
        img = canvas_to_mnist(canvas)
        if img is not None:
            predict_digit(model, img)

    total, prep, pred, cpu = [], [], [], []
    right = 0
    for canvas, label in zip(canvases[10:], labels[10:], strict=True):
        c0, t0 = time.process_time(), time.perf_counter()
        img = canvas_to_mnist(canvas)
        t1 = time.perf_counter()
        probs = predict_digit(model, img) if img is not None else None
        t2, c2 = time.perf_counter(), time.process_time()
        total.append((t2 - t0) * 1000)
        prep.append((t1 - t0) * 1000)
        pred.append((t2 - t1) * 1000)
        cpu.append((c2 - c0) * 1000)
        right += int(probs is not None and int(np.argmax(probs)) == int(label))

    x = canvas_to_mnist(canvases[0])[np.newaxis, ..., np.newaxis]
    model.predict(x, verbose=0)
    slow = []
    for _ in range(20):
        t = time.perf_counter()
        model.predict(x, verbose=0)
        slow.append((time.perf_counter() - t) * 1000)

    print(f"\nOne update (canvas_to_mnist + predict_digit), {len(total)} canvases of 280 x 280 RGBA:")
    print(f"  total wall     {percentiles(total)}")
    print(f"  preprocessing  {percentiles(prep)}")
    print(f"  predict_digit  {percentiles(pred)}")
    print(f"  total CPU time {percentiles(cpu)}  (process time; can exceed wall with TF threads)")
    print(f"  for comparison, model.predict on one image: {percentiles(slow)}")
    print(
        f"  predictions right: {right}/{len(total)} (a model trained on {result.n_train} images for 1 epoch)"
    )
    median = float(np.median(total))
    verdict = "meets" if median < TARGET_MS else "MISSES"
    print(f"\nMedian {median:.1f} ms {verdict} the {TARGET_MS:.0f} ms target.")
    print(f"Load average after: {', '.join(f'{v:.1f}' for v in os.getloadavg())}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
