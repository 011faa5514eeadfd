"""The Evaluate and Inspect pages render for trained runs (Streamlit's AppTest, no browser)."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from nnlab import evaluation as ev
from nnlab.architectures import get_preset
from nnlab.runs import RunStore
from nnlab.training import TrainConfig, train
from nnlab.ui.links import INSPECT_VIEWS
from nnlab.worker import record_result

ROOT = Path(__file__).resolve().parents[1]
EVALUATE = str(ROOT / "pages" / "2_Evaluate.py")
INSPECT = str(ROOT / "pages" / "3_Inspect.py")
TIMEOUT = 120


@pytest.fixture(autouse=True)
def _operator_runs_shown(monkeypatch):
    """The runs here are stored the way ``nnlab train`` leaves them (no owner): the operator's runs,
    which visitors see only where the operator shows them as examples (ui/access.py)."""
    monkeypatch.setenv("NNLAB_SHOW_OPERATOR_RUNS", "1")


def _train(preset: str):
    config = TrainConfig(epochs=1, subset=600, batch_size=64, validation_fraction=0.1, seed=0)
    return preset, config, train(get_preset(preset), config)


@pytest.fixture(scope="module")
def trained_mlp(tiny_mlp):
    return tiny_mlp  # trained once for the session (conftest)


@pytest.fixture(scope="module")
def trained_cnn():
    return _train("CNN with dropout (Keras tutorial)")


def _store_run(trained, name: str) -> tuple[RunStore, str]:
    """Register a finished training in the test's run store, as the training worker does."""
    preset, config, result = trained
    store = RunStore()
    run = store.create(get_preset(preset), config.to_dict(), name=name)
    store.add_events(run.id, result.history)
    record_result(store, run.id, result, started=time.time() - result.elapsed)
    return store, run.id


def _no_errors(at: AppTest) -> None:
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]


def test_evaluate_page_without_runs_says_what_to_do():
    at = AppTest.from_file(EVALUATE, default_timeout=TIMEOUT).run()
    _no_errors(at)
    assert any("No finished training" in i.value for i in at.info)


def test_evaluate_page_renders_a_trained_run_and_caches_its_predictions(trained_mlp, trained_cnn):
    store, mlp_id = _store_run(trained_mlp, "tiny MLP")
    _, cnn_id = _store_run(trained_cnn, "tiny CNN")
    at = AppTest.from_file(EVALUATE, default_timeout=TIMEOUT).run()
    _no_errors(at)
    assert at.selectbox(key="eval_run").value == cnn_id  # the newest run by default
    assert (store.run_dir(cnn_id) / ev.PREDICTIONS_FILE).is_file()  # computed once, stored with the run
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Test accuracy"] == f"{trained_cnn[2].test_accuracy:.2%}"
    # The per-digit table is scikit-learn's report of the stored predictions.
    probs = ev.load_cached_predictions(store, cnn_id)
    y = ev.mnist_test_set()[1]
    table = at.dataframe[0].value
    assert list(table.index[-1:]) == ["macro avg"] and table.loc["macro avg", "support"] == 10000
    np.testing.assert_allclose(
        table["recall"].iloc[:10], ev.per_class_report(y, probs.argmax(1))["recall"].iloc[:10]
    )
    # Choosing a confusion cell shows the count of its images.
    pred = probs.argmax(1)
    at.selectbox(key="eval_true").set_value(4)
    at.selectbox(key="eval_pred").set_value(9)
    at.run()
    _no_errors(at)
    count = int(((y == 4) & (pred == 9)).sum())
    assert any(f"**{count}** test images of a **4** classified as **9**" in m.value for m in at.markdown)
    # The row-normalised matrix and the filtered mistakes render too.
    at.toggle(key="eval_norm").set_value(True)
    at.selectbox(key="eval_mis_true").set_value(7)
    at.run()
    _no_errors(at)
    # Compare runs: both chosen, a table with one row each and their differing setting (the architecture).
    at.multiselect(key="eval_compare").set_value([cnn_id, mlp_id])
    at.run()
    _no_errors(at)
    compare = at.dataframe[1].value
    assert list(compare["run"]) == ["tiny CNN", "tiny MLP"] and "architecture" in compare.columns
    # Switching to the other run works and caches its predictions too.
    at.selectbox(key="eval_run").set_value(mlp_id)
    at.run()
    _no_errors(at)
    assert (store.run_dir(mlp_id) / ev.PREDICTIONS_FILE).is_file()


def test_inspect_page_renders_cnn_and_mlp_runs(trained_mlp, trained_cnn):
    store, mlp_id = _store_run(trained_mlp, "tiny MLP")
    _, cnn_id = _store_run(trained_cnn, "tiny CNN")
    at = AppTest.from_file(INSPECT, default_timeout=TIMEOUT).run()
    _no_errors(at)
    assert at.selectbox(key="insp_run").value == cnn_id
    assert [t.label for t in at.tabs] == list(INSPECT_VIEWS.values())  # the Network view first
    at.session_state["insp_view"] = "Kernels & weights"
    at.run()
    _no_errors(at)
    assert at.selectbox(key="insp_conv").options == ["conv2d_1", "conv2d_3"]
    at.selectbox(key="insp_conv").set_value("conv2d_3").run()
    _no_errors(at)
    assert at.slider(key="insp_channel").max == 31  # the second convolution reads 32 maps
    at.selectbox(key="insp_run").set_value(mlp_id).run()
    _no_errors(at)
    assert any("first dense layer" in str(c.proto.spec) for c in at.get("plotly_chart"))


def test_inspect_page_shows_the_last_drawing(trained_mlp):
    _store_run(trained_mlp, "tiny MLP")
    at = AppTest.from_file(INSPECT, default_timeout=TIMEOUT)
    drawing = np.zeros((28, 28), np.float32)
    drawing[5:23, 13:15] = 1.0  # a "1"
    at.session_state["nnlab_last_drawing"] = drawing
    at.session_state["insp_view"] = "Feature maps"
    at.run()
    _no_errors(at)
    at.radio(key="insp_source").set_value("My last drawing").run()
    _no_errors(at)
    assert any("your drawing" in c.value for c in at.caption)  # the feature maps name it


def test_uploading_models_on_the_evaluate_page(tmp_path, trained_mlp):
    from nnlab._tf import keras

    at = AppTest.from_file(EVALUATE, default_timeout=TIMEOUT).run()
    at.radio(key="eval_source").set_value("An uploaded model").run()
    _no_errors(at)
    assert any("Upload a `.keras` or `.h5` file" in i.value for i in at.info)

    good = tmp_path / "good.keras"
    trained_mlp[2].model.save(good)
    raw = good.read_bytes()
    at.file_uploader(key="eval_upload").upload("broken.keras", raw[: len(raw) // 3]).run()
    assert not at.exception
    assert [e.value for e in at.error] == [
        "This model cannot be evaluated: This is not a valid '.keras' model file "
        "(nor a legacy '.h5' one): it is not a Keras archive, or it is truncated or damaged."
    ]
    assert not at.metric  # nothing evaluated

    wrong = keras.Sequential(
        [keras.Input((32, 32, 1)), keras.layers.Flatten(), keras.layers.Dense(10, activation="softmax")]
    )
    wrong.save(tmp_path / "wrong.keras")
    at.file_uploader(key="eval_upload").upload("wrong.keras", (tmp_path / "wrong.keras").read_bytes()).run()
    assert not at.exception
    assert len(at.error) == 1 and "expects inputs of shape (32, 32, 1)" in at.error[0].value

    at.file_uploader(key="eval_upload").upload("good.keras", raw).run()
    _no_errors(at)
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Test accuracy"] == f"{trained_mlp[2].test_accuracy:.2%}"


def test_a_link_naming_a_run_opens_it_on_evaluate_and_inspect(trained_mlp):
    """The Build & Train page links here with ?run=ID: that run is shown, not the newest."""
    _, older = _store_run(trained_mlp, "older MLP")
    _store_run(trained_mlp, "newer MLP")
    for page, key in ((EVALUATE, "eval_run"), (INSPECT, "insp_run")):
        at = AppTest.from_file(page, default_timeout=TIMEOUT)
        at.query_params["run"] = older
        at.run()
        _no_errors(at)
        assert at.selectbox(key=key).value == older
        assert at.session_state["nnlab_selected_run"] == older


def test_inspect_offers_the_drawing_only_when_there_is_one(trained_mlp):
    _store_run(trained_mlp, "tiny MLP")
    at = AppTest.from_file(INSPECT, default_timeout=TIMEOUT).run()
    _no_errors(at)
    assert not at.radio  # no one-option choice: just the test-image picker
    assert at.number_input(key="insp_index").value == 0
    assert any("Draw page can be inspected here" in c.value for c in at.caption)


def test_draws_link_opens_inspect_on_the_drawing(trained_mlp):
    """Draw links here with ?image=drawing: the drawing is shown, then the choice is the user's again."""
    _store_run(trained_mlp, "tiny MLP")
    at = AppTest.from_file(INSPECT, default_timeout=TIMEOUT)
    drawing = np.zeros((28, 28), np.float32)
    drawing[5:23, 13:15] = 1.0
    at.session_state["nnlab_last_drawing"] = drawing
    at.session_state["insp_view"] = "Feature maps"
    at.query_params["image"] = "drawing"
    at.run()
    _no_errors(at)
    assert at.radio(key="insp_source").value == "My last drawing"
    assert any("your drawing" in c.value for c in at.caption)
    at.radio(key="insp_source").set_value("A test image").run()
    _no_errors(at)
    assert at.radio(key="insp_source").value == "A test image"  # the link is not applied twice
