"""The look every NN Lab figure shares: colours, margins, a base layout, images and tiles of images."""

from __future__ import annotations

import base64
import io
import math
from typing import Any

import numpy as np
import plotly.graph_objects as go
import plotly.io as pio

# plotly's ten default colours (D3's category10): one per run, layer or digit, in this order.
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
COLORS = {
    "train": PALETTE[0],
    "train_batch": "rgba(31,119,180,0.45)",  # the per-batch line, lighter than the epoch points
    "val": PALETTE[1],
    "lr": PALETTE[2],
    "bar": "#4c78a8",
    "highlight": "#e4572e",  # the one bar that matters (the network's answer)
    "neutral": "#7f7f7f",
}
GRAY = [[0.0, "#000000"], [1.0, "#ffffff"]]  # MNIST's own look: black background, white ink
DIVERGING = "RdBu_r"  # weights: blue negative, white zero, red positive
DIGITS = [str(d) for d in range(10)]

MARGIN = {"l": 50, "r": 10, "t": 40, "b": 40}  # charts with axis titles
SMALL_MARGIN = {"l": 40, "r": 10, "t": 40, "b": 30}  # small bar charts
IMAGE_MARGIN = {"l": 10, "r": 10, "t": 30, "b": 10}  # images: no axes to label
# The legend at the foot of the whole figure (not at a fraction of the plot's height below it, where a
# narrow chart's legend of several rows ran into the x axis's title).
LEGEND_BELOW = {"orientation": "h", "yref": "container", "y": 0, "yanchor": "bottom"}
LEGEND_ROW_PX = 20  # a legend row's height: charts with many curves grow by this much per extra row


def base_layout(
    title: str = "",
    height: int = 320,
    xaxis_title: str | None = None,
    yaxis_title: str | None = None,
    hovermode: str | None = "x unified",
) -> dict:
    """NN Lab's chart layout (title, margins, legend below, zoom kept across refreshes) as a dict."""
    layout = {
        "hovermode": hovermode,
        "title": {"text": title, "x": 0.0, "xanchor": "left"},
        "height": height,
        "margin": MARGIN,
        "legend": LEGEND_BELOW,
        "uirevision": "keep",  # keep a visitor's zoom while the chart refreshes
    }
    for axis, text in (("xaxis", xaxis_title), ("yaxis", yaxis_title)):
        if text is not None:
            layout[axis] = {"title": {"text": text}}
    return layout


def base_figure(*args: Any, **kwargs: Any) -> go.Figure:
    """An empty chart with NN Lab's title, margins and legend (``base_layout``'s arguments).

    Built in one call: plotly's ``update_layout`` costs milliseconds per call, and the live charts
    are rebuilt every second for every visitor watching a training.
    """
    return go.Figure(layout=base_layout(*args, **kwargs))


def plain_figure(data: list[dict], layout: dict) -> go.Figure:
    """A figure from plain trace and layout dicts, without plotly's check of every property.

    The check costs a third of building a live chart, which is rebuilt every second for every
    visitor watching a training (issue 13). The functions using it build their dicts from fixed
    keys, and ``tests/test_charts.py`` validates their figures. The figure carries only the part of
    plotly's default template that its traces use (the whole one is copied and sent to the browser
    with every figure, and most of it styles kinds of charts this one does not have).
    """
    if "template" not in layout:
        layout = {**layout, "template": _template_for(frozenset(t.get("type", "scatter") for t in data))}
    return go.Figure({"data": data, "layout": layout}, _validate=False)


def _template_for(kinds: frozenset[str]) -> dict:
    """The active default template's layout, and its trace styles for ``kinds`` of traces only."""
    name = pio.templates.default
    key = (name, kinds)
    if key not in _TEMPLATES:
        whole = pio.templates[name].to_plotly_json() if name else {}
        data = {kind: styles for kind, styles in whole.get("data", {}).items() if kind in kinds}
        _TEMPLATES[key] = {"layout": whole.get("layout", {}), **({"data": data} if data else {})}
    return _TEMPLATES[key]


_TEMPLATES: dict[tuple, dict] = {}


def typed_array(values: Any) -> dict:
    """Numbers as plotly.js reads a typed array: float32, base64-encoded (``{"dtype", "bdata"}``).

    Half the bytes of the float64 that plotly sends by default, and nothing a chart a few hundred
    pixels high can show is lost (float32 keeps 7 significant digits).
    """
    array = np.ascontiguousarray(values, dtype="<f4")
    return {"dtype": "f4", "bdata": base64.b64encode(array.tobytes()).decode("ascii")}


class SentFigure(go.Figure):
    """A live chart as the dict Streamlit sends, made straight from plain traces and a layout.

    ``st.plotly_chart`` serialises ``to_dict()`` of the figure it is given. A live chart is drawn
    every second for every visitor watching while its data change at most once a second per run, so
    the dict is made once per change and shared read-only by every drawing (issue 13): its traces as
    given, their numpy arrays as float32 ``typed_array``s, and the layout with the part of the
    template its traces use (``plain_figure``'s). No plotly object is built for the points: checking
    and copying them was most of the cost. ``previous``, the chart this one replaces, lends its
    layout when the layout did not change (expanding the template is the rest of the cost). Not
    even an empty plotly figure is made (half of what was left): a ``SentFigure`` is its dict for
    ``st.plotly_chart`` and ``plotly.io``, which read nothing but ``to_dict()`` of a figure;
    ``tests/test_charts.py`` checks that the dict is a valid figure.
    """

    def __init__(self, data: list[dict], layout: dict, previous: SentFigure | None = None):
        # no super().__init__(): a plotly figure's objects are exactly what is not wanted here
        kinds = frozenset(trace.get("type", "scatter") for trace in data)
        self._source = (layout, kinds)
        if previous is not None and previous._source == self._source:
            sent_layout = previous._sent["layout"]
        else:
            sent_layout = plain_figure([], {"template": _template_for(kinds), **layout}).to_dict()["layout"]
        traces = [
            {k: typed_array(v) if isinstance(v, np.ndarray) else v for k, v in trace.items()}
            for trace in data
        ]
        self._sent = {"data": traces, "layout": sent_layout}

    def to_dict(self) -> dict:  # plotly's to_plotly_json and to_json read it too
        return self._sent


IMAGE_AXIS = {"showticklabels": False, "ticks": "", "showgrid": False, "zeroline": False}


def image_layout(height: int, margin: dict | None = None) -> dict:
    """The layout of an image: square pixels, row 0 at the top, no ticks or grid."""
    return {
        "height": height,
        "margin": margin or IMAGE_MARGIN,
        "xaxis": {**IMAGE_AXIS, "constrain": "domain"},
        "yaxis": {**IMAGE_AXIS, "autorange": "reversed", "scaleanchor": "x"},
    }


def image_axes(fig: go.Figure, height: int, margin: dict | None = None) -> go.Figure:
    """Axes for an image: square pixels, row 0 at the top, no ticks or grid (one layout update)."""
    return fig.update_layout(image_layout(height, margin))


def fit_height(shape: tuple[int, int], width: int = 800, margin: int = 50) -> int:
    """A height that lets an image of ``shape`` fill about ``width`` pixels at square pixels."""
    h, w = shape
    return int(min(900, max(160, width * h / w + margin)))


def tile(images: np.ndarray, cols: int, pad: int = 1, top: int = 0, fill: float = np.nan) -> np.ndarray:
    """Images (N, H, W) in a grid of ``cols`` columns, ``pad`` pixels apart (+ ``top`` above each row).

    The gaps hold ``fill``: NaN is drawn as blank by a heatmap and as transparent by ``png_uri``.
    """
    images = np.asarray(images)
    n, h, w = images.shape
    cols = max(1, min(cols, n)) if n else 1
    rows = max(1, math.ceil(n / cols))  # ceiling division: a partly filled last row
    out = np.full((rows * (h + pad + top) - pad, cols * (w + pad) - pad), fill, dtype=np.float32)
    for k in range(n):
        r, c = divmod(k, cols)
        y0 = r * (h + pad + top) + top
        out[y0 : y0 + h, c * (w + pad) : c * (w + pad) + w] = images[k]
    return out


def png_uri(mosaic: np.ndarray, vmax: float = 255.0) -> str:
    """A gray image (NaN = transparent) as a PNG data URI: far lighter to send than a heatmap."""
    m = np.asarray(mosaic, dtype=np.float64)
    gray = np.clip(np.nan_to_num(m, nan=0.0) / vmax * 255.0, 0, 255).astype(np.uint8)
    alpha = np.where(np.isnan(m), 0, 255).astype(np.uint8)
    return image_uri(np.dstack([gray, gray, gray, alpha]))


def image_uri(pixels: np.ndarray) -> str:
    """An RGB or RGBA image (uint8) as a PNG data URI: ``st.image`` sends it as it is, with no
    encoding and no media file at each drawing (a live view draws its image every second)."""
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(np.asarray(pixels, dtype=np.uint8)).save(buffer, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def svg_uri(svg: str) -> str:
    """An SVG picture as a data URI, for a Markdown image: ``![words](uri)``."""
    return "data:image/svg+xml;base64," + base64.b64encode(svg.encode("utf-8")).decode("ascii")


def diverging_rgb(values: np.ndarray, limit: float | None = None, scale: int = 1) -> np.ndarray:
    """Weights as an RGB image: blue negative, white 0, red positive (NaN: white), each pixel ``scale``
    times as large. An image element, far lighter to refresh every second than a heatmap."""
    v = np.asarray(values, dtype=np.float64)
    limit = limit or float(np.nanmax(np.abs(v))) or 1.0
    t = np.clip(np.nan_to_num(v, nan=0.0) / limit, -1.0, 1.0)[..., np.newaxis]
    blue, white, red = np.array([33, 102, 172]), np.array([247, 247, 247]), np.array([178, 24, 43])
    rgb = np.where(t < 0, white + (blue - white) * -t, white + (red - white) * t)
    return np.kron(rgb, np.ones((scale, scale, 1))).astype(np.uint8)


Panel = tuple[np.ndarray, object, float, float]  # an image, its colour scale, and the scale's ends


def panels_figure(
    panels: list[Panel], titles: list[str], height: int, text_format: str | None = None
) -> go.Figure:
    """Images side by side with square pixels, each on its own colour scale; with ``text_format``
    (e.g. ".2f") every cell also shows its number (blank for NaN)."""
    from plotly.subplots import make_subplots

    fig = make_subplots(rows=1, cols=len(panels), subplot_titles=titles, horizontal_spacing=0.03)
    for col, (z, scale, low, high) in enumerate(panels, start=1):
        z = np.asarray(z, dtype=np.float64)
        numbers = {}
        if text_format:
            text = np.vectorize(lambda v: "" if np.isnan(v) else format(v, text_format))(z)
            numbers = {"text": text, "texttemplate": "%{text}", "textfont": {"size": 10}}
        heatmap = go.Heatmap(
            z=z,
            colorscale=scale,
            zmin=low,
            zmax=high,
            showscale=False,
            hovertemplate="%{z:.4f}<extra></extra>",
            **numbers,
        )
        fig.add_trace(heatmap, row=1, col=col)
    fig.update_xaxes(visible=False, constrain="domain")
    fig.update_yaxes(visible=False, autorange="reversed")
    for col in range(1, len(panels) + 1):
        fig.update_yaxes(scaleanchor=f"x{col if col > 1 else ''}", row=1, col=col)
    return fig.update_layout(height=height, margin={"l": 5, "r": 5, "t": 40, "b": 5})
