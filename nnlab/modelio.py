"""Saving and loading ``.keras`` (and legacy ``.h5``) models safely.

A model file from a user (an upload) or from the run store is loaded with Keras safe mode after
``modelfile.config_problems`` has read its config and refused anything that could run code (a
``Lambda`` layer, a wrapped SavedModel or pickle, a module outside Keras), and checked to be a
digit classifier:

* input: one image, shaped ``(28, 28, 1)``, ``(28, 28)`` or flat ``(784,)`` (``None`` in a
  dimension accepts any size); ``prepare_input`` reshapes images to whichever of these it takes;
* output: one vector of 10 class scores, ``(None, 10)``.

Every failure becomes a ``ModelLoadError`` whose message a user understands. Saving writes a
temporary file next to the target and renames it over, so a crash never leaves half a model.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

from nnlab import modelfile
from nnlab.ui.format import format_bytes

MAX_BYTES = 50_000_000  # 50 MB, in the decimal megabytes the upload widget counts
ACCEPTED_INPUTS = ((28, 28, 1), (28, 28), (784,))


class ModelLoadError(ValueError):
    """A model file that cannot be used, with the reason in plain words."""


def _check_archive(path: Path, max_bytes: int) -> None:
    """Cheap checks before Keras opens the file: present, not too big, a real .keras zip."""
    if not path.is_file():
        raise ModelLoadError(f"The model file {path.name!r} was not found.")
    size = path.stat().st_size
    if size == 0:
        raise ModelLoadError("The model file is empty.")
    if size > max_bytes:
        raise ModelLoadError(
            f"The model file is too large ({format_bytes(size)}; at most {format_bytes(max_bytes)})."
        )
    try:
        with open(path, "rb") as fh:
            head = fh.read(8)
    except OSError as exc:
        raise ModelLoadError(f"The model file could not be read ({exc.strerror or exc}).") from exc
    if head.startswith(modelfile.HDF5_MAGIC):
        return  # a legacy .h5 model: its config is checked by modelfile
    if not head.startswith(b"PK"):
        raise ModelLoadError(
            "This is not a valid '.keras' model file (nor a legacy '.h5' one): it is neither a Keras "
            "archive nor an HDF5 file."
        )
    try:
        with zipfile.ZipFile(path) as zf:
            names = set(zf.namelist())
            unpacked = sum(info.file_size for info in zf.infolist())
    except (zipfile.BadZipFile, OSError, ValueError, EOFError) as exc:
        raise ModelLoadError(
            "This is not a valid '.keras' model file (it is not a Keras archive, or it is "
            "truncated or damaged)."
        ) from exc
    if "config.json" not in names:
        raise ModelLoadError(
            "This is not a valid '.keras' model file: it has no model description (config.json)."
        )
    if unpacked > 8 * max_bytes:
        raise ModelLoadError(f"The model file unpacks to {format_bytes(unpacked)}, which is too large.")


def _explain(exc: BaseException) -> str:
    """Keras' many load errors, in words a user understands."""
    text = str(exc)
    low = text.lower()
    if "lambda" in low or "safe_mode" in low or "safe mode" in low:
        return (
            "This model contains a Lambda layer (arbitrary Python code). NN Lab refuses to run code "
            "from a model file for safety (Keras safe mode); use a model built from standard layers."
        )
    if any(
        w in low
        for w in (
            "could not locate",
            "could not deserialize",
            "unknown layer",
            "custom_objects",
            "not a known",
        )
    ):
        found = re.search(r"'(?:[\w.]*\.)?(\w+)'", text)
        what = f" ({found.group(1)!r})" if found else ""
        return (
            f"This model uses a custom layer or function{what} that NN Lab does not know, so it "
            "cannot be loaded."
        )
    if "expected a model.weights" in low:
        return "The model file has no weights: it is incomplete."
    if isinstance(exc, json.JSONDecodeError):
        return "The model file is damaged: its model description (config.json) is not valid JSON."
    if isinstance(exc, zipfile.BadZipFile):
        return "The model file is damaged (a part of the archive is corrupted)."
    if isinstance(exc, (OSError, EOFError)):
        return "The model file is damaged: its weights could not be read (the file may be truncated)."
    if "file not found" in low or "zip file" in low:
        return "This is not a valid '.keras' model file (it is truncated or damaged)."
    if isinstance(exc, (TypeError, KeyError, AttributeError, IndexError)):
        return (
            "The model's description (config.json) is not one Keras can read: the file is damaged, "
            "or was made by an incompatible version of Keras."
        )
    if "weights" in low or "variable" in low or "shape" in low:
        return (
            "The model's weights do not match its layers, so the file is damaged or "
            f"inconsistent ({text[:200]})."
        )
    return f"The model could not be loaded: {text[:300]}"


def _shape(tensor: Any) -> tuple:
    return tuple(None if d is None else int(d) for d in tensor.shape)


def check_shapes(model: Any) -> None:
    """Raise ModelLoadError unless ``model`` takes one MNIST image and gives 10 class scores."""
    inputs, outputs = list(model.inputs or []), list(model.outputs or [])
    if len(inputs) != 1:
        raise ModelLoadError(f"The model must take exactly one input (an image), but it takes {len(inputs)}.")
    if len(outputs) != 1:
        raise ModelLoadError(
            f"The model must give exactly one output (10 digit scores), but it gives {len(outputs)}."
        )
    shape_in, shape_out = _shape(inputs[0])[1:], _shape(outputs[0])[1:]
    if input_layout(shape_in) is None:
        raise ModelLoadError(
            f"The model expects inputs of shape {shape_in}, but MNIST images are 28x28 pixels: "
            "the input must be (28, 28, 1), (28, 28) or (784,)."
        )
    if shape_out != (10,):
        raise ModelLoadError(
            f"The model's output has shape {shape_out}, but a digit classifier must give 10 "
            "scores, shape (10,)."
        )


def input_layout(shape: tuple) -> tuple[int, ...] | None:
    """The accepted layout that ``shape`` (without the batch axis) matches, or None."""
    for accepted in ACCEPTED_INPUTS:
        if len(shape) == len(accepted) and all(
            d is None or d == a for d, a in zip(shape, accepted, strict=True)
        ):
            return accepted
    return None


def prepare_input(model: Any, images: np.ndarray) -> np.ndarray:
    """Reshape a batch of 28x28 images (any of the accepted layouts) to what ``model`` takes."""
    layout = input_layout(_shape(model.inputs[0])[1:])
    if layout is None:
        raise ModelLoadError("The model does not take 28x28 images.")
    x = np.asarray(images, dtype=np.float32)
    return x.reshape((-1, *layout))


def load_model_safely(path: str | Path, max_bytes: int = MAX_BYTES, compile: bool = True) -> Any:
    """Load a ``.keras`` or ``.h5`` file with Keras safe mode and check it is an MNIST classifier.

    The model is loaded without its training state and, with ``compile``, compiled with the
    standard loss and accuracy so that ``evaluate`` works. Raises ``ModelLoadError``.
    """
    path = Path(path)
    _check_archive(path, max_bytes)
    fmt = modelfile.file_format(path) or modelfile.KERAS
    problems = modelfile.file_problems(path, fmt)
    if problems:
        raise ModelLoadError(" ".join(p.message for p in problems))
    from nnlab._tf import keras

    try:
        with _named_for_keras(path, fmt) as named:
            model = keras.models.load_model(named, safe_mode=True, compile=False)
    except ModelLoadError:
        raise
    except Exception as exc:  # ValueError, BadZipFile, JSONDecodeError, OSError, TypeError, KeyError...
        raise ModelLoadError(_explain(exc)) from exc
    if not isinstance(model, keras.Model):
        raise ModelLoadError("The file does not hold a Keras model.")
    check_shapes(model)
    if compile:
        model.compile(loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


@contextmanager
def _named_for_keras(path: Path, fmt: str) -> Iterator[Path]:
    """``path``, or a link to it whose suffix tells Keras the format (it reads the suffix, not the bytes)."""
    suffix = modelfile.SUFFIXES[fmt]
    if path.suffix.lower() in (suffix, ".hdf5" if fmt == modelfile.H5 else suffix):
        yield path
        return
    with tempfile.TemporaryDirectory(prefix="nnlab-model-") as tmp:
        link = Path(tmp) / f"model{suffix}"
        link.symlink_to(path.resolve())
        yield link


def save_model_atomically(model: Any, path: str | Path) -> None:
    """Save ``model`` to ``path`` (.keras) so that readers see the old file or the whole new one."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.stem}.{os.getpid()}.tmp.keras")  # Keras insists on the suffix
    try:
        model.save(tmp)
        with open(tmp, "rb+") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()
