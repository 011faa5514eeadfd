"""Plotly figures of a training's metrics, shared by every page that shows a run.

The inputs are the run store's metric tables (``RunStore.metrics(id, "batch" | "epoch")``):
batch rows hold ``epoch, batch, step, loss, accuracy, elapsed, samples_per_sec``; epoch rows hold
``epoch, loss, accuracy, val_loss, val_accuracy, lr, elapsed, samples_per_sec``. A table is a
DataFrame, or its columns as float arrays (``{"loss": array, ...}``: what a live view holds, drawn
without building a DataFrame each second). Missing columns or empty tables give an empty, labelled
chart rather than an error, so a run that has just started draws cleanly. The x axis is in epochs
throughout (a batch half-way through epoch 2 sits at 1.5), so batch and epoch points line up.
"""

from __future__ import annotations

from collections.abc import Mapping
from html import escape

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from scipy.signal import lfilter

from nnlab.events import epoch_position
from nnlab.figures.style import COLORS, LEGEND_ROW_PX, PALETTE, base_figure, base_layout, plain_figure

METRIC_LABELS = {"loss": "Loss", "accuracy": "Accuracy"}
MAX_LINE_POINTS = 800  # points of a per-batch line sent to the browser (more cannot be seen)
EPOCH_METRICS = {
    "loss": "training loss",
    "accuracy": "training accuracy",
    "val_loss": "validation loss",
    "val_accuracy": "validation accuracy",
    "lr": "learning rate",
}


Table = pd.DataFrame | Mapping[str, np.ndarray]  # a metric table: a frame, or its columns as float arrays


def smooth(values: pd.Series, weight: float) -> pd.Series:
    """Exponential moving average (as TensorBoard's smoothing slider); weight 0 leaves values as they are."""
    values = values.astype(float)
    return pd.Series(_smooth(values.to_numpy(), weight), index=values.index)


def _smooth(values: np.ndarray, weight: float) -> np.ndarray:
    """``smooth`` on an array: the bias-corrected exponential moving average (pandas' ``ewm(alpha=1 -
    weight, adjust=True)``), y_t = sum_i w^i x_(t-i) / sum_i w^i, as two first-order linear filters
    (s_t = x_t + w s_(t-1)): microseconds where pandas took a third of a live chart's time."""
    if not 0 <= weight < 1:
        raise ValueError(f"smoothing weight must be at least 0 and below 1 (got {weight!r})")
    if weight == 0 or not len(values):
        return values
    feedback = [1.0, -weight]
    return lfilter([1.0], feedback, values) / lfilter([1.0], feedback, np.ones_like(values))


def batch_positions(batch_df: pd.DataFrame, steps_per_epoch: int | None = None) -> pd.Series:
    """Where each batch row sits on an axis counted in epochs (epoch 1, batch 50 of 100 -> 0.5)."""
    if batch_df.empty:
        return pd.Series(dtype=float)
    if not steps_per_epoch:
        # Without the count, the largest batch number seen in an epoch is the best estimate.
        steps_per_epoch = int(batch_df["batch"].max()) or 1
    return epoch_position(batch_df["epoch"].astype(float), batch_df["batch"].astype(float), steps_per_epoch)


def thin(x: np.ndarray, y: np.ndarray, most: int = MAX_LINE_POINTS) -> tuple[np.ndarray, np.ndarray]:
    """At most ``most`` evenly spread points of a line, the first and the last kept.

    A chart a few hundred pixels wide cannot show more, and every point is sent to each watching
    browser every second.
    """
    if len(x) <= most:
        return x, y
    keep = np.unique(np.linspace(0, len(x) - 1, most).round().astype(int))
    return x[keep], y[keep]


def _column(table: Table, name: str) -> np.ndarray:
    values = table[name]
    return values if isinstance(values, np.ndarray) else values.to_numpy(dtype=float, na_value=np.nan)


def _empty(table: Table) -> bool:
    return table.empty if isinstance(table, pd.DataFrame) else not any(len(v) for v in table.values())


def _batch_trace(batch_df: Table, metric: str, steps_per_epoch: int | None, smoothing: float) -> dict:
    epoch, batch, values = (_column(batch_df, c) for c in ("epoch", "batch", metric))
    keep = ~np.isnan(values)
    order = np.lexsort((batch[keep], epoch[keep]))  # by epoch, then batch
    epoch, batch, values = epoch[keep][order], batch[keep][order], values[keep][order]
    steps = steps_per_epoch or (int(batch.max()) if len(batch) else 0) or 1
    x = np.asarray(epoch_position(epoch, batch, steps), dtype=float)
    y = _smooth(values, smoothing)
    x, y = thin(x, y)
    line = {"color": COLORS["train_batch"], "width": 1.5}
    return {
        "type": "scatter",
        "x": x,
        "y": y,
        "mode": "lines",
        "name": "training (per batch, smoothed)",
        "line": line,
    }


def _untrained_trace(batch_df: Table, metric: str) -> dict | None:
    """A marker where the batch line starts: the untrained network's score at step 0 (batch 0), if
    recorded. It is the chart's first point, drawn before Keras has traced the training step; and a
    lesson: the loss starts near ln 10 = 2.30 and the accuracy near 10 % (ten classes, guessed evenly).
    """
    if "batch" not in batch_df:
        return None
    batch, values = _column(batch_df, "batch"), _column(batch_df, metric)
    start = np.flatnonzero((batch == 0) & ~np.isnan(values))
    if not len(start):
        return None
    value = float(values[start[0]])
    return {
        "type": "scatter",
        "x": [0.0],
        "y": [value],
        "mode": "markers",
        "name": "untrained network (step 0)",
        "marker": {"color": COLORS["train_batch"], "size": 8, "symbol": "circle-open"},
    }


def _epoch_traces(epoch_df: Table, columns: tuple[tuple[str, str, str], ...]) -> list[dict]:
    """One line with markers per (column, name, colour) that has values, in epoch order."""
    traces = []
    epochs = _column(epoch_df, "epoch")
    order = np.argsort(epochs, kind="stable")
    for column, name, color in columns:
        if column not in epoch_df:
            continue
        values = _column(epoch_df, column)[order]
        keep = ~np.isnan(values)
        if keep.any():
            trace = {"type": "scatter", "x": epochs[order][keep], "y": values[keep], "mode": "lines+markers"}
            traces.append({**trace, "name": name, "line": {"color": color}})
    return traces


def training_chart(
    batch_df: Table,
    epoch_df: Table,
    metric: str = "loss",
    *,
    steps_per_epoch: int | None = None,
    smoothing: float = 0.6,
    height: int = 320,
) -> tuple[list[dict], dict]:
    """``training_figure``'s traces and layout as plain dicts (a live view updates a figure with them)."""
    if metric not in METRIC_LABELS:
        raise ValueError(f"metric must be one of {', '.join(METRIC_LABELS)} (got {metric!r})")
    label = METRIC_LABELS[metric]
    layout = base_layout(label, height, "epoch", label.lower())
    traces = []
    if not _empty(batch_df) and metric in batch_df:
        traces.append(_batch_trace(batch_df, metric, steps_per_epoch, smoothing))
        start = _untrained_trace(batch_df, metric)
        if start is not None:
            traces.append(start)
    if not _empty(epoch_df):
        columns = (
            (metric, "training (epoch)", COLORS["train"]),
            (f"val_{metric}", "validation (epoch)", COLORS["val"]),
        )
        traces += _epoch_traces(epoch_df, columns)
    layout["xaxis"]["rangemode"] = "tozero"  # training starts at epoch 0, even when one epoch is all there is
    if metric == "accuracy":
        layout["yaxis"]["tickformat"] = ".1~%"  # a decimal when the range is narrow (a run stuck at 10 %)
    return traces, layout


def training_figure(
    batch_df: pd.DataFrame, epoch_df: pd.DataFrame, metric: str = "loss", **options
) -> go.Figure:
    """Training ``metric`` per batch (smoothed) plus training and validation per epoch.

    ``options`` are ``training_chart``'s: ``steps_per_epoch``, ``smoothing`` (0.6), ``height``.
    Built as plain data in one call (plotly's ``add_trace``/``update_*`` cost milliseconds each,
    and a live chart is rebuilt each second for every watcher); a long training's batch line is
    thinned to ``MAX_LINE_POINTS``.
    """
    return plain_figure(*training_chart(batch_df, epoch_df, metric, **options))


def lr_chart(epoch_df: Table, *, height: int = 260) -> tuple[list[dict], dict]:
    """``lr_figure``'s traces and layout as plain dicts."""
    layout = {**base_layout("Learning rate", height, "epoch", "learning rate"), "showlegend": False}
    traces = [] if _empty(epoch_df) else _epoch_traces(epoch_df, (("lr", "learning rate", COLORS["lr"]),))
    if traces:
        layout["yaxis"].update(type="log", exponentformat="e")
    return traces, layout


def lr_figure(epoch_df: pd.DataFrame, *, height: int = 260) -> go.Figure:
    """The learning rate at the end of each epoch (log scale, since schedules shrink it by factors)."""
    return plain_figure(*lr_chart(epoch_df, height=height))


def runs_figure(
    runs: Mapping[str, pd.DataFrame],
    metric: str = "val_accuracy",
    *,
    validation: bool = False,
    height: int = 360,
) -> go.Figure:
    """Several runs' epoch tables compared: one colour per run (label -> epoch table).

    With ``validation``, each run's validation curve of ``metric`` is drawn too, dashed.
    """
    if metric not in EPOCH_METRICS:
        raise ValueError(f"metric must be one of {', '.join(EPOCH_METRICS)} (got {metric!r})")
    title = metric.capitalize() if validation else EPOCH_METRICS[metric].capitalize()
    fig = base_figure(title, height, "epoch", metric if validation else EPOCH_METRICS[metric])
    columns = (
        ((metric, "solid", "training"), (f"val_{metric}", "dash", "validation"))
        if validation
        else ((metric, "solid", ""),)
    )
    for i, (label, df) in enumerate(runs.items()):
        for column, dash, part in columns:
            if df is None or df.empty or column not in df or not df[column].notna().any():
                continue
            rows = df.dropna(subset=[column]).sort_values("epoch")
            line = {"color": PALETTE[i % len(PALETTE)], "dash": dash}
            name = escape(f"{label} ({part})" if part else label, quote=False)  # plotly reads <a>, <b>...
            x, y = rows["epoch"].astype(float), rows[column].astype(float)
            fig.add_trace(go.Scatter(x=x, y=y, mode="lines+markers", name=name, line=line, legendgroup=label))
    # The legend (one row per curve in a half-width column) takes its room from the figure: grow the
    # figure with the number of runs compared, so the plot keeps its height.
    fig.layout.height = height + LEGEND_ROW_PX * max(0, len(fig.data) - 4)
    fig.update_xaxes(rangemode="tozero")
    if metric.endswith("accuracy"):
        fig.update_yaxes(tickformat=".1~%")
    if metric == "lr":
        fig.update_yaxes(type="log", exponentformat="e")
    return fig
