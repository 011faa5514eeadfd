"""Figures of one neuron step by step: a clickable map or unit bars, and the arithmetic of one number.

The numbers come from ``nnlab.explain.neuron``; each figure's colours are explained by a caption
in ``STEP_CAPTIONS`` (or its title).
"""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go

from nnlab.explain.neuron import ConvStep, DenseStep, PoolStep
from nnlab.figures.style import COLORS, DIVERGING, GRAY, SMALL_MARGIN, image_axes, panels_figure

SELECTED = "#1f3fff"
STEP_CAPTIONS = {
    "map": "Colour: each number of this map, dark purple for the lowest to yellow for the highest; "
    "the blue frame is the number explained below. Click any cell to explain it.",
    "units": "Bar height: each unit's output; the orange bar is the unit explained below. "
    "Click a bar to explain it.",
    "conv": "Input patch in grey (black 0, white the patch's largest value); kernel and products in "
    "blue (negative), white (0) and red (positive).",
    "pool": "Colour: the window's values (dark purple low, yellow high); the blue frame marks the value "
    "chosen.",
    "dense": "Green bars push the unit's score up, red bars push it down; the grey bar is every "
    "other input's contribution added up.",
}


def _frame(fig: go.Figure, r: int, c: int, **where) -> None:
    fig.add_shape(
        type="rect",
        x0=c - 0.5,
        x1=c + 0.5,
        y0=r - 0.5,
        y1=r + 0.5,
        line={"color": SELECTED, "width": 3},
        **where,
    )


def map_figure(
    values: np.ndarray, selected: tuple[int, int] | None, title: str, height: int = 380
) -> go.Figure:
    """One feature map (h, w) as a heatmap with an invisible marker on every cell (clickable)."""
    v = np.asarray(values, dtype=np.float64)
    h, w = v.shape
    fig = go.Figure(go.Heatmap(z=v, colorscale="Viridis", showscale=False, hoverinfo="skip"))
    rows, cols = np.mgrid[0:h, 0:w]
    fig.add_trace(
        go.Scatter(
            x=cols.ravel(),
            y=rows.ravel(),
            mode="markers",
            customdata=v.ravel(),
            name="cells",
            marker={
                "size": max(6, min(22, 380 // max(h, w))),
                "symbol": "square",
                "opacity": 0.01,
                "color": "#000",
            },
            hovertemplate="row %{y}, column %{x}: %{customdata:.4f}<extra></extra>",
            showlegend=False,
        )
    )
    if selected is not None:
        _frame(fig, *selected)
    fig.update_layout(title=title, clickmode="event+select", dragmode=False)
    return image_axes(fig, height)


def units_figure(values: np.ndarray, selected: int | None, title: str, height: int = 260) -> go.Figure:
    """A flat layer's outputs as bars (clickable), the explained unit highlighted."""
    v = np.asarray(values, dtype=np.float64).reshape(-1)
    colors = [COLORS["highlight"] if i == selected else COLORS["bar"] for i in range(len(v))]
    fig = go.Figure(
        go.Bar(
            x=np.arange(len(v)), y=v, marker_color=colors, hovertemplate="unit %{x}: %{y:.4f}<extra></extra>"
        )
    )
    fig.update_layout(
        title=title,
        height=height,
        margin=SMALL_MARGIN,
        xaxis_title="unit",
        yaxis_title="output",
        clickmode="event+select",
        dragmode=False,
        bargap=0.05,
    )
    return fig


def conv_step_figure(step: ConvStep, channel: int = 0, height: int = 300) -> go.Figure:
    """Input patch, kernel and their products for one input channel, with the numbers in the cells."""
    patch, kernel, products = step.patch[..., channel], step.kernel[..., channel], step.products[..., channel]
    titles = [f"input patch (channel {channel})", "kernel weights", f"products: sum {products.sum():.3f}"]
    limit = float(max(np.abs(kernel).max(), 1e-12))
    plimit = float(max(np.abs(products).max(), 1e-12))
    panels = [
        (patch, GRAY, 0.0, float(max(patch.max(), 1e-12))),
        (kernel, DIVERGING, -limit, limit),
        (products, DIVERGING, -plimit, plimit),
    ]
    return panels_figure(panels, titles, height, text_format=".2f")


def channel_sums_figure(step: ConvStep, height: int = 220) -> go.Figure:
    """What each input channel adds to the sum (the products summed over the window, per channel)."""
    sums = step.products.sum(axis=(0, 1))
    colors = [COLORS["highlight"] if s >= 0 else COLORS["bar"] for s in sums]
    fig = go.Figure(
        go.Bar(
            x=np.arange(len(sums)),
            y=sums,
            marker_color=colors,
            hovertemplate="channel %{x}: %{y:.4f}<extra></extra>",
        )
    )
    fig.update_layout(
        title=f"Each of the {len(sums)} input channels' share of the sum (orange adds, blue takes away)",
        height=height,
        margin=SMALL_MARGIN,
        xaxis_title="input channel",
        yaxis_title="sum of products",
    )
    return fig


def pool_figure(step: PoolStep, height: int = 260) -> go.Figure:
    """The pooling window with its numbers; the chosen value framed (max pooling)."""
    window = step.window
    what = "largest" if step.mode == "max" else "mean"
    title = f"The window: its {what} value is {step.output:.4f}"
    fig = panels_figure(
        [(window, "Viridis", float(np.nanmin(window)), float(np.nanmax(window)))],
        [title],
        height,
        text_format=".3f",
    )
    if step.chosen is not None:
        _frame(fig, *step.chosen, row=1, col=1)
    return fig


def contributions_figure(step: DenseStep, height: int = 360) -> go.Figure:
    """The largest contributions (input x weight), the rest summed, and the bias, as horizontal bars."""
    idx = step.largest
    labels = [f"input {i}: {step.inputs[i]:.3f} × {step.weights[i]:.3f}" for i in idx]
    values = list(step.contributions[idx])
    others = len(step.inputs) - len(idx)
    labels += [f"the other {others} inputs, summed", "bias"]
    values += [step.rest, step.bias]
    colors = [("#2ca02c" if v >= 0 else "#d62728") for v in values[:-2]] + [COLORS["neutral"], "#9467bd"]
    fig = go.Figure(
        go.Bar(
            y=labels,
            x=values,
            orientation="h",
            marker_color=colors,
            hovertemplate="%{y}: %{x:.4f}<extra></extra>",
        )
    )
    fig.update_layout(
        title=f"Unit {step.unit}: score z = {step.pre_activation:.4f}",
        height=height,
        margin={"l": 10, "r": 10, "t": 40, "b": 30},
        xaxis_title="contribution to the score",
    )
    fig.update_yaxes(autorange="reversed", automargin=True)
    return fig
