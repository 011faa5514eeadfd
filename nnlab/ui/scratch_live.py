"""The From-scratch page's live view: one visitor's NumPy training, and its Keras twin beside it.

An ``st.fragment`` polls the job's snapshot (and the twin's run in the store) every second while
either trains, and reruns the page once when both have ended.
"""

from __future__ import annotations

import streamlit as st

from nnlab import scratch
from nnlab.figures import scratch as figs
from nnlab.figures.training import runs_figure, training_figure
from nnlab.scratch.lessons import lessons
from nnlab.scratch.session import ScratchJob, Slot, Snapshot, keras_status, stop
from nnlab.ui.format import STATUS_WORDS, plain_error, plain_text
from nnlab.ui.services import get_runner

REFRESH_SECONDS = 1.0
GRADIENTS = (
    "The size of each layer's weight gradient. With sigmoid and several hidden layers the lines "
    "near the input "
    "sit orders of magnitude below the output's: those layers barely learn (vanishing gradients)."
)
WEIGHTS = (
    "Each square is one first-layer unit's 784 weights laid out as the image they multiply "
    "(red positive, blue negative): the stroke pattern that unit responds to."
)
DIVERGED = (
    "The loss became NaN or infinite: the training **diverged**. The steps were too large for these inputs: "
    "lower the learning rate, or scale the inputs to [0, 1]."
)


def live_view(slot: Slot) -> None:
    """Progress or results, the charts, and the Keras twin of the visitor's job (if any)."""
    job = slot.job
    if job is None:
        return
    run, _ = keras_status(slot, get_runner())
    active = job.running or (run is not None and run.is_active)

    @st.fragment(run_every=REFRESH_SECONDS if active else None)
    def view() -> None:
        snap = job.snapshot()
        epoch_df = figs.epoch_frame(snap.epochs)
        _status(slot, snap, job.config)
        _charts(snap, epoch_df, job)
        keras_run, keras_epochs = keras_status(slot, get_runner())  # once per refresh: two database reads
        _twin(slot, epoch_df, keras_run, keras_epochs)
        if active and not snap.running and not (keras_run is not None and keras_run.is_active):
            st.rerun()  # once: the page sees the end and polling stops

    view()


def _status(slot: Slot, snap: Snapshot, config: scratch.ScratchConfig) -> None:
    if snap.error:
        st.error(f"The training failed: {snap.error}")
    elif snap.end is None:
        text = "Starting…"
        if snap.start and snap.batches:
            last = snap.batches[-1]
            steps = snap.start.steps_per_epoch
            pace = f"{last.samples_per_sec:,.0f} samples/s"
            text = f"Epoch {last.epoch}/{config.epochs} · batch {last.batch}/{steps} · {pace}"
        st.progress(snap.fraction_done(config.epochs), text=text)
        if snap.stop_requested:
            st.caption("Stopping after this batch…")
        else:
            stop_help = "End the training after the current batch; the network keeps what it learned."
            st.button("Stop", icon="⏹️", key="fs_stop", on_click=stop, args=(slot, get_runner), help=stop_help)
    else:
        if snap.end.diverged:
            st.warning(DIVERGED, icon="💥")
        elif snap.end.stopped:
            st.warning("Stopped before the end: the results are for the network as it stood.", icon="⏹️")
        for message in lessons(config, snap.batches, snap.epochs, snap.end):
            st.warning(message, icon="💡")
        m = st.columns(3)
        m[0].metric("Test accuracy", f"{snap.end.test_accuracy:.2%}")
        m[1].metric("Test loss", f"{snap.end.test_loss:.4f}")
        m[2].metric("Training time", f"{snap.end.elapsed:.1f} s")


def _charts(snap: Snapshot, epoch_df, job: ScratchJob) -> None:
    steps = snap.start.steps_per_epoch if snap.start else None
    batch_df = figs.batch_frame(snap.batches)
    for col, metric in zip(st.columns(2), ("loss", "accuracy"), strict=True):
        fig = training_figure(batch_df, epoch_df, metric, steps_per_epoch=steps)
        col.plotly_chart(fig, width="stretch", key="fs_chart_loss" if metric == "loss" else "fs_chart_acc")
    cols = st.columns(2)
    with cols[0]:
        frame = figs.grad_norm_frame(snap.batches, steps)
        fig = figs.grad_norm_figure(frame, n_layers=len(job.config.hidden) + 1)
        st.plotly_chart(fig, width="stretch", key="fs_chart_grads")
        st.caption(GRADIENTS)
    net = job.net
    if net is not None and net.W[0].shape[0] == 784:
        images = scratch.first_layer_images(net, max_units=32)
        fig = figs.weights_figure(images, total_units=net.W[0].shape[1])
        cols[1].plotly_chart(fig, width="stretch", key="fs_chart_weights")
        cols[1].caption(WEIGHTS)


def _twin(slot: Slot, scratch_epochs, run, keras_epochs) -> None:
    """The Keras twin's status (``run``, from ``keras_status``) and the two networks' curves overlaid."""
    if slot.keras_error:
        st.error(slot.keras_error)
    if not slot.keras_run_id:
        return
    st.subheader("Side by side with Keras")
    if run is None:
        st.warning("The Keras run no longer exists.")
        return
    score = f" · test accuracy {run.test_accuracy:.2%}" if run.test_accuracy is not None else ""
    st.caption(f"Keras twin: {plain_text(run.name)} · {STATUS_WORDS.get(run.status, run.status)}{score}")
    if run.status == "failed":
        st.error(plain_error(run.error))
    runs = {"from scratch (NumPy)": scratch_epochs, "Keras": keras_epochs}
    cols = st.columns(2)
    cols[0].plotly_chart(runs_figure(runs, "val_accuracy"), width="stretch", key="fs_cmp_acc")
    cols[1].plotly_chart(runs_figure(runs, "loss"), width="stretch", key="fs_cmp_loss")
    table = figs.comparison_table(scratch_epochs, keras_epochs)
    if not table.empty:
        number = st.column_config.NumberColumn
        formats = {"accuracy": number(format="percent"), "val_accuracy": number(format="percent")}
        formats |= {"seconds": number(format="%.1f"), "samples/s": number(format="%.0f")}
        st.dataframe(table, hide_index=True, width="stretch", column_config=formats)
