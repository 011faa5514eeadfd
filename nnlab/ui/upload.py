"""A model a visitor uploads, to evaluate on the test set: the widget, and the model run safely.

The file is bounded before anything is built, then loaded and run in a memory- and time-limited
child process (``nnlab.sandbox``): an upload cannot take the web server down.
"""

from __future__ import annotations

import hashlib

import numpy as np
import streamlit as st

from nnlab.modelio import MAX_BYTES, ModelLoadError
from nnlab.sandbox import predict_upload
from nnlab.ui.format import markdown_safe
from nnlab.ui.importer import import_offer


@st.cache_data(max_entries=8, show_spinner=False)
def upload_predictions(digest: str, _data: bytes) -> np.ndarray | str:
    """Test predictions of an uploaded model, or why there are none, worked out once per file (keyed
    by its SHA-256): a refused file is not evaluated again on every click of the page."""
    try:
        return predict_upload(_data)
    except ModelLoadError as exc:
        return str(exc)


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
            "safe mode (no code runs), in a separate process with limited memory and time."
        )
        return None
    data = data_file.getvalue()
    digest = hashlib.sha256(data).hexdigest()
    with st.spinner("Checking the model, then classifying the 10,000 test images..."):
        result = upload_predictions(digest, data)
    if isinstance(result, str):  # the message may quote the file's own layer names: shown as text
        st.error(f"This model cannot be evaluated: {markdown_safe(result)}")
        return None
    import_offer(data, data_file.name, digest)
    return result
