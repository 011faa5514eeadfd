"""Saving models atomically and loading them back safely (Keras safe mode plus shape checks)."""

from __future__ import annotations

import zipfile

import numpy as np
import pytest

from nnlab.architectures import build_model, get_preset
from nnlab.modelio import ModelLoadError, load_model_safely, prepare_input, save_model_atomically


@pytest.fixture(scope="module")
def keras():
    from nnlab._tf import keras

    return keras


@pytest.fixture(scope="module")
def saved(tmp_path_factory, keras):
    """A small trained-looking model (random weights are as good for a round trip) and its file."""
    keras.utils.set_random_seed(1)
    model = build_model(get_preset("MLP 784-128-10"))
    path = tmp_path_factory.mktemp("models") / "model.keras"
    save_model_atomically(model, path)
    return model, path


def test_a_model_loaded_back_gives_the_same_predictions(saved):
    model, path = saved
    x = np.random.default_rng(0).random((16, 28, 28, 1), dtype=np.float32)
    loaded = load_model_safely(path)
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), model.predict(x, verbose=0))
    assert [p.name for p in path.parent.iterdir()] == ["model.keras"]  # no temporary file left
    loss, accuracy = loaded.evaluate(x, np.zeros(16, dtype=np.int64), verbose=0)  # compiled for evaluation
    assert 0 <= accuracy <= 1 and loss > 0


def test_saving_replaces_the_old_file_whole(saved, tmp_path, keras):
    _, path = saved
    target = tmp_path / "model.keras"
    target.write_bytes(b"an older, broken model")
    other = build_model(get_preset("Logistic regression 784-10"))
    save_model_atomically(other, target)
    assert load_model_safely(target).count_params() == 7850


def test_safe_mode_refuses_a_lambda_layer(tmp_path, keras):
    inputs = keras.Input((28, 28, 1))
    x = keras.layers.Flatten()(inputs)
    x = keras.layers.Lambda(lambda t: t * 2.0)(x)
    model = keras.Model(inputs, keras.layers.Dense(10, activation="softmax")(x))
    path = tmp_path / "lambda.keras"
    model.save(path)
    with pytest.raises(ModelLoadError, match="Lambda layer"):
        load_model_safely(path)


def test_shapes_are_checked(tmp_path, keras):
    wrong_input = keras.Sequential(
        [keras.Input((32, 32, 3)), keras.layers.Flatten(), keras.layers.Dense(10, activation="softmax")]
    )
    wrong_output = keras.Sequential(
        [keras.Input((28, 28, 1)), keras.layers.Flatten(), keras.layers.Dense(5, activation="softmax")]
    )
    flat = keras.Sequential([keras.Input((784,)), keras.layers.Dense(10, activation="softmax")])
    for model, name in ((wrong_input, "in"), (wrong_output, "out"), (flat, "flat")):
        model.save(tmp_path / f"{name}.keras")
    with pytest.raises(ModelLoadError, match=r"MNIST images are 28x28"):
        load_model_safely(tmp_path / "in.keras")
    with pytest.raises(ModelLoadError, match=r"must give 10 scores"):
        load_model_safely(tmp_path / "out.keras")
    loaded = load_model_safely(tmp_path / "flat.keras")  # a flat (784,) input is accepted...
    images = np.zeros((3, 28, 28, 1), dtype=np.float32)
    assert prepare_input(loaded, images).shape == (3, 784)  # ...and images are reshaped for it
    assert loaded.predict(prepare_input(loaded, images), verbose=0).shape == (3, 10)


def test_bad_files_give_plain_messages(saved, tmp_path):
    _, good = saved
    raw = good.read_bytes()
    cases = {
        "missing.keras": (None, "not found"),
        "empty.keras": (b"", "empty"),
        "text.keras": (b"hello, I am not a model", "not a valid '.keras' model file"),
        "truncated.keras": (raw[: len(raw) // 2], "not a valid '.keras' model file"),
        "old.h5": (b"\x89HDF\r\n\x1a\n" + b"\0" * 100, "HDF5"),
    }
    for name, (content, words) in cases.items():
        if content is not None:
            (tmp_path / name).write_bytes(content)
        with pytest.raises(ModelLoadError, match=words):
            load_model_safely(tmp_path / name)
    with pytest.raises(ModelLoadError, match="too large"):
        load_model_safely(good, max_bytes=1000)

    broken_json = tmp_path / "broken_json.keras"  # a valid archive whose description is not JSON
    with zipfile.ZipFile(good) as src, zipfile.ZipFile(broken_json, "w") as dst:
        for item in src.infolist():
            dst.writestr(item, b"{not json" if item.filename == "config.json" else src.read(item))
    with pytest.raises(ModelLoadError, match="config.json"):
        load_model_safely(broken_json)

    no_weights = tmp_path / "no_weights.keras"
    with zipfile.ZipFile(good) as src, zipfile.ZipFile(no_weights, "w") as dst:
        for item in src.infolist():
            if not item.filename.endswith(".h5"):
                dst.writestr(item, src.read(item))
    with pytest.raises(ModelLoadError, match="no weights"):
        load_model_safely(no_weights)

    unknown = tmp_path / "unknown_layer.keras"  # a layer class this Keras does not know
    with zipfile.ZipFile(good) as src, zipfile.ZipFile(unknown, "w") as dst:
        for item in src.infolist():
            data = src.read(item)
            dst.writestr(
                item, data.replace(b'"Dense"', b'"SneakyDense"') if item.filename == "config.json" else data
            )
    with pytest.raises(ModelLoadError, match="custom layer or function .'SneakyDense'."):
        load_model_safely(unknown)
