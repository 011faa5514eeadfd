"""An exported program as sections (a title, a short lesson, the code), and as one Python script.

The script and the notebook (``notebook.py``) are made of the same sections, so they hold the same
code; only the script reads command-line arguments (``--data``, ``--subset``, ``--epochs``,
``--output``), which a notebook cannot be given.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from nnlab.architectures import Spec, normalize, validate
from nnlab.export.code import callbacks_code, comment_text, fit_code, model_code, optimizer_code
from nnlab.training import TrainConfig, validate_config
from nnlab.validation import InvalidSettings, Problem


@dataclass(frozen=True)
class Section:
    title: str
    text: str  # what the code does and why, in one short paragraph
    code: str
    in_notebook: bool = True


@dataclass(frozen=True)
class Exported:
    """What an export gives: the file's name and its text."""

    file_name: str
    text: str


_DATA_CODE = '''def load_idx(folder, name):
    """One MNIST file in the IDX format (gzipped or not): a header with the sizes, then bytes."""
    path = Path(folder) / name
    if not path.exists():
        path = Path(folder) / (name + ".gz")
    if not path.exists():
        raise SystemExit(f"MNIST file missing: {name} (or {name}.gz) in {folder}")
    raw = gzip.decompress(path.read_bytes()) if path.suffix == ".gz" else path.read_bytes()
    ndim = raw[3]
    shape = struct.unpack(f">{ndim}I", raw[4 : 4 + 4 * ndim])
    return np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim).reshape(shape)


def mnist_folder(folder):
    """The folder given, else the MNIST copy bundled with NN Lab (when nnlab is installed)."""
    if folder:
        return Path(folder)
    nnlab = importlib.util.find_spec("nnlab")
    if nnlab is None or not nnlab.submodule_search_locations:
        raise SystemExit("Give the folder that holds the four MNIST IDX files: --data FOLDER")
    return Path(list(nnlab.submodule_search_locations)[0]) / "datasets" / "mnist"


folder = mnist_folder(DATA_DIR)
x_train = load_idx(folder, "train-images-idx3-ubyte")
y_train = load_idx(folder, "train-labels-idx1-ubyte")
x_test = load_idx(folder, "t10k-images-idx3-ubyte")
y_test = load_idx(folder, "t10k-labels-idx1-ubyte")
print(f"MNIST from {folder}: {len(x_train)} training and {len(x_test)} test images")'''

_PREPARE_CODE = '''def stratified_subset(x, y, n, seed):
    """About n images drawn at random, each digit keeping its share of the whole."""
    rng = np.random.default_rng(seed)
    keep = []
    for digit in range(10):
        where = np.flatnonzero(y == digit)
        keep.extend(rng.choice(where, round(n * len(where) / len(y)), replace=False))
    keep = rng.permutation(np.array(keep))
    return x[keep], y[keep]


keras.utils.set_random_seed(SEED)  # weights, shuffling, dropout: the same seed gives the same run
if SUBSET:
    x_train, y_train = stratified_subset(x_train, y_train, SUBSET, SEED)
# Pixels 0-255 become 0-1 (networks learn far better on small inputs); a channel axis for Conv2D.
x_train = (x_train.astype("float32") / 255.0)[..., np.newaxis]
x_test = (x_test.astype("float32") / 255.0)[..., np.newaxis]
# Keep VALIDATION_SPLIT of the training images aside, to check the network on them after each epoch.
split = len(x_train) - int(len(x_train) * VALIDATION_SPLIT)
x_train, x_val, y_train, y_val = x_train[:split], x_train[split:], y_train[:split], y_train[split:]
print(f"{len(x_train)} training, {len(x_val)} validation and {len(x_test)} test images")'''

_ARGS_CODE = """parser = argparse.ArgumentParser(description="Train this network on MNIST with Keras.")
parser.add_argument("--data", default=DATA_DIR, help="a folder with the four MNIST IDX files")
parser.add_argument("--subset", type=int, default=SUBSET, help="train on this many images")
parser.add_argument("--epochs", type=int, default=EPOCHS, help="passes over the training images")
parser.add_argument("--output", default=OUTPUT, help="where to save the trained model (.keras)")
args = parser.parse_args()
DATA_DIR, SUBSET, EPOCHS, OUTPUT = args.data, args.subset, args.epochs, args.output"""

_EVALUATE_CODE = """test_loss, test_accuracy = model.evaluate(x_test, y_test, verbose=0)
print(f"Test accuracy: {test_accuracy:.4f} (test loss {test_loss:.4f})")
model.save(OUTPUT)
print(f"Saved the trained model to {OUTPUT}")"""


def file_stem(name: Any) -> str:
    """A file name for a network's name: 'MLP 784-128-10' -> 'mlp-784-128-10'."""
    stem = re.sub(r"[^a-z0-9]+", "-", str(name).lower()).strip("-")[:60].strip("-")
    return stem or "network"


def export_problems(spec: Spec, config: TrainConfig) -> list[Problem]:
    """Why a network and its settings cannot be exported (every problem), or an empty list."""
    return validate(spec) + validate_config(config)


def sections(spec: Spec, config: TrainConfig) -> list[Section]:
    """The program, section by section. Raises ``InvalidSettings`` for a spec or config with problems."""
    problems = export_problems(spec, config)
    if problems:
        raise InvalidSettings(problems)
    stem = file_stem(spec.get("name", "network"))
    layers = normalize(spec)["layers"]
    return [
        Section(
            "Imports",
            "TensorFlow's Keras builds and trains the network; NumPy holds the images.",
            _imports_code(layers, config),
        ),
        Section("Settings", "The settings NN Lab trained this network with.", _settings_code(config, stem)),
        Section(
            "Command line",
            "Any setting here can be changed when the script is run.",
            _ARGS_CODE,
            in_notebook=False,
        ),
        Section(
            "The data",
            "MNIST: 70,000 handwritten digits of 28 x 28 pixels, read from its IDX files.",
            _DATA_CODE,
        ),
        Section(
            "Preparing the images",
            "A seed, the training subset, scaling and the validation images.",
            _PREPARE_CODE,
        ),
        Section(
            "The network",
            "One Keras layer per layer of the network, in order.",
            model_code(layers, not config.scale_inputs),
        ),
        Section(
            "Compiling",
            "The optimizer, its learning rate, the loss to minimise and the accuracy to report.",
            optimizer_code(config),
        ),
        Section(
            "Training",
            "Batches of images, epoch after epoch.",
            callbacks_code(config) + "\n" + fit_code(config),
        ),
        Section(
            "Testing and saving", "Accuracy on the 10,000 test images the network never saw.", _EVALUATE_CODE
        ),
    ]


def _imports_code(layers: list[dict[str, Any]], config: TrainConfig) -> str:
    penalties = any(layer.get("l1") or layer.get("l2") for layer in layers)
    lines = ["import argparse", "import gzip", "import importlib.util"]
    lines += ["import math"] if config.schedule in ("cosine", "exponential") else []
    lines += ["import struct", "from pathlib import Path", "", "import keras", "import numpy as np"]
    lines += ["import tensorflow as tf"] if config.augment else []
    lines += ["from keras import layers" + (", regularizers" if penalties else "")]
    return "\n".join(lines)


def _settings_code(config: TrainConfig, stem: str) -> str:
    subset = (
        "None: all 60,000 training images"
        if config.subset is None
        else "training images drawn at random, every digit keeping its share"
    )
    return "\n".join(
        [
            f"EPOCHS = {config.epochs}  # passes over the training images",
            f"BATCH_SIZE = {config.batch_size}  # images per weight update",
            f"LEARNING_RATE = {float(config.learning_rate)!r}  # the size of each step downhill",
            f"VALIDATION_SPLIT = {float(config.validation_fraction)!r}  # share of the training images "
            "kept aside",
            f"SUBSET = {config.subset}  # {subset}",
            f"SEED = {config.seed}  # the same seed gives the same numbers",
            f'OUTPUT = "{stem}.keras"  # where the trained model is saved',
            "DATA_DIR = None  # a folder with the four MNIST IDX files; None: the copy bundled with nnlab",
        ]
    )


def _header(spec: Spec, stem: str, source: str) -> str:
    name = comment_text(spec.get("name", "Custom network"))
    return "\n".join(
        [
            f"# {name}: a network for the MNIST digits, built and trained with Keras.",
            f"# Exported from NN Lab ({comment_text(source)}) with the same layers and training settings.",
            "#",
            "# It needs only TensorFlow (pip install tensorflow). Run it as",
            f"#     python {stem}.py",
            "# to read the MNIST files bundled with nnlab (when it is installed), or as",
            f"#     python {stem}.py --data FOLDER",
            "# for a folder holding the four MNIST IDX files; add --subset 500 --epochs 1 for a quick try.",
            "# It prints the network's summary, trains it, prints its test accuracy and saves it.",
        ]
    )


def export_script(spec: Spec, config: TrainConfig, source: str = "NN Lab's editor") -> Exported:
    """The network and its training as a standalone script (``<name>.py``). Raises ``InvalidSettings``."""
    stem = file_stem(spec.get("name", "network"))
    text = _header(spec, stem, source)
    for section in sections(spec, config):
        gap = "\n\n" if section.title == "Settings" else "\n\n\n"  # isort: one blank line after imports
        comment = f"# ---- {section.title} " + "-" * max(4, 80 - len(section.title))
        text += f"{gap}{comment}\n# {section.text}\n{section.code}"
    return Exported(f"{stem}.py", text + "\n")
