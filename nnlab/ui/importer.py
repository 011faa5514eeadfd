"""Keeping an uploaded model file (``.keras`` or ``.h5``) as one of the visitor's runs.

Evaluate offers it under an uploaded model's results: the import goes through ``nnlab.importing``
(``modelio``'s checks, Keras safe mode), and the new run can then be evaluated, inspected, drawn on
and, when NN Lab knows every layer, opened in Build & Train's editor. Build & Train asks
``edit_refusal`` before it loads a run's network into the editor.
"""

from __future__ import annotations

import streamlit as st

from nnlab.export.notebook import markdown_text
from nnlab.importing import editor_problems, import_model_bytes
from nnlab.modelio import ModelLoadError
from nnlab.runs import Run
from nnlab.ui.links import BUILD, DRAW, INSPECT, SELECTED, link
from nnlab.ui.services import get_store
from nnlab.ui.visitor import visitor_id

_IMPORTED = "imported_runs"  # upload digest -> the run it became, in this session


def import_offer(data: bytes, file_name: str, digest: str) -> None:
    """A button that keeps the uploaded model as a run, then links to everything that run can do."""
    imported = st.session_state.setdefault(_IMPORTED, {})
    run_id, notes = imported.get(digest, (None, []))
    run = get_store().get(run_id) if run_id else None
    if run is not None:
        imported_panel(run, notes)
        return
    if not st.button(
        "Keep this model with my runs",
        icon="📥",
        key="import_button",
        help="Then inspect it, draw digits for it, and open it in Build & Train's editor (when NN Lab "
        "knows all its layers). It is checked and loaded safely: no code from the file runs.",
    ):
        return
    try:
        with st.spinner("Importing the model: checking it and classifying the test images..."):
            done = import_model_bytes(get_store(), data, file_name, owner=visitor_id())
    except ModelLoadError as exc:
        st.error(f"This model cannot be imported: {exc}")
        return
    imported[digest] = (done.run.id, done.conversion.notes)
    st.rerun()  # the page again, with the new run in the lists and its panel instead of the button


def _evaluate_as_run(run_id: str) -> None:
    """Button callback: Evaluate shows the imported model as one of the visitor's runs."""
    st.session_state["eval_source"] = "A trained run"
    st.session_state["eval_run"] = st.session_state[SELECTED] = run_id
    st.query_params["run"] = run_id  # as a link to it would: the run picker follows the address


def imported_panel(run: Run, notes: list[str]) -> None:
    """Where an imported run can go: Evaluate, Inspect, Draw, and the editor (or why not)."""
    st.success(f"Kept with your runs as `{run.id}` ({run.n_params:,} parameters).", icon="📥")
    for note in notes:  # they may quote the file's layer names: shown as text
        st.caption(f"Note: {markdown_text(note, 300)}.")
    st.button(
        "Evaluate it as one of my runs", key="import_evaluate", on_click=_evaluate_as_run, args=(run.id,)
    )
    params = {"run": run.id, "visitor": visitor_id()}
    for page in (INSPECT, DRAW):
        link(page, f"{page.title} it", query_params=params)
    refusal = edit_refusal(run)
    if refusal:
        st.info(refusal, icon="ℹ️")
    else:
        link(BUILD, "Open it in Build & Train (edit it, train it again)", query_params=params)


def edit_refusal(run: Run) -> str | None:
    """Why this run's network cannot be opened in the editor, in words; None when it can."""
    problems = editor_problems(run.spec)
    if not problems:
        return None
    return (
        "This network can be evaluated, inspected and drawn on, but not opened in the editor: "
        + "; ".join(problems)
        + "."
    )
