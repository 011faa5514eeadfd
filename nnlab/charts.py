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

import pandas as pd
import plotly.graph_objects as go

METRIC_LABELS = {"loss": "Loss", "accuracy": "Accuracy"}
COLORS = {"train_batch": "rgba(31,119,180,0.45)", "train": "#1f77b4", "val": "#ff7f0e", "lr": "#2ca02c"}


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
    epochs = batch_df["epoch"].astype(float)
    batches = batch_df["batch"].astype(float)
    if not steps_per_epoch:
        # Without the count, the largest batch number seen in an epoch is the best estimate.
        steps_per_epoch = int(batches.max()) or 1
    return epochs - 1 + batches / float(steps_per_epoch)


def _base(title: str, yaxis: str, height: int) -> go.Figure:
    fig = go.Figure()
    fig.update_layout(
        title={"text": title, "x": 0.0, "xanchor": "left"},
        height=height,
        margin={"l": 50, "r": 10, "t": 40, "b": 40},
        xaxis_title="epoch",
        yaxis_title=yaxis,
        legend={"orientation": "h", "y": -0.25},
        hovermode="x unified",
        uirevision="keep",  # keep a visitor's zoom while the chart refreshes
    )
    return fig


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
    fig = _base(label, label.lower(), height)
    if not batch_df.empty and metric in batch_df:
        rows = batch_df.dropna(subset=[metric]).sort_values(["epoch", "batch"])
        fig.add_trace(
            go.Scatter(
                x=batch_positions(rows, steps_per_epoch),
                y=smooth(rows[metric], smoothing),
                mode="lines",
                name="training (per batch, smoothed)",
                line={"color": COLORS["train_batch"], "width": 1.5},
            )
        )
    if not epoch_df.empty:
        rows = epoch_df.sort_values("epoch")
        for column, name, color in (
            (metric, "training (epoch)", COLORS["train"]),
            (f"val_{metric}", "validation (epoch)", COLORS["val"]),
        ):
            if column in rows and rows[column].notna().any():
                part = rows.dropna(subset=[column])
                fig.add_trace(
                    go.Scatter(
                        x=part["epoch"].astype(float),
                        y=part[column].astype(float),
                        mode="lines+markers",
                        name=name,
                        line={"color": color},
                    )
                )
    fig.update_xaxes(rangemode="tozero")  # training starts at epoch 0, even when one epoch is all there is
    if metric == "accuracy":
        fig.update_yaxes(tickformat=".1~%")  # a decimal when the range is narrow (a run stuck at 10 %)
    return fig


def lr_figure(epoch_df: pd.DataFrame, *, height: int = 260) -> go.Figure:
    """The learning rate at the end of each epoch (log scale, since schedules shrink it by factors)."""
    fig = _base("Learning rate", "learning rate", height)
    if not epoch_df.empty and "lr" in epoch_df and epoch_df["lr"].notna().any():
        rows = epoch_df.dropna(subset=["lr"]).sort_values("epoch")
        fig.add_trace(
            go.Scatter(
                x=rows["epoch"].astype(float),
                y=rows["lr"].astype(float),
                mode="lines+markers",
                name="learning rate",
                line={"color": COLORS["lr"]},
            )
        )
        fig.update_yaxes(type="log", exponentformat="e")
    fig.update_layout(showlegend=False)
    return fig


def overlay_figure(
    runs: Mapping[str, pd.DataFrame], metric: str = "val_accuracy", *, height: int = 360
) -> go.Figure:
    """One line per run (label -> epoch table) of an epoch metric, to compare runs."""
    names = {
        "loss": "training loss",
        "accuracy": "training accuracy",
        "val_loss": "validation loss",
        "val_accuracy": "validation accuracy",
        "lr": "learning rate",
    }
    if metric not in names:
        raise ValueError(f"metric must be one of {', '.join(names)} (got {metric!r})")
    fig = _base(names[metric].capitalize(), names[metric], height)
    for label, df in runs.items():
        if df.empty or metric not in df or not df[metric].notna().any():
            continue
        rows = df.dropna(subset=[metric]).sort_values("epoch")
        fig.add_trace(
            go.Scatter(
                x=rows["epoch"].astype(float), y=rows[metric].astype(float), mode="lines+markers", name=label
            )
        )
    fig.update_xaxes(rangemode="tozero")
    if metric.endswith("accuracy"):
        fig.update_yaxes(tickformat=".1~%")
    if metric == "lr":
        fig.update_yaxes(type="log", exponentformat="e")
    return fig
