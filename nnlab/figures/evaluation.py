"""Figures of how a network does on the test set, and of its answer to one image."""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go

from nnlab.figures.style import COLORS, DIGITS, SMALL_MARGIN, image_layout


def confusion_figure(
    cm: np.ndarray, normalized: bool = False, selected: tuple[int, int] | None = None
) -> go.Figure:
    """The confusion matrix with its numbers in the cells; the diagonal (right answers) outlined.

    Off-diagonal cells are coloured on their own scale (reds) so that the mistakes stand out instead
    of being washed out by the large diagonal (greens); a transparent marker on each cell makes it
    clickable. ``selected`` (true, predicted) is outlined in blue.
    """
    cm = np.asarray(cm, dtype=float)
    on_diagonal = np.eye(10, dtype=bool)
    text = np.array([[(f"{v:.2f}" if normalized else f"{int(v)}") for v in row] for row in cm])
    fig = go.Figure()
    # Each trace writes only its own cells' numbers (a trace writes text even over its empty cells).
    for mask, scale, template, font, name in (
        (~on_diagonal, "Reds", "%{text}", {"size": 12}, "mistakes"),
        (
            on_diagonal,
            [[0, "#41ab5d"], [1, "#00441b"]],
            "<b>%{text}</b>",
            {"size": 12, "color": "white"},
            "correct",
        ),
    ):
        fig.add_trace(
            go.Heatmap(
                z=np.where(mask, cm, np.nan), x=DIGITS, y=DIGITS, colorscale=scale, showscale=False,
                text=np.where(mask, text, ""), texttemplate=template, textfont=font, hoverinfo="skip",
                xgap=1, ygap=1, name=name,
            )
        )  # fmt: skip
    # Invisible markers carry the hover and the click: Streamlit's chart selection reports points
    # (not heatmap cells), so each cell gets one.
    xs, ys = np.meshgrid(np.arange(10), np.arange(10))
    value = "%{customdata" + (":.3f}" if normalized else "}")
    fig.add_trace(
        go.Scatter(
            x=[DIGITS[i] for i in xs.ravel()], y=[DIGITS[j] for j in ys.ravel()], mode="markers",
            marker={"size": 30, "symbol": "square", "opacity": 0.01, "color": "#000"},
            customdata=cm[ys.ravel(), xs.ravel()], showlegend=False, name="cells",
            hovertemplate=f"true %{{y}}, predicted %{{x}}: {value}<extra></extra>",
        )
    )  # fmt: skip
    for d in range(10):
        _outline(fig, d, d, "#00441b", 2)
    if selected is not None:
        _outline(fig, *selected, "#1f3fff", 3)
    fig.update_layout(
        height=520, margin={"l": 60, "r": 10, "t": 60, "b": 10}, clickmode="event+select", dragmode=False
    )
    axes = {"type": "category", "showgrid": False, "zeroline": False, "constrain": "domain"}
    fig.update_xaxes(title="predicted digit", side="top", **axes)
    fig.update_yaxes(title="true digit", autorange="reversed", scaleanchor="x", **axes)
    return fig


def _outline(fig: go.Figure, true: int, predicted: int, color: str, width: int) -> None:
    """A frame around one cell of the confusion matrix."""
    x0, y0 = predicted - 0.5, true - 0.5
    fig.add_shape(type="rect", x0=x0, x1=x0 + 1, y0=y0, y1=y0 + 1, line={"color": color, "width": width})


def image_figure(image: np.ndarray, title: str = "", height: int = 240) -> go.Figure:
    """One grey image (the Draw page's "what the network sees"), built in one plotly call."""
    img = np.asarray(image, dtype=float)
    heatmap = {"type": "heatmap", "z": img, "colorscale": "gray", "showscale": False, "hoverinfo": "skip"}
    return go.Figure({"data": [heatmap], "layout": {"title": {"text": title}, **image_layout(height)}})


def probabilities_figure(probs: np.ndarray, height: int = 300) -> go.Figure:
    """The ten digit probabilities as bars, the top one highlighted (the Draw page's answer).

    Built in one plotly call: the Draw page draws it after every stroke of every visitor.
    """
    top = int(np.argmax(probs))
    bars = {
        "type": "bar",
        "x": DIGITS,
        "y": probs,
        "marker": {"color": [COLORS["highlight"] if d == top else COLORS["bar"] for d in range(10)]},
        "text": [f"{p:.0%}" if p >= 0.01 else "" for p in probs],
        "textposition": "outside",
        "hovertemplate": "digit %{x}: %{y:.1%}<extra></extra>",
    }
    layout = {
        "title": {"text": "Probability of each digit"},
        "height": height,
        "margin": SMALL_MARGIN,
        "xaxis": {"title": {"text": "digit"}, "type": "category"},
        "yaxis": {"title": {"text": "probability"}, "range": [0, 1.12], "tickformat": ".0%"},
    }
    return go.Figure({"data": [bars], "layout": layout})
