"""Inspection: kernels, feature maps, first-layer weights, histograms and saliency for every preset."""

from __future__ import annotations

import numpy as np
import pytest

from nnlab import inspection as ins
from nnlab.architectures import PRESETS, build_model, get_preset, normalize, summary
from nnlab.evaluation import mnist_test_set
from nnlab.figures.inspection import grid_image


@pytest.fixture(scope="module")
def models():
    return {name: build_model(get_preset(name)) for name in PRESETS}


@pytest.fixture(scope="module")
def image():
    x, _ = mnist_test_set()
    return x[0].astype(np.float32) / 255.0


def _shape(text: str) -> tuple[int, ...]:
    return tuple(int(s) for s in text.strip("()").split(",") if s.strip())


@pytest.mark.parametrize("name", list(PRESETS))
def test_feature_maps_cover_every_conv_pool_and_dense_layer_with_the_right_shapes(models, image, name):
    model = models[name]
    spec = get_preset(name)
    table = summary(spec)
    expected = [
        (row["kind"], _shape(row["output shape"]))
        for _, row in table.iterrows()
        if row["kind"] in ins.MAP_KINDS
    ]
    maps = ins.feature_maps(model, image)
    assert [(ins.MAP_KINDS[k], s) for k, s in expected] == [(m.kind, m.values.shape) for m in maps]
    out = maps[-1].values
    assert out.shape == (10,) and out.sum() == pytest.approx(1.0, abs=1e-4)  # the softmax output
    np.testing.assert_allclose(out, np.asarray(model(image.reshape(1, 28, 28, 1)))[0], atol=1e-5)
    again = ins.feature_maps(model, (image * 255).astype(np.uint8))  # uint8 images work too
    np.testing.assert_allclose(again[-1].values, out, atol=1e-2)


@pytest.mark.parametrize("name", list(PRESETS))
def test_saliency_is_a_28x28_map(models, image, name):
    sal = ins.saliency(models[name], image)
    assert sal.shape == (28, 28) and sal.dtype == np.float32
    assert np.all(sal >= 0) and sal.max() > 0
    assert ins.saliency(models[name], image, class_index=3).shape == (28, 28)


@pytest.mark.parametrize("name", list(PRESETS))
def test_kernels_or_dense_weight_images(models, name):
    model = models[name]
    layers = normalize(get_preset(name))["layers"]
    convs = [layer for layer in layers if layer["kind"] == "Conv2D"]
    if convs:
        assert ins.has_conv(model)
        names = ins.conv_layer_names(model)
        assert len(names) == len(convs)
        first = ins.conv_kernels(model)
        k = convs[0]["kernel_size"]
        assert first.shape == (k, k, 1, convs[0]["filters"])
        deeper = ins.conv_kernels(model, names[-1])
        assert deeper.shape == (convs[-1]["kernel_size"],) * 2 + (convs[-2]["filters"], convs[-1]["filters"])
        grid = ins.kernel_grid(deeper, in_channel=5)
        assert grid.shape[2:] == deeper.shape[:2]
        np.testing.assert_array_equal(grid.reshape(-1, *deeper.shape[:2])[7], deeper[:, :, 5, 7])
        with pytest.raises(ValueError):
            ins.dense_weight_images(model)
    else:
        assert not ins.has_conv(model)
        with pytest.raises(ValueError, match="no convolution"):
            ins.conv_kernels(model)
        images = ins.dense_weight_images(model)
        units = layers[1]["units"]
        assert images.shape == (units, 28, 28)
        kernel = model.layers[1].get_weights()[0]  # the first Dense after Flatten: (784, units)
        np.testing.assert_array_equal(images[3].ravel(), kernel[:, 3])


def test_tutorial_cnn_first_kernels_make_a_4x8_grid(models):
    kernels = ins.conv_kernels(models["CNN with dropout (Keras tutorial)"])
    grid = ins.kernel_grid(kernels)
    assert grid.shape == (4, 8, 3, 3)
    np.testing.assert_array_equal(grid[1, 2], kernels[:, :, 0, 10])  # row-major: tile 10 is row 1, column 2
    tiled = grid_image(grid)
    assert tiled.shape == (4 * 4 - 1, 8 * 4 - 1)
    assert np.isnan(tiled[3, 0]) and np.isnan(tiled[0, 3])  # gaps between tiles
    np.testing.assert_array_equal(tiled[4:7, 8:11], kernels[:, :, 0, 10])


def test_grid_layout_for_odd_counts():
    assert ins.grid_shape(32) == (4, 8) and ins.grid_shape(64) == (8, 8) and ins.grid_shape(5) == (1, 5)
    grid = ins.map_grid(np.ones((4, 4, 10), np.float32))
    assert grid.shape == (2, 8, 4, 4)
    assert np.isnan(grid[1, 2:]).all() and not np.isnan(grid[1, :2]).any()
    with pytest.raises(ValueError):
        ins.kernel_grid(np.ones((3, 3, 1, 4)), in_channel=1)


def test_weight_histograms_cover_every_weight(models):
    model = models["Strong CNN (BatchNorm, 99.4 %+)"]
    hists = ins.weight_histograms(model, bins=30)
    assert sum(h.size for h in hists) == model.count_params()
    assert all(h.counts.sum() == h.size and len(h.edges) == 31 for h in hists)
    params = {(h.layer, h.param) for h in hists}
    assert (
        ("conv2d_1", "kernel") in params and ("conv2d_1", "bias") in params and ("dense_10", "bias") in params
    )


def test_bad_images_are_refused(models):
    with pytest.raises(ValueError, match="28 x 28"):
        ins.feature_maps(models["MLP 784-128-10"], np.zeros((32, 32)))
    with pytest.raises(ValueError, match="NaN or infinite"):
        ins.saliency(models["MLP 784-128-10"], np.full((28, 28), np.nan))


def test_saliency_figure_marks_saliency_only_by_heat_colours():
    """The digit stays dim grey (never as bright as the heat); the overlay is clear at 0, its bar is not."""
    from nnlab.figures import inspection as figs

    image = np.zeros((28, 28), np.float32)
    image[5:23, 13:15] = 1.0
    sal = np.zeros((28, 28))
    sal[10, 10] = 4.0
    fig = figs.saliency_figure(image, sal)
    digit, overlay, scale = fig.data
    assert digit.colorscale[-1][1] != "#ffffff" and not digit.showscale
    assert overlay.z.max() == 1.0  # scaled so that the largest saliency is 1
    assert overlay.colorscale[0][1].endswith(",0.00)") and not overlay.showscale
    assert scale.marker.showscale and all(c.endswith(",1.00)") for _, c in scale.marker.colorscale)
