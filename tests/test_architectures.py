"""Presets have the tutorials' parameter counts; validation explains problems in plain words."""

from __future__ import annotations

import json

import pytest

from nnlab import architectures as A
from nnlab.validation import InvalidSettings

EXPECTED = {
    "Logistic regression 784-10": 7850,
    "MLP 784-128-10": 101770,
    "MLP 784-128-32-10": 104938,
    "MLP 784-256-128-10": 235146,
    "CNN Conv32-Pool-Conv64-Pool-Dense64": 121930,
    "CNN with dropout (Keras tutorial)": 70378,
}


@pytest.mark.parametrize("name", list(A.PRESETS))
def test_every_preset_is_valid_and_keras_agrees_on_its_size(name):
    spec = A.get_preset(name)
    assert A.validate(spec) == []
    model = A.build_model(spec)
    assert model.count_params() == A.count_params(spec)
    assert tuple(model.output_shape) == (None, 10)
    table = A.summary(spec)
    assert table["parameters"].sum() == model.count_params()
    assert len(table) == len(spec["layers"])
    if name in EXPECTED:
        assert A.count_params(spec) == EXPECTED[name]
    # the summary's output shapes are Keras' own
    keras_shapes = [tuple(layer.output.shape[1:]) for layer in model.layers]
    ours = [tuple(int(s) for s in row.strip("()").split(", ")) for row in table["output shape"]]
    assert ours == keras_shapes


def test_presets_are_json_and_copies():
    spec = A.get_preset("MLP 784-128-10")
    spec["layers"][1]["units"] = 7
    assert A.PRESETS["MLP 784-128-10"]["layers"][1]["units"] == 128
    assert A.from_json(A.to_json(spec))["layers"][1]["units"] == 7
    json.dumps(A.PRESETS)


def _messages(spec):
    return [str(p) for p in A.validate(spec)]


def test_conv_after_flatten_is_explained_at_its_layer():
    spec = {
        "layers": [
            {"kind": "Flatten"},
            {"kind": "Conv2D", "filters": 8},
            {"kind": "Dense", "units": 10, "activation": "softmax"},
        ]
    }
    problems = A.validate(spec)
    assert problems[0].layer == 1
    assert "move it before the Flatten" in problems[0].message


def test_kernel_or_pool_larger_than_input():
    spec = {
        "layers": [
            {"kind": "Conv2D", "filters": 4, "kernel_size": 30},
            {"kind": "Flatten"},
            {"kind": "Dense", "units": 10, "activation": "softmax"},
        ]
    }
    assert any("larger than its 28x28 input" in m for m in _messages(spec))
    pools = [{"kind": "MaxPooling2D", "pool_size": 2}] * 5
    spec = {"layers": pools + [{"kind": "Flatten"}, {"kind": "Dense", "units": 10, "activation": "softmax"}]}
    problems = A.validate(spec)
    assert problems and problems[0].layer == 4 and "1x1 input" in problems[0].message


def test_bad_settings_each_get_a_message():
    spec = {
        "layers": [
            {"kind": "Flatten"},
            {"kind": "Dense", "units": 0},
            {"kind": "Dropout", "rate": 1.0},
            {"kind": "Dense", "units": 16, "activation": "swish", "l2": -1},
            {"kind": "Dense", "units": 10, "activation": "softmax"},
        ]
    }
    msgs = _messages(spec)
    assert any(
        m.startswith("Layer 2: the number of units must be a whole number of at least 1") for m in msgs
    )
    assert any(m.startswith("Layer 3: the dropout rate must be at least 0 and below 1") for m in msgs)
    assert any("unknown activation 'swish'" in m for m in msgs)
    assert any("L2 penalty" in m for m in msgs)


def test_output_layer_must_give_ten_probabilities():
    spec = {"layers": [{"kind": "Flatten"}, {"kind": "Dense", "units": 5, "activation": "relu"}]}
    assert any("10 units and softmax" in m for m in _messages(spec))
    spec = {"layers": [{"kind": "Dense", "units": 10, "activation": "softmax"}]}
    assert any("add a Flatten layer before it" in m for m in _messages(spec))
    assert "no layers" in _messages({"layers": []})[0]
    assert any("unknown layer kind" in m for m in _messages({"layers": [{"kind": "LSTM"}]}))


def test_build_model_refuses_an_invalid_spec_with_every_problem():
    with pytest.raises(InvalidSettings) as info:
        A.build_model({"layers": [{"kind": "Dense", "units": 3}]})
    assert len(info.value.problems) >= 2


def test_regularizers_and_batchnorm_reach_keras():
    spec = {
        "layers": [
            {"kind": "Conv2D", "filters": 4, "padding": "same", "l2": 0.01},
            {"kind": "BatchNormalization"},
            {"kind": "AveragePooling2D", "pool_size": 2},
            {"kind": "Flatten"},
            {"kind": "Dense", "units": 10, "activation": "softmax", "l1": 0.001},
        ]
    }
    model = A.build_model(spec)
    assert model.layers[0].kernel_regularizer is not None
    assert model.layers[0].output.shape[1:] == (28, 28, 4)
    assert A.count_params(spec) == model.count_params()
