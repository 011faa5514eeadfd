"""A model a visitor uploads, to evaluate on the test set: the widget, and the model read safely."""

from __future__ import annotations

import hashlib

import numpy as np
import streamlit as st

from nnlab import evaluation as ev
from nnlab.modelio import MAX_BYTES, ModelLoadError
from nnlab.ui.importer import import_offer


@st.cache_data(max_entries=3, show_spinner=False)
def upload_predictions(digest: str, _data: bytes) -> np.ndarray:
    """Test predictions of an uploaded model, computed once per file (keyed by its SHA-256)."""
    return ev.predict_test(ev.load_uploaded_model(_data))


def upload_source():
    data_file = st.file_uploader(
        "A Keras model (.keras, or .h5 as the tutorials save it) taking 28x28 images and giving 10 digit "
        "scores",
        type=["keras", "h5"],
        max_upload_size=MAX_BYTES // 1_000_000,
        key="eval_upload",
    )
    if data_file is None:
        st.info(
            "Upload a `.keras` or `.h5` file to evaluate it on the MNIST test set. It is loaded in Keras "
            "safe mode (no code runs)."
        )
        return None
    data = data_file.getvalue()
    digest = hashlib.sha256(data).hexdigest()
    try:
        with st.spinner("Loading the model and classifying the 10,000 test images..."):
            probs = upload_predictions(digest, data)
    except ModelLoadError as exc:
        st.error(f"This model cannot be evaluated: {exc}")
        return None
    import_offer(data, data_file.name, digest)
    return probs
