"""Figures of the MNIST data itself: a page of images, class balance, mean digits, pixel values."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from nnlab.figures.style import GRAY, MARGIN, PALETTE, png_uri, tile


def image_grid_figure(
    images: np.ndarray,
    labels: np.ndarray,
    indices: np.ndarray | None = None,
    cols: int = 10,
    title: str = "",
    colors: list[str] | None = None,
    hover: list[str] | None = None,
) -> go.Figure:
    """One figure holding every image with its label above it (and its dataset index on hover).

    ``colors`` gives each label its own colour, ``hover`` each image its own hover text.
    """
    images = np.asarray(images)
    labels = np.asarray(labels)
    indices = np.arange(len(images)) if indices is None else np.asarray(indices)
    fig = go.Figure()
    if len(images) == 0:
        fig.update_layout(title=title or "No images", height=120, xaxis_visible=False, yaxis_visible=False)
        return fig
    h, w = images.shape[1:]
    pad, top = 2, 9  # 'top' leaves a strip above each row for the labels
    cols = max(1, min(cols, len(images)))
    rows = math.ceil(len(images) / cols)
    mosaic = tile(images, cols, pad, top)
    vmax = 255.0 if np.nanmax(mosaic) > 1 else 1.0
    fig.add_trace(go.Image(source=png_uri(mosaic, vmax), hoverinfo="skip"))
    _add_labels(fig, labels, indices, cols, (h, w, pad, top), colors, hover)
    cell = 78
    fig.update_layout(
        title=title,
        height=rows * cell + 50,
        margin={"l": 5, "r": 5, "t": 40 if title else 20, "b": 5},
        plot_bgcolor="rgba(0,0,0,0)",
    )
    fig.update_xaxes(visible=False, constrain="domain", range=[-0.5, mosaic.shape[1] - 0.5])
    fig.update_yaxes(visible=False, autorange=False, range=[mosaic.shape[0] - 0.5, -0.5], scaleanchor="x")
    return fig


def class_counts_figure(y_train: np.ndarray, y_test: np.ndarray, share: bool = False) -> go.Figure:
    """Bars of how many images each digit has, training and test side by side."""
    from nnlab.exploration import class_counts_table  # pandas: not on the home page, which imports this

    table = class_counts_table(y_train, y_test)
    fig = go.Figure()
    for part, color in (("training", PALETTE[0]), ("test", PALETTE[1])):
        values = table[f"{part} share"] if share else table[part]
        fig.add_trace(
            go.Bar(
                x=table["digit"],
                y=values,
                name=part,
                marker_color=color,
                hovertemplate=f"digit %{{x}}: %{{y:{'.1%' if share else ','}}} {part} images<extra></extra>",
            )
        )
    fig.update_layout(
        barmode="group",
        title="Images per digit",
        xaxis_title="digit",
        yaxis_title="share of the part" if share else "images",
        height=340,
        margin=MARGIN,
        legend={"orientation": "h", "y": 1.12, "x": 1, "xanchor": "right"},
    )
    if share:
        fig.update_yaxes(tickformat=".0%")
    return fig


def digit_counts_svg(
    counts: np.ndarray, pictures: Sequence[str] = (), width: int = 320, height: int = 120
) -> str:
    """The home page's data at a glance as one SVG picture: a bar per digit with its count above it
    and the digit below, and over each bar a picture of that digit where ``pictures`` (PNG data URIs,
    one per digit) are given.

    One picture, not a chart or a row of images: the browser draws it at once, where a plotly chart
    first loads and compiles plotly.js (about a second on a slow machine) and each image of a row is
    an element of its own to lay out (ten of them: 50 ms of a new visitor's home page, issue 13).
    """
    counts = np.asarray(counts, dtype=float)
    n, top, bottom = len(counts), 14, 16  # room for the counts above the bars and the digits below
    slot, tallest = width / max(n, 1), max(float(counts.max()) if n else 0.0, 1.0)
    side = slot - 4 if len(pictures) else 0.0  # the pictures' row: a square per digit
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height + side:.0f}" '
        f'viewBox="0 0 {width} {height + side:.0f}" font-family="sans-serif" font-size="9" '
        'text-anchor="middle">'
    ]
    for d, picture in enumerate(pictures):
        parts.append(
            f'<image href="{picture}" x="{d * slot + 2:.1f}" y="0" width="{side:.1f}" height="{side:.1f}"/>'
        )
    for d, count in enumerate(counts):
        h = (height - top - bottom) * count / tallest
        x, y = d * slot, side + height - bottom - h
        parts.append(
            f'<rect x="{x + slot * 0.15:.1f}" y="{y:.1f}" width="{slot * 0.7:.1f}" height="{h:.1f}" '
            f'fill="{PALETTE[0]}"/>'
            f'<text x="{x + slot / 2:.1f}" y="{y - 3:.1f}" fill="#555">{int(count):,}</text>'
            f'<text x="{x + slot / 2:.1f}" y="{side + height - 4:.0f}" font-size="11">{d}</text>'
        )
    return "".join(parts) + "</svg>"


def _add_labels(fig: go.Figure, labels, indices, cols: int, geometry: tuple, colors, hover) -> None:
    """Each label as text above its image, and an invisible point on each image for its hover text: two
    traces (a hundred annotations would take seconds to build)."""
    h, w, pad, top = geometry
    r, c = np.divmod(np.arange(len(labels)), cols)
    xs, tops = c * (w + pad) + w / 2, r * (h + pad + top) + top
    fig.add_trace(
        go.Scatter(
            x=xs - 0.5,
            y=tops - top / 2 - 0.5,
            mode="text",
            text=[f"<b>{lab}</b>" for lab in labels],
            textfont={"size": 12, "color": colors or PALETTE[0]},
            hoverinfo="skip",
            showlegend=False,
        )
    )
    texts = hover or [f"label {lab} · image #{ix}" for lab, ix in zip(labels, indices, strict=True)]
    fig.add_trace(
        go.Scatter(
            x=xs,
            y=tops + h / 2,
            mode="markers",
            marker={"size": 30, "opacity": 0},
            text=texts,
            hovertemplate="%{text}<extra></extra>",
            showlegend=False,
        )
    )


def mean_images_figure(means: np.ndarray, title: str = "The mean image of each digit") -> go.Figure:
    """The ten mean images in a row: the blurred 'template' a linear model would start from."""
    fig = make_subplots(
        rows=1, cols=len(means), subplot_titles=[str(d) for d in range(len(means))], horizontal_spacing=0.01
    )
    for d, img in enumerate(means):
        fig.add_trace(
            go.Heatmap(
                z=img,
                colorscale=GRAY,
                zmin=0,
                zmax=255,
                showscale=False,
                hovertemplate=f"digit {d}<br>row %{{y}}, column %{{x}}<br>mean %{{z:.1f}}<extra></extra>",
            ),
            row=1,
            col=d + 1,
        )
    fig.update_xaxes(visible=False)
    fig.update_yaxes(visible=False, autorange="reversed")
    for d in range(len(means)):
        fig.update_yaxes(scaleanchor=f"x{d + 1 if d else ''}", row=1, col=d + 1)
    fig.update_layout(title=title, height=190, margin={"l": 5, "r": 5, "t": 60, "b": 5})
    return fig


def pixel_histogram_figure(counts: np.ndarray, log_y: bool = True, skip_zero: bool = False) -> go.Figure:
    """Bars of the pixel values: most pixels are background (0), the strokes pile up near 255."""
    values = np.arange(256)
    if skip_zero:
        values, counts = values[1:], np.asarray(counts)[1:]
    total = max(int(np.sum(counts)), 1)
    fig = go.Figure(
        go.Bar(
            x=values,
            y=counts,
            marker_color=PALETTE[0],
            customdata=np.asarray(counts) / total,
            hovertemplate="value %{x}: %{y:,} pixels (%{customdata:.2%})<extra></extra>",
        )
    )
    fig.update_layout(
        title="Pixel intensity histogram" + (" (without the 0s)" if skip_zero else ""),
        xaxis_title="pixel value (0 = black background, 255 = white ink)",
        yaxis_title="pixels" + (" (log scale)" if log_y else ""),
        bargap=0,
        height=320,
        margin=MARGIN,
    )
    if log_y:
        fig.update_yaxes(type="log")
    return fig


def values_heatmap(
    values: np.ndarray, title: str, zmax: float, fmt: str, origin: tuple[int, int] = (0, 0)
) -> go.Figure:
    """An image drawn as a grid of its numbers (each cell shows its value; ink is bright).

    ``origin`` is the (row, column) of the top-left cell, for a cropped image's axis labels.
    """
    values = np.asarray(values, dtype=np.float64)
    fig = go.Figure(
        go.Heatmap(
            z=values,
            x=np.arange(values.shape[1]) + origin[1],
            y=np.arange(values.shape[0]) + origin[0],
            colorscale=GRAY,
            zmin=0,
            zmax=zmax,
            showscale=False,
            text=np.vectorize(lambda v: format(v, fmt) if v else "")(values),
            texttemplate="%{text}",
            textfont={"size": 9},
            hovertemplate="row %{y}, column %{x}: %{z:" + fmt + "}<extra></extra>",
        )
    )
    fig.update_layout(title=title, height=520, margin={"l": 5, "r": 5, "t": 40, "b": 5})
    fig.update_xaxes(visible=False, constrain="domain")
    fig.update_yaxes(visible=False, autorange="reversed", scaleanchor="x")
    return fig
