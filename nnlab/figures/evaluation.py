"""Figures of how a network does on the test set, and of its answer to one image."""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go

from nnlab.figures.style import COLORS, DIGITS, SMALL_MARGIN, image_axes


def confusion_figure(
    cm: np.ndarray, normalized: bool = False, selected: tuple[int, int] | None = None
) -> go.Figure:
    """The confusion matrix with its numbers in the cells; the diagonal (right answers) outlined.

    Off-diagonal cells are coloured on their own scale so that the mistakes stand out instead of
    being washed out by the large diagonal; a transparent marker on each cell makes it clickable.
    """
    cm = np.asarray(cm, dtype=float)
    off = cm.copy()
    np.fill_diagonal(off, np.nan)
    diag = np.full_like(cm, np.nan)
    np.fill_diagonal(diag, np.diag(cm))
    text = [[(f"{v:.2f}" if normalized else f"{int(v)}") for v in row] for row in cm]
    # Each trace writes only its own cells' numbers (a trace writes text even over its empty cells).
    off_text = [[t if i != j else "" for j, t in enumerate(row)] for i, row in enumerate(text)]
    diag_text = [[t if i == j else "" for j, t in enumerate(row)] for i, row in enumerate(text)]
    hover = "true %{y}, predicted %{x}: %{z" + (":.3f}" if normalized else "}") + "<extra></extra>"
    fig = go.Figure()
    fig.add_trace(
        go.Heatmap(
            z=off,
            x=DIGITS,
            y=DIGITS,
            colorscale="Reds",
            showscale=False,
            text=off_text,
            texttemplate="%{text}",
            textfont={"size": 12},
            hoverinfo="skip",
            xgap=1,
            ygap=1,
            name="mistakes",
        )
    )
    fig.add_trace(
        go.Heatmap(
            z=diag,
            x=DIGITS,
            y=DIGITS,
            colorscale=[[0, "#41ab5d"], [1, "#00441b"]],
            showscale=False,
            text=diag_text,
            texttemplate="<b>%{text}</b>",
            textfont={"size": 12, "color": "white"},
            hoverinfo="skip",
            xgap=1,
            ygap=1,
            name="correct",
        )
    )
    # Invisible markers carry the hover and the click: Streamlit's chart selection reports points
    # (not heatmap cells), so each cell gets one.
    xs, ys = np.meshgrid(np.arange(10), np.arange(10))
    fig.add_trace(
        go.Scatter(
            x=[DIGITS[i] for i in xs.ravel()],
            y=[DIGITS[j] for j in ys.ravel()],
            mode="markers",
            marker={"size": 30, "symbol": "square", "opacity": 0.01, "color": "#000"},
            customdata=cm[ys.ravel(), xs.ravel()],
            hovertemplate=hover.replace("%{z", "%{customdata"),
            showlegend=False,
            name="cells",
        )
    )
    for d in range(10):
        fig.add_shape(
            type="rect", x0=d - 0.5, x1=d + 0.5, y0=d - 0.5, y1=d + 0.5, line={"color": "#00441b", "width": 2}
        )
    if selected is not None:
        t, p = selected
        fig.add_shape(
            type="rect", x0=p - 0.5, x1=p + 0.5, y0=t - 0.5, y1=t + 0.5, line={"color": "#1f3fff", "width": 3}
        )
    fig.update_layout(
        height=520, margin={"l": 60, "r": 10, "t": 60, "b": 10}, clickmode="event+select", dragmode=False
    )
    fig.update_xaxes(
        title="predicted digit",
        type="category",
        side="top",
        showgrid=False,
        zeroline=False,
        constrain="domain",
    )
    fig.update_yaxes(
        title="true digit",
        type="category",
        autorange="reversed",
        scaleanchor="x",
        showgrid=False,
        zeroline=False,
        constrain="domain",
    )
    return fig


def image_figure(image: np.ndarray, title: str = "", height: int = 240) -> go.Figure:
    img = np.asarray(image, dtype=float)
    fig = go.Figure(go.Heatmap(z=img, colorscale="gray", showscale=False, hoverinfo="skip"))
    return image_axes(fig.update_layout(title=title), height)


def probabilities_figure(probs: np.ndarray, height: int = 300) -> go.Figure:
    """The ten digit probabilities as bars, the top one highlighted (the Draw page's answer)."""
    top = int(np.argmax(probs))
    fig = go.Figure(
        go.Bar(
            x=[str(d) for d in range(10)],
            y=probs,
            marker_color=[COLORS["highlight"] if d == top else COLORS["bar"] for d in range(10)],
            text=[f"{p:.0%}" if p >= 0.01 else "" for p in probs],
            textposition="outside",
            hovertemplate="digit %{x}: %{y:.1%}<extra></extra>",
        )
    )
    fig.update_layout(
        title="Probability of each digit",
        height=height,
        margin=SMALL_MARGIN,
        xaxis={"title": "digit", "type": "category"},
        yaxis={"title": "probability", "range": [0, 1.12], "tickformat": ".0%"},
    )
    return fig
