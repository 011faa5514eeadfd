"""How a layer separates the digits: its activations for 2,000 test images mapped to two dimensions.

PCA (scikit-learn) keeps the two directions along which the activations vary most: fast, and a new
image (the learner's drawing) is placed by the same projection. t-SNE keeps each image's nearest
neighbours near: slower (seconds to tens of seconds), clusters more clearly, and has no projection for
a new point, so the drawing is placed at the mean position of its nearest neighbours in the layer.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from nnlab.evaluation import mnist_test_set
from nnlab.explain.layers import layer_activations, layers_of

N_IMAGES = 2000  # the first 2,000 test images (about 200 of each digit)
MAX_VALUES = 8192  # layers giving more numbers per image are left out (too slow to map in a second)
PIXELS = "pixels"  # the input itself, for comparison
METHODS = ("PCA", "t-SNE")
NEIGHBOURS = 10
TSNE_ITERATIONS = 500


@dataclass(frozen=True, eq=False)
class DigitMap:
    """2,000 test images placed in 2-D by one layer's activations."""

    layer: str
    method: str
    coords: np.ndarray  # (N, 2)
    labels: np.ndarray  # their digits
    indices: np.ndarray  # their numbers in the test set
    activations: np.ndarray  # (N, values): what the map was made from
    projection: Any = None  # the fitted PCA (None for t-SNE)


def map_layers(model: Any) -> list[tuple[str, str]]:
    """(name, description) of what can be mapped: the pixels, then each hidden layer small enough."""
    out = [(PIXELS, "the input: 784 pixels")]
    for layer in layers_of(model)[:-1]:  # the output layer: its 10 probabilities are the answer itself
        size = int(np.prod(layer.output.shape[1:]))
        if type(layer).__name__ not in ("Dropout", "Rescaling") and size <= MAX_VALUES:
            out.append((layer.name, f"{layer.name}: {type(layer).__name__}, {size:,} numbers per image"))
    return out


def activations(model: Any, layer: str, images: np.ndarray) -> np.ndarray:
    """(N, values): the layer's outputs for images (N, 28, 28) in [0, 1] or uint8, flattened."""
    x = np.asarray(images)
    if layer == PIXELS:
        return (x / 255.0 if x.dtype == np.uint8 else x).reshape(len(x), -1).astype(np.float32)
    return layer_activations(model, layer, x)


def digit_map(
    model: Any, layer: str, method: str = "PCA", seed: int = 0, n_images: int = N_IMAGES
) -> DigitMap:
    """The map of the first ``n_images`` test images by ``layer`` ('pixels' or a layer name)."""
    if method not in METHODS:
        raise ValueError(f"unknown map method {method!r}; choose one of {', '.join(METHODS)}")
    x, y = mnist_test_set()
    acts, labels, indices = (
        activations(model, layer, x[:n_images]),
        y[:n_images],
        np.arange(min(n_images, len(y))),
    )
    if method == "PCA":
        from sklearn.decomposition import PCA

        pca = PCA(2, random_state=seed).fit(acts)
        return DigitMap(layer, method, pca.transform(acts), labels, indices, acts, pca)
    from sklearn.decomposition import PCA
    from sklearn.manifold import TSNE

    reduced = PCA(min(50, *acts.shape), random_state=seed).fit_transform(acts)
    coords = TSNE(2, init="pca", perplexity=30, max_iter=TSNE_ITERATIONS, random_state=seed).fit_transform(
        reduced
    )
    return DigitMap(layer, method, coords, labels, indices, acts)


def place(digit_map: DigitMap, point_activations: np.ndarray) -> np.ndarray:
    """Where a new image (its activations in the map's layer) lands on the map: (x, y)."""
    a = np.asarray(point_activations, dtype=np.float32).reshape(1, -1)
    if digit_map.projection is not None:
        return digit_map.projection.transform(a)[0]
    distances = np.linalg.norm(digit_map.activations - a, axis=1)
    nearest = np.argsort(distances)[:NEIGHBOURS]
    return digit_map.coords[nearest].mean(axis=0)
