"""Fooling the network: the fast gradient sign method (FGSM, Goodfellow et al. 2015).

Every pixel moves by epsilon in the direction that raises the loss of the digit the image shows:

    x' = clip(x + epsilon * sign(d loss(x, digit) / d x), 0, 1)

One gradient gives the direction; the images for a whole grid of epsilons then go through the network
in one batch, which gives the new probabilities for every epsilon and the smallest one that changes
the answer.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from nnlab.canvas import as_image28
from nnlab.evaluation import to_model_input

EPSILONS = np.round(np.arange(0.0, 0.3001, 0.005), 3)  # the grid searched (0 = the image as it is)


@dataclass(frozen=True, eq=False)
class Attack:
    """FGSM on one image: the direction, and the network's probabilities at every epsilon of the grid."""

    image: np.ndarray  # (28, 28) in [0, 1]
    digit: int  # the digit whose loss is raised (the true one, or the network's answer for a drawing)
    direction: np.ndarray  # (28, 28): the sign of the loss's gradient, -1, 0 or 1 per pixel
    epsilons: np.ndarray
    probs: np.ndarray  # (len(epsilons), 10)

    def perturbed(self, epsilon: float) -> np.ndarray:
        return np.clip(self.image + epsilon * self.direction, 0.0, 1.0).astype(np.float32)

    def at(self, epsilon: float) -> np.ndarray:
        """The probabilities at the grid's epsilon nearest to ``epsilon``."""
        return self.probs[int(np.argmin(np.abs(self.epsilons - epsilon)))]

    @property
    def losses(self) -> np.ndarray:
        """Cross-entropy of ``digit`` at each epsilon (clipped as Keras clips it)."""
        return -np.log(np.clip(self.probs[:, self.digit], 1e-7, 1.0))

    @property
    def answers(self) -> np.ndarray:
        return self.probs.argmax(axis=1)

    @property
    def flip(self) -> float | None:
        """The smallest epsilon of the grid at which the answer differs from the answer at 0, or None."""
        changed = np.flatnonzero(self.answers != self.answers[0])
        return float(self.epsilons[changed[0]]) if len(changed) else None


def loss_gradient(model: Any, image28: np.ndarray, digit: int) -> np.ndarray:
    """d (cross-entropy of ``digit``) / d pixel, as a 28 x 28 map (tf.GradientTape, like saliency)."""
    from nnlab._tf import keras, tf

    x = tf.convert_to_tensor(to_model_input(model, as_image28(image28)))
    with tf.GradientTape() as tape:
        tape.watch(x)
        probs = model(x, training=False)
        loss = keras.losses.sparse_categorical_crossentropy(tf.constant([int(digit)]), probs)
    grad = tape.gradient(loss, x)
    if grad is None:
        raise ValueError(
            "The network's output does not depend on its input, so it cannot be fooled this way."
        )
    return np.asarray(grad, dtype=np.float32).reshape(28, 28)


def fgsm(model: Any, image28: np.ndarray, digit: int, epsilons: np.ndarray = EPSILONS) -> Attack:
    """The attack on ``image28`` raising the loss of ``digit``, evaluated at every epsilon in one batch."""
    image = as_image28(image28)
    direction = np.sign(loss_gradient(model, image, digit)).astype(np.float32)
    batch = np.clip(image[np.newaxis] + np.asarray(epsilons)[:, None, None] * direction, 0.0, 1.0)
    probs = np.asarray(model(to_model_input(model, batch.astype(np.float32)), training=False), np.float64)
    return Attack(image, int(digit), direction, np.asarray(epsilons, np.float64), probs)
