"""One neuron step by step: the NumPy steps give exactly what Keras computed, for every kind of layer."""

from __future__ import annotations

import numpy as np
import pytest

from nnlab.architectures import build_model
from nnlab.evaluation import mnist_test_set
from nnlab.explain import neuron
from nnlab.explain.layers import layer_activations, layer_outputs

SPEC = {
    "name": "every kind",
    "layers": [
        {"kind": "Conv2D", "filters": 4, "kernel_size": 3, "activation": "relu"},
        {"kind": "BatchNormalization"},
        {
            "kind": "Conv2D",
            "filters": 5,
            "kernel_size": 4,
            "strides": 2,
            "padding": "same",
            "activation": "tanh",
        },
        {"kind": "MaxPooling2D", "pool_size": 3, "strides": 2, "padding": "same"},
        {"kind": "Conv2D", "filters": 3, "kernel_size": 2, "activation": "gelu"},
        {"kind": "AveragePooling2D", "pool_size": 2, "padding": "same"},
        {"kind": "Dropout", "rate": 0.3},
        {"kind": "Flatten"},
        {"kind": "Dense", "units": 12, "activation": "elu"},
        {"kind": "BatchNormalization"},
        {"kind": "Dense", "units": 7, "activation": "sigmoid"},
        {"kind": "Dense", "units": 10, "activation": "softmax"},
    ],
}


@pytest.fixture(scope="module")
def model():
    """A network of every layer kind (raw pixels: a Rescaling layer first), with random weights and
    batch-norm statistics so that no bias or statistic is a trivial 0 or 1."""
    m = build_model(SPEC, raw_pixels=True)
    rng = np.random.default_rng(0)
    for layer in m.layers:
        weights = layer.get_weights()
        if type(layer).__name__ == "BatchNormalization":
            gamma, beta, mean, var = (w.shape for w in weights)
            layer.set_weights(
                [
                    rng.normal(1, 0.3, gamma),
                    rng.normal(0, 0.5, beta),
                    rng.normal(0, 2, mean),
                    rng.uniform(0.2, 3, var),
                ]
            )
        elif weights:
            layer.set_weights([w + rng.normal(0, 0.05, w.shape).astype(np.float32) for w in weights])
    return m


@pytest.fixture(scope="module")
def image():
    x, _ = mnist_test_set()
    return x[7].astype(np.float32) / 255.0


def _positions(shape: tuple[int, ...], n: int = 40, seed: int = 0) -> list[tuple[int, ...]]:
    """``n`` random output positions, plus the corners (where 'same' padding matters)."""
    rng = np.random.default_rng(seed)
    corners = [tuple(0 for _ in shape), tuple(s - 1 for s in shape)]
    return corners + [tuple(int(rng.integers(s)) for s in shape) for _ in range(n)]


def test_every_layers_input_is_the_previous_output_and_the_last_is_the_prediction(model, image):
    ios = layer_outputs(model, image)
    assert [io.name for io in ios] == [layer.name for layer in model.layers]
    assert ios[0].kind == "Rescaling" and ios[0].input.max() <= 1.0 and ios[0].output.max() > 200
    for before, after in zip(ios, ios[1:], strict=False):
        np.testing.assert_array_equal(before.output, after.input)
    np.testing.assert_allclose(ios[-1].output, np.asarray(model(image.reshape(1, 28, 28, 1)))[0], atol=1e-6)


def test_each_step_equals_keras_output_for_that_layer(model, image):
    """Conv (every channel, bias, activation), pooling (window, chosen value), dense, batch norm,
    flatten, dropout and rescaling: each number explained equals the layer's real output."""
    from nnlab._tf import keras

    checked = set()
    for io in layer_outputs(model, image):
        layer = model.get_layer(io.name)
        # The layer's output as its own Keras sub-model computes it, not only the shared probe.
        own = np.asarray(keras.Model(model.inputs[0], layer.output)(image.reshape(1, 28, 28, 1)))[0]
        np.testing.assert_allclose(io.output, own, rtol=1e-5, atol=1e-5)
        for position in _positions(own.shape):
            step = neuron.explain(layer, io.input, position)
            assert step.output == pytest.approx(float(own[position]), rel=1e-4, abs=1e-4), (io.name, position)
        checked.add(io.kind)
    assert checked == {
        "Rescaling",
        "Conv2D",
        "BatchNormalization",
        "MaxPooling2D",
        "AveragePooling2D",
        "Dropout",
        "Flatten",
        "Dense",
    }


def test_conv_step_shows_every_channel_the_bias_and_the_activation(model, image):
    ios = layer_outputs(model, image)
    io = ios[3]  # the 4x4 stride-2 'same' convolution reading 4 channels
    layer = model.get_layer(io.name)
    step = neuron.explain(layer, io.input, (0, 0, 2))
    assert step.patch.shape == step.kernel.shape == (4, 4, 4)
    assert step.padded and step.rows == (-1, 3)  # 'same' padding: a row of zeros above
    np.testing.assert_allclose(step.kernel, layer.get_weights()[0][..., 2])
    assert step.bias == pytest.approx(float(layer.get_weights()[1][2]))
    assert step.total == pytest.approx(float((step.patch * step.kernel).sum()))
    assert step.output == pytest.approx(np.tanh(step.total + step.bias))
    assert step.activation == "tanh"


def test_pool_step_names_the_chosen_value(model, image):
    io = layer_outputs(model, image)[4]
    step = neuron.explain(model.get_layer(io.name), io.input, (1, 1, 3))
    assert step.mode == "max"
    r, c = step.chosen
    assert step.window[r, c] == np.nanmax(step.window) == pytest.approx(io.output[1, 1, 3], rel=1e-5)


def test_dense_step_largest_contributions_and_the_rest_sum_to_the_score(model, image):
    io = layer_outputs(model, image)[-1]
    step = neuron.explain(model.get_layer(io.name), io.input, (4,), top=3)
    assert len(step.largest) == 3
    sizes = np.abs(step.contributions[step.largest])
    others = np.delete(np.abs(step.contributions), step.largest)
    assert list(sizes) == sorted(sizes, reverse=True) and sizes[-1] >= others.max()
    shown = step.contributions[step.largest].sum() + step.rest + step.bias
    assert shown == pytest.approx(step.scores[4]) == pytest.approx(step.pre_activation)
    assert step.activation == "softmax" and step.output == pytest.approx(float(io.output[4]), rel=1e-4)


def test_norm_step_uses_the_layers_own_statistics(model, image):
    io = layer_outputs(model, image)[2]
    layer = model.get_layer(io.name)
    step = neuron.explain(layer, io.input, (5, 6, 1))
    assert step.mean == pytest.approx(float(np.asarray(layer.moving_mean)[1]))
    assert step.variance == pytest.approx(float(np.asarray(layer.moving_variance)[1]))
    assert (step.gamma, step.beta) == pytest.approx(
        (float(np.asarray(layer.gamma)[1]), float(np.asarray(layer.beta)[1]))
    )
    assert step.output == pytest.approx(float(io.output[5, 6, 1]), rel=1e-4, abs=1e-4)


def test_layer_activations_for_many_images_match_one_by_one(model, image):
    x, _ = mnist_test_set()
    many = layer_activations(model, "dense_9", x[:3], batch_size=2)
    assert many.shape == (3, 12)
    one = [io for io in layer_outputs(model, x[1].astype(np.float32) / 255) if io.name == "dense_9"][0]
    np.testing.assert_allclose(many[1], one.output, rtol=1e-5, atol=1e-5)
