"""The image the Inspect page looks at: a test image, or the learner's last drawing.

Other pages and views choose it by link: Draw's ``?image=drawing``, Evaluate's ``?image=<test image
number>``, and the digit map's click (``open_test_image``); each is applied once, before the
widgets are drawn, after which the choice is the learner's again.
"""

from __future__ import annotations

import numpy as np
import streamlit as st

from nnlab import evaluation as ev
from nnlab.canvas import as_image28
from nnlab.data import scale
from nnlab.ui.links import DRAW, DRAWING_LINK, IMAGE_PARAM, LAST_DRAWING, link

SOURCES = ("A test image", "My last drawing")
SOURCE, INDEX = "insp_source", "insp_index"
_PENDING = "insp_pending_image"  # a test image chosen elsewhere on the page, applied on the next run


def last_drawing() -> np.ndarray | None:
    """The drawing the Draw page left in this session, if it holds a usable 28 x 28 image."""
    drawing = st.session_state.get(LAST_DRAWING)
    try:
        return None if drawing is None else as_image28(drawing)
    except ValueError:
        return None


def open_test_image(index: int) -> None:
    """Make test image ``index`` the page's image (from a view drawn after the picker): reruns."""
    st.session_state[_PENDING] = int(index)
    st.rerun()


def _apply_links(drawing: np.ndarray | None, n_test: int) -> None:
    """Apply a link's or a view's choice of image once (the query parameter is consumed)."""
    ((key, value),) = DRAWING_LINK.items()
    linked = st.query_params.get(IMAGE_PARAM)
    if linked is not None:
        del st.query_params[IMAGE_PARAM]  # consumed: afterwards the choice is the user's again
        if linked == value and drawing is not None:
            st.session_state[SOURCE] = SOURCES[1]
        elif linked.isdigit() and int(linked) < n_test:
            st.session_state[_PENDING] = int(linked)
    pending = st.session_state.pop(_PENDING, None)
    if pending is not None:
        st.session_state[INDEX] = pending
        st.session_state[SOURCE] = SOURCES[0]


def pick_image(source_col, index_col) -> tuple[np.ndarray, str, int | None]:
    """The image to look at, its description, and its digit when it is a test image (None: a drawing)."""
    x_test, y_test = ev.mnist_test_set()
    drawing = last_drawing()
    _apply_links(drawing, len(y_test))
    if drawing is None:
        index = int(source_col.number_input("Test image #", 0, len(y_test) - 1, 0, step=1, key=INDEX))
        with source_col:
            st.caption("Digits you draw on the Draw page can be inspected here too.")
            link(DRAW, "Draw a digit")
        return scale(x_test[index]), f"test image #{index}, a {y_test[index]}", int(y_test[index])
    source = source_col.radio("Image", SOURCES, horizontal=True, key=SOURCE)
    if source == SOURCES[1]:
        return drawing, "your drawing", None
    index = int(index_col.number_input("Test image #", 0, len(y_test) - 1, 0, step=1, key=INDEX))
    return scale(x_test[index]), f"test image #{index}, a {y_test[index]}", int(y_test[index])
