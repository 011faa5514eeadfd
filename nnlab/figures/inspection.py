"""Figures of what a network has learnt and how it sees one image: kernels, maps, weights, saliency.

The numbers come from ``nnlab.inspection``; every figure says in its title or hover what its
colours mean.
"""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go

from nnlab.figures.style import COLORS, DIGITS, DIVERGING, SMALL_MARGIN, fit_height, image_axes, tile
from nnlab.inspection import Activation, WeightHistogram, map_grid, tile_grid


def grid_image(grid: np.ndarray) -> np.ndarray:
    """A (rows, cols, h, w) grid as one image, with a blank (NaN) pixel between tiles."""
    rows, cols, h, w = grid.shape
    return tile(np.reshape(grid, (rows * cols, h, w)), cols, pad=1)


def kernels_figure(grid: np.ndarray, title: str = "", height: int | None = None) -> go.Figure:
    """Kernels (rows, cols, kh, kw) as one tiled image; blue negative, red positive, white zero."""
    image = grid_image(grid)
    limit = float(np.nanmax(np.abs(image))) or 1.0
    fig = go.Figure(
        go.Heatmap(
            z=image, colorscale=DIVERGING, zmin=-limit, zmax=limit, hovertemplate="%{z:.3f}<extra></extra>"
        )
    )
    return image_axes(fig.update_layout(title=title), height or fit_height(image.shape))


def maps_figure(act: Activation, cols: int = 8) -> go.Figure:
    """A conv or pooling layer's feature maps, one tile per channel."""
    grid = map_grid(act.values, cols=cols)
    rows = grid.shape[0]
    fig = go.Figure(
        go.Heatmap(
            z=grid_image(grid), colorscale="Viridis", showscale=False, hovertemplate="%{z:.3f}<extra></extra>"
        )
    )
    h = act.values.shape[0]
    return image_axes(
        fig.update_layout(title=f"{act.layer}: {act.values.shape[2]} maps of {h}x{act.values.shape[1]}"),
        fit_height((rows * (h + 1), grid.shape[1] * (act.values.shape[1] + 1))),
    )


def dense_figure(act: Activation, height: int = 220) -> go.Figure:
    """A dense layer's activations as bars (the output layer's bars are the digit probabilities)."""
    values = np.asarray(act.values)
    x = DIGITS if values.shape == (10,) else list(range(len(values)))
    fig = go.Figure(go.Bar(x=x, y=values, marker_color=COLORS["train"]))
    fig.update_layout(
        title=f"{act.layer}: {len(values)} units",
        height=height,
        margin=SMALL_MARGIN,
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
    fig = go.Figure(go.Bar(x=centers, y=h.counts, width=np.diff(h.edges), marker_color=COLORS["neutral"]))
    fig.update_layout(
        title=f"{h.layer} {h.param} ({h.size:,} values, mean {h.mean:.3f}, sd {h.std:.3f})",
        height=height,
        margin=SMALL_MARGIN,
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
    dim_grey = [[0, "#000000"], [1, "#737373"]]
    fig.add_trace(
        go.Heatmap(
            z=img, colorscale=dim_grey, showscale=False, zmin=0, zmax=1, hoverinfo="skip", name="image"
        )
    )
    fig.add_trace(
        go.Heatmap(
            z=sal, zmin=0, zmax=1, colorscale=_saliency_scale(opacity=True), showscale=False,
            hovertemplate="saliency %{z:.2f}<extra></extra>", name="saliency",
        )
    )  # fmt: skip
    # The colour bar comes from an invisible marker with the opaque scale: the overlay's own bar
    # would show its transparent low end as white, the colour of the digit's strokes.
    bar = {
        "title": {"text": "saliency"},
        "tickvals": [0, 0.5, 1],
        "ticktext": ["0 none", "0.5", "1 most"],
        "len": 0.9,
    }
    marker = {
        "color": [0],
        "cmin": 0,
        "cmax": 1,
        "colorscale": _saliency_scale(opacity=False),
        "showscale": True,
    }
    fig.add_trace(
        go.Scatter(
            x=[None], y=[None], mode="markers", hoverinfo="skip", showlegend=False, name="scale",
            marker={**marker, "colorbar": bar},
        )
    )  # fmt: skip
    return image_axes(fig.update_layout(title="Saliency over the image"), height).update_xaxes(
        constrain="domain"
    )
