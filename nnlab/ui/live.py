"""Watching a run: queue position, progress, live charts, Stop, and the result when it ends.

The training runs in the runner's worker process and writes to the run store; this view only
polls the store. What moves (queue place or progress, Stop, the charts) is an ``st.fragment`` that
re-runs itself every second while the run is active, so the charts refresh without re-running the
page or blocking its other widgets, and it survives clicks, refreshes, page switches and second
tabs; what changes about once an epoch (the learning-rate chart, the first layer's newest snapshot)
is a fragment of its own, looked at every 10 seconds. What changes only with the run's status (its
name, the results) is drawn by the page: when the status changes the fragment triggers one
full rerun, so that all of it (and the Train button, the list of runs) sees the new state. Every
watcher of a run shares one history of its metrics, one copy of each chart and, within a moment, one
read of the store (``live_metrics.py``): a refresh costs the server little (issue 13).
"""

from __future__ import annotations

from collections.abc import Callable

import streamlit as st

from nnlab.runner import Runner, WorkerPool
from nnlab.runs import Run, RunStore
from nnlab.ui.format import STATUS_LABELS, format_seconds, plain_error, plain_text, run_progress
from nnlab.ui.links import result_links
from nnlab.ui.live_metrics import LiveMetrics
from nnlab.ui.replay_view import live_kernels
from nnlab.ui.services import store_problems_in_words

REFRESH_SECONDS = 1.0
# While a run that was just started has no chart point yet (a warm worker's first batch comes within
# about a second of the Train click), the view looks 4 times a second; then once a second again.
STARTING_REFRESH_SECONDS = 0.25
# What changes about once an epoch (the learning rate; the first layer's newest snapshot, taken at 0.1
# and 0.5 of the first epoch, then after each epoch) is looked at every 10 seconds, in a fragment of
# its own: redrawing it every second cost each watcher as much as its progress, and each look costs
# about what a second of the live part does (a fragment's rerun is most of it; issue 13).
SLOW_REFRESH_SECONDS = 10.0


@st.cache_resource(max_entries=256, show_spinner=False)
def _history(run_id: str) -> LiveMetrics:
    """The run's history, one for every session watching it (read incrementally; see ``live_metrics.py``).

    Room for a class of 100 each watching a run of their own, and then some: a history pushed out is
    read again from the start at its next refresh (a few hundred kB each at most)."""
    return LiveMetrics(run_id)


def _charts(store: RunStore, run: Run) -> None:
    charts = _history(run.id).charts(store, run, read=not run.is_active)  # a live view's _read read it
    if charts is None:
        # Empty axes would show made-up ranges (loss -1..4, accuracy -100 %..400 %): say what happens instead.
        if run.is_active:
            st.info(
                "Starting: loading TensorFlow and the data… the loss and accuracy charts appear "
                "with the first batches "
                "(a second when a warm worker takes the run, 10-20 seconds when one has to start).",
                icon="⏳",
            )
        else:
            st.caption("This run recorded no loss or accuracy to chart.")
        return
    with st.container(horizontal=True):  # side by side as two columns look, in one block sent, not three
        for name, fig in (("loss", charts.loss), ("acc", charts.accuracy)):
            st.plotly_chart(fig, key=f"chart_{name}_{run.id}", width="stretch")


def _slow_parts(store: RunStore, run: Run) -> None:
    """What changes about once an epoch: the learning-rate chart and the first layer's newest snapshot."""
    charts = _history(run.id).charts(store, run, read=not run.is_active)  # the live part reads each second
    if charts is not None:
        with st.expander("Learning rate", expanded=run.config.get("schedule", "constant") != "constant"):
            st.plotly_chart(charts.lr, key=f"chart_lr_{run.id}", width="stretch")
    live_kernels(store, run)  # the first layer's newest snapshot (learning replayed)


def _read(runner: Runner, run_id: str) -> tuple[Run | None, int | None]:
    """The run as it stands, and its place in the queue while it waits.

    A waiting run's view dispatches only when a training slot is free (a worker that ends starts the
    next run itself; this is the backstop for one that died): every watcher of a queued run taking
    the queue's write lock every second cost the server and delayed the workers' writes (issue 13).
    A running run's view does not dispatch: reading it already notices a dead worker.
    """
    store = runner.store
    run = _history(run_id).read(store)  # the run and its new chart points in one read
    if run is None or run.status != "queued" or run.stop_requested:
        return run, None
    running = store.list(statuses=("running",))  # marks the runs of dead workers failed first
    if len(running) < runner.max_concurrent:
        with store_problems_in_words():  # a full disk: said, and the run is still shown
            if runner.dispatch():
                run = store.get(run_id)  # it, or a run ahead of it, has just started
    position = store.queue_position(run_id) if run is not None and run.status == "queued" else None
    return run, position


def _eta(runner: Runner, position: int | None) -> str:
    """' (about 2:30)' from recent trainings and the slots that train (Celery: its connected workers)."""
    from nnlab.runs.eta import estimated_wait

    if not position:
        return ""
    store = runner.store
    typical, slots = _queue_pace(f"{store.root}|{store.database_url}|{runner.max_concurrent}", runner)
    seconds = estimated_wait(position, slots, typical)
    return f" (about {format_seconds(seconds)})" if seconds is not None else ""


@st.cache_data(ttl=5.0, show_spinner=False)
def _queue_pace(key: str, _runner: Runner) -> tuple[float | None, int]:
    """The recent training time and the slots that train, read at most every 5 s per store: every
    watcher of a waiting run refreshes each second, and they all share these two reads."""
    from nnlab.runs.eta import typical_duration
    from nnlab.runs.heartbeats import worker_counts

    slots = _runner.max_concurrent
    if isinstance(_runner.executor, WorkerPool):
        slots = min(slots, max(1, worker_counts(_runner.store).connected))
    return typical_duration(_runner.store), slots


def _header(run: Run, visitor: str | None, on_edit: Callable[[Run], None] | None) -> None:
    """What changes only with the run's status: drawn by the page, outside the refreshing fragment.

    The fragment reruns the whole page when the status changes, so these stay true; a refresh then
    resends only the parts that move (issue 13: every element of a fragment is rebuilt and sent to
    every watcher each second).
    """
    st.markdown(f"#### {plain_text(run.name)}")  # a name is shown as typed, never as Markdown
    st.caption(f"{STATUS_LABELS.get(run.status, run.status)} · {run.n_params:,} parameters · {run.id}")
    if run.status in ("completed", "stopped"):
        _results(run, visitor)
    elif run.status == "failed":
        st.error(plain_error(run.error), icon="❌")
    if on_edit is not None and not run.is_active:
        if st.button(
            "Edit this network / train it again",
            key=f"edit_{run.id}",
            icon="✏️",
            on_click=on_edit,
            args=(run,),
            help="Load this run's layers and training settings into the editor above, to change "
            "them or train again.",
        ):
            st.rerun()  # the whole page: the editor above shows the loaded network


def _moving(runner: Runner, run: Run, position: int | None, can_stop: bool) -> None:
    """What moves every second while a run waits or trains: its queue place or progress, Stop (in the
    fragment, a click reruns only the fragment: it answers at once), and its charts.

    Everything comes from one read of the run (and of its queue position while it waits), so the
    status line and the message never disagree.
    """
    if run.status == "queued":
        eta = _eta(runner, position)
        waiting = f"Waiting, position {position} in the queue{eta}: it starts when a training slot is free."
        st.info(waiting if position else "Waiting to start…", icon="⏳")
    elif run.status == "running":
        _progress(run)
    if run.is_active and can_stop:
        _stop_button(runner, run)
    if run.status != "queued":
        _charts(runner.store, run)


def _progress(run: Run) -> None:
    """Progress bar, pace and times of a running run: the same elements on every refresh, so nothing jumps."""
    progress = run_progress(run)
    if not run.progress:
        text = "Starting: loading TensorFlow and the data…"
    elif progress.fraction >= 1 or run.stop_requested:
        text = "Training done: measuring accuracy on the 10,000 test images and saving the model…"
    else:
        text = progress.text
    st.progress(progress.fraction, text=text)
    sps = progress.samples_per_sec
    with st.container(horizontal=True):  # a row as st.columns draws it, in one block sent instead of four
        st.metric("Samples per second", f"{sps:,.0f}" if sps else "–")
        st.metric("Elapsed", format_seconds(progress.elapsed if run.progress else run.duration))
        st.metric("Time left (estimate)", format_seconds(progress.remaining))


def _stop_button(runner: Runner, run: Run) -> None:
    if run.stop_requested:
        st.caption("Stopping… the model trained so far is kept.")
        return
    st.button(
        "Stop",
        key=f"stop_{run.id}",
        icon="⏹️",
        on_click=_stop,
        args=(runner, run.id),
        help="End the training now; the model trained so far is kept and can be evaluated.",
    )


def _stop(runner: Runner, run_id: str) -> None:
    runner.stop(run_id)
    _history(run_id).forget_read()  # the view then says "Stopping…" at once, not after a shared read


def _results(run: Run, visitor: str | None) -> None:
    if run.status == "stopped" and run.test_accuracy is None:  # stopped in the queue or before training
        st.info("Stopped before it trained: there is no model to evaluate.", icon="⏹️")
        return
    if run.status == "stopped":
        st.warning("Stopped before the end: the results below are for the model as it stood.", icon="⏹️")
    cols = st.columns(3)
    cols[0].metric("Test accuracy", f"{run.test_accuracy:.2%}" if run.test_accuracy is not None else "–")
    cols[1].metric("Test loss", f"{run.test_loss:.4f}" if run.test_loss is not None else "–")
    cols[2].metric("Time taken", format_seconds(run.duration))
    result_links(run.id, visitor)


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
    _header(first, visitor, on_edit)
    if not first.is_active:
        _moving(runner, first, None, can_stop)  # drawn once: nothing moves any more
        _slow_parts(store, first)
        return first
    starting = _starting(first)

    @st.fragment(run_every=STARTING_REFRESH_SECONDS if starting else REFRESH_SECONDS)
    def live() -> None:
        run, position = _read(runner, run_id)
        if run is None:
            st.warning("That run no longer exists.")
            return
        _moving(runner, run, position, can_stop)
        if run.status != first.status or starting and not _starting(run):
            # once per change: the whole page (the header above, run list, Train button) sees the new
            # state, and the view polls at its usual pace once the first points are drawn; polling
            # stops at the end
            st.rerun()

    @st.fragment(run_every=SLOW_REFRESH_SECONDS)
    def slow() -> None:
        _slow_parts(store, _history(run_id).run or first)  # as the live part read it last (each second)

    live()
    if first.status != "queued":  # a queued run has none of these yet: its start reruns the page
        slow()
    return first


def _starting(run: Run) -> bool:
    """A run whose training has begun but recorded no score yet (no point to chart; the first is the
    untrained network's, at batch 0)."""
    return run.status == "running" and "loss" not in (run.progress or {})


def newest_active(store: RunStore, owner: str) -> Run | None:
    """This visitor's newest queued or running run (to re-attach to), if any."""
    runs = store.list(owner=owner, include_unowned=False, statuses=("queued", "running"))
    return runs[0] if runs else None
