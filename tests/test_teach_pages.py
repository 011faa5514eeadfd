"""The teaching views through Streamlit's AppTest: every Inspect view, the links into them, and Build &
Train's diagram, augmentation preview, input-scaling switch and live kernels."""

from __future__ import annotations

import re
import time
from pathlib import Path

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from nnlab import snapshots as sn
from nnlab.architectures import get_preset
from nnlab.runs import RunStore
from nnlab.training import TrainConfig
from nnlab.ui.links import INSPECT_VIEWS
from nnlab.worker import run_here

ROOT = Path(__file__).resolve().parents[1]
INSPECT = str(ROOT / "pages" / "3_Inspect.py")
BUILD = str(ROOT / "pages" / "1_Build_and_Train.py")
EVALUATE = str(ROOT / "pages" / "2_Evaluate.py")
TIMEOUT = 180


@pytest.fixture(autouse=True)
def _operator_runs_shown(monkeypatch):
    """Runs copied without an owner are the operator's (as ``nnlab train`` leaves them): visitors see
    them only where the operator shows them as examples (ui/access.py)."""
    monkeypatch.setenv("NNLAB_SHOW_OPERATOR_RUNS", "1")


def _trained(tmp_path_factory, preset: str, **config) -> tuple[RunStore, str]:
    store = RunStore(tmp_path_factory.mktemp("teach_src"))
    settings = TrainConfig(epochs=1, subset=500, batch_size=64, validation_fraction=0.0, seed=0, **config)
    run = run_here(get_preset(preset), settings, store=store, name=f"tiny {preset}")
    assert run.status == "completed", run.error
    return store, run.id


@pytest.fixture(scope="module")
def strong(tmp_path_factory):
    return _trained(tmp_path_factory, "Strong CNN (BatchNorm, 99.4 %+)")


@pytest.fixture(scope="module")
def raw_mlp(tmp_path_factory):
    return _trained(tmp_path_factory, "MLP 784-128-10", scale_inputs=False)


def _copy(source: tuple[RunStore, str], owner: str | None = None, snapshots: bool = True) -> str:
    """The trained run, copied into this test's own store (its model, and its snapshots if asked)."""
    src, run_id = source
    run = src.require(run_id)
    store = RunStore()
    new = store.create(run.spec, run.config, name=run.name, owner=owner)
    store.model_path(new.id).parent.mkdir(parents=True, exist_ok=True)
    store.model_path(new.id).write_bytes(src.model_path(run_id).read_bytes())
    names = [sn.INDEX, *[f"snapshot_{i:03d}.npz" for i in range(len(sn.snapshot_epochs(src, run_id)))]]
    for name in names if snapshots else []:
        store.write_artifact(new.id, name, src.read_artifact(run_id, name))
    store.update(
        new.id,
        status="completed",
        started=time.time() - 5,
        finished=time.time(),
        test_accuracy=run.test_accuracy,
        test_loss=run.test_loss,
    )
    return new.id


def _ok(at: AppTest) -> AppTest:
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]
    return at


def _view(at: AppTest, label: str) -> AppTest:
    at.session_state["insp_view"] = label
    return _ok(at.run())


def _texts(at: AppTest, *kinds: str) -> str:
    return "\n".join(str(e.value) for kind in kinds for e in getattr(at, kind))


def _image_captions(at: AppTest) -> str:
    return "\n".join(img.caption for e in at.get("image") for img in e.proto.imgs)


def _keras_and_steps(at: AppTest) -> tuple[str, str]:
    (done,) = [s.value for s in at.success if "Keras computed" in s.value]
    keras, steps = re.findall(r"-?\d+\.\d{4}", done)
    return keras, steps


def test_network_and_step_by_step_views_explain_every_kind_of_layer(strong):
    _copy(strong)
    at = _ok(AppTest.from_file(INSPECT, default_timeout=TIMEOUT).run())
    assert [t.label for t in at.tabs] == list(INSPECT_VIEWS.values())
    assert "layer 1, **Conv2D** 32 filters 5x5, relu" in _texts(at, "markdown")  # the Network view first
    assert "Colour: the kind of layer" in _texts(at, "caption")
    at.session_state["insp_diagram_block"] = 2  # a click on the batch-norm block
    _ok(at.run())
    assert "**BatchNormalization**" in _texts(at, "markdown")
    at.button(key="insp_block_step").click()  # "Explain a number of this layer step by step"
    _ok(at.run())
    assert (
        at.session_state["insp_view"] == "Step by step"
        and at.selectbox(key="insp_layer").value == "batchnormalization_3"
    )
    assert at.latex and "moving mean" in _texts(at, "markdown")
    keras, steps = _keras_and_steps(at)
    assert keras == steps
    for layer, words in (
        ("conv2d_1", "Sum of all 25 products"),
        ("conv2d_5", "Sum of all 800 products"),
        ("maxpooling2d_2", "Max pooling keeps the **largest** value"),
        ("dense_10", "largest contributions"),
        ("dense_12", "**softmax**"),
        ("flatten_9", "Flatten computes nothing"),
        ("dropout_4", "Dropout switches"),
    ):
        at.selectbox(key="insp_layer").set_value(layer)
        _ok(at.run())
        assert words in _texts(at, "markdown"), layer
        keras, steps = _keras_and_steps(at)
        assert keras == steps, layer
    # A cell chosen by number (a click sets the same state): the explanation follows it.
    at.selectbox(key="insp_layer").set_value("conv2d_1")
    _ok(at.run())
    at.number_input(key="insp_step_row").set_value(3)
    at.number_input(key="insp_step_col").set_value(20)
    _ok(at.run())
    assert "How conv2d_1 made its number at row 3, column 20, map 0" in _texts(at, "subheader")


def test_the_other_inspect_views_render_with_their_colour_lines(strong):
    run_id = _copy(strong)
    at = AppTest.from_file(INSPECT, default_timeout=TIMEOUT).run()
    _view(at, "Fooling it")
    assert "smallest epsilon" in _texts(at, "warning") or "No epsilon" in _texts(at, "info")
    assert "Why this matters" in _texts(at, "markdown") and "perturbation in blue" in _texts(at, "caption")
    at.slider(key="insp_fgsm_eps").set_value(0.2)
    _ok(at.run())
    assert "moves by 0.2 in the direction" in _texts(at, "markdown")
    _view(at, "Digit map")
    assert at.selectbox(key="insp_map_layer").value == "dense_10" and "Colour: the digit" in _texts(
        at, "caption"
    )
    at.selectbox(key="insp_map_layer").set_value("pixels")
    _ok(at.run())
    assert "the input: 784 pixels" in _texts(at, "markdown")
    _view(at, "Learning replayed")
    slider = at.select_slider(key="insp_replay")
    assert slider.options[0] == "the start" and slider.options[-1] == "1 epoch"
    assert slider.value == len(slider.options) - 1  # the trained network first
    slider.set_value(0)
    _ok(at.run())
    assert "after the start" in _image_captions(at) and "Weights in blue" in _texts(at, "caption")
    for label in ("Kernels & weights", "Feature maps", "Saliency", "Weight histograms"):
        _view(at, label)
        assert at.get("plotly_chart"), label
    assert at.selectbox(key="insp_run").value == run_id


def test_a_run_without_snapshots_says_how_to_get_them_and_raw_pixel_runs_say_so(strong, raw_mlp):
    bare = _copy(strong, snapshots=False)
    _copy(raw_mlp)  # the newest: shown first
    at = AppTest.from_file(INSPECT, default_timeout=TIMEOUT).run()
    _view(at, "Step by step")
    assert "input scaling off" in _texts(at, "caption")
    at.selectbox(key="insp_layer").set_value("raw_pixels")
    _ok(at.run())
    assert "trained on raw 0-255 pixels" in _texts(at, "markdown")
    _view(at, "Learning replayed")  # a dense first layer: its units' weights as images
    assert "dense_2: units' weights" in _image_captions(at)
    at.selectbox(key="insp_run").set_value(bare)
    _ok(at.run())
    assert "no snapshots to replay" in _texts(at, "info")


def test_links_open_a_test_image_in_a_chosen_view(strong):
    _copy(strong)
    at = AppTest.from_file(INSPECT, default_timeout=TIMEOUT)
    at.query_params["image"] = "123"
    at.query_params["view"] = "step"
    _ok(at.run())
    assert at.number_input(key="insp_index").value == 123 and at.session_state["insp_view"] == "Step by step"
    assert "for test image #123" in _texts(at, "success")
    at.number_input(key="insp_index").set_value(5)
    _ok(at.run())
    assert at.number_input(key="insp_index").value == 5  # the link is applied once


def test_evaluate_mistakes_link_to_inspect_on_that_image(strong):
    run_id = _copy(strong)
    at = _ok(AppTest.from_file(EVALUATE, default_timeout=TIMEOUT).run())
    links = [m for m in _texts(at, "markdown").splitlines() if "Inspect test image #" in m]
    chosen = at.selectbox(key="eval_mis_look").value
    assert any(f"image={chosen}" in m and "view=step" in m and f"run={run_id}" in m for m in links), links
    at.selectbox(key="eval_cell_look")  # the confusion matrix's gallery offers it too


def test_build_and_train_draws_the_network_and_marks_an_invalid_layer(strong):
    at = AppTest.from_file(BUILD, default_timeout=TIMEOUT)
    at.query_params["visitor"] = "teach-visitor"
    _ok(at.run())
    assert "Colour: the kind of layer" in _texts(at, "caption")
    assert "layer 1, **Flatten**" in _texts(at, "markdown")
    at.button(key="layer_0_remove").click().run()  # Dense without Flatten: a problem at layer 1
    assert at.session_state["build_diagram_block"] == 0
    assert any(e.startswith("Layer 1: Dense needs a flat input") for e in _texts(at, "error").splitlines())
    assert not at.exception


def test_build_and_train_previews_augmentation_and_offers_input_scaling():
    at = AppTest.from_file(BUILD, default_timeout=TIMEOUT)
    at.query_params["visitor"] = "teach-visitor"
    _ok(at.run())
    assert at.toggle(key="hp_scale").value is True and "raw 0-255" in at.toggle(key="hp_scale").help
    assert not [c for c in at.get("plotly_chart") if "build_aug_grid" in str(c.proto.id)]
    at.toggle(key="hp_augment").set_value(True)
    _ok(at.run())
    assert "rotated up to 8°" in _texts(at, "caption")
    first = at.session_state["build_aug_draws"] if "build_aug_draws" in at.session_state else 0
    at.button(key="build_aug_again").click()
    _ok(at.run())
    assert at.session_state["build_aug_draws"] == first + 1


def test_the_live_view_shows_the_newest_kernels(strong):
    run_id = _copy(strong, owner="teach-visitor")
    at = AppTest.from_file(BUILD, default_timeout=TIMEOUT)
    at.query_params["visitor"] = "teach-visitor"
    at.query_params["run"] = run_id
    _ok(at.run())
    metrics = {m.label: m.value for m in at.metric}
    newest = sn.latest_snapshot(RunStore(), run_id)
    assert metrics["Probe digits right"] == f"{newest.accuracy:.0%}"
    assert "conv2d_1: kernels after 1 epoch" in _image_captions(at)
    image_bytes = np.asarray(newest.weights).size  # 5x5x1x32 weights drawn as tiles
    assert image_bytes == 800
