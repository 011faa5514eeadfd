"""The digit map: 2,000 test images placed by one layer's activations, coloured by digit."""

from __future__ import annotations

import plotly.graph_objects as go

from nnlab.explain.embedding import PIXELS, DigitMap
from nnlab.figures.style import MARGIN, PALETTE

CAPTION = (
    "Colour: the digit each test image shows (see the legend); the black star is the image shown above; "
    "hover a point to see which test image it is, click it to open it here."
)


def digit_map_figure(
    dm: DigitMap, current: tuple[float, float] | None, current_label: str, height: int = 560
) -> go.Figure:
    """One trace per digit (clickable points carrying their test image number), and the current image."""
    fig = go.Figure()
    layer = "the raw pixels" if dm.layer == PIXELS else dm.layer
    for d in range(10):
        mask = dm.labels == d
        fig.add_trace(
            go.Scatter(
                x=dm.coords[mask, 0],
                y=dm.coords[mask, 1],
                mode="markers",
                name=str(d),
                marker={"color": PALETTE[d], "size": 6, "opacity": 0.75},
                customdata=dm.indices[mask],
                hovertemplate=f"test image #%{{customdata}}, a {d}<extra></extra>",
            )
        )
    if current is not None:
        fig.add_trace(
            go.Scatter(
                x=[current[0]],
                y=[current[1]],
                mode="markers",
                name=current_label,
                hoverinfo="name",
                marker={"symbol": "star", "size": 22, "color": "#000", "line": {"color": "#fff", "width": 2}},
            )
        )
    title = f"{dm.method} of {layer}: {len(dm.labels):,} test images"
    plain = {"showticklabels": False, "title": None, "zeroline": False}
    layout = {"height": height, "margin": MARGIN, "clickmode": "event+select", "dragmode": "pan"}
    return fig.update_layout(title=title, legend_title_text="digit", xaxis=plain, yaxis=plain, **layout)
