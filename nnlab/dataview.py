"""What the Data page shows, as plain arrays and plotly figures (no Streamlit here).

Picking a page of images (filtered by digit, in order or shuffled), tiling them into one labelled
figure, the class counts, each digit's mean image, the pixel intensity histogram, and one image's
raw 0-255 values next to the [0, 1] values a network is fed.
"""

from __future__ import annotations

import base64
import io
import math

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

GRAY = [[0.0, "#000000"], [1.0, "#ffffff"]]
DIVERGING = "RdBu"


def select_indices(
    y: np.ndarray,
    digit: int | None = None,
    page: int = 1,
    per_page: int = 40,
    shuffle_seed: int | None = None,
) -> tuple[np.ndarray, int]:
    """The dataset indices on ``page`` (1-based) of the images of ``digit`` (None = all), and the page count.

    With ``shuffle_seed`` the images come in a seeded random order, else in dataset order. A page
    beyond the last gives the last page.
    """
    if per_page < 1:
        raise ValueError("per_page must be at least 1")
    y = np.asarray(y)
    idx = np.arange(len(y)) if digit is None else np.flatnonzero(y == digit)
    if shuffle_seed is not None:
        idx = np.random.default_rng(shuffle_seed).permutation(idx)
    n_pages = max(1, math.ceil(len(idx) / per_page))
    page = min(max(int(page), 1), n_pages)
    return idx[(page - 1) * per_page : page * per_page], n_pages


def tile(images: np.ndarray, cols: int, pad: int = 2, top: int = 0, fill: float = 0.0) -> np.ndarray:
    """Images (N, H, W) in a grid of ``cols`` columns, ``pad`` pixels apart (+ ``top`` above each row)."""
    images = np.asarray(images)
    n, h, w = images.shape
    cols = max(1, min(cols, n)) if n else 1
    rows = max(1, math.ceil(n / cols))
    out = np.full((rows * (h + pad + top) - pad, cols * (w + pad) - pad), fill, dtype=np.float32)
    for k in range(n):
        r, c = divmod(k, cols)
        y0 = r * (h + pad + top) + top
        out[y0 : y0 + h, c * (w + pad) : c * (w + pad) + w] = images[k]
    return out


def to_png_uri(mosaic: np.ndarray, vmax: float = 255.0) -> str:
    """A gray image (NaN = transparent) as a PNG data URI: far lighter to send than a heatmap."""
    from PIL import Image

    m = np.asarray(mosaic, dtype=np.float64)
    gray = np.clip(np.nan_to_num(m, nan=0.0) / vmax * 255.0, 0, 255).astype(np.uint8)
    alpha = np.where(np.isnan(m), 0, 255).astype(np.uint8)
    rgba = np.dstack([gray, gray, gray, alpha])
    buffer = io.BytesIO()
    Image.fromarray(rgba, mode="RGBA").save(buffer, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def image_grid_figure(
    images: np.ndarray, labels: np.ndarray, indices: np.ndarray | None = None, cols: int = 10, title: str = ""
) -> go.Figure:
    """One figure holding every image with its label above it (and its dataset index on hover)."""
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
    mosaic = tile(images, cols, pad, top, fill=np.nan)
    vmax = 255.0 if np.nanmax(mosaic) > 1 else 1.0
    fig.add_trace(go.Image(source=to_png_uri(mosaic, vmax), hoverinfo="skip"))
    # One invisible point per image, for the hover text.
    xs, ys, texts = [], [], []
    for k, (lab, ix) in enumerate(zip(labels, indices)):
        r, c = divmod(k, cols)
        x0, y0 = c * (w + pad), r * (h + pad + top) + top
        fig.add_annotation(
            x=x0 + w / 2 - 0.5,
            y=y0 - top / 2 - 0.5,
            text=f"<b>{lab}</b>",
            showarrow=False,
            font={"size": 12, "color": "#1f77b4"},
        )
        xs.append(x0 + w / 2)
        ys.append(y0 + h / 2)
        texts.append(f"label {lab} · image #{ix}")
    fig.add_trace(
        go.Scatter(
            x=xs,
            y=ys,
            mode="markers",
            marker={"size": 30, "opacity": 0},
            text=texts,
            hovertemplate="%{text}<extra></extra>",
            showlegend=False,
        )
    )
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


def class_counts_table(y_train: np.ndarray, y_test: np.ndarray) -> pd.DataFrame:
    """Images per digit in each part, with each part's share (MNIST is nearly, not exactly, balanced)."""
    tr = np.bincount(np.asarray(y_train, dtype=np.int64), minlength=10)
    te = np.bincount(np.asarray(y_test, dtype=np.int64), minlength=10)
    return pd.DataFrame(
        {
            "digit": [str(d) for d in range(10)],
            "training": tr,
            "test": te,
            "training share": tr / max(tr.sum(), 1),
            "test share": te / max(te.sum(), 1),
        }
    )


def class_counts_figure(y_train: np.ndarray, y_test: np.ndarray, share: bool = False) -> go.Figure:
    """Bars of how many images each digit has, training and test side by side."""
    table = class_counts_table(y_train, y_test)
    fig = go.Figure()
    for part, color in (("training", "#1f77b4"), ("test", "#ff7f0e")):
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
        margin={"l": 50, "r": 10, "t": 40, "b": 40},
        legend={"orientation": "h", "y": 1.12, "x": 1, "xanchor": "right"},
    )
    if share:
        fig.update_yaxes(tickformat=".0%")
    return fig


def mean_images(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """The average image of each digit, shape (10, 28, 28), in pixel units 0-255."""
    x = np.asarray(x)
    y = np.asarray(y)
    out = np.zeros((10, *x.shape[1:]), dtype=np.float64)
    for d in range(10):
        members = x[y == d]
        if len(members):
            out[d] = members.mean(axis=0, dtype=np.float64)
    return out


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


def pixel_histogram(x: np.ndarray) -> np.ndarray:
    """How many pixels take each value 0..255, over all the images given."""
    return np.bincount(np.asarray(x, dtype=np.uint8).reshape(-1), minlength=256)


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
            marker_color="#1f77b4",
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
        margin={"l": 50, "r": 10, "t": 40, "b": 40},
    )
    if log_y:
        fig.update_yaxes(type="log")
    return fig


def raw_and_scaled(image: np.ndarray) -> tuple[pd.DataFrame, pd.DataFrame]:
    """One image's raw 0-255 values and the same pixels divided by 255, as 28x28 tables."""
    raw = np.asarray(image, dtype=np.uint8)
    if raw.ndim != 2:
        raise ValueError(f"expected one 2-D image, got shape {raw.shape}")
    scaled = raw.astype(np.float32) / np.float32(255.0)
    cols = [str(c) for c in range(raw.shape[1])]
    return pd.DataFrame(raw, columns=cols), pd.DataFrame(scaled.round(2), columns=cols)


def ink_box(image: np.ndarray, margin: int = 1) -> tuple[slice, slice]:
    """Rows and columns holding the ink (non-zero pixels), plus ``margin``: the part worth printing as numbers."""
    image = np.asarray(image)
    rows, cols = np.flatnonzero(image.any(axis=1)), np.flatnonzero(image.any(axis=0))
    if rows.size == 0:
        return slice(0, image.shape[0]), slice(0, image.shape[1])
    return (
        slice(max(rows[0] - margin, 0), min(rows[-1] + margin + 1, image.shape[0])),
        slice(max(cols[0] - margin, 0), min(cols[-1] + margin + 1, image.shape[1])),
    )


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


def input_stats(image: np.ndarray) -> pd.DataFrame:
    """Range, mean and spread of one image's inputs, raw and scaled: why we divide by 255."""
    raw = np.asarray(image, dtype=np.float64)
    scaled = raw / 255.0
    rows = []
    for name, v in (("raw 0-255", raw), ("scaled [0, 1]", scaled)):
        rows.append(
            {
                "inputs": name,
                "min": v.min(),
                "max": v.max(),
                "mean": v.mean(),
                "std": v.std(),
                "sum of squares": float(np.sum(v * v)),
            }
        )
    return pd.DataFrame(rows)
