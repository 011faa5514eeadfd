"""Figures of the fast gradient sign method: image, perturbation, perturbed image, and the curve."""

from __future__ import annotations

import plotly.graph_objects as go

from nnlab.explain.adversarial import Attack
from nnlab.figures.style import COLORS, DIVERGING, GRAY, MARGIN, PALETTE, panels_figure

CAPTIONS = {
    "images": "Images in grey (black 0, white 1); the perturbation in blue (a pixel made darker by epsilon) "
    "and red (made brighter by epsilon).",
    "curve": "Lines: the network's probability for each digit named, as epsilon grows; the dotted line is "
    "the "
    "epsilon chosen, the dashed one the smallest that changes the answer.",
}


def attack_figure(attack: Attack, epsilon: float, height: int = 280) -> go.Figure:
    """The image, the perturbation (epsilon x sign of the gradient) and the perturbed image."""
    perturbed = attack.perturbed(epsilon)
    titles = ["the image", f"+ perturbation (±{epsilon:g})", "= what the network sees"]
    limit = max(epsilon, 1e-6)
    panels = [
        (attack.image, GRAY, 0.0, 1.0),
        (perturbed - attack.image, DIVERGING, -limit, limit),
        (perturbed, GRAY, 0.0, 1.0),
    ]
    return panels_figure(panels, titles, height)


def attack_curve_figure(attack: Attack, epsilon: float, height: int = 280) -> go.Figure:
    """The probability of the attacked digit and of the answers it turns into, against epsilon."""
    fig = go.Figure()
    digits = [attack.digit, *[d for d in dict.fromkeys(attack.answers.tolist()) if d != attack.digit]][:4]
    for k, d in enumerate(digits):
        fig.add_trace(
            go.Scatter(
                x=attack.epsilons,
                y=attack.probs[:, d],
                mode="lines",
                name=f"digit {d}",
                line={"color": PALETTE[k], "width": 3 if d == attack.digit else 2},
            )
        )
    fig.add_vline(x=epsilon, line={"dash": "dot", "color": COLORS["neutral"]})
    if attack.flip is not None:
        fig.add_vline(x=attack.flip, line={"dash": "dash", "color": COLORS["highlight"]})
    fig.update_layout(
        height=height,
        margin=MARGIN,
        xaxis_title="epsilon",
        yaxis_title="probability",
        yaxis_range=[0, 1.02],
        legend={"orientation": "h", "y": 1.15},
    )
    return fig
