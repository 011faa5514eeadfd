"""NN Lab's entry point: the navigation between pages, and the home page.

The home page says what the lab is, shows the data at a glance, names the pages (the sidebar links
them) and lists this visitor's runs. Every page runs below this script, so the visitor id is kept in
the URL here once.
"""

from __future__ import annotations

import time

import streamlit as st

from nnlab import data
from nnlab.figures.data import digit_counts_svg
from nnlab.figures.style import png_uri, svg_uri
from nnlab.runs import StoreError
from nnlab.ui.access import visible_runs
from nnlab.ui.app_navigation import through_app
from nnlab.ui.class_mode import hidden_page, visible_pages
from nnlab.ui.format import format_seconds, plain_text, run_progress, status_text
from nnlab.ui.hyperparams import keep_settings
from nnlab.ui.links import PAGES, pages_in_words
from nnlab.ui.services import (
    get_runner,
    get_store,
    start_background_dispatch,
    store_problems_in_words,
    tune_web_server,
)
from nnlab.ui.visitor import visitor_id
from nnlab.ui.workers import workers_caption


@st.cache_resource(show_spinner=False)
def _dataset_glance():
    """The data at a glance, made once per server: each new visitor's home page only sends it (one
    SVG picture of the first training image of each digit over the digits' counts: no encoding, no
    chart built or loaded), as the address of a Markdown image."""
    (x_train, y_train), (x_test, y_test) = data.load_mnist()
    firsts = [png_uri(x_train[int((y_train == d).argmax())]) for d in range(10)]
    counts_train = data.class_counts(y_train)
    glance = svg_uri(digit_counts_svg(counts_train, pictures=firsts))
    return int(counts_train.sum()), int(data.class_counts(y_test).sum()), glance


# A new visitor's home page is made of text only (titles, Markdown, a Markdown picture, captions):
# Streamlit's first scripts draw those. An image, a page link, a table or HTML is drawn by code that
# Streamlit fetches when the first one arrives, and React shows the page only once it is there: 0.1 s
# more for a new visitor for each such kind (measured, issue 13). The sidebar's navigation links the
# pages.
def home() -> None:
    """The home page."""
    st.title("🧠 NN Lab")
    st.markdown(
        "Pick a neural network, train it on the MNIST handwritten digits while the charts move, look inside "
        "it, and draw digits for it to read. Everything runs here, on the bundled data. Open the pages from "
        "the sidebar on the left (**»** at the top left when it is closed)."
    )
    n_train, n_test, glance = _dataset_glance()
    left, right = st.columns([2, 3])
    with left:
        st.subheader("The data: MNIST")
        st.markdown(
            f"**{n_train:,}** training and **{n_test:,}** test images of handwritten "
            "digits, 28 × 28 grey pixels each, labelled 0-9 (LeCun, Cortes & Burges; CC BY-SA 3.0).\n\n"
            f"![MNIST digits and their counts]({glance})"
        )
        st.caption("The first training image of each digit, and how many there are of each")
    with right:
        st.subheader("The pages")
        st.markdown(pages_in_words(shown))  # the navigation's pages, read once per run below
    st.subheader("Your runs")
    _runs_table()


def _runs_table() -> None:
    """This visitor's runs; the table refreshes itself every 2 s only while one of them is queued or
    running (polling an unchanging table cost every open home page a rerun every 2 s, issue 13)."""
    with store_problems_in_words():  # a full disk stops the queue, not the list of runs
        get_runner().dispatch()  # start queued runs whose turn has come; mark dead ones failed
    store = get_store()
    runs = visible_runs(store, visitor_id())  # this visitor's (and the operator's, where shown)
    active = {r.id for r in runs if r.is_active}

    @st.fragment(run_every=2.0 if active else None)
    def table() -> None:
        now = runs
        if active:
            with store_problems_in_words():
                get_runner().dispatch()
            now = visible_runs(store, visitor_id())
        workers_caption(store)
        _draw_runs(now)
        if active and not active & {r.id for r in now if r.is_active}:
            st.rerun()  # all ended: draw the page once more, without polling

    table()


def _draw_runs(runs: list) -> None:
    if not runs:
        st.info(
            "No runs yet. Start one on the Build & Train page, or "
            '`python -m nnlab train --preset "MLP 784-128-10"` in a terminal.'
        )
        return
    rows = [
        {
            "name": r.name,
            "status": status_text(r),
            "test accuracy": None if r.test_accuracy is None else round(100 * r.test_accuracy, 2),
            "time": format_seconds(r.duration),
            "parameters": r.n_params,
            "created": time.strftime("%Y-%m-%d %H:%M", time.localtime(r.created)),
            "id": r.id,
            "by": "you" if r.owner else "the operator (an example)",
        }
        for r in runs
    ]
    columns = {
        "test accuracy": st.column_config.NumberColumn("test accuracy (%)", format="%.2f"),
        "parameters": st.column_config.NumberColumn(format="%d"),
    }
    st.dataframe(rows, hide_index=True, width="stretch", column_config=columns)
    for r in runs:
        if r.status == "running" and (r.progress or {}).get("epochs"):
            st.progress(run_progress(r).fraction, text=f"{plain_text(r.name)}: {status_text(r)}")


st.set_page_config(page_title="NN Lab", page_icon="🧠", layout="wide")
tune_web_server()  # once per server: replies leave at once, a run's end leaves Keras alone
# Every page: keep this visitor's id in the URL (survives refresh, page switches, new tabs); their
# pages are all of them, less those their class hides (the navigation's, and the home page's list).
shown = visible_pages(visitor_id())
navigation = st.navigation(
    [st.Page(home, title="Home", icon="🏠", default=True)]
    + [st.Page(p.path, title=p.title, icon=p.icon, url_path=p.url_path) for p in shown]
    + [  # a hidden page's address says that the class hides it
        st.Page(hidden_page(p), title=p.title, url_path=p.url_path, visibility="hidden")
        for p in PAGES
        if p not in shown
    ]
)
try:
    get_store()  # every page needs the run store: a damaged one is explained here, once, in words
    start_background_dispatch()  # once per server: the queue moves on even when no page is open
except StoreError as exc:
    st.error(str(exc), icon="🛑")
    st.stop()
keep_settings()  # Build & Train's settings survive a visit to another page
with store_problems_in_words(), through_app():  # damaged, full or read-only while a page reads or writes
    navigation.run()
