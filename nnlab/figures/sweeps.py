"""A sweep's test accuracy: a heatmap over two settings, or a line over one.

Cells still training are blank (NaN) and the best cell is outlined; each cell is labelled with its
accuracy, so the chart reads without hovering, also on a phone.
"""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go

from nnlab.figures.style import COLORS, base_figure


def _percent(value: float) -> str:
    return "" if np.isnan(value) else f"{100 * value:.1f}%"


def sweep_heatmap(
    accuracy: np.ndarray, rows: list[str], cols: list[str], row_label: str, col_label: str, height: int = 360
) -> go.Figure:
    """Test accuracy per cell: ``rows`` are the first setting's values (y), ``cols`` the second's (x)."""
    fig = base_figure("Test accuracy", height, col_label, row_label, hovermode="closest")
    text = [[_percent(v) for v in row] for row in accuracy]
    fig.add_trace(
        go.Heatmap(
            z=accuracy,
            x=cols,
            y=rows,
            text=text,
            texttemplate="%{text}",
            colorscale="Viridis",
            colorbar={"title": "accuracy", "tickformat": ".0%"},
            hovertemplate=f"{row_label} %{{y}}<br>{col_label} %{{x}}<br>accuracy %{{text}}<extra></extra>",
        )
    )
    fig.update_xaxes(type="category")
    fig.update_yaxes(type="category")
    if not np.isnan(accuracy).all():
        r, c = np.unravel_index(np.nanargmax(accuracy), accuracy.shape)
        line = {"color": COLORS["highlight"], "width": 3}
        fig.add_shape(type="rect", x0=c - 0.5, x1=c + 0.5, y0=r - 0.5, y1=r + 0.5, line=line)
    return fig


def sweep_line(accuracy: np.ndarray, values: list[str], label: str, height: int = 320) -> go.Figure:
    """Test accuracy against the one setting swept (its values as categories, in the order given)."""
    fig = base_figure("Test accuracy", height, label, "test accuracy", hovermode="closest")
    y = np.asarray(accuracy, dtype=float).ravel()
    fig.add_trace(
        go.Scatter(
            x=values,
            y=y,
            mode="lines+markers+text",
            text=[_percent(v) for v in y],
            textposition="top center",
            line={"color": COLORS["train"]},
            name="test accuracy",
        )
    )
    fig.update_xaxes(type="category")
    fig.update_yaxes(tickformat=".1~%")
    fig.update_layout(showlegend=False)
    return fig
