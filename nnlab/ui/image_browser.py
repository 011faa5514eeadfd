"""Browsing MNIST page by page: pick the part and the digit, shuffle, and see each image with its label."""

from __future__ import annotations

import numpy as np
import streamlit as st

from nnlab import exploration
from nnlab.figures.data import image_grid_figure

PARTS = ("training", "test")


def _first_page() -> None:
    st.session_state["data_page"] = 1


def _shuffle() -> None:
    st.session_state["data_seed"] = int(st.session_state.get("data_seed") or 0) + 1
    st.session_state["data_page"] = 1


def _in_order() -> None:
    st.session_state["data_seed"] = None
    st.session_state["data_page"] = 1


def image_browser(arrays) -> None:
    """The browser; ``arrays(part)`` gives the images and labels of "training" or "test".

    The page, the digit, the order (a seed, or None for the dataset's order) live in the session state.
    """
    top = st.columns([1.2, 1, 1, 1.4], vertical_alignment="bottom")
    part = (
        top[0].segmented_control(
            "Images from", PARTS, default="training", key="data_part", on_change=_first_page
        )
        or "training"
    )
    digit = top[1].selectbox(
        "Digit",
        ["all", *range(10)],
        key="data_digit",
        on_change=_first_page,
        help="Show only the images of one digit.",
    )
    per_page = top[2].selectbox(
        "Per page", [20, 40, 80, 120], index=1, key="data_per_page", on_change=_first_page
    )
    with top[3]:
        b = st.columns(2)
        b[0].button(
            "Shuffle", icon="🔀", on_click=_shuffle, help="Show a random selection (click again for another)."
        )
        b[1].button("In order", on_click=_in_order, help="Back to the dataset's own order.")

    x, y = arrays(part)
    seed = st.session_state.get("data_seed")
    st.session_state.setdefault("data_page", 1)
    _, n_pages = exploration.select_indices(y, None if digit == "all" else int(digit), 1, int(per_page))
    if not 1 <= int(st.session_state["data_page"]) <= n_pages:
        st.session_state["data_page"] = 1
    nav = st.columns([1, 3], vertical_alignment="bottom")
    page = nav[0].number_input(
        f"Page (of {n_pages:,})", min_value=1, max_value=n_pages, step=1, key="data_page"
    )
    idx, _ = exploration.select_indices(
        y, None if digit == "all" else int(digit), int(page), int(per_page), seed
    )
    which = "all digits" if digit == "all" else f"digit {digit}"
    count = len(y) if digit == "all" else int(np.count_nonzero(y == int(digit)))
    nav[1].caption(
        f"{count:,} {part} images of {which}, {'shuffled' if seed is not None else 'in dataset order'}. "
        "The small number above each image is its label."
    )
    st.plotly_chart(image_grid_figure(x[idx], y[idx], idx, cols=10), width="stretch", key="data_grid")
