"""Evaluate: how a trained network does on the 10,000 test images, and where it goes wrong."""

from __future__ import annotations

import numpy as np
import streamlit as st

from nnlab import evaluation as ev
from nnlab.modelio import ModelLoadError
from nnlab.training import TrainConfig
from nnlab.ui.app_navigation import run_through_app
from nnlab.ui.code_export import code_panel
from nnlab.ui.compare import compare_section
from nnlab.ui.links import BUILD, link
from nnlab.ui.mistakes import confusion_section, mistakes_section
from nnlab.ui.models import explain_link, finished_runs, pick_run, run_model
from nnlab.ui.services import get_store
from nnlab.ui.upload import upload_source

run_through_app()  # a page opened by its own address runs through app.py's navigation
st.set_page_config(page_title="Evaluate · NN Lab", page_icon="🧠", layout="wide")


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


st.title("Evaluate")
store = get_store()  # one object per root, shared: not reopened on every rerun
runs = finished_runs(store)
explain_link(store, runs)  # a link to a run this visitor cannot see is answered in words
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
        probs = ev.load_cached_predictions(store, run.id)
        if probs is None:
            with st.spinner("Classifying the 10,000 test images (once per run)..."):
                probs = ev.cached_test_predictions(store, run.id, lambda: run_model(store, run.id))
    except (ModelLoadError, OSError) as exc:
        st.error(f"The model of this run cannot be read: {exc}")
        st.stop()
else:
    probs = upload_source()
    if probs is None:
        st.stop()

broken = ev.broken_outputs(probs)
if broken:
    st.warning(broken, icon="⚠️")
    st.stop()
x_test, y_test = ev.mnist_test_set()
accuracy, loss = ev.accuracy_and_loss(probs, y_test)
m1, m2, m3, m4 = st.columns(4)
m1.metric("Test accuracy", f"{accuracy:.2%}")
m2.metric("Test loss", f"{loss:.4f}")
m3.metric(f"Mistakes (of {len(y_test):,})", f"{int((probs.argmax(1) != y_test).sum()):,}")
if run is not None:
    m4.metric("Parameters", f"{run.n_params:,}")

tabs = st.tabs(
    ["Confusion matrix", "Per-digit metrics", "Confident mistakes"]
    + (["Compare runs", "Download and code"] if run else [])
)
with tabs[0]:
    confusion_section(probs, x_test, y_test, run.id if run else None)
with tabs[1]:
    report = report_section(probs, y_test)
with tabs[2]:
    st.caption(
        "The wrong answers the network was surest of: often badly written digits, sometimes wrong labels."
    )
    mistakes_section(probs, x_test, y_test, run.id if run else None)
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
        st.subheader("This network as code", divider="gray")
        code_panel(
            run.spec, TrainConfig.from_dict(run.config or {}), source=f"run {run.id}", key="eval_export"
        )
