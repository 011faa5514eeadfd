"""Learning replayed: the run's snapshots on Inspect (a slider), and the newest one in the live view."""

from __future__ import annotations

import streamlit as st

from nnlab.figures.replay import CAPTIONS, probe_accuracy_figure, probe_figure, weight_mosaic
from nnlab.figures.style import diverging_rgb, image_uri
from nnlab.runs import Run, RunStore
from nnlab.snapshots import Snapshot, epoch_label, latest_snapshot, read_snapshots, snapshot_epochs
from nnlab.ui.links import inspect_link

NONE = (
    "This run has no snapshots to replay: only networks trained here since NN Lab keeps them have some "
    "(imported models and older runs have none). Train its network again on Build & Train (“Edit this "
    "network / train it again”) to watch it learn."
)


def _weights(snap: Snapshot, width: int, image: str | None = None) -> None:
    """The snapshot's first-layer weights as an image (``image``: that image already encoded)."""
    if image is None:
        mosaic = weight_mosaic(snap.weights)
        if mosaic is None:
            st.info("The first layer's weights are not images here.")
            return
        image = diverging_rgb(mosaic, scale=max(1, width // mosaic.shape[1]))
    what = "kernels" if snap.weights.ndim == 4 else "units' weights (28 x 28 each)"
    st.image(image, caption=f"{snap.layer}: {what} after {epoch_label(snap.epoch)}", output_format="PNG")
    st.caption(CAPTIONS["weights"])


@st.cache_resource(ttl=1.0, max_entries=256, show_spinner=False)
def _snapshots_taken(_store: RunStore, run_id: str) -> int:
    """How many snapshots the run has: read at most once a second for all its watchers."""
    return len(snapshot_epochs(_store, run_id))  # the small index only


@st.cache_resource(max_entries=256, show_spinner=False)  # a class of 100 watching their own runs
def _newest(_store: RunStore, run_id: str, taken: int) -> tuple[Snapshot, str | None] | None:
    """The run's newest snapshot and its weights as an encoded image, once per snapshot for all its
    watchers (the live view draws it every second for each of them)."""
    snap = latest_snapshot(_store, run_id) if taken else None
    if snap is None:
        return None
    mosaic = weight_mosaic(snap.weights)
    if mosaic is None:
        return snap, None
    return snap, image_uri(diverging_rgb(mosaic, scale=max(1, LIVE_WIDTH // mosaic.shape[1])))


LIVE_WIDTH = 480  # pixels of the live view's image


def live_kernels(store: RunStore, run: Run) -> None:
    """The live view's newest snapshot of the first layer (an image: cheap to refresh every second)."""
    # a finished run's view is drawn once: its count read now, so its last snapshot is the one shown
    taken = _snapshots_taken(store, run.id) if run.is_active else len(snapshot_epochs(store, run.id))
    newest = _newest(store, run.id, taken)
    if newest is None:
        return
    snap, image = newest
    with st.expander("First layer, live: how its weights change", expanded=run.is_active):
        cols = st.columns([2, 1])
        with cols[0]:
            _weights(snap, LIVE_WIDTH, image)
        cols[1].metric(
            "Probe digits right", f"{snap.accuracy:.0%}", help="100 fixed test images, 10 per digit."
        )
        cols[1].caption(f"Snapshot after {epoch_label(snap.epoch)}.")
        with cols[1]:
            inspect_link("Replay the whole training on Inspect", run_id=run.id, view="replay")


def replay_view(store: RunStore, run: Run) -> None:
    """Inspect: a slider over the snapshots; the weights and the probe digits' answers at each."""
    snaps = read_snapshots(store, run.id)
    if not snaps:
        st.info(NONE)
        return
    if st.session_state.get("insp_replay") not in range(len(snaps)):
        st.session_state.pop("insp_replay", None)  # another run's position
    index = st.select_slider(
        "How the network saw these 100 digits after",
        options=list(range(len(snaps))),
        value=len(snaps) - 1,
        format_func=lambda i: epoch_label(snaps[i].epoch),
        key="insp_replay",
    )
    snap = snaps[index]
    left, right = st.columns([2, 3])
    with left:
        _weights(snap, width=420)
        st.plotly_chart(probe_accuracy_figure(snaps, index), key="insp_replay_acc")
        st.caption(CAPTIONS["accuracy"])
    with right:
        st.plotly_chart(probe_figure(snap), key="insp_replay_probe")
        st.caption(CAPTIONS["probe"])
