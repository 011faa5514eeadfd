"""NN Lab's entry point: the navigation between pages, and the home page.

The home page says what the lab is, shows the data at a glance, links the pages and lists this
visitor's runs. Every page runs below this script, so the visitor id is kept in the URL here once.
"""

from __future__ import annotations

import time

import streamlit as st

from nnlab import data
from nnlab.runs import StoreError
from nnlab.ui.live import get_runner, get_store, progress_numbers
from nnlab.ui.visitor import visitor_id


@st.cache_data(show_spinner=False)
def _dataset_glance():
    (x_train, y_train), (x_test, y_test) = data.load_mnist()
    firsts = [x_train[int((y_train == d).argmax())] for d in range(10)]
    return data.class_counts(y_train), data.class_counts(y_test), firsts


def _fmt_time(seconds: float | None) -> str:
    if seconds is None:
        return ""
    return f"{seconds:.0f} s" if seconds < 120 else f"{seconds / 60:.1f} min"


def _status_text(run) -> str:
    if run.status == "running":
        p = run.progress or {}
        if p.get("epochs"):
            return f"running: epoch {p.get('epoch', 1)}/{p['epochs']}, batch {p.get('batch', 0)}/{p.get('steps_per_epoch', '?')}"
        return "running: starting"
    if run.status == "queued":
        return "waiting in the queue"
    if run.status == "failed":
        return f"failed: {run.error or 'unknown error'}"
    return run.status


def home() -> None:
    """The home page."""
    st.title("🧠 NN Lab")
    st.markdown(
        "Pick a neural network, train it on the MNIST handwritten digits while the charts move, look inside "
        "it, and draw digits for it to read. Everything runs here, on the bundled data."
    )

    counts_train, counts_test, firsts = _dataset_glance()
    left, right = st.columns([2, 3])
    with left:
        st.subheader("The data: MNIST")
        st.markdown(
            f"**{counts_train.sum():,}** training and **{counts_test.sum():,}** test images of handwritten digits, "
            "28 × 28 grey pixels each, labelled 0-9 (LeCun, Cortes & Burges; CC BY-SA 3.0)."
        )
        st.image([img for img in firsts], width=48, caption=[str(d) for d in range(10)])
        st.bar_chart({"training images": counts_train}, height=180, x_label="digit", y_label="images")
    with right:
        st.subheader("The pages")
        st.page_link(
            "pages/1_Build_and_Train.py",
            label="**Build & Train**: compose a network, set its hyperparameters, watch it learn",
            icon="🏗️",
        )
        st.page_link(
            "pages/2_Evaluate.py",
            label="**Evaluate**: confusion matrix, per-class metrics, mistakes, compare runs",
            icon="📊",
        )
        st.page_link(
            "pages/3_Inspect.py", label="**Inspect**: kernels, feature maps, weights, saliency", icon="🔬"
        )
        st.page_link("pages/4_Draw.py", label="**Draw**: draw a digit and let your network read it", icon="✏️")
        st.page_link("pages/5_Data.py", label="**Data**: explore the MNIST images", icon="🖼️")
        st.page_link(
            "pages/6_From_Scratch.py",
            label="**From scratch**: a network in pure NumPy, next to Keras",
            icon="🧮",
        )

    st.subheader("Your runs")
    store = get_store()

    @st.fragment(run_every=2.0)
    def _runs_table() -> None:
        get_runner().dispatch()  # start queued runs whose turn has come; mark dead ones failed
        runs = store.list(owner=visitor_id())
        if not runs:
            st.info(
                'No runs yet. Start one on the Build & Train page, or `python -m nnlab train --preset "MLP 784-128-10"` in a terminal.'
            )
            return
        rows = [
            {
                "name": r.name,
                "status": _status_text(r),
                "test accuracy": None if r.test_accuracy is None else round(100 * r.test_accuracy, 2),
                "time": _fmt_time(r.duration),
                "parameters": r.n_params,
                "created": time.strftime("%Y-%m-%d %H:%M", time.localtime(r.created)),
                "id": r.id,
            }
            for r in runs
        ]
        st.dataframe(
            rows,
            hide_index=True,
            width="stretch",
            column_config={
                "test accuracy": st.column_config.NumberColumn("test accuracy (%)", format="%.2f"),
                "parameters": st.column_config.NumberColumn(format="%d"),
            },
        )
        for r in runs:
            if r.status == "running" and (r.progress or {}).get("epochs"):
                st.progress(progress_numbers(r)["fraction"], text=f"{r.name}: {_status_text(r)}")

    _runs_table()


PAGES = [
    st.Page(home, title="Home", icon="🏠", default=True),
    st.Page("pages/1_Build_and_Train.py", title="Build & Train", icon="🏗️", url_path="Build_and_Train"),
    st.Page("pages/2_Evaluate.py", title="Evaluate", icon="📊", url_path="Evaluate"),
    st.Page("pages/3_Inspect.py", title="Inspect", icon="🔬", url_path="Inspect"),
    st.Page("pages/4_Draw.py", title="Draw", icon="✏️", url_path="Draw"),
    st.Page("pages/5_Data.py", title="Data", icon="🖼️", url_path="Data"),
    st.Page("pages/6_From_Scratch.py", title="From scratch", icon="🧮", url_path="From_Scratch"),
]

st.set_page_config(page_title="NN Lab", page_icon="🧠", layout="wide")
visitor_id()  # every page: keep this visitor's id in the URL (survives refresh, page switches, new tabs)
navigation = st.navigation(PAGES)
try:
    get_store()  # every page needs the run store: a damaged one is explained here, once, in words
except StoreError as exc:
    st.error(f"{exc} The trained models stay safe in its runs/ folder.", icon="🛑")
    st.stop()
navigation.run()
