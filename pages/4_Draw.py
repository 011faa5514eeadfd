"""Draw: sketch a digit (or upload a picture of one) and watch a trained network read it, stroke by stroke."""

from __future__ import annotations

import numpy as np
import streamlit as st
from streamlit_drawable_canvas import st_canvas

from nnlab.canvas import ImageLoadError, canvas_to_mnist, load_image_bytes
from nnlab.figures.evaluation import image_figure, probabilities_figure
from nnlab.figures.inspection import saliency_figure
from nnlab.predict import UNSURE_MARGIN, predict_digit, verdict
from nnlab.runs import Run
from nnlab.ui.app_navigation import run_through_app
from nnlab.ui.format import percent_sure
from nnlab.ui.links import DRAWING_LINK, IMAGE_PARAM, LAST_DRAWING, inspect_link
from nnlab.ui.models import finished_runs_or_stop, pick_run, run_model_or_stop
from nnlab.ui.services import get_store

CANVAS_SIDE = 280
CANVAS_COUNTER = "draw_canvas_n"  # part of the canvas key: a new key gives an empty canvas
SOURCES = ("Draw on the canvas", "Upload a picture")

run_through_app()  # a page opened by its own address runs through app.py's navigation
st.set_page_config(page_title="Draw · NN Lab", page_icon="🧠", layout="wide")


def best_run(runs: list[Run]) -> Run:
    """The most accurate run on the test set (runs without a score come last)."""
    return max(runs, key=lambda r: r.test_accuracy if r.test_accuracy is not None else -1.0)


def canvas_key() -> str:
    return f"draw_canvas_{st.session_state.get(CANVAS_COUNTER, 0)}"


def clear_canvas() -> None:
    """A fresh canvas: a new key (the old drawing's state is dropped)."""
    st.session_state.pop(canvas_key(), None)
    st.session_state[CANVAS_COUNTER] = st.session_state.get(CANVAS_COUNTER, 0) + 1


def canvas_input(pen: int) -> np.ndarray | None:
    """The canvas's RGBA pixels, or None before the first stroke."""
    result = st_canvas(
        stroke_width=pen,
        stroke_color="#FFFFFF",
        background_color="#000000",
        fill_color="#FFFFFF",
        width=CANVAS_SIDE,
        height=CANVAS_SIDE,
        drawing_mode="freedraw",
        update_streamlit=True,
        return_image_data=True,
        key=canvas_key(),
    )
    return result.image_data


def upload_input() -> np.ndarray | None:
    """An uploaded picture's pixels, or None (with the reason shown) if there is none or it is unusable."""
    upload = st.file_uploader(
        "A PNG or JPEG picture of one digit",
        type=["png", "jpg", "jpeg"],
        key="draw_upload",
        help="Dark ink on light paper works too: it is detected and inverted.",
    )
    if upload is None:
        return None
    try:
        image = load_image_bytes(upload.getvalue())
    except ImageLoadError as exc:
        st.error(str(exc))
        return None
    st.image(image, caption="Your picture", width=CANVAS_SIDE)
    return image


st.title("Draw a digit")
store = get_store()  # one object per root, shared: not reopened on every rerun
runs = finished_runs_or_stop(
    store, "There is no trained network yet. Train one first, then come back here to draw digits for it."
)

run = pick_run(
    runs,
    "draw_run",
    "Network",
    default=best_run(runs),
    remembered=False,
    help="Any finished training. The most accurate one is chosen at first.",
)
model = run_model_or_stop(
    store, run.id, "The model of this run cannot be used", spinner="Loading the network..."
)

left, middle, right = st.columns([3, 2, 4], gap="medium")
with left:
    source = st.radio("Input", SOURCES, horizontal=True, key="draw_source", label_visibility="collapsed")
    if source == SOURCES[0]:
        pen = st.slider("Pen width", 4, 40, 18, key="draw_pen")
        image = canvas_input(pen)
        st.button("Clear the canvas", key="draw_clear", on_click=clear_canvas, icon="🧹")
        st.caption(
            "Draw with the mouse, a pen or a finger; the network reads the digit after every stroke. "
            "Undo and redo are in the canvas's toolbar."
        )
    else:
        image = upload_input()

img28 = canvas_to_mnist(image) if image is not None else None
with right:
    probs_slot = st.container()
    # Rendered on every run, even without a drawing: a widget left out of one run loses its state, and
    # the browser would then show it off while the page still reads it as on.
    show_saliency = st.toggle(
        "Show which pixels drove the decision (saliency)",
        key="draw_saliency",
        disabled=img28 is None,
        help="Available once the network has a digit to read.",
    )
if img28 is None:
    with middle:
        if source == SOURCES[0]:
            st.info(
                "Draw a digit on the canvas: what the network sees and reads appears here as you draw."
                if image is None
                else "No digit found yet: draw a larger digit (a dot or a short scratch is not enough)."
            )
        elif image is not None:
            st.info("No digit found in this picture: use a clear picture of one digit.")
        elif st.session_state.get("draw_upload") is None:  # no picture yet (a refused one has its error)
            st.info("Upload a picture of one digit: what the network sees and reads appears here.")
    st.stop()

st.session_state[LAST_DRAWING] = img28  # for the Inspect page's "My last drawing"
try:
    probs = predict_digit(model, img28)
except ValueError as exc:
    st.error(f"This network cannot read the drawing: {exc}")
    st.stop()
answer = verdict(probs)

with middle:
    st.plotly_chart(image_figure(img28, "What the network sees", height=260), key="draw_seen")
    st.caption("Your drawing as 28 x 28 pixels, sized and centred the way MNIST's digits are.")
    st.metric(
        "The network reads",
        str(answer.digit),
        delta=f"{percent_sure(answer.confidence)} sure",
        delta_color="off",
        delta_arrow="off",
        border=True,
    )
    if answer.unsure:
        if answer.confidence - answer.runner_up_probability < UNSURE_MARGIN:
            why = (
                f"it hesitates between {answer.digit} ({answer.confidence:.0%}) and "
                f"{answer.runner_up} ({answer.runner_up_probability:.0%})"
            )
        else:
            why = (
                f"its best guess, {answer.digit}, gets only {answer.confidence:.0%} "
                f"(next comes {answer.runner_up} with {answer.runner_up_probability:.0%})"
            )
        st.warning(
            f"The network is not sure: {why}. Perhaps draw the digit a little more clearly, "
            "or try another network.",
            icon="🤔",
        )
probs_slot.plotly_chart(probabilities_figure(probs), key="draw_probs")
with right:
    if show_saliency:
        from nnlab import inspection as ins

        try:
            sal = ins.saliency(model, img28, class_index=answer.digit)
        except ValueError as exc:
            st.info(str(exc))
        else:
            st.plotly_chart(saliency_figure(img28, sal, height=300), key="draw_saliency_fig")
            st.caption(
                f"Bright pixels (red to yellow) are those whose change would move the probability of "
                f"{answer.digit} most; uncoloured ones hardly matter. Your digit is drawn in dim "
                "grey underneath."
            )
    drawing = DRAWING_LINK[IMAGE_PARAM]
    inspect_link(
        "Step by step: how the network reads this drawing", run_id=run.id, image=drawing, view="step"
    )
    inspect_link("Try to fool the network with this drawing", run_id=run.id, image=drawing, view="fooling")
