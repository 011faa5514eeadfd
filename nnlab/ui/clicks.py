"""Clicks on plotly charts: the point a learner just clicked, once per click.

A chart drawn with ``st.plotly_chart(..., on_select="rerun", selection_mode="points")`` reruns the
page when a point is clicked and then keeps reporting that selection on every later run; ``clicked``
hands it over only the first time, so that a choice made since with other widgets is not undone.
Heatmap cells and shapes are not reported, so the figures put an invisible marker on each.
"""

from __future__ import annotations

from typing import Any

import streamlit as st


def clickable_chart(fig: Any, key: str, **kwargs: Any) -> dict[str, Any] | None:
    """Draw ``fig`` with point selection; returns the point just clicked, if any (see ``clicked``)."""
    event = st.plotly_chart(
        fig, key=key, on_select="rerun", selection_mode="points", config={"displayModeBar": False}, **kwargs
    )
    return clicked(event, key)


def clicked(event: Any, key: str) -> dict[str, Any] | None:
    """The first selected point of a chart's ``event``, the first time it is reported; else None."""
    try:
        points = list(event["selection"]["points"]) if event else []
    except (KeyError, TypeError):
        points = []
    memory = f"{key}_last_click"
    if not points:
        st.session_state.pop(memory, None)  # a later click on the same point counts again
        return None
    point = points[0]
    signature = tuple(str(point.get(k)) for k in ("curve_number", "point_index", "x", "y"))
    if st.session_state.get(memory) == signature:
        return None
    st.session_state[memory] = signature
    return point
