"""Figures and tables of a from-scratch training (no Streamlit here).

The loss and accuracy charts come from ``nnlab.charts`` (the same as the Build & Train page); this
module adds what only the NumPy network exposes: per-layer gradient norms and the first layer's
weights as images, plus turning its events into the metric tables ``nnlab.charts`` reads.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from nnlab.dataview import tile
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


def batch_frame(events: list[dict[str, Any]], steps_per_epoch: int | None = None) -> pd.DataFrame:
    """Batch events as the run store's batch table (``step`` counted over the whole training)."""
    df = _frame(events, BATCH_COLUMNS)
    if steps_per_epoch and not df.empty:
        df["step"] = (df["epoch"] - 1) * steps_per_epoch + df["batch"]
    return df


def epoch_frame(events: list[dict[str, Any]]) -> pd.DataFrame:
    """Epoch events as the run store's epoch table."""
    return _frame(events, EPOCH_COLUMNS)


def _frame(events: list[dict[str, Any]], columns: list[str]) -> pd.DataFrame:
    """Events as a table with ``columns`` first (the event type and gradient norms left out)."""
    if not events:
        return pd.DataFrame(columns=columns)
    df = pd.DataFrame.from_records(
        [{k: v for k, v in e.items() if k not in ("type", "grad_norms")} for e in events]
    )
    return df.reindex(columns=columns + [c for c in df.columns if c not in columns])


def grad_norm_frame(events: list[dict[str, Any]], steps_per_epoch: int | None = None) -> pd.DataFrame:
    """One row per reported batch: its position in epochs and ||dW|| of each layer (columns 'layer 1'...)."""
    rows = [e for e in events if e.get("grad_norms")]
    if not rows:
        return pd.DataFrame(columns=["position"])
    steps = steps_per_epoch or max(int(e["batch"]) for e in rows)
    data = {"position": [e["epoch"] - 1 + e["batch"] / steps for e in rows]}
    for i in range(len(rows[0]["grad_norms"])):
        data[f"layer {i + 1}"] = [e["grad_norms"][i] if i < len(e["grad_norms"]) else np.nan for e in rows]
    return pd.DataFrame(data)


def grad_norm_figure(frame: pd.DataFrame, n_layers: int | None = None, height: int = 320) -> go.Figure:
    """||dW|| per layer over training, log scale: layers whose line sits far below learn far slower.

    Huge norms (an exploding training) are drawn like any other; only infinite, NaN and zero ones,
    which a log axis cannot place, are left out, and the chart says so when that leaves nothing.
    """
    fig = go.Figure()
    layers = [c for c in frame.columns if c.startswith("layer ")]
    total = n_layers or len(layers)
    drawn = 0
    for i, col in enumerate(layers):
        name = f"{col} (output)" if i == total - 1 else f"{col}" + (" (input side)" if i == 0 else "")
        values = frame[col].astype(float)
        ok = np.isfinite(values) & (values > 0)
        drawn += int(ok.sum())
        mode = (
            "lines+markers" if ok.sum() <= 30 else "lines"
        )  # a few points must show even without a line between them
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
    fig.update_layout(
        title={"text": "Gradient norm per layer ||dW||", "x": 0.0, "xanchor": "left"},
        height=height,
        xaxis_title="epoch",
        yaxis_title="||dW|| (log scale)",
        hovermode="x unified",
        uirevision="keep",
        margin={"l": 50, "r": 10, "t": 40, "b": 40},
        legend={"orientation": "h", "y": -0.25},
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
    """First-layer weights of up to ``max_units`` units as 28x28 images (red +, blue -, each unit scaled to its own range).

    ``total_units``: how many units the layer has, for a title that says '32 of 128' when not all are shown.
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


EXPLODED_FACTOR = 10.0  # a loss this many times above a guessing network's counts as exploded


def chance_loss(n_classes: int) -> float:
    """The cross-entropy of a network that gives every class the same probability: where training starts."""
    return math.log(max(2, n_classes))


def peak_loss(batches: list[dict[str, Any]], epochs: list[dict[str, Any]]) -> float | None:
    """The largest finite training loss reported so far (None if none)."""
    values = [float(e["loss"]) for e in [*batches, *epochs] if e.get("loss") is not None]
    finite = [v for v in values if math.isfinite(v)]
    return max(finite) if finite else None


def lessons(
    config: Any, batches: list[dict[str, Any]], epochs: list[dict[str, Any]], end: dict[str, Any] | None
) -> list[str]:
    """Plain-words explanations of what went wrong in a finished training (empty when nothing did).

    ``config`` is a ``ScratchConfig``. A loss far above the start means the steps overshot ('exploded')
    even when nothing became NaN; with raw 0-255 inputs that is the expected lesson, so say why.
    """
    if not end:
        return []
    n_classes = len(config.digits) if config.digits else 10
    start = chance_loss(n_classes)
    peak = peak_loss(batches, epochs)
    exploded = peak is not None and peak > EXPLODED_FACTOR * start
    diverged = bool(end.get("diverged"))
    accuracy = end.get("test_accuracy")
    poor = accuracy is not None and math.isfinite(accuracy) and accuracy < 1.5 / n_classes + 0.2
    out = []
    if exploded and not diverged:
        out.append(
            f"**The loss exploded**: the training loss reached {peak:,.0f}, over {peak / start:,.0f} times the "
            f"{start:.2f} of an untrained network that just guesses. Each update overshot and threw the weights "
            f"further off instead of downhill; nothing became NaN, but the network learned little."
        )
    if not config.scale_inputs and (exploded or diverged or poor):
        norms = [
            max(e["grad_norms"])
            for e in batches
            if e.get("grad_norms") and all(map(math.isfinite, e["grad_norms"]))
        ]
        grads = f" (gradient norms up to {max(norms):,.3g})" if norms else ""
        out.append(
            "**Why raw pixels struggle**: with inputs from 0 to 255 instead of 0 to 1, every first-layer unit sums "
            "about a hundred inked pixels each 255 times larger, so its pre-activation is hundreds of times larger too. "
            f"The gradients grow with the inputs{grads}, so a step of learning rate {config.learning_rate:g} is "
            "hundreds of times too big: the weights jump far away, relu units die (output 0 for every image) or "
            "sigmoid/tanh units saturate (slope 0), and the network ends up guessing one digit. Fix it by turning "
            "**Scale inputs to [0, 1]** on, or, to keep raw pixels, use a far smaller learning rate (about 0.0001 "
            "or less, 255 times smaller or more)."
        )
    elif exploded or (diverged and config.scale_inputs):
        out.append(
            f"A learning rate of {config.learning_rate:g}"
            + (f" with momentum {config.momentum:g}" if config.momentum else "")
            + " is too large for this network: try a 3 to 10 times smaller one."
        )
    return out


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
