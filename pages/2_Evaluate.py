"""Evaluate: how a trained network does on the 10,000 test images, and where it goes wrong."""

from __future__ import annotations

import hashlib

import numpy as np
import streamlit as st

from nnlab import evaluation as ev
from nnlab.figures import training as training_figs
from nnlab.figures.evaluation import confusion_figure
from nnlab.modelio import MAX_BYTES, ModelLoadError
from nnlab.runs import RunStore
from nnlab.ui.format import run_label
from nnlab.ui.links import BUILD, link
from nnlab.ui.models import finished_runs, pick_run, run_model
from nnlab.ui.services import get_store

st.set_page_config(page_title="Evaluate · NN Lab", page_icon="🧠", layout="wide")


@st.cache_data(max_entries=3, show_spinner=False)
def upload_predictions(digest: str, _data: bytes) -> np.ndarray:
    """Test predictions of an uploaded model, computed once per file (keyed by its SHA-256)."""
    return ev.predict_test(ev.load_uploaded_model(_data))


def gallery(x: np.ndarray, indices, captions: list[str], limit: int = 48) -> None:
    indices = list(indices)[:limit]
    if not indices:
        st.info("No test images here.")
        return
    st.image([ev.upscale(x[i], 3) for i in indices], caption=captions[:limit], width=84)


@st.fragment  # its widgets rerun only this section
def confusion_section(probs: np.ndarray, x: np.ndarray, y: np.ndarray) -> None:
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
        event = st.plotly_chart(
            fig, key="eval_cm", on_select="rerun", selection_mode="points", config={"displayModeBar": False}
        )
        try:
            points = list(event["selection"]["points"]) if event else []
        except (KeyError, TypeError):
            points = []
        if points:
            cell = (int(points[0]["y"]), int(points[0]["x"]))
            if cell != st.session_state.get("eval_last_click"):
                st.session_state["eval_last_click"] = cell
                st.session_state["eval_true"], st.session_state["eval_pred"] = cell
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
        gallery(x, order, [f"#{i}: {probs[i, p]:.0%} sure" for i in order])


def report_section(probs: np.ndarray, y: np.ndarray):
    table = ev.per_class_report(y, probs.argmax(axis=1))
    # Every row shown (Streamlit's rows are 35 px high, plus the header and a 3 px border); the index
    # column wide enough for "macro avg".
    st.dataframe(
        table.style.format({"precision": "{:.4f}", "recall": "{:.4f}", "f1": "{:.4f}"}),
        width="content",
        height=35 * (len(table) + 1) + 3,
        column_config={"_index": st.column_config.TextColumn("digit", width=110)},
    )
    st.caption(
        "Precision: of the images called this digit, the share that were; recall: of the images "
        "of this digit, "
        "the share found; F1: their harmonic mean; support: test images of the digit. The macro "
        "average weighs every digit alike."
    )
    return table


@st.fragment  # its widgets rerun only this section
def mistakes_section(probs: np.ndarray, x: np.ndarray, y: np.ndarray) -> None:
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
    captions = [f"true {r.true}, said {r.predicted}, {r.probability:.0%} sure" for r in table.itertuples()]
    gallery(x, table["index"], captions, limit=k)


@st.fragment  # its widgets rerun only this section
def compare_section(store: RunStore, runs: list, current) -> None:
    by_id = {r.id: r for r in runs}
    default = [current.id] + [r.id for r in runs if r.id != current.id][:1]
    chosen = st.multiselect(
        "Runs to compare",
        list(by_id),
        default=default,
        format_func=lambda i: run_label(by_id[i]),
        key="eval_compare",
    )
    if not chosen:
        st.info("Choose runs to compare.")
        return
    picked = [by_id[i] for i in chosen]
    names = [r.name for r in picked]
    histories = {
        (r.name if names.count(r.name) == 1 else f"{r.name} [{r.id[:6]}]"): store.metrics(r.id, "epoch")
        for r in picked
    }
    a, b = st.columns(2)
    a.plotly_chart(training_figs.runs_figure(histories, "loss", validation=True), key="eval_curves_loss")
    b.plotly_chart(training_figs.runs_figure(histories, "accuracy", validation=True), key="eval_curves_acc")
    table = ev.compare_runs(picked)
    st.dataframe(
        table.style.format(
            {
                "test accuracy": "{:.2%}",
                "test loss": "{:.4f}",
                "training time (s)": "{:.1f}",
                "parameters": "{:,}",
            },
            na_rep="-",
        ),
        hide_index=True,
    )
    st.caption("Besides the results, the table shows only the settings in which the chosen runs differ.")


def upload_source():
    data_file = st.file_uploader(
        "A Keras 3 model (.keras) taking 28x28 images and giving 10 digit scores",
        type=["keras"],
        max_upload_size=MAX_BYTES // 1_000_000,
        key="eval_upload",
    )
    if data_file is None:
        st.info(
            "Upload a `.keras` file to evaluate it on the MNIST test set. It is loaded in Keras "
            "safe mode (no code runs)."
        )
        return None
    data = data_file.getvalue()
    try:
        with st.spinner("Loading the model and classifying the 10,000 test images..."):
            return upload_predictions(hashlib.sha256(data).hexdigest(), data)
    except ModelLoadError as exc:
        st.error(f"This model cannot be evaluated: {exc}")
        return None


st.title("Evaluate")
store = get_store()  # one object per root, shared: not reopened on every rerun
runs = finished_runs(store)
source = st.radio(
    "Evaluate",
    ["A trained run", "An uploaded model"],
    horizontal=True,
    key="eval_source",
    label_visibility="collapsed",
)

run = None
if source == "A trained run":
    if not runs:
        st.info("No finished training yet. Train a network on the Build & Train page, then come back here.")
        link(BUILD, "Build & Train a network")
        st.stop()
    run = pick_run(runs, "eval_run")
    try:
        probs = ev.load_cached_predictions(store.run_dir(run.id))
        if probs is None:
            with st.spinner("Classifying the 10,000 test images (once per run)..."):
                probs = ev.cached_test_predictions(store.run_dir(run.id), lambda: run_model(store, run.id))
    except (ModelLoadError, OSError) as exc:
        st.error(f"The model of this run cannot be read: {exc}")
        st.stop()
else:
    probs = upload_source()
    if probs is None:
        st.stop()

x_test, y_test = ev.mnist_test_set()
accuracy, loss = ev.accuracy_and_loss(probs, y_test)
m1, m2, m3, m4 = st.columns(4)
m1.metric("Test accuracy", f"{accuracy:.2%}")
m2.metric("Test loss", f"{loss:.4f}")
m3.metric("Mistakes", f"{int((probs.argmax(1) != y_test).sum()):,} of {len(y_test):,}")
if run is not None:
    m4.metric("Parameters", f"{run.n_params:,}")

tabs = st.tabs(
    ["Confusion matrix", "Per-digit metrics", "Confident mistakes"]
    + (["Compare runs", "Download"] if run else [])
)
with tabs[0]:
    confusion_section(probs, x_test, y_test)
with tabs[1]:
    report = report_section(probs, y_test)
with tabs[2]:
    st.caption(
        "The wrong answers the network was surest of: often badly written digits, sometimes wrong labels."
    )
    mistakes_section(probs, x_test, y_test)
if run is not None:
    with tabs[3]:
        compare_section(store, runs, run)
    with tabs[4]:
        safe = "".join(c if c.isalnum() or c in "-_" else "_" for c in run.name)[:60] or run.id
        # Callables: the files are read only when a button is clicked, not on every rerun.
        model_path = store.model_path(run.id)
        st.download_button(
            "Trained model (.keras)",
            model_path.read_bytes,
            file_name=f"{safe}.keras",
            mime="application/octet-stream",
            on_click="ignore",
            key="eval_dl_model",
        )
        st.download_button(
            "Training metrics per epoch (CSV)",
            lambda: store.metrics(run.id, "epoch").to_csv(index=False),
            file_name=f"{safe}-epochs.csv",
            mime="text/csv",
            on_click="ignore",
            key="eval_dl_epochs",
        )
        st.download_button(
            "Per-digit test metrics (CSV)",
            report.to_csv(),
            file_name=f"{safe}-test-metrics.csv",
            mime="text/csv",
            on_click="ignore",
            key="eval_dl_report",
        )
