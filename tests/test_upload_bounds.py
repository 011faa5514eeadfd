"""Uploaded model files are bounded from their archive and description before Keras builds anything.

The hostile files are real Keras archives with their description edited, as an attacker would: a
Dense layer claiming 600,000 units (424 KB on disk, 1.9 GB once built), a zip bomb, thousands of
layers. Every one is refused in words, in well under a second, without TensorFlow building it.
"""

from __future__ import annotations

import json
import math
import time
import zipfile
from pathlib import Path

import pytest

from nnlab.model_bounds import ModelBounds, measure
from nnlab.modelio import ModelLoadError, check_model_file


@pytest.fixture(scope="module")
def keras():
    from nnlab._tf import keras

    return keras


@pytest.fixture(scope="module")
def mlp_file(tmp_path_factory, keras) -> Path:
    """A normal upload: the 784-128-10 network as Keras saves it (424 KB)."""
    from nnlab.architectures import build_model, get_preset

    path = tmp_path_factory.mktemp("uploads") / "mlp.keras"
    build_model(get_preset("MLP 784-128-10")).save(path)
    return path


def _rewrite(
    src: Path, dst: Path, edit_config=None, extra: dict[str, bytes] | None = None, config: bytes | None = None
) -> Path:
    """A copy of a .keras archive with its description edited (or replaced) and members added."""
    with zipfile.ZipFile(src) as a, zipfile.ZipFile(dst, "w", zipfile.ZIP_DEFLATED) as b:
        for item in a.infolist():
            data = a.read(item)
            if item.filename == "config.json" and edit_config is not None:
                described = json.loads(data)
                edit_config(described)
                data = json.dumps(described).encode()
            b.writestr(item.filename, config if item.filename == "config.json" and config else data)
        for name, data in (extra or {}).items():
            b.writestr(name, data)
    return dst


def _refused(path: Path, *words: str) -> str:
    start = time.perf_counter()
    with pytest.raises(ModelLoadError) as info:
        check_model_file(path)
    assert time.perf_counter() - start < 2.0  # bounded from the description: no model is built
    for word in words:
        assert word in str(info.value), str(info.value)
    return str(info.value)


def _dense_layers(config: dict) -> list[dict]:
    return [layer for layer in config["config"]["layers"] if layer["class_name"] == "Dense"]


def test_a_normal_upload_passes_and_its_cost_is_known(mlp_file):
    cost = check_model_file(mlp_file)
    assert cost.params == 101_770 and cost.layers == 3  # Flatten, Dense 128, Dense 10
    assert cost.values_per_image == 784 + 128 + 10


def test_a_dense_layer_claiming_600000_units_is_refused_by_its_parameter_count(mlp_file, tmp_path):
    def widen(config):
        _dense_layers(config)[0]["config"]["units"] = 600_000

    hostile = _rewrite(mlp_file, tmp_path / "wide.keras", widen)
    assert hostile.stat().st_size < 500_000  # small on disk...
    message = _refused(hostile, "471,000,000", "20,000,000", "'dense")  # ...1.9 GB once built
    assert "parameters" in message


def test_more_parameters_than_the_weights_hold_is_refused(mlp_file, tmp_path):
    """Within the parameter bound, but a 424 KB file cannot hold the weights of 3,000,000 parameters."""

    def widen(config):
        _dense_layers(config)[0]["config"]["units"] = 3_800

    _refused(_rewrite(mlp_file, tmp_path / "wider.keras", widen), "does not match its weights")


def test_a_zip_bomb_is_refused(mlp_file, tmp_path):
    bomb = _rewrite(mlp_file, tmp_path / "bomb.keras", extra={"assets/padding.bin": b"\0" * 60_000_000})
    assert bomb.stat().st_size < 1_000_000
    _refused(bomb, "zip bomb", "assets/padding.bin", "60.0 MB")


def test_thousands_of_layers_are_refused(mlp_file, tmp_path):
    def deepen(config):
        dense = _dense_layers(config)[0]
        layers = config["config"]["layers"]
        extra = [{**dense, "config": {**dense["config"], "name": f"extra_{i}"}} for i in range(3000)]
        config["config"]["layers"] = layers[:2] + extra + layers[2:]

    _refused(_rewrite(mlp_file, tmp_path / "deep.keras", deepen), "3,00", "at most 300 layers")


def test_archive_bounds(mlp_file, tmp_path):
    many = {f"assets/{i}.txt": b"x" for i in range(100)}
    _refused(_rewrite(mlp_file, tmp_path / "many.keras", extra=many), "103 files")
    deep_json = b"[" * 100_000 + b"]" * 100_000  # nested deeper than Python's parser goes
    _refused(_rewrite(mlp_file, tmp_path / "nested.keras", config=deep_json), "config.json")
    big = json.dumps({"class_name": "Sequential", "padding": "x" * 6_000_000}).encode()
    _refused(_rewrite(mlp_file, tmp_path / "big.keras", config=big), "description is too large")


def test_a_huge_pooling_window_with_same_padding_is_refused(mlp_file, tmp_path, keras):
    model = keras.Sequential(
        [
            keras.Input((28, 28, 1)),
            keras.layers.MaxPooling2D(2, padding="same"),
            keras.layers.Flatten(),
            keras.layers.Dense(10, activation="softmax"),
        ]
    )
    model.save(tmp_path / "pool.keras")

    def huge_window(config):
        pool = next(layer for layer in config["config"]["layers"] if layer["class_name"] == "MaxPooling2D")
        pool["config"]["pool_size"] = [10**9, 10**9]

    _refused(_rewrite(tmp_path / "pool.keras", tmp_path / "huge.keras", huge_window), "window is larger")


def test_layers_nn_lab_cannot_bound_are_refused_in_words(mlp_file, tmp_path):
    def kind(name, module="keras.layers"):
        def edit(config):
            layer = _dense_layers(config)[0]
            layer["class_name"], layer["module"] = name, module

        return edit

    _refused(_rewrite(mlp_file, tmp_path / "lambda.keras", kind("Lambda")), "Lambda layer", "code")
    _refused(_rewrite(mlp_file, tmp_path / "lookup.keras", kind("StringLookup")), "StringLookup layer, which")
    custom = _rewrite(mlp_file, tmp_path / "custom.keras", kind("SneakyDense", "my_package"))
    _refused(custom, "custom layer or function ('SneakyDense')")

    def subclassed(config):
        config["class_name"] = "MyModel"

    _refused(_rewrite(mlp_file, tmp_path / "class.keras", subclassed), "custom class 'MyModel'")


def test_counts_match_keras_for_every_preset_and_a_functional_network(keras, tmp_path):
    """The rules give the parameter counts Keras itself gives, so the bounds bound what gets built."""
    from nnlab.architectures import PRESETS, build_model

    models = [build_model(spec) for spec in PRESETS.values()]
    layers = keras.layers
    inputs = keras.Input((28, 28))
    x = layers.Reshape((28, 28, 1))(inputs)
    x = layers.ZeroPadding2D(((1, 2), (0, 1)))(x)
    a = layers.SeparableConv2D(8, 3, padding="same", depth_multiplier=2)(x)
    b = layers.DepthwiseConv2D(3, padding="same")(layers.Conv2D(8, 1, use_bias=False)(x))
    x = layers.Concatenate()([layers.Add()([a, b]), layers.LayerNormalization()(a)])
    x = layers.Cropping2D(1)(layers.UpSampling2D(2)(layers.AveragePooling2D(3, strides=2)(x)))
    x = layers.GlobalMaxPooling2D()(layers.BatchNormalization(center=False)(x))
    models.append(keras.Model(inputs, layers.Dense(10, activation="softmax")(layers.PReLU()(x))))
    for i, model in enumerate(models):
        path = tmp_path / f"model{i}.keras"
        model.save(path)
        with zipfile.ZipFile(path) as zf:
            problems, cost = measure(json.loads(zf.read("config.json")), bounds=ModelBounds())
        assert problems == [] and cost.params == model.count_params(), model.name
        built = [layer for layer in model.layers if not isinstance(layer, keras.layers.InputLayer)]
        outputs = sum(math.prod(layer.output.shape[1:]) for layer in built)
        assert cost.values_per_image == outputs, model.name


def test_recurrent_layers_reading_rows_are_counted_as_keras_counts_them():
    """The tutorials' MNIST RNNs read an image row by row: their layers are bounded, not refused."""
    from nnlab._tf import keras
    from nnlab.layer_rules import output_of

    for layer in (
        keras.layers.SimpleRNN(16),
        keras.layers.GRU(16),
        keras.layers.GRU(16, reset_after=False),
        keras.layers.LSTM(16, return_sequences=True, use_bias=False),
    ):
        keras.Sequential([keras.Input((28, 28)), layer])  # builds the layer
        shape, params = output_of(type(layer).__name__, layer.get_config(), [(28, 28)])
        assert (shape, params) == (tuple(layer.output.shape[1:]), layer.count_params())
