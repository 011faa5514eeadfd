"""What augmentation does: a few training images as the training's own augmentation changes them."""

from __future__ import annotations

import numpy as np
import streamlit as st

from nnlab import data as nndata
from nnlab.figures.data import image_grid_figure

DRAWS = "build_aug_draws"  # how often the learner asked for a new draw
IMAGES, COPIES = 5, 4


def _draw_again() -> None:
    st.session_state[DRAWS] = st.session_state.get(DRAWS, 0) + 1


@st.fragment  # a new draw reruns only this preview
def augmentation_preview(seed: int) -> None:
    """Each row: one training image, then COPIES ways the augmentation may show it to the network."""
    from nnlab.training.augmentation import MAX_ROTATION_DEGREES, MAX_SHIFT_PIXELS, preview

    draws = st.session_state.get(DRAWS, 0)
    (x_train, y_train), _ = nndata.load_mnist()
    rng = np.random.default_rng(seed + 7919 * draws)
    picks = np.array(
        [rng.choice(np.flatnonzero(y_train == d)) for d in rng.choice(10, IMAGES, replace=False)]
    )
    originals = nndata.scale(x_train[picks])
    with st.spinner("Augmenting a few images (TensorFlow loads once per server)..."):
        changed = preview(originals, copies=COPIES, seed=seed + draws)
    rows = np.concatenate([originals[:, np.newaxis], changed], axis=1).reshape(-1, 28, 28)
    labels = np.array((["original"] + [f"shown {k + 1}" for k in range(COPIES)]) * IMAGES)
    index = np.repeat(picks, COPIES + 1)
    st.plotly_chart(
        image_grid_figure(
            rows, labels, index, cols=COPIES + 1, title="What augmentation does to training images"
        ),
        key="build_aug_grid",
    )
    st.caption(
        f"Grey scale: black 0 (background) to white 1 (ink). Each row is one training image, then {COPIES} "
        f"ways it may be shown in a batch: shifted up to {MAX_SHIFT_PIXELS} pixels and rotated up to "
        f"{MAX_ROTATION_DEGREES}°, differently every epoch."
    )
    st.button("Draw again", key="build_aug_again", icon="🎲", on_click=_draw_again)
