"""A model file kept as one of a visitor's runs: evaluated, inspected and drawn on like a trained one.

The file is loaded through ``modelio.load_model_safely`` (every check and bound, Keras safe mode),
converted (``convert.py``), and kept as the run's ``model.keras``: where every layer converted, the
model NN Lab builds from the spec with the file's weights copied in (checked to give the same
answers), so that the run is exactly what the editor would train; otherwise the file's model as it
is (with a softmax added where it gives raw scores). Its test predictions and accuracy are computed
once, at import. The run is created already claimed by this process, so no runner ever trains it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from nnlab import evaluation as ev
from nnlab.architectures import build_model, validate
from nnlab.importing.convert import Conversion, convert
from nnlab.modelio import MAX_BYTES, load_model_safely
from nnlab.runs import Run, RunStore, process_handle
from nnlab.sharing import clean_name
from nnlab.validation import Problem

CHECK_IMAGES = 64  # test images on which a rebuilt model must give the file's answers
TOLERANCE = 1e-4


@dataclass
class ImportedModel:
    run: Run
    conversion: Conversion


@dataclass
class _Kept:
    """What ``worker.record_result`` keeps of a training, for a model that was imported instead."""

    model: Any
    test_loss: float
    test_accuracy: float
    stopped: bool = False


def _outputs(model: Any, softmax: bool = False) -> np.ndarray:
    x_test, _ = ev.mnist_test_set()
    out = np.asarray(model.predict(ev.to_model_input(model, x_test[:CHECK_IMAGES]), verbose=0), np.float64)
    if softmax:
        out = np.exp(out - out.max(axis=1, keepdims=True))
        out /= out.sum(axis=1, keepdims=True)
    return out


def _gives_scores(model: Any) -> bool:
    """Whether the model's outputs are raw scores rather than probabilities."""
    out = _outputs(model)
    return bool(out.min() < -1e-6 or not np.allclose(out.sum(axis=1), 1.0, atol=1e-3))


def _with_softmax(model: Any) -> Any:
    from nnlab._tf import keras

    return keras.Model(model.inputs, keras.layers.Softmax(name="added_softmax")(model.outputs[0]))


def _rebuilt(model: Any, conversion: Conversion) -> Any | None:
    """NN Lab's own model of the spec with the file's weights, if it gives the file's answers."""
    rebuilt = build_model(conversion.spec)
    for built, source in zip(rebuilt.layers, conversion.sources, strict=True):
        if source is not None and source.weights:
            built.set_weights(source.get_weights())
    if np.allclose(_outputs(model, softmax=conversion.logits), _outputs(rebuilt), atol=TOLERANCE):
        return rebuilt
    return None


def model_to_keep(model: Any, conversion: Conversion) -> Any:
    """The model the run keeps (see the module's docstring)."""
    if conversion.editable and not validate(conversion.spec):
        rebuilt = _rebuilt(model, conversion)
        if rebuilt is not None:
            return rebuilt
        message = "rebuilt by NN Lab, this network does not give the file's answers, so it is kept as it is"
        conversion.problems.append(Problem(message, setting="model"))
    return _with_softmax(model) if conversion.logits or _gives_scores(model) else model


def import_model_file(
    store: RunStore,
    path: str | Path,
    *,
    name: str | None = None,
    owner: str | None = None,
    max_bytes: int = MAX_BYTES,
) -> ImportedModel:
    """Keep the model file at ``path`` as a finished run of ``owner``. Raises ``ModelLoadError``."""
    from nnlab.worker import record_result

    model = load_model_safely(path, max_bytes=max_bytes, compile=False)
    label = clean_name(name or Path(path).name)
    conversion = convert(model, name=f"{Path(label).stem[:60]} (imported)")
    kept = model_to_keep(model, conversion)
    worker = {"kind": "local", **process_handle()}  # claimed by this process: never queued for training
    run = store.create(
        conversion.spec, {"imported_from": label}, name=f"Imported: {label}", owner=owner, worker=worker
    )
    try:
        probs = ev.cached_test_predictions(store, run.id, kept)
        accuracy, loss = ev.accuracy_and_loss(probs, ev.mnist_test_set()[1])
        record_result(store, run.id, _Kept(kept, loss, accuracy), started=run.created)
    except BaseException:
        store.update(run.id, status="failed", error="The imported model could not be kept.")
        store.delete(run.id)  # nothing the visitor made is lost: they still have their file
        raise
    return ImportedModel(store.require(run.id), conversion)


def import_model_bytes(
    store: RunStore, data: bytes, file_name: str, *, owner: str | None = None, max_bytes: int = MAX_BYTES
) -> ImportedModel:
    """``import_model_file`` for uploaded bytes (size-limited first). Raises ``ModelLoadError``."""
    from nnlab.sandbox import MODEL_FILE, upload_workspace

    with upload_workspace(data, max_bytes) as folder:
        return import_model_file(store, folder / MODEL_FILE, name=file_name, owner=owner, max_bytes=max_bytes)
