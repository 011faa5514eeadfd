"""What a model file says about itself before Keras reads it: its format, its config, and any code in it.

Two formats are accepted: a Keras 3 ``.keras`` archive (a zip holding ``config.json``) and a legacy
HDF5 ``.h5`` file as ``model.save('model.h5')`` writes it (TensorFlow 2's Keras and Keras 3), whose
config is the ``model_config`` attribute. ``read_config`` reads that config without building
anything, so checks that bound a model (``modelio``) can work on either format.

``config_problems`` refuses what could run code when Keras builds the model. Keras' safe mode
covers a ``Lambda`` holding a Python lambda (also in legacy ``.h5`` files, whose marshalled bytecode
Keras 3 turns into a ``__lambda__`` before refusing it), but not layers that load code or programs
by other means; NN Lab refuses all of them from the config alone, before Keras sees the file:

* ``Lambda`` layers, whatever their function (a lambda, or a function named by module);
* layers that wrap foreign code: ``TFSMLayer`` (a SavedModel), ``TorchModuleWrapper`` (a pickle),
  ``JaxLayer``/``FlaxLayer``;
* any serialized ``__lambda__`` or legacy ``function_type: lambda`` (an activation, a loss...);
* any object named from a Python module outside Keras.
"""

from __future__ import annotations

import json
import zipfile
from pathlib import Path
from typing import Any

from nnlab.validation import Problem

KERAS, H5 = "keras", "h5"
SUFFIXES = {KERAS: ".keras", H5: ".h5"}
HDF5_MAGIC = b"\x89HDF\r\n\x1a\n"
MAX_CONFIG_BYTES = 5_000_000
CODE_LAYERS = {
    "Lambda": "a Lambda layer (arbitrary Python code)",
    "TFSMLayer": "a TFSMLayer (it runs a TensorFlow SavedModel from disk)",
    "TorchModuleWrapper": "a TorchModuleWrapper (it unpickles PyTorch code)",
    "JaxLayer": "a JaxLayer (it wraps foreign Python functions)",
    "FlaxLayer": "a FlaxLayer (it wraps foreign Python modules)",
}
SAFE_MODULES = ("keras", "builtins")


def file_format(path: str | Path) -> str | None:
    """``"keras"`` (a zip archive), ``"h5"`` (HDF5) or None, from the file's first bytes."""
    with open(path, "rb") as fh:
        head = fh.read(8)
    if head.startswith(HDF5_MAGIC):
        return H5
    if head.startswith(b"PK\x03\x04"):
        return KERAS
    return None


def read_config(path: str | Path, fmt: str) -> Any:
    """The model's config (parsed JSON) from a ``.keras`` or ``.h5`` file. Raises ValueError in words."""
    if fmt == KERAS:
        with zipfile.ZipFile(path) as zf:
            info = zf.getinfo("config.json")
            if info.file_size > MAX_CONFIG_BYTES:
                raise ValueError("its model description (config.json) is too large")
            raw: Any = zf.read(info)
    else:
        import h5py

        try:
            with h5py.File(path, "r") as f:
                raw = f.attrs.get("model_config")
        except OSError as exc:
            raise ValueError("it is not a readable HDF5 model file (truncated or damaged)") from exc
        if raw is None:
            raise ValueError(
                "it holds only weights, not a model: save the whole model with model.save('model.h5')"
            )
        if not isinstance(raw, (bytes, str)) or len(raw) > MAX_CONFIG_BYTES:
            raise ValueError("its model description is not text, or too large")
    try:
        return json.loads(raw)
    except (ValueError, RecursionError) as exc:
        where = "config.json" if fmt == KERAS else "model_config"
        raise ValueError(f"its model description ({where}) is not valid JSON") from exc


def _walk(config: Any):
    """Every dict inside ``config``, without recursion (a deeply nested config cannot overflow the stack)."""
    stack = [config]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            yield item
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)


def config_problems(config: Any) -> list[Problem]:
    """What in a model's config could run code when Keras builds it (empty: nothing)."""
    if not isinstance(config, dict) or not isinstance(config.get("class_name"), str):
        return [Problem("The file's model description is not a Keras model.", setting="model")]
    problems: list[Problem] = []
    for item in _walk(config):
        name = item.get("class_name")
        module = item.get("module")
        if name in CODE_LAYERS:
            what = CODE_LAYERS[name]
            problems.append(
                Problem(
                    f"This model contains {what}; NN Lab never runs code from a model file.", setting="model"
                )
            )
        elif name == "__lambda__" or item.get("function_type") == "lambda":
            problems.append(
                Problem(
                    "This model contains a Python lambda function; NN Lab never runs code from a model file.",
                    setting="model",
                )
            )
        elif isinstance(module, str) and module.split(".")[0] not in SAFE_MODULES:
            problems.append(
                Problem(
                    f"This model refers to the Python module {module[:60]!r}, outside Keras; "
                    "NN Lab loads only Keras' own layers.",
                    setting="model",
                )
            )
    unique = {p.message: p for p in problems}  # one message per kind of problem
    return list(unique.values())


def file_problems(path: str | Path, fmt: str) -> list[Problem]:
    """``config_problems`` of a file's config, or why its config cannot be read."""
    try:
        config = read_config(path, fmt)
    except (ValueError, KeyError, zipfile.BadZipFile, OSError) as exc:
        return [Problem(f"This model file cannot be read: {exc}.", setting="model")]
    return config_problems(config)
