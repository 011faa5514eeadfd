"""Classify one prepared 28 x 28 image quickly, and say how sure the network is.

``model.predict`` sets up a whole data pipeline on every call (tens of milliseconds) and an eager
``model(x)`` call takes several; ``predict_on_batch`` reuses the model's compiled predict function
(about 1 ms on CPU after its first call). The Draw page predicts on every stroke, so it uses
``predict_digit``. TensorFlow is never imported here: the model passed in brings it along.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from nnlab.canvas import as_image28
from nnlab.modelio import prepare_input

UNSURE_CONFIDENCE = 0.6  # below this top probability the network is "not sure"
UNSURE_MARGIN = 0.3  # ...and so it is when the runner-up is this close to the top (e.g. 0.63 vs 0.36)


def predict_digit(model: Any, img28: np.ndarray) -> np.ndarray:
    """Ten class probabilities (float32, summing to 1) for a 28 x 28 image in [0, 1].

    Accepts (28, 28) or (28, 28, 1). Works for every input layout ``nnlab.modelio`` accepts
    ((28, 28, 1), (28, 28), (784,)) and for a last layer giving probabilities or raw scores (the
    latter go through a softmax).
    """
    x = as_image28(img28)
    if getattr(model, "inputs", None):
        batch = prepare_input(model, x[np.newaxis])  # (1, 28, 28, 1), (1, 28, 28) or (1, 784)
    else:
        batch = x[np.newaxis, :, :, np.newaxis]
    if hasattr(model, "predict_on_batch"):
        out = model.predict_on_batch(batch)
    else:
        out = model(batch, training=False)
    out = np.asarray(out, dtype=np.float64).reshape(-1)
    if out.shape != (10,):
        raise ValueError(f"The model gives {out.size} outputs; a digit classifier gives 10.")
    if not np.all(np.isfinite(out)):
        raise ValueError(
            "its outputs are not numbers (NaN or infinite): its weights are broken, often because its "
            "training diverged (train it again with a smaller learning rate)."
        )
    if out.min() < 0.0 or abs(out.sum() - 1.0) > 1e-3:
        out = np.exp(out - out.max())  # raw scores (logits) -> probabilities
        out = out / out.sum()
    return out.astype(np.float32)


@dataclass(frozen=True)
class Verdict:
    """The network's answer for one image, in the words the page shows."""

    digit: int
    confidence: float
    runner_up: int
    runner_up_probability: float
    unsure: bool


def verdict(probs: np.ndarray) -> Verdict:
    """Top digit, its probability, the runner-up, and whether to warn that the network is unsure.

    Unsure means the top probability is under UNSURE_CONFIDENCE or the runner-up is within
    UNSURE_MARGIN of it: the drawing could well be read either way.
    """
    p = np.asarray(probs, dtype=np.float64).reshape(-1)
    if p.shape != (10,):
        raise ValueError(f"Expected 10 probabilities, got {p.size}.")
    order = np.argsort(p)[::-1]
    top, second = int(order[0]), int(order[1])
    unsure = bool(p[top] < UNSURE_CONFIDENCE or p[top] - p[second] < UNSURE_MARGIN)
    return Verdict(top, float(p[top]), second, float(p[second]), unsure)
