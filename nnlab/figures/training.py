"""Plotly figures of a training's metrics, shared by every page that shows a run.

The inputs are the run store's metric tables (``RunStore.metrics(id, "batch" | "epoch")``):
batch rows hold ``epoch, batch, step, loss, accuracy, elapsed, samples_per_sec``; epoch rows hold
``epoch, loss, accuracy, val_loss, val_accuracy, lr, elapsed, samples_per_sec``. Missing columns or
empty tables give an empty, labelled chart rather than an error, so a run that has just started
draws cleanly. The x axis is in epochs throughout (a batch half-way through epoch 2 sits at 1.5),
so batch and epoch points line up.
"""

from __future__ import annotations

from collections.abc import Mapping
from html import escape

import pandas as pd
import plotly.graph_objects as go

from nnlab.events import epoch_position
from nnlab.figures.style import COLORS, PALETTE, base_figure

METRIC_LABELS = {"loss": "Loss", "accuracy": "Accuracy"}
EPOCH_METRICS = {
    "loss": "training loss",
    "accuracy": "training accuracy",
    "val_loss": "validation loss",
    "val_accuracy": "validation accuracy",
    "lr": "learning rate",
}


def smooth(values: pd.Series, weight: float) -> pd.Series:
    """Exponential moving average (as TensorBoard's smoothing slider); weight 0 leaves values as they are."""
    if not 0 <= weight < 1:
        raise ValueError("smoothing weight must be at least 0 and below 1")
    if weight == 0 or values.empty:
        return values.astype(float)
    return values.astype(float).ewm(alpha=1 - weight, adjust=True).mean()


def batch_positions(batch_df: pd.DataFrame, steps_per_epoch: int | None = None) -> pd.Series:
    """Where each batch row sits on an axis counted in epochs (epoch 1, batch 50 of 100 -> 0.5)."""
    if batch_df.empty:
        return pd.Series(dtype=float)
    if not steps_per_epoch:
        # Without the count, the largest batch number seen in an epoch is the best estimate.
        steps_per_epoch = int(batch_df["batch"].max()) or 1
    return epoch_position(batch_df["epoch"].astype(float), batch_df["batch"].astype(float), steps_per_epoch)


def training_figure(
    batch_df: pd.DataFrame,
    epoch_df: pd.DataFrame,
    metric: str = "loss",
    *,
    steps_per_epoch: int | None = None,
    smoothing: float = 0.6,
    height: int = 320,
) -> go.Figure:
    """Training ``metric`` per batch (smoothed) plus training and validation per epoch."""
    if metric not in METRIC_LABELS:
        raise ValueError(f"metric must be one of {', '.join(METRIC_LABELS)} (got {metric!r})")
    label = METRIC_LABELS[metric]
    fig = base_figure(label, height, "epoch", label.lower())
    if not batch_df.empty and metric in batch_df:
        rows = batch_df.dropna(subset=[metric]).sort_values(["epoch", "batch"])
        line = {"color": COLORS["train_batch"], "width": 1.5}
        x, y = batch_positions(rows, steps_per_epoch), smooth(rows[metric], smoothing)
        fig.add_trace(go.Scatter(x=x, y=y, mode="lines", name="training (per batch, smoothed)", line=line))
    if not epoch_df.empty:
        rows = epoch_df.sort_values("epoch")
        for column, name, color in (
            (metric, "training (epoch)", COLORS["train"]),
            (f"val_{metric}", "validation (epoch)", COLORS["val"]),
        ):
            if column in rows and rows[column].notna().any():
                part = rows.dropna(subset=[column])
                x, y = part["epoch"].astype(float), part[column].astype(float)
                fig.add_trace(go.Scatter(x=x, y=y, mode="lines+markers", name=name, line={"color": color}))
    fig.update_xaxes(rangemode="tozero")  # training starts at epoch 0, even when one epoch is all there is
    if metric == "accuracy":
        fig.update_yaxes(tickformat=".1~%")  # a decimal when the range is narrow (a run stuck at 10 %)
    return fig


def lr_figure(epoch_df: pd.DataFrame, *, height: int = 260) -> go.Figure:
    """The learning rate at the end of each epoch (log scale, since schedules shrink it by factors)."""
    fig = base_figure("Learning rate", height, "epoch", "learning rate")
    if not epoch_df.empty and "lr" in epoch_df and epoch_df["lr"].notna().any():
        rows = epoch_df.dropna(subset=["lr"]).sort_values("epoch")
        x, y = rows["epoch"].astype(float), rows["lr"].astype(float)
        fig.add_trace(
            go.Scatter(x=x, y=y, mode="lines+markers", name="learning rate", line={"color": COLORS["lr"]})
        )
        fig.update_yaxes(type="log", exponentformat="e")
    fig.update_layout(showlegend=False)
    return fig


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
    fig.update_xaxes(rangemode="tozero")
    if metric.endswith("accuracy"):
        fig.update_yaxes(tickformat=".1~%")
    if metric == "lr":
        fig.update_yaxes(type="log", exponentformat="e")
    return fig
