"""The network as a picture: a block per layer, drawn to show how the shape shrinks or grows.

A block's height follows the square root of how many numbers the layer gives for one image, its
width the number of channels (a flat layer is a thin bar); its colour is the kind of layer. An
invisible marker on each block carries its hover text and makes it clickable (Streamlit reports
clicked points, not shapes). On Inspect each block holds one image's activations in that layer.
"""

from __future__ import annotations

import math

import numpy as np
import plotly.graph_objects as go

from nnlab.architectures import format_shape
from nnlab.explain.diagram import INPUT, Block
from nnlab.figures.style import PALETTE, png_uri, tile

KIND_COLORS = {
    INPUT: "#bdbdbd",
    "Rescaling": "#bdbdbd",
    "Conv2D": PALETTE[0],
    "MaxPooling2D": PALETTE[1],
    "AveragePooling2D": PALETTE[1],
    "BatchNormalization": PALETTE[4],
    "Dropout": PALETTE[7],
    "Flatten": PALETTE[5],
    "Dense": PALETTE[2],
}
SHORT = {
    "MaxPooling2D": "MaxPool",
    "AveragePooling2D": "AvgPool",
    "BatchNormalization": "BatchNorm",
    "Conv2D": "Conv",
    INPUT: "Input",
}
PROBLEM_COLOR = "#d62728"
SLOT = 1.0  # horizontal room per block
TALLEST = 3.0
MAX_TILES = 16  # feature maps drawn inside a block


def _geometry(blocks: list[Block]) -> list[tuple[float, float]]:
    """(width, height) of each block: height ~ sqrt(size), width ~ log2(channels)."""
    largest = max([b.size for b in blocks] + [1])
    deepest = max([b.shape[-1] for b in blocks if b.shape and len(b.shape) == 3] + [2])
    out = []
    for b in blocks:
        height = 0.35 + (TALLEST - 0.35) * math.sqrt(b.size / largest) if b.size else 1.0
        if b.shape and len(b.shape) == 3:
            width = 0.3 + 0.45 * math.log2(max(b.shape[-1], 1) + 1) / math.log2(deepest + 1)
        else:
            width = 0.16
        out.append((width, height))
    return out


def activation_picture(values: np.ndarray) -> str:
    """One layer's activations for one image as a small PNG: up to 16 maps tiled, or a flat strip."""
    v = np.asarray(values, dtype=np.float64)
    if v.ndim == 3:
        maps = np.moveaxis(v[..., :MAX_TILES], -1, 0)
        mosaic = tile(maps, cols=max(1, math.isqrt(len(maps))), pad=1)
    else:
        mosaic = v.reshape(-1, 1)
    top = float(np.nanmax(np.abs(mosaic))) or 1.0
    return png_uri(np.abs(mosaic), vmax=top)


def _hover(b: Block) -> str:
    lines = [
        f"<b>{b.kind}</b> {b.details}".strip(),
        f"output {format_shape(b.shape)}",
        f"{b.params:,} parameters",
    ]
    if b.problem:
        lines.append(f"<b>problem:</b> {b.problem}")
    return "<br>".join(lines)


def _block(b: Block, x: float, width: float, height: float, selected: bool) -> tuple[dict, list[dict]]:
    """The block's rectangle and its two labels (kind above, shape and parameters below), as layout
    items: set all at once, they cost a fraction of plotly's one-by-one ``add_shape``."""
    line = (
        {"color": PROBLEM_COLOR, "width": 3, "dash": "dash"} if b.problem else {"color": "#333", "width": 1}
    )
    if selected:
        line = {"color": "#1f3fff", "width": 4}
    rect = {
        "type": "rect",
        "x0": x - width / 2,
        "x1": x + width / 2,
        "y0": -height / 2,
        "y1": height / 2,
        "fillcolor": KIND_COLORS.get(b.kind, PALETTE[7]),
        "opacity": 0.85,
        "line": line,
        "layer": "below",
    }
    label = ("⚠ " if b.problem else "") + SHORT.get(b.kind, b.kind)
    below = f"{format_shape(b.shape)}<br>{b.params:,} p." if b.params else format_shape(b.shape)
    texts = [
        {
            "x": x,
            "y": TALLEST / 2 + 0.15,
            "text": label,
            "showarrow": False,
            "textangle": -30,
            "yanchor": "bottom",
            "font": {"size": 11, "color": PROBLEM_COLOR if b.problem else "#222"},
        },
        {
            "x": x,
            "y": -TALLEST / 2 - 0.1,
            "text": below,
            "showarrow": False,
            "yanchor": "top",
            "font": {"size": 10},
        },
    ]
    return rect, texts


def diagram_figure(
    blocks: list[Block],
    activations: dict[str, np.ndarray] | None = None,
    selected: int | None = None,
    title: str = "",
) -> go.Figure:
    """The blocks left to right; ``activations`` (by layer name) are drawn inside their blocks."""
    fig = go.Figure()
    shapes, texts, images = [], [], []
    for i, (b, (width, height)) in enumerate(zip(blocks, _geometry(blocks), strict=True)):
        rect, labels = _block(b, i * SLOT, width, height, selected == b.index)
        shapes.append(rect)
        texts += labels
        values = (activations or {}).get(b.name)
        if values is not None:
            images.append(
                {
                    "source": activation_picture(values),
                    "x": i * SLOT - width / 2,
                    "y": height / 2,
                    "sizex": width,
                    "sizey": height,
                    "xref": "x",
                    "yref": "y",
                    "sizing": "stretch",
                    "layer": "above",
                }
            )
    fig.update_layout(shapes=shapes, annotations=texts, images=images)
    fig.add_trace(
        go.Scatter(
            x=[i * SLOT for i in range(len(blocks))],
            y=[0.0] * len(blocks),
            mode="markers",
            marker={"size": 28, "symbol": "square", "opacity": 0.01, "color": "#000"},
            customdata=[b.index for b in blocks],
            text=[_hover(b) for b in blocks],
            hovertemplate="%{text}<extra></extra>",
            showlegend=False,
            name="blocks",
        )
    )
    fig.update_layout(
        title=title,
        height=330,
        margin={"l": 10, "r": 10, "t": 40 if title else 10, "b": 10},
        clickmode="event+select",
        dragmode=False,
        plot_bgcolor="rgba(0,0,0,0)",
    )
    fig.update_xaxes(visible=False, range=[-0.7, len(blocks) * SLOT - 0.3])
    fig.update_yaxes(visible=False, range=[-TALLEST / 2 - 0.9, TALLEST / 2 + 1.5])
    return fig


def diagram_caption(with_activations: bool) -> str:
    """The one line that explains the diagram's colours and sizes."""
    what = (
        "inside each block, this image's activations in that layer (black 0, white the layer's largest; "
        "up to 16 maps, a flat layer as a strip)"
        if with_activations
        else "a red dashed block has a problem (hover it to read it)"
    )
    return (
        "Colour: the kind of layer (blue convolution, orange pooling, purple batch norm, grey dropout, "
        "brown flatten, green dense); height: how many numbers it gives (square root); width: channels; "
        f"{what}. "
        "Click a block for its details."
    )
