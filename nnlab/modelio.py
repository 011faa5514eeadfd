"""Saving and loading ``.keras`` (and legacy ``.h5``) models safely.

A model file from a user (an upload) or from the run store is bounded before Keras builds anything
(``check_model_file``: its archive, and the model its description asks for, ``model_bounds``), its
description is read by ``modelfile`` which refuses anything that could run code (a ``Lambda`` layer, a
wrapped SavedModel or pickle, a module outside Keras), it is loaded with Keras safe mode, and checked
to be a digit classifier:

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
from nnlab.model_bounds import (
    ACCEPTED_INPUTS,
    ModelBounds,
    ModelCost,
    input_layout,
    measure,
    wrong_input_message,
)
from nnlab.ui.format import format_bytes, size_and_limit

MAX_BYTES = 50_000_000  # 50 MB, in the decimal megabytes the upload widget counts
MAX_MEMBERS = 32  # files in a .keras archive: a model has three (config, metadata, weights) and assets
MAX_CONFIG_BYTES = 5_000_000  # its description (bounded by size, not ratio): 300 layers take about 0.3 MB
BOMB_FLOOR = 1_000_000  # a part unpacking to more than this...
MAX_EXPANSION = 50  # ...and to more than this many times its packed size is a zip bomb (weights: ~1.1x)
UNKNOWN_OBJECT = (
    "could not locate",
    "could not deserialize",
    "unknown layer",
    "custom_objects",
    "not a known",
)
OUT_OF_MEMORY = ("out of memory", "oom when allocating", "resource exhausted", "cannot allocate", "bad_alloc")

__all__ = [
    "ACCEPTED_INPUTS",
    "MAX_BYTES",
    "ModelLoadError",
    "input_layout",
    "load_model_safely",
    "prepare_input",
]


class ModelLoadError(ValueError):
    """A model file that cannot be used, with the reason in plain words."""


def check_model_file(path: Path, max_bytes: int = MAX_BYTES, bounds: ModelBounds | None = None) -> ModelCost:
    """Checks before Keras opens the file: present, not too big, a real .keras zip (or a legacy .h5),
    and a description whose model stays within ``bounds`` (``model_bounds.measure``) and asks for no
    code (``modelfile.file_problems``). Returns what the model costs; raises ``ModelLoadError``."""
    if not path.is_file():
        raise ModelLoadError(f"The model file {path.name!r} was not found.")
    size = path.stat().st_size
    if size == 0:
        raise ModelLoadError("The model file is empty.")
    if size > max_bytes:
        raise ModelLoadError(f"The model file is too large {size_and_limit(size, max_bytes)}.")
    try:
        with open(path, "rb") as fh:
            head = fh.read(8)
    except OSError as exc:
        raise ModelLoadError(f"The model file could not be read ({exc.strerror or exc}).") from exc
    if head.startswith(modelfile.HDF5_MAGIC):
        config, weights_bytes = _read_h5(path), size  # a legacy .h5 holds its weights in the file itself
    else:
        try:
            with zipfile.ZipFile(path) as zf:
                config, weights_bytes = _read_archive(zf, max_bytes)
        except ModelLoadError:
            raise
        except (zipfile.BadZipFile, OSError, ValueError, EOFError, NotImplementedError) as exc:
            raise ModelLoadError(
                "This is not a valid '.keras' model file (nor a legacy '.h5' one): it is not a Keras "
                "archive, or it is truncated or damaged."
            ) from exc
    problems, cost = measure(config, weights_bytes, bounds)
    problems = problems or modelfile.config_problems(config)
    if problems:
        raise ModelLoadError(" ".join(str(p) for p in problems))
    return cost


def _read_h5(path: Path) -> Any:
    """The model description of a legacy .h5 file, or ModelLoadError in words."""
    try:
        return modelfile.read_config(path, modelfile.H5)
    except ValueError as exc:
        raise ModelLoadError(f"This .h5 file cannot be used: {exc}.") from exc


def _read_archive(zf: zipfile.ZipFile, max_bytes: int) -> tuple[Any, int | None]:
    """The model description of a .keras archive, and the size of its weights, once the archive's
    own bounds hold: few members, no member unpacking to far more than it takes (a zip bomb), not
    too large unpacked. Raises ModelLoadError; a damaged archive raises zipfile's errors."""
    infos = zf.infolist()
    if len(infos) > MAX_MEMBERS:
        raise ModelLoadError(
            f"The model file holds {len(infos):,} files; a Keras model holds a handful "
            f"(at most {MAX_MEMBERS})."
        )
    for info in infos:
        if (
            info.filename != "config.json"
            and info.file_size > BOMB_FLOOR
            and info.file_size > MAX_EXPANSION * max(info.compress_size, 1)
        ):
            raise ModelLoadError(
                f"The model file is a zip bomb: its part {info.filename[:60]!r} takes "
                f"{format_bytes(info.compress_size)} but unpacks to {format_bytes(info.file_size)}."
            )
    unpacked = sum(info.file_size for info in infos)
    if unpacked > 2 * max_bytes:
        raise ModelLoadError(f"The model file unpacks to too much {size_and_limit(unpacked, 2 * max_bytes)}.")
    names = {info.filename: info for info in infos}
    if "config.json" not in names:
        raise ModelLoadError(
            "This is not a valid '.keras' model file: it has no model description (config.json)."
        )
    if names["config.json"].file_size > MAX_CONFIG_BYTES:
        size = names["config.json"].file_size
        raise ModelLoadError(
            f"The model's description is too large {size_and_limit(size, MAX_CONFIG_BYTES)}."
        )
    try:
        config = json.loads(zf.read("config.json"))
    except (json.JSONDecodeError, UnicodeDecodeError, RecursionError) as exc:
        raise ModelLoadError(
            _explain(exc if isinstance(exc, json.JSONDecodeError) else ValueError("json"))
        ) from exc
    weights = [names[n].file_size for n in ("model.weights.h5", "model.weights.npz") if n in names]
    return config, (weights[0] if weights else None)


def _explain(exc: BaseException) -> str:
    """Keras' many load errors, in words a user understands."""
    text = str(exc)
    return _refusal(exc, text, text.lower()) or _damage(exc, text, text.lower())


def _refusal(exc: BaseException, text: str, low: str) -> str | None:
    """A model refused for what it asks (memory, code, files, unknown layers), or None."""
    if isinstance(exc, MemoryError) or any(w in low for w in OUT_OF_MEMORY):
        return (
            "The model needs more memory than NN Lab allows an uploaded model: it is too large to "
            "load or evaluate here."
        )
    if "lambda" in low:
        return (
            "This model contains a Lambda layer (arbitrary Python code). NN Lab refuses to run code "
            "from a model file for safety (Keras safe mode); use a model built from standard layers."
        )
    if "vocabulary file" in low:
        return (
            "This model asks to read a vocabulary file from outside the model file (a StringLookup "
            "or similar layer). NN Lab refuses that for safety (Keras safe mode): a model file may "
            "not read other files on the server."
        )
    if "safe_mode" in low or "safe mode" in low:
        return (
            "This model asks for something Keras safe mode refuses (running code or reading files "
            f"from outside the model file), so NN Lab does not load it ({text[:160]})."
        )
    if any(w in low for w in UNKNOWN_OBJECT):
        found = re.search(r"'(?:[\w.]*\.)?(\w+)'", text)
        what = f" ({found.group(1)!r})" if found else ""
        return (
            f"This model uses a custom layer or function{what} that NN Lab does not know, so it "
            "cannot be loaded."
        )
    return None


def _damage(exc: BaseException, text: str, low: str) -> str:
    """A model file that is damaged, incomplete or inconsistent, in words."""
    if "expected a model.weights" in low:
        return "The model file has no weights: it is incomplete."
    if isinstance(exc, json.JSONDecodeError) or text == "json":
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
        raise ModelLoadError(wrong_input_message(shape_in))
    if shape_out != (10,):
        raise ModelLoadError(
            f"The model's output has shape {shape_out}, but a digit classifier must give 10 "
            "scores, shape (10,)."
        )


def prepare_input(model: Any, images: np.ndarray) -> np.ndarray:
    """Reshape a batch of 28x28 images (any of the accepted layouts) to what ``model`` takes."""
    layout = input_layout(_shape(model.inputs[0])[1:])
    if layout is None:
        raise ModelLoadError("The model does not take 28x28 images.")
    x = np.asarray(images, dtype=np.float32)
    return x.reshape((-1, *layout))


def load_model_safely(
    path: str | Path, max_bytes: int = MAX_BYTES, compile: bool = True, bounds: ModelBounds | None = None
) -> Any:
    """Load a ``.keras`` or ``.h5`` file with Keras safe mode and check it is an MNIST classifier.

    Before Keras builds anything, the archive and the model it describes are bounded (``bounds``:
    layers, parameters, values per image). The model is loaded without its training state and, with
    ``compile``, compiled with the standard loss and accuracy so that ``evaluate`` works. Raises
    ``ModelLoadError``.
    """
    path = Path(path)
    check_model_file(path, max_bytes, bounds)  # bounds, and no code asked for
    fmt = modelfile.file_format(path) or modelfile.KERAS
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


def model_bytes(model: Any) -> bytes:
    """``model`` as the bytes of a ``.keras`` file (what the run store keeps)."""
    with tempfile.TemporaryDirectory(prefix="nnlab-model-") as tmp:
        path = Path(tmp) / "model.keras"  # Keras insists on the suffix
        model.save(path)
        return path.read_bytes()


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
