"""How well a trained network does on the MNIST test set, and where it goes wrong.

Predictions on the 10,000 test images are the one costly step; ``cached_test_predictions`` stores
them with the run (``test_probs.npy``) so that every later look at the run is instant. Everything
else (confusion matrix, per-class metrics, confident mistakes, run comparison) works on those
probabilities with scikit-learn's definitions and needs no TensorFlow.
"""

from __future__ import annotations

import io
import math
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

import numpy as np
import pandas as pd

from nnlab import data as nndata
from nnlab.modelio import MAX_BYTES, load_model_safely, prepare_input

NUM_CLASSES = 10
PREDICTIONS_FILE = "test_probs.npy"


# ---- model input and predictions ---------------------------------------------------------------


def to_model_input(model: Any, images: np.ndarray) -> np.ndarray:
    """Images (N, 28, 28) or (28, 28), uint8 0-255 or float 0-1, reshaped to what ``model`` takes."""
    x = np.asarray(images)
    if x.ndim == 2:
        x = x[np.newaxis]
    x = nndata.scale(x) if x.dtype == np.uint8 else x.astype(np.float32, copy=False)
    return prepare_input(model, x)


def load_uploaded_model(data: bytes, max_bytes: int = MAX_BYTES) -> Any:
    """A model from uploaded ``.keras`` or ``.h5`` bytes, in this process: size-limited, bounded before it is
    built, loaded in Keras safe mode, shapes checked. The web pages use ``sandbox.predict_upload``,
    which does the same in a memory-limited child process.

    Keras reads only from a path, so the bytes go to a temporary folder that is removed afterwards.
    Raises ``ModelLoadError`` with a message for the user.
    """
    from nnlab.sandbox import MODEL_FILE, upload_workspace

    with upload_workspace(data, max_bytes) as folder:
        return load_model_safely(folder / MODEL_FILE, max_bytes=max_bytes)


def mnist_test_set() -> tuple[np.ndarray, np.ndarray]:
    """The 10,000 MNIST test images (uint8, 28x28) and their labels."""
    _, (x_test, y_test) = nndata.load_mnist()
    return x_test, y_test


def predict_test(model: Any, batch_size: int = 1000) -> np.ndarray:
    """Class probabilities (10000, 10) float32 of ``model`` on the MNIST test set."""
    x_test, _ = mnist_test_set()
    probs = model.predict(to_model_input(model, x_test), batch_size=batch_size, verbose=0)
    return np.asarray(probs, dtype=np.float32)


def cached_test_predictions(store: Any, run_id: str, model: Any) -> np.ndarray:
    """A run's test-set probabilities, computed once and then kept with the run (an artifact).

    ``model`` may be the Keras model or a function returning it, so that a caller need not load
    the model (nor import TensorFlow) when the predictions are already stored. The store writes
    them atomically, so two sessions opening the same run, or a crash mid-write, never leave half a
    cache behind; a damaged cache is recomputed.
    """
    cached = load_cached_predictions(store, run_id)
    if cached is not None:
        return cached
    probs = predict_test(model() if callable(model) and not hasattr(model, "predict") else model)
    buffer = io.BytesIO()
    np.save(buffer, probs, allow_pickle=False)
    store.write_artifact(run_id, PREDICTIONS_FILE, buffer.getvalue())
    return probs


def load_cached_predictions(store: Any, run_id: str) -> np.ndarray | None:
    """A run's stored test-set probabilities, or None where there are none (or they are damaged)."""
    data = store.read_artifact(run_id, PREDICTIONS_FILE)
    if data is None:
        return None
    try:
        probs = np.load(io.BytesIO(data), allow_pickle=False)
    except (OSError, ValueError, EOFError):
        return None
    if probs.shape != (len(mnist_test_set()[1]), NUM_CLASSES) or not np.all(np.isfinite(probs)):
        return None
    return probs.astype(np.float32, copy=False)


# ---- metrics --------------------------------------------------------------------------------------


def accuracy_and_loss(probs: np.ndarray, y_true: np.ndarray) -> tuple[float, float]:
    """Accuracy and mean cross-entropy (as Keras computes it) from probabilities."""
    probs = np.asarray(probs, dtype=np.float64)
    y = np.asarray(y_true, dtype=np.int64)
    accuracy = float(np.mean(predicted_digits(probs) == y))
    eps = 1e-7  # Keras clips probabilities the same way
    loss = float(-np.mean(np.log(np.clip(probs[np.arange(len(y)), y], eps, 1 - eps))))
    return accuracy, loss


def predicted_digits(probs: np.ndarray) -> np.ndarray:
    """Each image's predicted digit; -1 (wrong for every label) where the outputs are not numbers."""
    probs = np.asarray(probs)
    return np.where(np.isfinite(probs).all(axis=1), probs.argmax(axis=1), -1)


def confusion(y_true: np.ndarray, y_pred: np.ndarray, normalize: bool = False) -> np.ndarray:
    """10x10 confusion matrix (rows: true digit, columns: predicted); ``normalize``: rows sum to 1."""
    from sklearn.metrics import confusion_matrix

    return confusion_matrix(
        y_true, y_pred, labels=list(range(NUM_CLASSES)), normalize="true" if normalize else None
    )


def per_class_report(y_true: np.ndarray, y_pred: np.ndarray) -> pd.DataFrame:
    """Precision, recall, F1 and support per digit, plus the macro average (scikit-learn's definitions).

    A class never predicted gets precision 0 (``zero_division=0``), as sklearn's report shows it.
    """
    from sklearn.metrics import precision_recall_fscore_support

    labels = list(range(NUM_CLASSES))
    p, r, f, s = precision_recall_fscore_support(y_true, y_pred, labels=labels, zero_division=0)
    mp, mr, mf, _ = precision_recall_fscore_support(
        y_true, y_pred, labels=labels, average="macro", zero_division=0
    )
    table = pd.DataFrame(
        {"precision": p, "recall": r, "f1": f, "support": s.astype(int)}, index=[str(c) for c in labels]
    )
    table.loc["macro avg"] = [mp, mr, mf, int(s.sum())]
    table["support"] = table["support"].astype(int)
    table.index.name = "digit"
    return table


def cell_indices(y_true: np.ndarray, y_pred: np.ndarray, true_class: int, pred_class: int) -> np.ndarray:
    """Test-image indices in one confusion-matrix cell (true ``true_class``, predicted ``pred_class``)."""
    return np.flatnonzero((np.asarray(y_true) == true_class) & (np.asarray(y_pred) == pred_class))


def largest_error_cell(cm: np.ndarray) -> tuple[int, int]:
    """The off-diagonal cell with the most images: the most common confusion (a good default to show)."""
    off = np.array(cm, dtype=float)
    np.fill_diagonal(off, -1)
    t, p = np.unravel_index(int(np.argmax(off)), off.shape)
    return int(t), int(p)


def confident_mistakes(
    probs: np.ndarray,
    y_true: np.ndarray,
    true_class: int | None = None,
    pred_class: int | None = None,
    k: int = 24,
) -> pd.DataFrame:
    """The ``k`` wrong predictions made with the highest probability, optionally for one true/predicted digit.

    Columns: ``index`` (into the test set), ``true``, ``predicted``, ``probability`` (given to the
    predicted digit) and ``true_probability`` (given to the right one). Most confident first.
    """
    probs = np.asarray(probs)
    y = np.asarray(y_true)
    pred = probs.argmax(axis=1)
    mask = pred != y
    if true_class is not None:
        mask &= y == true_class
    if pred_class is not None:
        mask &= pred == pred_class
    idx = np.flatnonzero(mask)
    conf = probs[idx, pred[idx]]
    order = np.argsort(-conf, kind="stable")[: max(int(k), 0)]
    idx = idx[order]
    return pd.DataFrame(
        {
            "index": idx.astype(int),
            "true": y[idx].astype(int),
            "predicted": pred[idx].astype(int),
            "probability": probs[idx, pred[idx]].astype(float),
            "true_probability": probs[idx, y[idx]].astype(float),
        }
    )


# ---- comparing runs -------------------------------------------------------------------------------


def _seconds(value: Any) -> float | None:
    """A time stamp as seconds since the epoch (accepts numbers, datetimes and ISO strings)."""
    if value is None:
        return None
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, datetime):
        return value.timestamp()
    if isinstance(value, str):
        try:
            return datetime.fromisoformat(value).timestamp()
        except ValueError:
            return None
    return None


def training_seconds(run: Any) -> float | None:
    """How long a run trained (finished - started), or None when unknown."""
    elapsed = getattr(run, "elapsed", None)
    if isinstance(elapsed, (int, float)) and math.isfinite(elapsed):
        return float(elapsed)
    start, end = _seconds(getattr(run, "started", None)), _seconds(getattr(run, "finished", None))
    if start is None or end is None:
        return None
    return max(end - start, 0.0)


def run_settings(run: Any) -> dict[str, Any]:
    """A run's settings as flat, comparable values: every training setting and each layer in words."""
    from nnlab.architectures import describe_layer, normalize

    settings: dict[str, Any] = {}
    config = getattr(run, "config", None) or {}
    if not isinstance(config, dict):
        config = config.to_dict() if hasattr(config, "to_dict") else dict(vars(config))
    for key, value in config.items():
        settings[key.replace("_", " ")] = value
    spec = getattr(run, "spec", None) or {}
    if isinstance(spec, dict) and isinstance(spec.get("layers"), list):
        settings["architecture"] = spec.get("name", "Custom network")
        for i, layer in enumerate(normalize(spec)["layers"]):
            text = describe_layer(layer)
            settings[f"layer {i + 1}"] = f"{layer['kind']} {text}".strip()
    return settings


def differing_settings(settings: Sequence[dict[str, Any]]) -> list[str]:
    """The setting names whose values are not the same in every run (a missing setting differs too)."""
    keys: list[str] = []
    for s in settings:
        keys.extend(k for k in s if k not in keys)
    missing = object()
    return [k for k in keys if len({repr(s.get(k, missing)) for s in settings}) > 1]


def compare_runs(runs: Iterable[Any]) -> pd.DataFrame:
    """One row per run: final test metrics, training time, parameter count and only the differing settings."""
    runs = list(runs)
    settings = [run_settings(r) for r in runs]
    differ = differing_settings(settings)
    rows = []
    for run, s in zip(runs, settings, strict=True):
        row = {
            "run": getattr(run, "name", None) or str(getattr(run, "id", "")),
            "test accuracy": getattr(run, "test_accuracy", None),
            "test loss": getattr(run, "test_loss", None),
            "training time (s)": training_seconds(run),
            "parameters": getattr(run, "n_params", None),
        }
        for key in differ:
            value = s.get(key)
            row[key] = "-" if value is None else str(value)
        rows.append(row)
    return pd.DataFrame(rows)


def upscale(image: np.ndarray, factor: int = 3) -> np.ndarray:
    """A 28x28 image enlarged by pixel repetition (browsers blur small images when they scale them)."""
    img = np.asarray(image)
    return np.kron(img, np.ones((factor, factor), dtype=img.dtype))


# ---- runs worth evaluating --------------------------------------------------------------------------

EVALUABLE = ("completed", "stopped")


def evaluable_runs(store: Any, owner: str | None = None, include_unowned: bool = True) -> list[Any]:
    """Finished runs (completed, or stopped with their model kept) that have a saved model, newest first.

    With ``owner``, that owner's runs, plus the unowned ones (the operator's) with ``include_unowned``.
    """
    runs = store.list(owner=owner, include_unowned=include_unowned, statuses=EVALUABLE)
    return [r for r in runs if store.has_model(r.id)]


def broken_outputs(probs: np.ndarray) -> str | None:
    """A warning when a model's outputs are not numbers (NaN or infinite) for some test images."""
    broken = int((~np.isfinite(np.asarray(probs))).any(axis=1).sum())
    if not broken:
        return None
    return (
        f"The model's outputs are not numbers (NaN or infinite) for {broken:,} of the {len(probs):,} "
        "test images: its weights are broken, often because its training diverged (train it again "
        "with a smaller learning rate), so there is nothing meaningful to evaluate."
    )
