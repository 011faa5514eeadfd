"""The From-scratch page: an AppTest render, a short live training, bad input, and its figures."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from nnlab import scratch
from nnlab.figures import scratch as scratch_view
from nnlab.scratch.lessons import lessons

PAGE = str(Path(__file__).resolve().parent.parent / "pages" / "6_From_Scratch.py")


def _page() -> AppTest:
    at = AppTest.from_file(PAGE, default_timeout=60).run()
    assert not at.exception and not at.error
    return at


def _small(at: AppTest, hidden: str = "32, 16") -> None:
    at.selectbox(key="fs_subset").set_value("1,000")
    at.number_input(key="fs_epochs").set_value(2)
    at.selectbox(key="fs_blas").set_value("1")  # (the default)
    at.text_input(key="fs_hidden").set_value(hidden).run()


def _wait_for_end(at: AppTest, seconds: float = 90) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        at.run()
        if any(m.label == "Test accuracy" for m in at.metric):
            return
        time.sleep(0.5)
    pytest.fail("the training did not finish in time")


def test_page_renders_with_defaults():
    at = _page()
    assert at.text_input(key="fs_hidden").value == "128"
    assert at.toggle(key="fs_scale").value is True
    assert any("784 → 128 → 10" in c.value and "101,770 parameters" in c.value for c in at.caption)
    assert not at.button(key="fs_train").disabled
    assert any("def gradient_check" in c.value for c in at.code)  # the code is there to read


def test_training_runs_off_the_page_and_shows_its_charts():
    at = _page()
    _small(at)
    at.button(key="fs_train").click().run()
    assert not at.exception and not at.error
    _wait_for_end(at)
    metrics = {m.label: m.value for m in at.metric}
    assert float(metrics["Test accuracy"].rstrip("%")) > 30  # learned something (chance is 10 %)
    charts = at.get("plotly_chart")
    assert len(charts) == 4  # loss, accuracy, gradient norms, first-layer weights
    assert not at.exception
    assert not at.button(key="fs_train").disabled  # ready for the next one


def test_the_keras_twin_trains_in_the_runner_and_is_overlaid(_isolated_home):
    from nnlab.runs import RunStore, process_alive

    at = AppTest.from_file(PAGE, default_timeout=60)
    at.query_params["visitor"] = "visitor-twin"
    at.run()
    _small(at, hidden="32")
    at.toggle(key="fs_keras").set_value(True).run()
    at.button(key="fs_train").click().run()
    assert not at.exception and not at.error
    store = RunStore()
    (run,) = store.list()
    try:
        assert run.owner == "visitor-twin" and run.spec == scratch.keras_spec(
            scratch.ScratchConfig(hidden=(32,))
        )
        assert (
            run.config["optimizer"],
            run.config["subset"],
            run.config["epochs"],
            run.config["batch_size"],
        ) == ("sgd", 1000, 2, 64)
        deadline = time.monotonic() + 240  # the worker imports TensorFlow on a busy machine
        while store.get(run.id).is_active and time.monotonic() < deadline:
            time.sleep(1)
        _wait_for_end(at)
        assert store.get(run.id).status == "completed", store.get(run.id).error
        at.run()
        assert not at.exception and not at.error
        assert any(c.value.startswith("Keras twin:") and "done" in c.value for c in at.caption)
        assert len(at.get("plotly_chart")) == 6  # + validation accuracy and loss, both networks overlaid
        table = at.dataframe[-1].value
        assert list(table["network"]) == ["from scratch (NumPy)", "Keras"] and list(table["epochs"]) == [2, 2]
    finally:
        store.request_stop(run.id)
        deadline = time.monotonic() + 60
        while process_alive(store.get(run.id).worker) and time.monotonic() < deadline:
            time.sleep(0.5)


def test_a_binary_task_and_raw_pixels():
    at = _page()
    at.segmented_control(key="fs_task").set_value("two digits").run()
    at.toggle(key="fs_scale").set_value(False)
    _small(at, hidden="16")
    assert any("784 → 16 → 1" in c.value and "sigmoid + binary cross-entropy" in c.value for c in at.caption)
    assert at.toggle(key="fs_keras").disabled  # the Keras twin trains on ten digits only
    at.button(key="fs_train").click().run()
    _wait_for_end(at)
    assert not at.exception


def test_bad_settings_give_a_message_not_a_traceback():
    at = _page()
    at.text_input(key="fs_hidden").set_value("128, lots").run()
    assert not at.exception
    assert "whole numbers separated by commas" in at.error[0].value
    assert at.button(key="fs_train").disabled
    at.text_input(key="fs_hidden").set_value("0").run()
    assert "Hidden layer 1 must have between 1 and 4096 units" in at.error[0].value
    at.text_input(key="fs_hidden").set_value("").run()  # no hidden layer: logistic regression, fine
    assert not at.error and any("784 → 10 ·" in c.value for c in at.caption)


def test_event_tables_and_figures():
    events = []
    scratch.train(
        scratch.ScratchConfig(
            hidden=(8, 8), subset=500, epochs=2, batch_size=50, batch_event_every=3, blas_threads=1
        ),
        on_event=events.append,
    )
    steps = events[0].steps_per_epoch
    batches = [e for e in events if e.kind == "batch"]
    epochs = [e for e in events if e.kind == "epoch"]
    bdf = scratch_view.batch_frame(batches)
    assert list(bdf["step"]) == [(e.epoch - 1) * steps + e.batch for e in batches]
    edf = scratch_view.epoch_frame(epochs)
    assert list(edf["epoch"]) == [1, 2] and edf["val_accuracy"].notna().all()
    grads = scratch_view.grad_norm_frame(batches, steps)
    assert list(grads.columns) == ["position", "layer 1", "layer 2", "layer 3"]
    assert grads["position"].iloc[0] == pytest.approx(3 / steps)
    fig = scratch_view.grad_norm_figure(grads)
    assert [t.name for t in fig.data] == ["layer 1 (input side)", "layer 2", "layer 3 (output)"]
    assert fig.layout.yaxis.type == "log"
    table = scratch_view.comparison_table(edf, edf.iloc[:1])
    assert list(table["epochs"]) == [2, 1]
    assert scratch_view.batch_frame([]).empty and scratch_view.grad_norm_frame([]).empty


def test_weights_figure_scales_each_unit():
    images = np.zeros((3, 28, 28))
    images[0, 0, 0], images[1, 5, 5], images[2, 1, 1] = 4.0, -0.01, np.nan
    fig = scratch_view.weights_figure(images, cols=3)
    z = np.asarray(fig.data[0].z, dtype=float)
    assert np.nanmax(z) == 1.0 and np.nanmin(z) == -1.0  # each unit shown against its own largest weight


def _raw_run():
    config = scratch.ScratchConfig(
        hidden=(128,),
        learning_rate=0.1,
        momentum=0.9,
        subset=1000,
        epochs=1,
        scale_inputs=False,
        batch_size=64,
        batch_event_every=1,
        blas_threads=1,
    )
    events = []
    scratch.train(config, on_event=events.append)
    return (
        config,
        [e for e in events if e.kind == "batch"],
        [e for e in events if e.kind == "epoch"],
        events[-1],
    )


def test_raw_pixels_explain_themselves_and_their_gradients_show():
    config, batches, epochs, end = _raw_run()
    assert not end.diverged  # nothing became NaN: the loss only exploded
    messages = lessons(config, batches, epochs, end)
    assert any("The loss exploded" in m for m in messages), messages
    assert any("0 to 255" in m and "smaller learning rate" in m for m in messages), messages
    fig = scratch_view.grad_norm_figure(scratch_view.grad_norm_frame(batches, 15), n_layers=2)
    assert all(len(t.x) > 0 and "markers" in t.mode for t in fig.data)  # huge norms drawn, visible as points
    # A healthy run gets no lesson.
    scaled = scratch.ScratchConfig(**{**config.to_dict(), "scale_inputs": True, "learning_rate": 0.01})
    events = []
    scratch.train(scaled, on_event=events.append)
    assert (
        lessons(
            scaled,
            [e for e in events if e.kind == "batch"],
            [e for e in events if e.kind == "epoch"],
            events[-1],
        )
        == []
    )


def test_weights_title_says_how_many_of_how_many():
    fig = scratch_view.weights_figure(np.zeros((32, 28, 28)), total_units=128)
    assert fig.layout.title.text == "First-layer weights of 32 of 128 hidden units"
    assert scratch_view.weights_title(16, 16) == "First-layer weights of 16 hidden units"


def _points(values) -> int:
    """How many values a plotly JSON array holds (plain list, or base64 'bdata' for NumPy arrays)."""
    if isinstance(values, dict):
        import base64

        return len(base64.b64decode(values["bdata"])) // np.dtype(values["dtype"]).itemsize
    return len(values)


def test_the_raw_pixel_lesson_on_the_page():
    import json

    at = _page()
    at.toggle(key="fs_scale").set_value(False)
    at.selectbox(key="fs_subset").set_value("1,000")
    at.number_input(key="fs_epochs").set_value(1).run()
    at.button(key="fs_train").click().run()
    _wait_for_end(at)
    warnings = [w.value for w in at.warning]
    assert any("Why raw pixels struggle" in w for w in warnings), warnings
    specs = {c.proto.id: json.loads(c.proto.spec) for c in at.get("plotly_chart")}
    grads = next(s for s in specs.values() if "Gradient norm" in s["layout"]["title"]["text"])
    assert all(
        _points(t["x"]) >= 5 for t in grads["data"]
    )  # every batch of this short run is reported and drawn
    titles = [s["layout"]["title"]["text"] for s in specs.values()]
    assert "First-layer weights of 32 of 128 hidden units" in titles


def test_settings_are_remembered_after_visiting_another_page():
    home = str(Path(PAGE).resolve().parent.parent / "app.py")
    at = AppTest.from_file(home, default_timeout=60).run()
    at.switch_page("pages/6_From_Scratch.py").run()
    at.toggle(key="fs_keras").set_value(True).run()
    at.select_slider(key="fs_lr").set_value(0.01).run()
    at.switch_page("pages/8_Class.py").run()  # another page drops this page's widget state...
    assert "fs_keras" not in at.session_state or at.session_state["fs_keras"] is True
    at.switch_page("pages/6_From_Scratch.py").run()  # ...and coming back restores it
    assert not at.exception
    assert at.toggle(key="fs_keras").value is True
    assert at.select_slider(key="fs_lr").value == 0.01


def test_the_epochs_box_goes_no_further_than_the_operators_limit(monkeypatch):
    # It offered 100 epochs on a demo that trains at most 2, and said so only after Train.
    monkeypatch.setenv("NNLAB_MAX_EPOCHS", "2")
    at = _page()
    box = at.number_input(key="fs_epochs")
    assert box.value == 2 and box.proto.max == 2  # the default 3 brought down to the limit
    assert any("at most 2 epochs" in c.value for c in at.caption)
    monkeypatch.delenv("NNLAB_MAX_EPOCHS")
    at = _page()
    assert at.number_input(key="fs_epochs").proto.max == 100
