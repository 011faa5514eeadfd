"""Figures and tables of a from-scratch training (the loss and accuracy charts are ``training.py``'s).

What only the NumPy network exposes: per-layer gradient norms and the first layer's weights as
images; and its events turned into the metric tables ``figures.training`` reads.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from nnlab.events import BatchEvent, EpochEvent, epoch_position, to_record
from nnlab.figures.style import base_figure, tile
from nnlab.runs import BATCH_COLUMNS, EPOCH_COLUMNS

LAYER_COLORS = [
    "#d62728",
    "#ff7f0e",
    "#bcbd22",
    "#2ca02c",
    "#17becf",
    "#1f77b4",
    "#9467bd",
    "#e377c2",
    "#8c564b",
    "#7f7f7f",
    "#000000",
]


def batch_frame(events: list[BatchEvent]) -> pd.DataFrame:
    """Batch events as the run store's batch table (``step`` counted over the whole training)."""
    return _frame(events, BATCH_COLUMNS)


def epoch_frame(events: list[EpochEvent]) -> pd.DataFrame:
    """Epoch events as the run store's epoch table."""
    return _frame(events, EPOCH_COLUMNS)


def _frame(events: list[Any], columns: list[str]) -> pd.DataFrame:
    """Events as a table with ``columns`` first (the gradient norms left out)."""
    if not events:
        return pd.DataFrame(columns=columns)
    records = [{k: v for k, v in to_record(e).items() if k != "grad_norms"} for e in events]
    df = pd.DataFrame.from_records(records)
    return df.reindex(columns=columns + [c for c in df.columns if c not in columns])


def grad_norm_frame(events: list[BatchEvent], steps_per_epoch: int | None = None) -> pd.DataFrame:
    """One row per reported batch: its position in epochs and ||dW|| of each layer (columns 'layer 1'...)."""
    rows = [e for e in events if e.grad_norms]
    if not rows:
        return pd.DataFrame(columns=["position"])
    steps = steps_per_epoch or max(e.batch for e in rows)
    data: dict[str, list[float]] = {"position": [epoch_position(e.epoch, e.batch, steps) for e in rows]}
    for i in range(len(rows[0].grad_norms or [])):
        data[f"layer {i + 1}"] = [e.grad_norms[i] if i < len(e.grad_norms or []) else np.nan for e in rows]
    return pd.DataFrame(data)


def grad_norm_figure(frame: pd.DataFrame, n_layers: int | None = None, height: int = 320) -> go.Figure:
    """||dW|| per layer over training, log scale: layers whose line sits far below learn far slower.

    Huge norms (an exploding training) are drawn like any other; only infinite, NaN and zero ones,
    which a log axis cannot place, are left out, and the chart says so when that leaves nothing.
    """
    fig = base_figure("Gradient norm per layer ||dW||", height, "epoch", "||dW|| (log scale)")
    layers = [c for c in frame.columns if c.startswith("layer ")]
    total = n_layers or len(layers)
    drawn = 0
    for i, col in enumerate(layers):
        name = f"{col} (output)" if i == total - 1 else f"{col}" + (" (input side)" if i == 0 else "")
        values = frame[col].astype(float)
        ok = np.isfinite(values) & (values > 0)
        drawn += int(ok.sum())
        # a few points must show even without a line between them
        mode = "lines+markers" if ok.sum() <= 30 else "lines"
        fig.add_trace(
            go.Scatter(
                x=frame["position"][ok],
                y=values[ok],
                mode=mode,
                name=name,
                marker={"size": 5},
                line={"color": LAYER_COLORS[i % len(LAYER_COLORS)], "width": 1.5},
                hovertemplate=f"{col}: %{{y:.3g}}<extra></extra>",
            )
        )
    fig.update_yaxes(type="log", exponentformat="power")
    fig.update_xaxes(rangemode="tozero")
    if layers and len(frame) and not drawn:
        fig.add_annotation(
            text="No finite gradient to draw: they overflowed (infinite or NaN) or were all zero.",
            showarrow=False,
            xref="paper",
            yref="paper",
            x=0.5,
            y=0.5,
        )
    return fig


def weights_figure(
    images: np.ndarray,
    max_units: int = 32,
    cols: int = 8,
    height_per_row: int = 90,
    total_units: int | None = None,
) -> go.Figure:
    """First-layer weights of up to ``max_units`` units as 28x28 images (red +, blue -).

    Each unit is scaled to its own range. ``total_units``: how many units the layer has, for a title
    that says '32 of 128' when not all are shown.
    """
    images = np.asarray(images, dtype=np.float64)[:max_units]
    fig = go.Figure()
    if len(images) == 0:
        return fig
    scale = np.abs(images).reshape(len(images), -1).max(axis=1)
    normed = images / np.where(scale > 0, scale, 1.0)[:, None, None]  # every unit in [-1, 1]
    normed = np.nan_to_num(normed, nan=0.0, posinf=0.0, neginf=0.0)
    cols = max(1, min(cols, len(images)))
    mosaic = tile(normed, cols, pad=2, fill=np.nan)
    fig.add_trace(
        go.Heatmap(
            z=mosaic,
            colorscale="RdBu",
            reversescale=True,
            zmin=-1,
            zmax=1,
            zmid=0,
            showscale=False,
            hoverongaps=False,
            hovertemplate="weight / unit's largest |weight|: %{z:.2f}<extra></extra>",
        )
    )
    rows = math.ceil(len(images) / cols)
    fig.update_layout(
        height=rows * height_per_row + 30,
        margin={"l": 5, "r": 5, "t": 25, "b": 5},
        title={
            "text": weights_title(len(images), total_units),
            "x": 0.0,
            "xanchor": "left",
            "font": {"size": 13},
        },
        plot_bgcolor="rgba(0,0,0,0)",
    )
    fig.update_xaxes(visible=False, constrain="domain")
    fig.update_yaxes(visible=False, autorange="reversed", scaleanchor="x")
    return fig


def weights_title(shown: int, total: int | None = None) -> str:
    """'First-layer weights of 32 of 128 hidden units' (or 'of 16 hidden units' when all are shown)."""
    if total is not None and total > shown:
        return f"First-layer weights of {shown} of {total} hidden units"
    return f"First-layer weights of {shown} hidden unit" + ("s" if shown != 1 else "")


def comparison_table(scratch_epochs: pd.DataFrame, keras_epochs: pd.DataFrame) -> pd.DataFrame:
    """The last epoch of each side by side: accuracy, loss, time and speed."""
    rows = []
    for who, df in (("from scratch (NumPy)", scratch_epochs), ("Keras", keras_epochs)):
        if df is None or df.empty:
            continue
        last = df.sort_values("epoch").iloc[-1]
        rows.append(
            {
                "network": who,
                "epochs": int(last["epoch"]),
                "accuracy": last.get("accuracy"),
                "val_accuracy": last.get("val_accuracy"),
                "loss": last.get("loss"),
                "val_loss": last.get("val_loss"),
                "seconds": last.get("elapsed"),
                "samples/s": last.get("samples_per_sec"),
            }
        )
    return pd.DataFrame(rows)
