"""Data augmentation: the random shifts and rotations a training applies, and a preview of them.

``augmenter`` is the one definition: ``augmented_dataset`` feeds it to ``fit`` and ``preview`` shows
a learner what it does to a few images (the Build & Train page), so the preview is the training's.
"""

from __future__ import annotations

from typing import Any

import numpy as np

MAX_SHIFT_PIXELS = 2
MAX_ROTATION_DEGREES = 8


def augmenter(seed: int) -> Any:
    """Keras layers shifting each image by up to 2 pixels and rotating it by up to 8 degrees, seeded."""
    from nnlab._tf import keras

    return keras.Sequential(
        [
            keras.layers.RandomRotation(MAX_ROTATION_DEGREES / 360, fill_mode="constant", seed=seed),
            keras.layers.RandomTranslation(
                MAX_SHIFT_PIXELS / 28, MAX_SHIFT_PIXELS / 28, fill_mode="constant", seed=seed + 1
            ),
        ]
    )


def augmented_dataset(x: np.ndarray, y: np.ndarray, batch_size: int, seed: int) -> Any:
    """Shuffled batches of (N, 28, 28, 1) images, each batch augmented afresh, seeded."""
    from nnlab._tf import tf

    augment = augmenter(seed)
    ds = tf.data.Dataset.from_tensor_slices((x, y)).shuffle(len(y), seed=seed, reshuffle_each_iteration=True)
    ds = ds.batch(batch_size).map(
        lambda a, b: (augment(a, training=True), b), num_parallel_calls=tf.data.AUTOTUNE
    )
    return ds.prefetch(tf.data.AUTOTUNE)


def preview(images: np.ndarray, copies: int = 3, seed: int = 0) -> np.ndarray:
    """``copies`` augmented versions of each image (N, 28, 28) in [0, 1]: an array (N, copies, 28, 28)."""
    x = np.asarray(images, dtype=np.float32)
    if x.ndim != 3 or x.shape[1:] != (28, 28):
        raise ValueError(f"images must have shape (N, 28, 28), got {x.shape}")
    batch = np.repeat(x[:, np.newaxis], copies, axis=1).reshape(-1, 28, 28, 1)
    out = np.asarray(augmenter(seed)(batch, training=True))
    return out.reshape(len(x), copies, 28, 28)
