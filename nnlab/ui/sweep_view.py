"""One sweep on the Sweeps page: progress, test accuracy as a heatmap (two settings) or a line (one),
the training curves overlaid, the best run, and every cell in a table.

It is an ``st.fragment`` that refreshes itself every two seconds while any of the sweep's runs is
queued or training (and dispatches waiting runs, as the live view of one run does), then once more
when the last one ends; meanwhile "Stop the sweep" stops every run of it that has not ended. A
visitor sees only their own sweeps: a link to another's says so.
"""

from __future__ import annotations

import streamlit as st

from nnlab.export.notebook import markdown_text
from nnlab.figures.sweeps import sweep_heatmap, sweep_line
from nnlab.figures.training import runs_figure
from nnlab.runner import Runner
from nnlab.sweeps import Sweep, SweepResult, SweepStore, curves, sweep_result
from nnlab.ui.format import format_seconds, short_status
from nnlab.ui.links import result_links
from nnlab.ui.sweep_form import PICKED
from nnlab.words import plural

REFRESH_SECONDS = 2.0


def pick_sweep(sweeps: SweepStore, visitor: str) -> Sweep | None:
    """The sweep to show: the address's (if it is this visitor's), else the newest."""
    mine = sweeps.list(visitor)
    ids = [s.id for s in mine]
    wanted = st.query_params.get("sweep")
    if wanted and wanted not in ids:
        st.warning("The sweep in this link is not yours or no longer exists.", icon="🔒")
        del st.query_params["sweep"]
    if not mine:
        st.info("No sweeps yet: choose the settings above and queue one.", icon="🧪")
        return None
    if wanted in ids and st.session_state.get(PICKED) not in ids:
        st.session_state[PICKED] = wanted
    labels = {s.id: f"{s.name} ({plural(len(s.axes), 'setting')})" for s in mine}
    picked = st.selectbox("Sweep", ids, format_func=labels.get, key=PICKED)
    st.query_params["sweep"] = picked
    return sweeps.get(picked)


def _progress(result: SweepResult) -> None:
    ended = len(result.runs) - result.count("queued", "running")
    text = (
        f"{ended} of {result.total} trainings ended · {result.count('running')} training · "
        f"{result.count('queued')} waiting · {result.count('failed')} failed"
    )
    if result.count("stopped"):
        text += f" · {result.count('stopped')} stopped"
    st.progress(result.fraction_done, text=text)


def _accuracy_chart(result: SweepResult) -> None:
    axes = result.sweep.axes
    if len(axes) == 2:
        fig = sweep_heatmap(
            result.accuracy, result.tick_labels(0), result.tick_labels(1), axes[0].label, axes[1].label
        )
    else:
        fig = sweep_line(result.accuracy[:, 0], result.tick_labels(0), axes[0].label)
    st.plotly_chart(fig, key=f"sweep_accuracy_{result.sweep.id}", width="stretch")


def _best(result: SweepResult, visitor: str) -> None:
    best = result.best
    if best is None:
        st.caption("The best run shows here as soon as a training of the sweep ends.")
        return
    cell = next(place for place, run in result.runs.items() if run.id == best.id)
    cols = st.columns(3)
    cols[0].metric("Best test accuracy", f"{best.test_accuracy:.2%}")
    cols[1].metric("With", result.cell_label(*cell))
    cols[2].metric("Training time", format_seconds(best.duration))
    result_links(best.id, visitor)


def _curves(runner: Runner, result: SweepResult) -> None:
    tables = curves(runner.store, result)
    if not tables:
        return
    has_val = any("val_accuracy" in t and t["val_accuracy"].notna().any() for t in tables.values())
    fig = runs_figure(tables, "val_accuracy" if has_val else "accuracy")
    st.plotly_chart(fig, key=f"sweep_curves_{result.sweep.id}", width="stretch")


def _cells(result: SweepResult) -> None:
    rows = [
        {
            "cell": result.cell_label(row, col),
            "status": short_status(run),
            "test accuracy (%)": None if run.test_accuracy is None else round(100 * run.test_accuracy, 2),
            "time": format_seconds(run.duration),
        }
        for (row, col), run in sorted(result.runs.items())
    ]
    st.dataframe(rows, hide_index=True, width="stretch")


def sweep_view(runner: Runner, sweeps: SweepStore, sweep: Sweep, visitor: str) -> None:
    first = sweep_result(sweeps, sweep)

    @st.fragment(run_every=REFRESH_SECONDS if first.is_active else None)
    def live() -> None:
        if first.is_active:
            runner.dispatch()  # starts waiting runs when a slot is free
        result = sweep_result(sweeps, sweep)
        st.markdown(f"#### {markdown_text(sweep.name, 120)}")
        _progress(result)
        if result.is_active:
            st.button(
                "Stop the sweep",
                icon="⏹️",
                key=f"sweep_stop_{sweep.id}",
                on_click=sweeps.stop,  # before the fragment runs again: it then shows them stopped
                args=(sweep,),
                help="Its waiting trainings leave the queue, those training stop at the end of their batch "
                "and keep their models; the trainings that ended keep their results.",
            )
        _accuracy_chart(result)
        _best(result, visitor)
        _curves(runner, result)
        _cells(result)
        if first.is_active and not result.is_active:
            st.rerun()  # once, at the end: polling stops

    live()
