"""How many workers are connected and busy, on every machine (from their heartbeats in the store)."""

from __future__ import annotations

import streamlit as st

from nnlab.runner import broker_url
from nnlab.runs import RunStore
from nnlab.runs.heartbeats import worker_counts
from nnlab.ui.format import workers_text


def workers_caption(store: RunStore, queued: int | None = None) -> None:
    """One caption line: workers connected, training, runs waiting (``queued``: already counted)."""
    counts = worker_counts(store)
    queued = len(store.queued_ids()) if queued is None else queued
    celery = broker_url() is not None
    text = workers_text(counts.connected, counts.busy, counts.machines, queued, celery)
    if celery and counts.connected == 0:
        st.warning(text, icon="🖥️")
    else:
        st.caption(f"🖥️ {text}")
