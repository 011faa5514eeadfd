"""The trained runs the Evaluate, Inspect and Draw pages work on: listing, picking and loading them.

A run's model is loaded once per process (``st.cache_resource``), whichever of the three pages asks
first, and shared by every session; the key is the model file's path and mtime, so a rewritten file
is loaded afresh (with PostgreSQL the path is this machine's copy, named after the model's SHA-256:
a re-trained model is a new file). TensorFlow is imported only when a model is actually loaded.
"""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any

import numpy as np
import streamlit as st

from nnlab import evaluation as ev
from nnlab.limits import operator_runs_shown
from nnlab.modelio import ModelLoadError
from nnlab.runs import Run, RunNotFound, RunStore
from nnlab.ui.access import NO_MODEL, NOT_YOURS, can_see
from nnlab.ui.format import run_label
from nnlab.ui.links import BUILD, SELECTED, link
from nnlab.ui.visitor import visitor_id


@st.cache_resource(max_entries=4, show_spinner=False)
def _load(path: str, mtime: float) -> Any:
    from nnlab.modelio import load_model_safely
    from nnlab.predict import predict_digit

    model = load_model_safely(Path(path))
    with contextlib.suppress(ValueError):  # broken (NaN) outputs: said where the page predicts
        predict_digit(model, np.zeros((28, 28), np.float32))  # builds the predict function once, here
    return model


def run_model(store: RunStore, run_id: str) -> Any:
    """A run's trained model (Keras safe mode, shapes checked). Raises ModelLoadError or OSError."""
    path = store.model_path(run_id)
    return _load(str(path), path.stat().st_mtime)


def run_model_or_stop(
    store: RunStore, run_id: str, failure: str, spinner: str = "Loading the model..."
) -> Any:
    """``run_model``, or the reason in an ``st.error`` (prefixed by ``failure``) and the page stops."""
    try:
        with st.spinner(spinner):
            return run_model(store, run_id)
    except (ModelLoadError, OSError) as exc:
        st.error(f"{failure}: {exc}")
        st.stop()


def finished_runs(store: RunStore) -> list[Run]:
    """The runs this visitor may see (``access.py``) that have a model to look at, newest first."""
    return ev.evaluable_runs(store, visitor_id(), include_unowned=operator_runs_shown())


def explain_link(store: RunStore, runs: list[Run]) -> None:
    """A ``?run=`` link to a run not among ``runs`` is answered in words (not silently replaced by
    another run) and dropped from the address."""
    linked = st.query_params.get("run")
    if not linked or linked in {r.id for r in runs}:
        return
    try:
        run = store.get(linked)
    except RunNotFound:  # not even a well-formed id
        run = None
    st.warning(NO_MODEL if can_see(run, visitor_id()) else NOT_YOURS, icon="🔒")
    del st.query_params["run"]


def finished_runs_or_stop(store: RunStore, message: str) -> list[Run]:
    """``finished_runs``; with none, ``message``, a link to Build & Train, and the page stops there."""
    runs = finished_runs(store)
    explain_link(store, runs)
    if not runs:
        st.info(message)
        link(BUILD, "Build & Train a network")
        st.stop()
    return runs


def pick_run(
    runs: list[Run],
    key: str,
    label: str = "Run",
    *,
    default: Run | None = None,
    remembered: bool = True,
    container: Any = st,
    help: str | None = None,
) -> Run:
    """A select box of ``runs``; the choice becomes the run the other pages open on.

    It starts on the run a link names (``?run=``, once per link), else keeps the current choice,
    else (with ``remembered``) the run last looked at on another page, else ``default`` or the newest.
    """
    ids = [r.id for r in runs]
    by_id = {r.id: r for r in runs}
    linked = st.query_params.get("run")
    if linked in ids and st.session_state.get(f"{key}_linked") != linked:
        st.session_state[f"{key}_linked"] = linked
        st.session_state[key] = linked
    elif st.session_state.get(key) not in ids:
        last = st.session_state.get(SELECTED)
        st.session_state[key] = last if remembered and last in ids else (default or runs[0]).id
    run_id = container.selectbox(label, ids, format_func=lambda i: run_label(by_id[i]), key=key, help=help)
    st.session_state[SELECTED] = run_id
    return by_id[run_id]
