"""MNIST, bundled with the package and read without any download.

``load_mnist`` keeps the contract of ``keras.datasets.mnist.load_data()``; the helpers below prepare
the arrays the way training needs them (scaled floats, a channel axis, seeded stratified splits).
"""

from __future__ import annotations

import gzip
import hashlib
import os
import struct
import threading
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

BUNDLED_DIR = Path(__file__).parent / "datasets" / "mnist"
ENV_VAR = "NNLAB_MNIST"

FILES = {
    "x_train": "train-images-idx3-ubyte",
    "y_train": "train-labels-idx1-ubyte",
    "x_test": "t10k-images-idx3-ubyte",
    "y_test": "t10k-labels-idx1-ubyte",
}
# SHA-256 of the decompressed IDX files (the canonical MNIST bytes).
SHA256 = {
    "t10k-images-idx3-ubyte": "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
    "t10k-labels-idx1-ubyte": "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
    "train-images-idx3-ubyte": "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
    "train-labels-idx1-ubyte": "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
}
SHAPES = {"x_train": (60000, 28, 28), "y_train": (60000,), "x_test": (10000, 28, 28), "y_test": (10000,)}
CLASS_NAMES = [str(d) for d in range(10)]

Arrays = tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]

_cache: dict[str, Arrays] = {}
_cache_lock = threading.Lock()


class DatasetError(ValueError):
    """A dataset file is missing, truncated, tampered with or of the wrong shape."""


def load_mnist(source: str | os.PathLike | None = None, verify: bool = True) -> Arrays:
    """Return ``(x_train, y_train), (x_test, y_test)`` as uint8 arrays.

    ``source`` (or the ``NNLAB_MNIST`` environment variable) may name a directory holding the four
    IDX files (gzipped or not) or a keras-format ``mnist.npz``; by default the bundled copy is read.
    Parsed arrays are cached per source, so a second call in the same process is instant. The
    returned arrays are read-only so that a caller cannot corrupt the shared cache.
    """
    path = Path(source or os.environ.get(ENV_VAR) or BUNDLED_DIR).expanduser()
    key = f"{path.resolve()}|{verify}"
    with _cache_lock:
        if key not in _cache:
            arrays = (
                _read_npz(path) if path.suffix == ".npz" or path.is_file() else _read_idx_dir(path, verify)
            )
            for a in arrays.values():
                a.setflags(write=False)
            _cache[key] = ((arrays["x_train"], arrays["y_train"]), (arrays["x_test"], arrays["y_test"]))
        return _cache[key]


def _read_idx_dir(directory: Path, verify: bool) -> dict[str, np.ndarray]:
    if not directory.is_dir():
        raise DatasetError(f"MNIST directory not found: {directory}")
    return {key: _read_idx_file(directory, base, key, verify) for key, base in FILES.items()}


def _read_idx_file(directory: Path, base: str, key: str, verify: bool) -> np.ndarray:
    plain, gz = directory / base, directory / f"{base}.gz"
    if plain.is_file():
        path, raw = plain, plain.read_bytes()
    elif gz.is_file():
        path = gz
        try:
            raw = gzip.decompress(gz.read_bytes())
        except (OSError, EOFError) as exc:
            raise DatasetError(f"{gz}: not a readable gzip file ({exc}); it may be truncated") from exc
    else:
        raise DatasetError(f"MNIST file missing: {base} (or {base}.gz) in {directory}")
    if verify:
        digest = hashlib.sha256(raw).hexdigest()
        if digest != SHA256[base]:
            raise DatasetError(
                f"{path}: checksum mismatch (SHA-256 {digest[:12]}..., expected {SHA256[base][:12]}...); "
                "the file is truncated or was modified"
            )
    array = parse_idx(raw, name=str(path))
    if array.shape != SHAPES[key]:
        raise DatasetError(f"{path}: has shape {array.shape}, expected {SHAPES[key]}")
    return array


def parse_idx(raw: bytes, name: str = "IDX data") -> np.ndarray:
    """Parse the bytes of an IDX file (unsigned-byte data, any number of dimensions)."""
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0:
        raise DatasetError(f"{name}: not an IDX file (bad magic number)")
    dtype_code, ndim = raw[2], raw[3]
    if dtype_code != 0x08:
        raise DatasetError(f"{name}: unsupported IDX data type 0x{dtype_code:02x} (expected unsigned bytes)")
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise DatasetError(f"{name}: truncated header")
    shape = struct.unpack(f">{ndim}I", raw[4:header])
    expected = int(np.prod(shape)) if shape else 0
    if len(raw) - header != expected:
        raise DatasetError(
            f"{name}: truncated or padded: {len(raw) - header} data bytes, expected {expected} "
            f"for shape {shape}"
        )
    return np.frombuffer(raw, dtype=np.uint8, offset=header).reshape(shape).copy()


def _read_npz(path: Path) -> dict[str, np.ndarray]:
    if not path.is_file():
        raise DatasetError(f"MNIST file not found: {path}")
    try:
        with np.load(path, allow_pickle=False) as npz:
            missing = [k for k in FILES if k not in npz.files]
            if missing:
                raise DatasetError(f"{path}: missing arrays {', '.join(missing)}")
            arrays = {k: np.asarray(npz[k]) for k in FILES}
    except DatasetError:
        raise
    except Exception as exc:  # zipfile.BadZipFile, ValueError, OSError, EOFError...
        raise DatasetError(f"{path}: not a readable .npz file ({exc}); it may be truncated") from exc
    for key, array in arrays.items():
        if array.shape != SHAPES[key]:
            raise DatasetError(f"{path}: array {key} has shape {array.shape}, expected {SHAPES[key]}")
        arrays[key] = array.astype(np.uint8, copy=False)
    return arrays


# ---- helpers for training -------------------------------------------------------------------------


def scale(images: np.ndarray) -> np.ndarray:
    """uint8 pixels 0-255 -> float32 in [0, 1] (networks learn far better on small inputs)."""
    return np.asarray(images, dtype=np.float32) / np.float32(255.0)


def add_channel(images: np.ndarray) -> np.ndarray:
    """(N, 28, 28) -> (N, 28, 28, 1): the channel axis Conv2D layers expect."""
    return images[..., np.newaxis]


def stratified_split(
    x: np.ndarray, y: np.ndarray, val_fraction: float, seed: int = 0
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Seeded split keeping each class's share equal in both parts: ``x_tr, y_tr, x_val, y_val``."""
    if not 0.0 <= val_fraction < 1.0:
        raise ValueError("val_fraction must be in [0, 1)")
    if val_fraction == 0.0:
        return x, y, x[:0], y[:0]
    from sklearn.model_selection import train_test_split

    x_tr, x_val, y_tr, y_val = train_test_split(x, y, test_size=val_fraction, random_state=seed, stratify=y)
    return x_tr, y_tr, x_val, y_val


def stratified_subset(x: np.ndarray, y: np.ndarray, n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """A seeded subset of ``n`` images with the same class balance as the whole (for quick runs)."""
    if n >= len(y):
        return x, y
    if n < 10:
        raise ValueError("a subset needs at least 10 images (one per class)")
    from sklearn.model_selection import train_test_split

    x_sub, _, y_sub, _ = train_test_split(x, y, train_size=n, random_state=seed, stratify=y)
    return x_sub, y_sub


@dataclass
class Splits:
    """Training, validation and test images with their labels, as a trainer is fed them."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_val: np.ndarray
    y_val: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray

    def map_images(self, prepare: Callable[[np.ndarray], np.ndarray]) -> Splits:
        """The same splits with ``prepare`` applied to each part's images (scaling, reshaping)."""
        return replace(
            self, x_train=prepare(self.x_train), x_val=prepare(self.x_val), x_test=prepare(self.x_test)
        )


def training_splits(
    train: tuple[np.ndarray, np.ndarray],
    test: tuple[np.ndarray, np.ndarray],
    subset: int | None,
    val: float,
    seed: int,
) -> Splits:
    """A seeded stratified subset of the training images (all of them for None), split into training and
    validation parts with the fraction ``val``; the test part as it is. Both trainers use this, so the same
    settings and seed give the Keras and the NumPy network the very same images."""
    x, y = train
    if subset is not None:
        x, y = stratified_subset(x, y, subset, seed=seed)
    x_tr, y_tr, x_val, y_val = stratified_split(x, y, val, seed=seed)
    return Splits(x_tr, y_tr, x_val, y_val, *test)


def class_counts(y: np.ndarray) -> np.ndarray:
    """How many images of each digit 0-9."""
    return np.bincount(np.asarray(y, dtype=np.int64), minlength=10)
