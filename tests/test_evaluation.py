"""Evaluation logic: predictions cached per run, metrics agreeing with scikit-learn, mistakes, comparison."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pytest
from sklearn.metrics import classification_report, confusion_matrix

from nnlab import evaluation as ev
from nnlab.architectures import get_preset
from nnlab.runs import RunStore
from nnlab.training import TrainConfig
from nnlab.ui.format import run_label


@pytest.fixture(scope="module")
def trained(tiny_mlp):
    """A small MLP trained for one epoch on 1,000 images (conftest): real, varied mistakes."""
    return tiny_mlp[2]


@pytest.fixture(scope="module")
def probs(trained):
    return ev.predict_test(trained.model)


def test_predictions_cover_the_test_set_and_match_keras_evaluate(trained, probs):
    assert probs.shape == (10000, 10) and probs.dtype == np.float32
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, atol=1e-4)
    accuracy, loss = ev.accuracy_and_loss(probs, ev.mnist_test_set()[1])
    assert accuracy == pytest.approx(trained.test_accuracy, abs=1e-4)
    assert loss == pytest.approx(trained.test_loss, rel=1e-3)
    assert 0.5 < accuracy < 1.0  # trained, yet it makes mistakes to look at


def _run(tmp_path) -> tuple[RunStore, str]:
    store = RunStore(tmp_path)
    return store, store.create(get_preset("MLP 784-128-10"), TrainConfig().to_dict()).id


def test_predictions_are_computed_once_per_run_and_stored_with_it(tmp_path, trained, probs, backend):
    store, run_id = _run(tmp_path)
    first = ev.cached_test_predictions(store, run_id, trained.model)
    np.testing.assert_allclose(first, probs, atol=1e-6)
    folder = store.run_dir(run_id)
    assert (folder / ev.PREDICTIONS_FILE).is_file() == (backend == "sqlite")  # PostgreSQL: in the database
    assert len(store.read_artifact(run_id, ev.PREDICTIONS_FILE)) > first.nbytes
    assert not [p for p in folder.iterdir() if p.name.startswith(".")]  # no temporary file left

    class NoPredict:  # a second look must not predict again
        input_shape = (None, 28, 28, 1)

        def predict(self, *a, **k):
            raise AssertionError("predicted again although the run's predictions are cached")

    np.testing.assert_array_equal(ev.cached_test_predictions(store, run_id, NoPredict()), first)


def test_damaged_prediction_cache_is_recomputed(tmp_path, trained, probs, backend):
    import io

    store, run_id = _run(tmp_path)
    store.write_artifact(run_id, ev.PREDICTIONS_FILE, b"not a numpy file")
    assert ev.load_cached_predictions(store, run_id) is None
    np.testing.assert_allclose(ev.cached_test_predictions(store, run_id, trained.model), probs, atol=1e-6)
    wrong = io.BytesIO()
    np.save(wrong, np.zeros((5, 10), np.float32))  # wrong shape
    store.write_artifact(run_id, ev.PREDICTIONS_FILE, wrong.getvalue())
    assert ev.load_cached_predictions(store, run_id) is None


def test_confusion_matrix_agrees_with_sklearn_and_counts(probs):
    y = ev.mnist_test_set()[1]
    pred = probs.argmax(axis=1)
    cm = ev.confusion(y, pred)
    np.testing.assert_array_equal(cm, confusion_matrix(y, pred))
    manual = np.zeros((10, 10), int)
    np.add.at(manual, (y, pred), 1)
    np.testing.assert_array_equal(cm, manual)
    assert cm.sum() == 10000 and np.trace(cm) == (pred == y).sum()
    norm = ev.confusion(y, pred, normalize=True)
    np.testing.assert_allclose(norm.sum(axis=1), 1.0)
    np.testing.assert_allclose(norm, manual / manual.sum(axis=1, keepdims=True))


def test_confusion_keeps_all_ten_digits_even_if_some_never_occur():
    cm = ev.confusion(np.array([1, 1, 2]), np.array([1, 2, 2]))
    assert cm.shape == (10, 10) and cm[1, 1] == 1 and cm[1, 2] == 1 and cm[2, 2] == 1


def test_per_class_report_agrees_with_sklearn(probs):
    y = ev.mnist_test_set()[1]
    pred = probs.argmax(axis=1)
    table = ev.per_class_report(y, pred)
    ref = classification_report(y, pred, output_dict=True, zero_division=0)
    assert list(table.index) == [str(d) for d in range(10)] + ["macro avg"]
    assert list(table.columns) == ["precision", "recall", "f1", "support"]
    for row in [str(d) for d in range(10)] + ["macro avg"]:
        assert table.loc[row, "precision"] == pytest.approx(ref[row]["precision"])
        assert table.loc[row, "recall"] == pytest.approx(ref[row]["recall"])
        assert table.loc[row, "f1"] == pytest.approx(ref[row]["f1-score"])
        assert table.loc[row, "support"] == ref[row]["support"]
    assert table.loc["macro avg", "support"] == 10000


def test_cell_indices_and_most_common_confusion(probs):
    y = ev.mnist_test_set()[1]
    pred = probs.argmax(axis=1)
    cm = ev.confusion(y, pred)
    t, p = ev.largest_error_cell(cm)
    assert t != p and cm[t, p] == max(cm[i, j] for i in range(10) for j in range(10) if i != j)
    idx = ev.cell_indices(y, pred, t, p)
    assert len(idx) == cm[t, p] and np.all(y[idx] == t) and np.all(pred[idx] == p)


def test_confident_mistakes_are_wrong_sorted_and_filterable(probs):
    y = ev.mnist_test_set()[1]
    top = ev.confident_mistakes(probs, y, k=20)
    assert len(top) == 20
    assert (top["true"] != top["predicted"]).all()
    assert top["probability"].is_monotonic_decreasing
    wrong = probs.argmax(1) != y
    assert top["probability"].iloc[0] == pytest.approx(probs[wrong].max())
    np.testing.assert_array_equal(y[top["index"]], top["true"])
    np.testing.assert_allclose(top["true_probability"], probs[top["index"], top["true"]])
    digit = int(top["true"].iloc[0])
    by_true = ev.confident_mistakes(probs, y, true_class=digit, k=5)
    assert len(by_true) > 0 and (by_true["true"] == digit).all()
    pred_digit = int(top["predicted"].iloc[0])
    by_pred = ev.confident_mistakes(probs, y, pred_class=pred_digit, k=1000)
    assert (by_pred["predicted"] == pred_digit).all()
    assert len(by_pred) == int(((probs.argmax(1) == pred_digit) & wrong).sum())


def test_confident_mistakes_of_a_perfect_model_is_empty():
    y = np.array([0, 1, 2])
    perfect = np.eye(10, dtype=np.float32)[y]
    assert ev.confident_mistakes(perfect, y).empty


@dataclass
class FakeRun:
    id: str
    name: str
    spec: dict[str, Any]
    config: dict[str, Any]
    test_accuracy: float
    test_loss: float
    n_params: int
    started: Any = 100.0
    finished: Any = 160.0
    extra: dict = field(default_factory=dict)


def test_compare_runs_shows_metrics_and_only_differing_settings():
    base = TrainConfig(epochs=2).to_dict()
    a = FakeRun(
        "a", "MLP fast", get_preset("MLP 784-128-10"), {**base, "learning_rate": 0.01}, 0.95, 0.2, 101770
    )
    b = FakeRun(
        "b",
        "MLP slow",
        get_preset("MLP 784-128-10"),
        base,
        0.93,
        0.25,
        101770,
        started="2026-01-01T10:00:00",
        finished="2026-01-01T10:02:00",
    )
    table = ev.compare_runs([a, b])
    assert list(table["run"]) == ["MLP fast", "MLP slow"]
    assert list(table["test accuracy"]) == [0.95, 0.93]
    assert list(table["training time (s)"]) == [60.0, 120.0]
    assert list(table["parameters"]) == [101770, 101770]
    assert "learning rate" in table.columns
    assert "epochs" not in table.columns and "architecture" not in table.columns  # equal in both
    c = FakeRun("c", "CNN", get_preset("CNN Conv32-Pool-Conv64-Pool-Dense64"), base, 0.98, 0.05, 100000)
    table = ev.compare_runs([a, b, c])
    assert {"architecture", "layer 1", "layer 5"} <= set(table.columns)
    assert table.loc[2, "layer 1"].startswith("Conv2D 32 filters 3x3")
    assert table.loc[0, "layer 5"] == "-"  # the MLP has only three layers


def _keras_bytes(model, tmp_path, name="m.keras") -> bytes:
    path = tmp_path / name
    model.save(path)
    return path.read_bytes()


def test_uploaded_model_is_loaded_and_evaluated(tmp_path, trained, probs):
    model = ev.load_uploaded_model(_keras_bytes(trained.model, tmp_path))
    np.testing.assert_allclose(ev.predict_test(model), probs, atol=1e-5)
    assert not list(tmp_path.glob("nnlab-upload-*"))


@pytest.mark.parametrize(
    "damage, message",
    [
        (lambda raw: b"", "empty"),
        (lambda raw: b"hello, I am not a model" * 10, "not a valid '.keras' model file"),
        (lambda raw: raw[: len(raw) // 2], "not a valid '.keras' model file"),
        (lambda raw: b"\x89HDF\r\n\x1a\n" + raw[8:], "HDF5"),
    ],
)
def test_corrupted_upload_gives_a_clear_message(tmp_path, trained, damage, message):
    from nnlab.modelio import ModelLoadError

    raw = _keras_bytes(trained.model, tmp_path)
    with pytest.raises(ModelLoadError, match=message):
        ev.load_uploaded_model(damage(raw))


def test_too_large_upload_is_refused(tmp_path, trained):
    from nnlab.modelio import ModelLoadError

    raw = _keras_bytes(trained.model, tmp_path)
    with pytest.raises(ModelLoadError, match="too large"):
        ev.load_uploaded_model(raw, max_bytes=len(raw) - 1)


def test_wrong_shape_upload_says_which_shape(tmp_path):
    from nnlab._tf import keras
    from nnlab.modelio import ModelLoadError

    wrong_in = keras.Sequential(
        [keras.Input((32, 32, 3)), keras.layers.Flatten(), keras.layers.Dense(10, activation="softmax")]
    )
    with pytest.raises(ModelLoadError, match=r"expects inputs of shape \(32, 32, 3\)"):
        ev.load_uploaded_model(_keras_bytes(wrong_in, tmp_path, "in.keras"))
    wrong_out = keras.Sequential([keras.Input((784,)), keras.layers.Dense(5, activation="softmax")])
    with pytest.raises(ModelLoadError, match=r"10 scores"):
        ev.load_uploaded_model(_keras_bytes(wrong_out, tmp_path, "out.keras"))


def test_flat_input_model_is_fed_flat_images(tmp_path):
    from nnlab._tf import keras

    flat = keras.Sequential([keras.Input((784,)), keras.layers.Dense(10, activation="softmax")])
    model = ev.load_uploaded_model(_keras_bytes(flat, tmp_path))
    assert ev.predict_test(model).shape == (10000, 10)


def test_upscale_repeats_pixels():
    img = np.arange(4, dtype=np.uint8).reshape(2, 2)
    big = ev.upscale(img, 3)
    assert big.shape == (6, 6) and big[0, 2] == 0 and big[0, 3] == 1 and big[5, 5] == 3


def test_a_loader_is_called_only_when_predictions_are_missing(tmp_path, trained, probs):
    calls = []

    def loader():
        calls.append(1)
        return trained.model

    store, run_id = _run(tmp_path)
    ev.cached_test_predictions(store, run_id, loader)
    ev.cached_test_predictions(store, run_id, loader)
    assert calls == [1]


def test_evaluable_runs_are_finished_runs_with_a_model(trained, backend):
    from nnlab.modelio import model_bytes
    from nnlab.runs import RunStore

    store = RunStore()
    spec, config = get_preset("MLP 784-128-10"), TrainConfig().to_dict()
    ids = {}
    for status in ("completed", "stopped", "failed", "running", "queued", "completed-no-model"):
        run = store.create(spec, config, name=status)
        ids[status] = run.id
        if status in ("completed", "stopped", "failed"):
            store.save_model(run.id, model_bytes(trained.model))
        store.update(
            run.id,
            status=status.replace("-no-model", ""),
            worker={"pid": None} if status == "running" else {},
        )
    names = [r.name for r in ev.evaluable_runs(store)]
    assert names == ["stopped", "completed"]  # newest first
    assert run_label(store.get(ids["stopped"])).startswith("stopped (⏹️ stopped, ")
    from nnlab.modelio import load_model_safely

    loaded = load_model_safely(store.model_path(ids["completed"]))  # PostgreSQL: a copy from the database
    x = ev.to_model_input(trained.model, ev.mnist_test_set()[0][:20])
    np.testing.assert_allclose(loaded.predict(x, verbose=0), trained.model.predict(x, verbose=0), atol=1e-6)
