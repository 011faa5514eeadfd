"""What went wrong in a from-scratch training, explained in plain words for the page."""

from __future__ import annotations

import math

from nnlab.events import BatchEvent, EndEvent, EpochEvent
from nnlab.scratch.train import ScratchConfig

EXPLODED_FACTOR = 10.0  # a loss this many times above a guessing network's counts as exploded

RAW_PIXELS = (
    "**Why raw pixels struggle**: with inputs from 0 to 255 instead of 0 to 1, every first-layer unit sums "
    "about a hundred inked pixels each 255 times larger, so its pre-activation is hundreds of times larger "
    "too. The gradients grow with the inputs{grads}, so a step of learning rate {lr:g} is hundreds of times "
    "too big: the weights jump far away, relu units die (output 0 for every image) or sigmoid/tanh units "
    "saturate (slope 0), and the network ends up guessing one digit. Fix it by turning **Scale inputs to "
    "[0, 1]** on, or, to keep raw pixels, use a far smaller learning rate (about 0.0001 or less, 255 times "
    "smaller or more)."
)


def chance_loss(n_classes: int) -> float:
    """The cross-entropy of a network that gives every class the same probability: where training starts.

    Every class gets p = 1/k, so the loss is -log(1/k) = log(k): 2.30 for ten digits.
    """
    return math.log(max(2, n_classes))


def peak_loss(batches: list[BatchEvent], epochs: list[EpochEvent]) -> float | None:
    """The largest finite training loss reported so far (None if none)."""
    finite = [float(e.loss) for e in [*batches, *epochs] if math.isfinite(e.loss)]
    return max(finite) if finite else None


def lessons(
    config: ScratchConfig, batches: list[BatchEvent], epochs: list[EpochEvent], end: EndEvent | None
) -> list[str]:
    """Plain-words explanations of what went wrong in a finished training (empty when nothing did).

    A loss far above the start means the steps overshot ('exploded') even when nothing became NaN;
    with raw 0-255 inputs that is the expected lesson, so say why.
    """
    if end is None:
        return []
    n_classes = len(config.digits) if config.digits else 10
    start = chance_loss(n_classes)
    peak = peak_loss(batches, epochs)
    exploded = peak is not None and peak > EXPLODED_FACTOR * start
    accuracy = end.test_accuracy
    poor = math.isfinite(accuracy) and accuracy < 1.5 / n_classes + 0.2
    out = []
    if exploded and not end.diverged:
        out.append(
            f"**The loss exploded**: the training loss reached {peak:,.0f}, over {peak / start:,.0f} times "
            f"the {start:.2f} of an untrained network that just guesses. Each update overshot and threw the "
            "weights further off instead of downhill; nothing became NaN, but the network learned little."
        )
    if not config.scale_inputs and (exploded or end.diverged or poor):
        norms = [max(e.grad_norms) for e in batches if e.grad_norms and all(map(math.isfinite, e.grad_norms))]
        grads = f" (gradient norms up to {max(norms):,.3g})" if norms else ""
        out.append(RAW_PIXELS.format(grads=grads, lr=config.learning_rate))
    elif exploded or (end.diverged and config.scale_inputs):
        momentum = f" with momentum {config.momentum:g}" if config.momentum else ""
        out.append(
            f"A learning rate of {config.learning_rate:g}{momentum} is too large for this network: "
            "try a 3 to 10 times smaller one."
        )
    return out
