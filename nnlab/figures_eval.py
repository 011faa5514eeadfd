"""Plotly figures for the Evaluate and Inspect pages (plain figure builders, no Streamlit)."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from nnlab.inspection import Activation, WeightHistogram, map_grid, tile, tile_grid

DIGITS = [str(d) for d in range(10)]
PALETTE = [
    "#1f77b4",
    "#ff7f0e",
    "#2ca02c",
    "#d62728",
    "#9467bd",
    "#8c564b",
    "#e377c2",
    "#7f7f7f",
    "#bcbd22",
    "#17becf",
]


def _fit_height(shape: tuple[int, int], width: int = 800, margin: int = 50) -> int:
    """A height that lets an image of ``shape`` fill about ``width`` pixels at square pixels."""
    h, w = shape
    return int(min(900, max(160, width * h / w + margin)))


def _square(fig: go.Figure, height: int) -> go.Figure:
    fig.update_layout(height=height, margin={"l": 10, "r": 10, "t": 30, "b": 10})
    fig.update_xaxes(showticklabels=False, ticks="", showgrid=False, zeroline=False)
    fig.update_yaxes(
        showticklabels=False, ticks="", showgrid=False, zeroline=False, autorange="reversed", scaleanchor="x"
    )
    return fig


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


def curves_figure(
    histories: Mapping[str, pd.DataFrame], metric: str = "loss", height: int = 340
) -> go.Figure:
    """Several runs' per-epoch ``metric``: training solid, validation dashed, one colour per run."""
    fig = go.Figure()
    for i, (name, df) in enumerate(histories.items()):
        color = PALETTE[i % len(PALETTE)]
        if df is None or df.empty:
            continue
        rows = df.sort_values("epoch")
        for column, dash, label in ((metric, "solid", "training"), (f"val_{metric}", "dash", "validation")):
            if column in rows and rows[column].notna().any():
                fig.add_trace(
                    go.Scatter(
                        x=rows["epoch"],
                        y=rows[column],
                        mode="lines+markers",
                        name=f"{name} ({label})",
                        line={"color": color, "dash": dash},
                        legendgroup=name,
                    )
                )
    fig.update_layout(
        title={"text": metric.capitalize(), "x": 0.0},
        height=height,
        xaxis_title="epoch",
        yaxis_title=metric,
        xaxis={"dtick": 1}
        if max((len(d) for d in histories.values() if d is not None), default=0) <= 20
        else {},
        margin={"l": 50, "r": 10, "t": 40, "b": 40},
        legend={"orientation": "h", "y": -0.25},
    )
    return fig


def kernels_figure(grid: np.ndarray, title: str = "", height: int | None = None) -> go.Figure:
    """Kernels (rows, cols, kh, kw) as one tiled image; blue negative, red positive, white zero."""
    image = tile(grid)
    limit = float(np.nanmax(np.abs(image))) or 1.0
    fig = go.Figure(
        go.Heatmap(
            z=image, colorscale="RdBu_r", zmin=-limit, zmax=limit, hovertemplate="%{z:.3f}<extra></extra>"
        )
    )
    return _square(fig.update_layout(title=title), height or _fit_height(image.shape))


def maps_figure(act: Activation, cols: int = 8) -> go.Figure:
    """A conv or pooling layer's feature maps, one tile per channel."""
    grid = map_grid(act.values, cols=cols)
    rows = grid.shape[0]
    fig = go.Figure(
        go.Heatmap(
            z=tile(grid), colorscale="Viridis", showscale=False, hovertemplate="%{z:.3f}<extra></extra>"
        )
    )
    h = act.values.shape[0]
    return _square(
        fig.update_layout(title=f"{act.layer}: {act.values.shape[2]} maps of {h}x{act.values.shape[1]}"),
        _fit_height((rows * (h + 1), grid.shape[1] * (act.values.shape[1] + 1))),
    )


def dense_figure(act: Activation, height: int = 220) -> go.Figure:
    """A dense layer's activations as bars (the output layer's bars are the digit probabilities)."""
    values = np.asarray(act.values)
    x = DIGITS if values.shape == (10,) else list(range(len(values)))
    fig = go.Figure(go.Bar(x=x, y=values, marker_color="#1f77b4"))
    fig.update_layout(
        title=f"{act.layer}: {len(values)} units",
        height=height,
        margin={"l": 40, "r": 10, "t": 40, "b": 30},
        xaxis_title="digit" if values.shape == (10,) else "unit",
        yaxis_title="activation",
        xaxis={"type": "category"} if values.shape == (10,) else {},
    )
    return fig


def digit_images_figure(images: np.ndarray, cols: int = 16, title: str = "") -> go.Figure:
    """Weight images (n, 28, 28) in a grid: blue where a pixel speaks against a unit, red for it."""
    return kernels_figure(tile_grid(images, cols), title)


def histogram_figure(h: WeightHistogram, height: int = 200) -> go.Figure:
    centers = (h.edges[:-1] + h.edges[1:]) / 2
    fig = go.Figure(go.Bar(x=centers, y=h.counts, width=np.diff(h.edges), marker_color="#7f7f7f"))
    fig.update_layout(
        title=f"{h.layer} {h.param} ({h.size:,} values, mean {h.mean:.3f}, sd {h.std:.3f})",
        height=height,
        margin={"l": 40, "r": 10, "t": 40, "b": 30},
        bargap=0,
        title_font_size=12,
    )
    return fig


# Saliency as heat: black (none) through red to yellow (most). The overlay uses the same colours with
# an opacity rising from 0, so that pixels of little saliency leave the dim digit visible.
SALIENCY_COLORS = [(0.0, (0, 0, 0)), (0.35, (180, 0, 0)), (0.7, (255, 110, 0)), (1.0, (255, 240, 60))]


def _saliency_scale(opacity: bool) -> list[list]:
    return [
        [at, f"rgba({r},{g},{b},{min(1.0, at * 1.6) if opacity else 1.0:.2f})"]
        for at, (r, g, b) in SALIENCY_COLORS
    ]


def saliency_figure(image: np.ndarray, sal: np.ndarray, height: int = 320) -> go.Figure:
    """The image in dim grey with the saliency over it as heat (transparent at 0), and a colour bar.

    The digit is kept dark (at most 45 % grey) so that its strokes are never mistaken for salient
    pixels: only the heat colours mark saliency, scaled so that the largest value is 1.
    """
    sal = np.asarray(sal, dtype=float)
    sal = sal / (sal.max() or 1.0)
    img = np.asarray(image, dtype=float)
    img = img / 255.0 if img.max() > 1.0 else img
    fig = go.Figure()
    fig.add_trace(
        go.Heatmap(
            z=img,
            colorscale=[[0, "#000000"], [1, "#737373"]],
            showscale=False,
            zmin=0,
            zmax=1,
            hoverinfo="skip",
            name="image",
        )
    )
    fig.add_trace(
        go.Heatmap(
            z=sal,
            zmin=0,
            zmax=1,
            colorscale=_saliency_scale(opacity=True),
            showscale=False,
            hovertemplate="saliency %{z:.2f}<extra></extra>",
            name="saliency",
        )
    )
    # The colour bar comes from an invisible marker with the opaque scale: the overlay's own bar
    # would show its transparent low end as white, the colour of the digit's strokes.
    fig.add_trace(
        go.Scatter(
            x=[None],
            y=[None],
            mode="markers",
            hoverinfo="skip",
            showlegend=False,
            name="scale",
            marker={
                "color": [0],
                "cmin": 0,
                "cmax": 1,
                "colorscale": _saliency_scale(opacity=False),
                "showscale": True,
                "colorbar": {
                    "title": {"text": "saliency"},
                    "tickvals": [0, 0.5, 1],
                    "ticktext": ["0 none", "0.5", "1 most"],
                    "len": 0.9,
                },
            },
        )
    )
    return _square(fig.update_layout(title="Saliency over the image"), height).update_xaxes(
        constrain="domain"
    )


def image_figure(image: np.ndarray, title: str = "", height: int = 240) -> go.Figure:
    img = np.asarray(image, dtype=float)
    fig = go.Figure(go.Heatmap(z=img, colorscale="gray", showscale=False, hoverinfo="skip"))
    return _square(fig.update_layout(title=title), height)


def probabilities_figure(probs: np.ndarray, height: int = 300) -> go.Figure:
    """The ten digit probabilities as bars, the top one highlighted (the Draw page's answer)."""
    top = int(np.argmax(probs))
    fig = go.Figure(
        go.Bar(
            x=[str(d) for d in range(10)],
            y=probs,
            marker_color=["#e4572e" if d == top else "#4c78a8" for d in range(10)],
            text=[f"{p:.0%}" if p >= 0.01 else "" for p in probs],
            textposition="outside",
            hovertemplate="digit %{x}: %{y:.1%}<extra></extra>",
        )
    )
    fig.update_layout(
        title="Probability of each digit",
        height=height,
        margin={"l": 40, "r": 10, "t": 40, "b": 30},
        xaxis={"title": "digit", "type": "category"},
        yaxis={"title": "probability", "range": [0, 1.12], "tickformat": ".0%"},
    )
    return fig
