"""What the Data page computes about MNIST: pages of images, class balance, mean digits, pixel values."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd


def select_indices(
    y: np.ndarray,
    digit: int | None = None,
    page: int = 1,
    per_page: int = 40,
    shuffle_seed: int | None = None,
) -> tuple[np.ndarray, int]:
    """The dataset indices on ``page`` (1-based) of the images of ``digit`` (None = all), and the page count.

    With ``shuffle_seed`` the images come in a seeded random order, else in dataset order. A page
    beyond the last gives the last page.
    """
    if per_page < 1:
        raise ValueError("per_page must be at least 1")
    y = np.asarray(y)
    idx = np.arange(len(y)) if digit is None else np.flatnonzero(y == digit)
    if shuffle_seed is not None:
        idx = np.random.default_rng(shuffle_seed).permutation(idx)
    n_pages = max(1, math.ceil(len(idx) / per_page))
    page = min(max(int(page), 1), n_pages)
    return idx[(page - 1) * per_page : page * per_page], n_pages


def class_counts_table(y_train: np.ndarray, y_test: np.ndarray) -> pd.DataFrame:
    """Images per digit in each part, with each part's share (MNIST is nearly, not exactly, balanced)."""
    tr = np.bincount(np.asarray(y_train, dtype=np.int64), minlength=10)
    te = np.bincount(np.asarray(y_test, dtype=np.int64), minlength=10)
    return pd.DataFrame(
        {
            "digit": [str(d) for d in range(10)],
            "training": tr,
            "test": te,
            "training share": tr / max(tr.sum(), 1),
            "test share": te / max(te.sum(), 1),
        }
    )


def mean_images(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """The average image of each digit, shape (10, 28, 28), in pixel units 0-255."""
    x = np.asarray(x)
    y = np.asarray(y)
    out = np.zeros((10, *x.shape[1:]), dtype=np.float64)
    for d in range(10):
        members = x[y == d]
        if len(members):
            out[d] = members.mean(axis=0, dtype=np.float64)
    return out


def pixel_histogram(x: np.ndarray) -> np.ndarray:
    """How many pixels take each value 0..255, over all the images given."""
    return np.bincount(np.asarray(x, dtype=np.uint8).reshape(-1), minlength=256)


def raw_and_scaled(image: np.ndarray) -> tuple[pd.DataFrame, pd.DataFrame]:
    """One image's raw 0-255 values and the same pixels divided by 255, as 28x28 tables."""
    raw = np.asarray(image, dtype=np.uint8)
    if raw.ndim != 2:
        raise ValueError(f"expected one 2-D image, got shape {raw.shape}")
    scaled = raw.astype(np.float32) / np.float32(255.0)
    cols = [str(c) for c in range(raw.shape[1])]
    return pd.DataFrame(raw, columns=cols), pd.DataFrame(scaled.round(2), columns=cols)


def ink_box(image: np.ndarray, margin: int = 1) -> tuple[slice, slice]:
    """Rows and columns holding the ink (non-zero pixels), plus ``margin``: the part worth printing."""
    image = np.asarray(image)
    rows, cols = np.flatnonzero(image.any(axis=1)), np.flatnonzero(image.any(axis=0))
    if rows.size == 0:
        return slice(0, image.shape[0]), slice(0, image.shape[1])
    return (
        slice(max(rows[0] - margin, 0), min(rows[-1] + margin + 1, image.shape[0])),
        slice(max(cols[0] - margin, 0), min(cols[-1] + margin + 1, image.shape[1])),
    )


def input_stats(image: np.ndarray) -> pd.DataFrame:
    """Range, mean and spread of one image's inputs, raw and scaled: why we divide by 255."""
    raw = np.asarray(image, dtype=np.float64)
    scaled = raw / 255.0
    rows = []
    for name, v in (("raw 0-255", raw), ("scaled [0, 1]", scaled)):
        rows.append(
            {
                "inputs": name,
                "min": v.min(),
                "max": v.max(),
                "mean": v.mean(),
                "std": v.std(),
                "sum of squares": float(np.sum(v * v)),
            }
        )
    return pd.DataFrame(rows)
