"""The test images behind the numbers: a clickable confusion matrix and the most confident mistakes."""

from __future__ import annotations

import numpy as np
import streamlit as st

from nnlab import evaluation as ev
from nnlab.figures.evaluation import confusion_figure
from nnlab.ui.clicks import clickable_chart
from nnlab.ui.format import percent_sure
from nnlab.ui.links import inspect_link


def gallery(
    x: np.ndarray, indices, captions: list[str], limit: int = 48, run_id: str | None = None, key: str = ""
) -> None:
    """Test images with their captions; with ``run_id``, a link to look inside one of them on Inspect."""
    indices = [int(i) for i in list(indices)[:limit]]
    if not indices:
        st.info("No test images here.")
        return
    st.image([ev.upscale(x[i], 3) for i in indices], caption=captions[:limit], width=84)
    if run_id is None:
        return
    left, right = st.columns([1, 2], vertical_alignment="bottom")
    chosen = left.selectbox(
        "Look inside one of them", indices, key=key, format_func=lambda i: f"test image #{i}"
    )
    with right:
        inspect_link(
            f"Inspect test image #{chosen}: how the network read it, step by step",
            run_id=run_id,
            image=str(chosen),
            view="step",
        )


@st.fragment  # its widgets rerun only this section
def confusion_section(probs: np.ndarray, x: np.ndarray, y: np.ndarray, run_id: str | None = None) -> None:
    pred = probs.argmax(axis=1)
    cm = ev.confusion(y, pred)
    normalized = st.toggle("Normalise each row (share of each true digit)", key="eval_norm")
    shown = ev.confusion(y, pred, normalize=True) if normalized else cm
    if "eval_true" not in st.session_state:
        st.session_state["eval_true"], st.session_state["eval_pred"] = ev.largest_error_cell(cm)
    left, right = st.columns([3, 2])
    with left:
        fig = confusion_figure(
            shown, normalized, selected=(st.session_state["eval_true"], st.session_state["eval_pred"])
        )
        point = clickable_chart(fig, "eval_cm")
        if point is not None:
            st.session_state["eval_true"], st.session_state["eval_pred"] = int(point["y"]), int(point["x"])
            # the whole page: a click may first be seen in a full run, where scope="fragment" is refused
            st.rerun()
        st.caption(
            "Rows are the true digits, columns the network's answers; the outlined diagonal "
            "holds the right answers, "
            "the red cells the mistakes. Click a cell, or choose it on the right, to see its images."
        )
    with right:
        a, b = st.columns(2)
        t = a.selectbox("True digit", range(10), key="eval_true")
        p = b.selectbox("Predicted digit", range(10), key="eval_pred")
        idx = ev.cell_indices(y, pred, t, p)
        st.markdown(
            f"**{len(idx)}** test images of a **{t}** classified as **{p}**"
            + (" (correct)" if t == p else "")
        )
        order = idx[np.argsort(-probs[idx, p])]
        if len(order):
            st.caption(
                f"Under each image: its number in the test set and how sure the network was that it is a {p}."
            )
        captions = [f"#{i}: {percent_sure(probs[i, p])} sure" for i in order]
        gallery(x, order, captions, run_id=run_id, key="eval_cell_look")


@st.fragment  # its widgets rerun only this section
def mistakes_section(probs: np.ndarray, x: np.ndarray, y: np.ndarray, run_id: str | None = None) -> None:
    a, b, c = st.columns(3)
    choices = ["any", *range(10)]
    t = a.selectbox("True digit", choices, key="eval_mis_true")
    p = b.selectbox("Predicted digit", choices, key="eval_mis_pred")
    k = c.slider("How many", 8, 96, 32, step=8, key="eval_mis_k")
    table = ev.confident_mistakes(probs, y, None if t == "any" else t, None if p == "any" else p, k=k)
    if table.empty:
        st.success("No mistakes with this filter.")
        return
    st.caption(
        "Under each image: its true digit, the network's answer and how sure the network was of that answer."
    )
    captions = [
        f"true {r.true}, said {r.predicted}, {percent_sure(r.probability)} sure" for r in table.itertuples()
    ]
    gallery(x, table["index"], captions, limit=k, run_id=run_id, key="eval_mis_look")
