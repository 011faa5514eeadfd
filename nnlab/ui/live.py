"""Watching a run: queue position, progress, live charts, Stop, and the result when it ends.

The training runs in the runner's worker process and writes to the run store; this view only
polls the store. It is an ``st.fragment`` that re-runs itself every second while the run is
active, so the charts refresh without re-running the page or blocking its other widgets, and it
survives clicks, refreshes, page switches and second tabs. When the run ends it triggers one full
rerun so that the rest of the page (the Train button, the list of runs) sees the new state.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import streamlit as st

from nnlab import charts
from nnlab.runner import Runner
from nnlab.runs import Run, RunStore, default_root
from nnlab.ui.models import SELECTED, link

REFRESH_SECONDS = 1.0
RESULT_PAGES = (
    ("pages/2_Evaluate.py", "Evaluate", "📊", "Test-set accuracy per digit, confusion matrix, mistakes."),
    ("pages/3_Inspect.py", "Inspect", "🔬", "Weights, filters and activations of this network."),
    ("pages/4_Draw.py", "Draw", "✏️", "Draw a digit and see what this network thinks."),
)
STATUS_LABELS = {
    "queued": "⏳ waiting",
    "running": "🏃 training",
    "completed": "✅ completed",
    "stopped": "⏹️ stopped",
    "failed": "❌ failed",
}


@st.cache_resource(show_spinner=False)
def _store_for(root: str) -> RunStore:
    return RunStore(root)


@st.cache_resource(show_spinner=False)
def _runner_for(root: str, max_concurrent: int | None) -> Runner:
    return Runner(_store_for(root), max_concurrent=max_concurrent)


def get_store() -> RunStore:
    """The run store of ``$NNLAB_HOME`` (one object per root, shared by sessions)."""
    return _store_for(str(default_root()))


def get_runner(max_concurrent: int | None = None) -> Runner:
    """The runner for ``get_store()``; ``max_concurrent`` None means its default ($NNLAB_MAX_CONCURRENT or 1)."""
    store = get_store()
    return _runner_for(str(store.root), max_concurrent)


def format_seconds(seconds: float | None) -> str:
    """``75`` -> ``1:15``; ``3700`` -> ``1:01:40``; None -> ``–``."""
    if seconds is None or seconds != seconds or seconds < 0:
        return "–"
    seconds = int(round(seconds))
    h, rest = divmod(seconds, 3600)
    m, s = divmod(rest, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


def progress_numbers(run: Run) -> dict:
    """Fraction done, epoch/batch text, and the time left estimated from the pace so far."""
    p = run.progress or {}
    epochs = int(p.get("epochs") or run.config.get("epochs") or 1)
    steps = int(p.get("steps_per_epoch") or 0)
    epoch = int(p.get("epoch") or 0)
    batch = int(p.get("batch") or 0)
    elapsed = p.get("elapsed")
    if steps:
        # During epoch e (1-based) the batch count is the position inside it; after the epoch's
        # end event, batch == steps and epoch == e, which the same formula covers.
        done = max(0, epoch - 1) * steps + batch if epoch else 0
        fraction = min(1.0, done / (epochs * steps))
    else:
        fraction = 0.0
    remaining = None
    if fraction > 0 and elapsed:
        remaining = float(elapsed) * (1 - fraction) / fraction
    text = f"Epoch {max(epoch, 1) if steps else 0}/{epochs} · batch {batch}/{steps or '?'}"
    return {
        "fraction": fraction,
        "text": text,
        "elapsed": elapsed,
        "remaining": remaining,
        "samples_per_sec": p.get("samples_per_sec"),
    }


def plain_error(error: str | None) -> str:
    """A run's error in words: never a traceback (its last line says what went wrong)."""
    if not error:
        return "The training failed without a message."
    lines = [line.strip() for line in error.strip().splitlines() if line.strip()]
    if lines and lines[0].startswith("Traceback"):
        return lines[-1]
    return error.strip()


def _charts(store: RunStore, run: Run) -> None:
    batch_df = store.metrics(run.id, "batch")
    epoch_df = store.metrics(run.id, "epoch")
    if batch_df.empty and epoch_df.empty:
        # Empty axes would show made-up ranges (loss -1..4, accuracy -100 %..400 %): say what happens instead.
        if run.is_active:
            st.info(
                "Starting: loading TensorFlow and the data… the loss and accuracy charts appear with the first batches "
                "(this takes 10-20 seconds on a busy server).",
                icon="⏳",
            )
        else:
            st.caption("This run recorded no loss or accuracy to chart.")
        return
    steps = (run.progress or {}).get("steps_per_epoch")
    cols = st.columns(2)
    for col, metric in zip(cols, ("loss", "accuracy")):
        fig = charts.training_figure(batch_df, epoch_df, metric, steps_per_epoch=steps)
        with col:
            st.plotly_chart(
                fig, key=f"chart_{'acc' if metric == 'accuracy' else metric}_{run.id}", width="stretch"
            )
    with st.expander("Learning rate", expanded=run.config.get("schedule", "constant") != "constant"):
        st.plotly_chart(charts.lr_figure(epoch_df), key=f"chart_lr_{run.id}", width="stretch")


def result_links(run: Run, visitor: str | None = None) -> None:
    """Links to the other pages with this run selected."""
    params = {"run": run.id, **({"visitor": visitor} if visitor else {})}
    st.session_state[SELECTED] = run.id  # the pages that remember a selection start from this run
    cols = st.columns(len(RESULT_PAGES))
    for col, (page, label, icon, help_text) in zip(cols, RESULT_PAGES):
        with col:
            link(page, f"{label} this run", icon, query_params=params, help=help_text)


def _body(
    store: RunStore,
    runner: Runner,
    run: Run,
    visitor: str | None,
    can_stop: bool,
    on_edit: Callable[[Run], None] | None = None,
) -> None:
    # Everything below comes from this one read of the run (the queue position is asked only of a
    # run this read saw queued), so the status line and the message never disagree.
    st.markdown(
        f"#### {run.name}  \n{STATUS_LABELS.get(run.status, run.status)} · {run.n_params:,} parameters · `{run.id}`"
    )
    if run.status == "queued":
        position = store.queue_position(run.id) if not run.stop_requested else None
        st.info(
            f"Waiting, position {position} in the queue: it starts when a training slot is free."
            if position
            else "Waiting to start…",
            icon="⏳",
        )
    elif run.status == "running":
        # The same elements on every refresh (only their values change), so nothing jumps.
        numbers = progress_numbers(run)
        if not run.progress:
            text = "Starting: loading TensorFlow and the data…"
        elif numbers["fraction"] >= 1 or run.stop_requested:
            text = "Training done: measuring accuracy on the 10,000 test images and saving the model…"
        else:
            text = numbers["text"]
        st.progress(numbers["fraction"], text=text)
        cols = st.columns(3)
        sps = numbers["samples_per_sec"]
        cols[0].metric("Samples per second", f"{sps:,.0f}" if sps else "–")
        cols[1].metric("Elapsed", format_seconds(numbers["elapsed"] if run.progress else run.duration))
        cols[2].metric("Time left (estimate)", format_seconds(numbers["remaining"]))
    if run.is_active and can_stop:
        if run.stop_requested:
            st.caption("Stopping… the model trained so far is kept.")
        else:
            st.button(
                "Stop",
                key=f"stop_{run.id}",
                icon="⏹️",
                on_click=runner.stop,
                args=(run.id,),
                help="End the training now; the model trained so far is kept and can be evaluated.",
            )
    if run.status in ("completed", "stopped"):
        if run.status == "stopped":
            st.warning("Stopped before the end: the results below are for the model as it stood.", icon="⏹️")
        cols = st.columns(3)
        cols[0].metric("Test accuracy", f"{run.test_accuracy:.2%}" if run.test_accuracy is not None else "–")
        cols[1].metric("Test loss", f"{run.test_loss:.4f}" if run.test_loss is not None else "–")
        cols[2].metric("Time taken", format_seconds(run.duration))
        result_links(run, visitor)
    elif run.status == "failed":
        st.error(plain_error(run.error), icon="❌")
    if on_edit is not None and not run.is_active:
        if st.button(
            "Edit this network / train it again",
            key=f"edit_{run.id}",
            icon="✏️",
            on_click=on_edit,
            args=(run,),
            help="Load this run's layers and training settings into the editor above, to change them or train again.",
        ):
            st.rerun()  # the whole page: the editor above shows the loaded network
    if run.status != "queued":
        _charts(store, run)


def watch_run(
    run_id: str,
    *,
    runner: Runner,
    visitor: str | None = None,
    can_stop: bool = True,
    on_edit: Callable[[Run], None] | None = None,
) -> Run | None:
    """Draw the live view of one run; refreshes itself every second while the run is active.

    ``on_edit(run)``, if given, is the callback of an "Edit this network" button on a finished run.
    """
    store = runner.store
    first = store.get(run_id)
    if first is None:
        st.warning("That run no longer exists.")
        return None

    @st.fragment(run_every=REFRESH_SECONDS if first.is_active else None)
    def live() -> None:
        if first.is_active:
            runner.dispatch()  # starts queued runs when a slot is free (cheap when none is)
        run = store.get(run_id)
        if run is None:
            st.warning("That run no longer exists.")
            return
        _body(store, runner, run, visitor, can_stop, on_edit)
        if first.is_active and run.status != first.status:
            st.rerun()  # once per change: the whole page (run list, Train button) sees the new status; polling stops at the end

    live()
    return first


def newest_active(store: RunStore, owner: str) -> Run | None:
    """This visitor's newest queued or running run (to re-attach to), if any."""
    runs = store.list(owner=owner, include_unowned=False, statuses=("queued", "running"))
    return runs[0] if runs else None


def run_label(run: Run) -> str:
    when = time.strftime("%H:%M:%S", time.localtime(run.created))
    extra = f" · {run.test_accuracy:.1%}" if run.test_accuracy is not None else ""
    return f"{run.name} ({STATUS_LABELS.get(run.status, run.status)}{extra}, {when})"
