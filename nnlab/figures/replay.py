"""Learning replayed: a snapshot's first-layer weights, its answers on the probe digits, its accuracy."""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go

from nnlab.evaluation import mnist_test_set
from nnlab.figures.data import image_grid_figure
from nnlab.figures.style import COLORS, MARGIN, tile
from nnlab.snapshots import Snapshot, epoch_label

RIGHT, WRONG = "#2ca02c", "#d62728"
CAPTIONS = {
    "weights": "Weights in blue (negative), white (0) and red (positive), all on one scale per snapshot.",
    "probe": "Digits in grey (black background, white ink); above each, the network's answer: green when "
    "right, red when wrong.",
    "accuracy": "The share of the probe digits answered right at each snapshot; the orange point is the "
    "one shown.",
}


def weight_tiles(weights: np.ndarray) -> np.ndarray | None:
    """A snapshot's weights as tiles (n, h, w): each conv kernel (first input channel), or each Dense
    unit's 784 weights as a 28 x 28 image; None for weights that are not images."""
    w = np.asarray(weights)
    if w.ndim == 4:
        return np.moveaxis(w[:, :, 0, :], -1, 0)
    if w.ndim == 2 and w.shape[0] == 784:
        return w.T.reshape(-1, 28, 28)
    return None


def weight_mosaic(weights: np.ndarray, cols: int = 8) -> np.ndarray | None:
    """The tiles in one array, a NaN pixel between them (blank in the figures)."""
    tiles = weight_tiles(weights)
    return None if tiles is None else tile(tiles, cols, pad=1)


def probe_figure(snap: Snapshot) -> go.Figure:
    """The probe digits with the snapshot's answers above them."""
    x, _ = mnist_test_set()
    predictions = snap.predictions
    right = predictions == snap.labels
    hover = [
        f"test image #{i}, a {t}: the network says {p} ({q:.0%})"
        for i, t, p, q in zip(snap.probe, snap.labels, predictions, snap.probs.max(axis=1), strict=True)
    ]
    title = f"After {epoch_label(snap.epoch)}: {right.sum()} of {len(right)} probe digits right"
    return image_grid_figure(
        x[snap.probe],
        predictions,
        snap.probe,
        cols=10,
        title=title,
        colors=[RIGHT if r else WRONG for r in right],
        hover=hover,
    )


def probe_accuracy_figure(snaps: list[Snapshot], current: int, height: int = 240) -> go.Figure:
    epochs = [s.epoch for s in snaps]
    fig = go.Figure(
        go.Scatter(
            x=epochs,
            y=[s.accuracy for s in snaps],
            mode="lines+markers",
            line={"color": COLORS["train"]},
            hovertemplate="%{x} epochs: %{y:.0%}<extra></extra>",
        )
    )
    fig.add_trace(
        go.Scatter(
            x=[epochs[current]],
            y=[snaps[current].accuracy],
            mode="markers",
            marker={"color": COLORS["highlight"], "size": 14},
            hoverinfo="skip",
        )
    )
    fig.update_layout(
        height=height,
        margin=MARGIN,
        showlegend=False,
        xaxis_title="epochs trained",
        yaxis={"title": "probe accuracy", "range": [0, 1.05], "tickformat": ".0%"},
    )
    return fig
