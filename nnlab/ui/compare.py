"""Several runs side by side: their curves overlaid and a table of the settings in which they differ."""

from __future__ import annotations

import streamlit as st

from nnlab import evaluation as ev
from nnlab.figures.training import runs_figure
from nnlab.runs import RunStore
from nnlab.ui.format import run_label


@st.fragment  # its widgets rerun only this section
def compare_section(store: RunStore, runs: list, current) -> None:
    by_id = {r.id: r for r in runs}
    default = [current.id] + [r.id for r in runs if r.id != current.id][:1]
    chosen = st.multiselect(
        "Runs to compare",
        list(by_id),
        default=default,
        format_func=lambda i: run_label(by_id[i]),
        key="eval_compare",
    )
    if not chosen:
        st.info("Choose runs to compare.")
        return
    picked = [by_id[i] for i in chosen]
    names = [r.name for r in picked]
    histories = {
        (r.name if names.count(r.name) == 1 else f"{r.name} [{r.id[:6]}]"): store.metrics(r.id, "epoch")
        for r in picked
    }
    a, b = st.columns(2)
    a.plotly_chart(runs_figure(histories, "loss", validation=True), key="eval_curves_loss")
    b.plotly_chart(runs_figure(histories, "accuracy", validation=True), key="eval_curves_acc")
    table = ev.compare_runs(picked)
    st.dataframe(
        table.style.format(
            {
                "test accuracy": "{:.2%}",
                "test loss": "{:.4f}",
                "training time (s)": "{:.1f}",
                "parameters": "{:,}",
            },
            na_rep="-",
        ),
        hide_index=True,
    )
    st.caption("Besides the results, the table shows only the settings in which the chosen runs differ.")
