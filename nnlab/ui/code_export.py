"""A network and its training settings as code: the script on the page (with a copy button) and downloads.

Build & Train shows the editor's network, Evaluate a run's. The notebook is made only when its
download button is clicked.
"""

from __future__ import annotations

import streamlit as st

from nnlab.architectures import Spec
from nnlab.export import export_notebook, export_problems, export_script
from nnlab.importing import editor_problems
from nnlab.training import TrainConfig


def code_panel(spec: Spec, config: TrainConfig, *, source: str, key: str) -> None:
    """The script, a copy button, and downloads of the script and the notebook (or why there are none)."""
    imported = editor_problems(spec)
    if imported:
        st.info("This network cannot be written as NN Lab's code: " + "; ".join(imported) + ".", icon="ℹ️")
        return
    if export_problems(spec, config):
        st.info("Fix the problems of the network and its settings (above) to get them as code.", icon="ℹ️")
        return
    script = export_script(spec, config, source=source)
    st.caption(
        "The same network and training as a standalone Python script in the style of the Keras "
        f"tutorials. It needs only TensorFlow: `python {script.file_name}` reads the MNIST files bundled "
        f"with nnlab, `python {script.file_name} --data FOLDER` a folder of MNIST IDX files; "
        "`--subset 500 --epochs 1` makes a quick try. Copy it with the button at the top right."
    )
    st.code(script.text, language="python", height=360)
    left, right = st.columns(2)
    left.download_button(
        f"Script ({script.file_name})",
        script.text,
        file_name=script.file_name,
        mime="text/x-python",
        on_click="ignore",
        icon="🐍",
        key=f"{key}_dl_script",
        width="stretch",
    )
    notebook_name = script.file_name.removesuffix(".py") + ".ipynb"
    right.download_button(
        f"Notebook ({notebook_name})",
        lambda: export_notebook(spec, config, source=source).text,
        file_name=notebook_name,
        mime="application/x-ipynb+json",
        on_click="ignore",
        icon="📓",
        key=f"{key}_dl_notebook",
        width="stretch",
    )
