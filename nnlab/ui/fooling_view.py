"""Inspect's "Fooling it": the fast gradient sign method on the current image, with an epsilon slider."""

from __future__ import annotations

from typing import Any

import numpy as np
import streamlit as st

from nnlab.explain.adversarial import EPSILONS, fgsm
from nnlab.figures.adversarial import CAPTIONS, attack_curve_figure, attack_figure
from nnlab.figures.evaluation import probabilities_figure

WHY = (
    "**Why this matters.** A change too small for a person to notice (every pixel moved by a few "
    "hundredths) can turn a confident right answer into a confident wrong one, because the network "
    "adds up hundreds of tiny nudges that all push the same way. A network can be right on its test "
    "set and still be easy to fool: this is why self-driving cars, spam filters and face recognition "
    "are tested against such attacks, and why training on attacked images (adversarial training) exists."
)


def fooling_view(model: Any, image: np.ndarray, what: str, label: int | None, answer: int) -> None:
    """``label``: a test image's true digit; None for a drawing (then the network's answer is attacked)."""
    digit = answer if label is None else label
    try:
        attack = fgsm(model, image, digit)
    except ValueError as exc:
        st.info(str(exc))
        return
    eps = float(
        st.slider(
            "Epsilon: how far each pixel may move (pixels run from 0 to 1)",
            0.0,
            float(EPSILONS[-1]),
            0.05,
            step=0.005,
            format="%.3f",
            key="insp_fgsm_eps",
        )
    )
    probs = attack.at(eps)
    new = int(np.argmax(probs))
    st.markdown(
        f"Every pixel of {what} moves by {eps:g} in the direction that raises the network's loss for "
        f"**{digit}**{' (its own answer: a drawing has no true label)' if label is None else ''}. "
        f"The network now says **{new}** ({probs[new]:.1%}); before, **{answer}**."
    )
    flip = attack.flip
    if flip is None:
        st.info(f"No epsilon up to {EPSILONS[-1]:g} changes the answer for this image.", icon="🛡️")
    else:
        st.warning(
            f"The smallest epsilon that changes the answer: **{flip:g}** "
            f"(then it says {int(np.argmax(attack.at(flip)))}).",
            icon="🎯",
        )
    st.plotly_chart(attack_figure(attack, eps), key="insp_fgsm_images")
    st.caption(CAPTIONS["images"])
    left, right = st.columns(2)
    left.plotly_chart(probabilities_figure(probs, height=280), key="insp_fgsm_probs")
    left.caption(
        "Bars: the network's probability for each digit on the perturbed image; orange is its answer."
    )
    right.plotly_chart(attack_curve_figure(attack, eps), key="insp_fgsm_curve")
    right.caption(CAPTIONS["curve"])
    st.markdown(WHY)
