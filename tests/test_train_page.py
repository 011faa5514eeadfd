"""The Build & Train page through Streamlit's AppTest: compose, validate, train, watch, stop.

Real trainings run in the runner's worker process (quick runs on small subsets); the live view is
also checked on runs written straight into the store, which needs no TensorFlow and no waiting.
"""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import pytest
from factories import batch_event, epoch_event
from streamlit.testing.v1 import AppTest

from nnlab.architectures import get_preset
from nnlab.runs import RunStore, process_alive, process_handle
from nnlab.ui import repeat_clicks
from nnlab.ui.hyperparams import QUICK_SUBSET

ROOT = Path(__file__).resolve().parent.parent
PAGE = str(ROOT / "pages" / "1_Build_and_Train.py")
WAIT_SECONDS = 240  # a generous bound for a worker to import TensorFlow and train on a busy machine


@pytest.fixture
def store(_isolated_home):
    """The test's run store; at the end, stop any training still going and wait for its worker."""
    s = RunStore()
    yield s
    for run in s.list(statuses=("queued", "running")):
        s.request_stop(run.id)
    deadline = time.time() + 60
    for run in s.list():
        pid = (run.worker or {}).get("pid")
        if pid and pid != os.getpid():
            while process_alive(run.worker) and time.time() < deadline:
                time.sleep(0.5)
            if process_alive(run.worker):
                os.kill(pid, signal.SIGKILL)


def _page(visitor: str = "visitor-a", **params: str) -> AppTest:
    at = AppTest.from_file(PAGE, default_timeout=90)
    at.query_params["visitor"] = visitor
    for key, value in params.items():
        at.query_params[key] = value
    return at.run()


def _texts(at: AppTest, kind: str) -> list[str]:
    return [str(e.value) for e in getattr(at, kind)]


def _training_charts(at: AppTest) -> list:
    """The live view's charts (not the network's diagram, drawn above them)."""
    return [c for c in at.get("plotly_chart") if getattr(c, "key", None) != "build_diagram"]


def _metrics(at: AppTest) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


def _wait_for(at: AppTest, store: RunStore, run_id: str, done) -> AppTest:
    """Re-run the page (as the live view's timer would) until ``done(run)`` or a generous deadline."""
    deadline = time.time() + WAIT_SECONDS
    while time.time() < deadline:
        run = store.get(run_id)
        if done(run):
            break
        time.sleep(0.5)
    at.run()
    assert not at.exception, at.exception
    return at


def _fake_running(store: RunStore, owner: str = "visitor-a", **progress) -> str:
    """A run that looks like it is training (its 'worker' is this test process) with some metrics."""
    run = store.create(
        get_preset("MLP 784-128-10"), {"epochs": 4, "subset": 2000}, name="Fake run", owner=owner
    )
    prog = {
        "epoch": 2,
        "epochs": 4,
        "batch": 50,
        "steps_per_epoch": 100,
        "elapsed": 10.0,
        "samples_per_sec": 1234.0,
        "lr": 1e-3,
        **progress,
    }
    store.update(run.id, status="running", started=time.time() - 10, worker=process_handle())
    events = [batch_event(1, b, loss=2.0 / b, accuracy=0.01 * b) for b in range(5, 101, 5)]
    events.append(epoch_event(1, loss=0.5, accuracy=0.85, val_loss=0.45, val_accuracy=0.87))
    events += [batch_event(2, b, loss=0.4, accuracy=0.9) for b in range(5, 51, 5)]
    store.add_events(run.id, events, prog)
    return run.id


# ---- composing -----------------------------------------------------------------------------------


def test_preset_shows_layers_and_summary(store):
    at = _page()
    assert not at.exception
    assert at.selectbox(key="compose_preset").value == "MLP 784-128-10"
    assert _metrics(at)["Total parameters"] == "101,770"
    assert not at.button(key="train_button").disabled
    assert "No training yet" in " ".join(_texts(at, "info"))


def test_invalid_network_shows_its_problem_and_cannot_be_trained(store):
    at = _page()
    at.button(key="layer_0_remove").click().run()  # remove the Flatten: Dense gets an image
    errors = _texts(at, "error")
    assert any("add a Flatten layer before it" in e for e in errors), errors
    assert at.button(key="train_button").disabled
    assert "The network has problems (see the layers above)." in _texts(at, "info")
    # Fix it by turning the first Dense into a Flatten: valid again, the summary follows.
    at.selectbox(key="layer_1_kind").set_value("Flatten").run()
    assert not at.error
    assert not at.button(key="train_button").disabled
    assert _metrics(at)["Total parameters"] == "7,850"


def test_layers_can_be_added_moved_and_edited(store):
    at = _page()
    at.selectbox(key="compose_add_kind").set_value("Dropout").run()
    at.button(key="compose_add_button").click().run()  # goes before the output layer by default
    table = at.dataframe[0].value
    assert list(table["kind"]) == ["Flatten", "Dense", "Dropout", "Dense"]
    at.button(key="layer_1_down").click().run()  # Dense(128) below the Dropout
    assert list(at.dataframe[0].value["kind"]) == ["Flatten", "Dropout", "Dense", "Dense"]
    at.number_input(key="layer_1_units").set_value(64).run()
    assert _metrics(at)["Total parameters"] == f"{784 * 64 + 64 + 64 * 10 + 10:,}"
    at.selectbox(key="layer_2_activation").set_value("relu").run()  # the output must be softmax
    assert any("softmax" in e for e in _texts(at, "error"))
    assert at.button(key="train_button").disabled


def test_bad_training_settings_block_training(store):
    at = _page()
    at.toggle(key="hp_quick").set_value(False).run()
    at.number_input(key="hp_subset").set_value(100).run()
    at.select_slider(key="hp_batch").set_value(256).run()
    assert any("larger than the training subset" in e for e in _texts(at, "error"))
    assert at.button(key="train_button").disabled


def test_a_tuned_preset_offers_its_recommended_settings(store):
    at = _page()
    assert not [b for b in at.button if b.key == "hp_recommended"]  # the MLP presets have none
    at.selectbox(key="compose_preset").select("Strong CNN (BatchNorm, 99.4 %+)").run()
    at.button(key="hp_recommended").click().run()
    assert not at.exception and not at.warning
    assert at.toggle(key="hp_quick").value is False
    assert at.number_input(key="hp_epochs").value == 10
    assert at.select_slider(key="hp_lr").value == 0.002
    assert at.selectbox(key="hp_schedule").value == "cosine"


# ---- limits --------------------------------------------------------------------------------------


def test_limits_are_stated_not_errors(store, monkeypatch):
    monkeypatch.setenv("NNLAB_MAX_PARAMS", "50000")
    monkeypatch.setenv("NNLAB_MAX_EPOCHS", "3")
    at = _page()
    assert not at.exception
    assert at.button(key="train_button").disabled
    assert any("101,770 parameters" in i and "at most 50,000" in i for i in _texts(at, "info"))
    at.toggle(key="hp_quick").set_value(False).run()
    assert at.number_input(key="hp_epochs").max == 3
    assert any("at most 3 epochs" in c for c in _texts(at, "caption"))
    at.selectbox(key="compose_preset").set_value("Logistic regression 784-10").run()
    assert not at.button(key="train_button").disabled


def test_queued_runs_per_visitor_limit(store, monkeypatch):
    monkeypatch.setenv("NNLAB_MAX_QUEUED_PER_VISITOR", "1")
    _fake_running(store)
    at = _page()
    assert at.button(key="train_button").disabled
    assert any("1 run per visitor" in i for i in _texts(at, "info"))
    other = _page(visitor="visitor-b")
    assert not other.button(key="train_button").disabled


# ---- the live view -------------------------------------------------------------------------------


def test_running_run_shows_progress_charts_and_reattaches(store):
    run_id = _fake_running(store)
    at = _page()  # no ?run= in the URL: this visitor's newest active run is picked up
    assert not at.exception
    assert at.query_params["run"] == [run_id] or at.query_params["run"] == run_id
    progress = at.get("progress")[0]
    assert "Epoch 2/4 · batch 50/100" in str(progress.proto.text)
    metrics = _metrics(at)
    assert metrics["Samples per second"] == "1,234"
    assert metrics["Elapsed"] == "0:10"
    assert metrics["Time left (estimate)"] == "0:17"  # 150 of 400 batches in 10 s
    charts = _training_charts(at)
    assert len(charts) == 3
    # A second visitor does not see it.
    other = _page(visitor="visitor-b")
    assert not other.get("progress")
    assert "No training yet" in " ".join(_texts(other, "info"))


def test_coming_back_without_the_url_keeps_the_watched_run(store):
    run_id = _fake_running(store)
    store.update(run_id, status="completed", finished=time.time(), test_accuracy=0.8, test_loss=0.5)
    at = _page(run=run_id)
    assert _metrics(at)["Test accuracy"] == "80.00%"
    del at.query_params["run"]  # a page switch drops the query string; the session remembers
    at.run()
    assert _metrics(at)["Test accuracy"] == "80.00%"
    assert at.query_params["run"] in (run_id, [run_id])


def test_a_visitor_with_one_finished_run_sees_it_in_a_new_session(store):
    """A visitor's only run, finished, is shown on their next visit (as the newest of several is),
    not "No training yet"."""
    run_id = _fake_running(store)
    store.update(run_id, status="completed", finished=time.time(), test_accuracy=0.8, test_loss=0.5)
    at = _page()
    assert _metrics(at)["Test accuracy"] == "80.00%"
    assert "No training yet" not in " ".join(_texts(at, "info"))
    assert at.query_params["run"] in (run_id, [run_id])


def test_stop_button_requests_a_stop(store):
    run_id = _fake_running(store)
    at = _page(run=run_id)
    at.button(key=f"stop_{run_id}").click().run()
    assert store.get(run_id).stop_requested
    assert any("Stopping" in c for c in _texts(at, "caption"))


def test_finished_run_shows_results_and_links(store):
    run_id = _fake_running(store)
    store.update(run_id, status="completed", finished=time.time(), test_accuracy=0.9123, test_loss=0.31)
    at = _page(run=run_id)
    metrics = _metrics(at)
    assert metrics["Test accuracy"] == "91.23%"
    assert metrics["Test loss"] == "0.3100"
    page_links = at.get("page_link")
    markdown = " ".join(_texts(at, "markdown"))
    # A page link per result page (or a plain link where that page is not part of the app yet).
    for label in ("Evaluate this run", "Inspect this run", "Draw this run"):
        assert any(label in str(p.proto.label) for p in page_links) or label in markdown


def test_failed_run_shows_its_error_in_words(store):
    run_id = _fake_running(store)
    store.update(
        run_id,
        status="failed",
        finished=time.time(),
        error='Traceback (most recent call last):\n  File "x.py", line 1\n'
        "ValueError: the data could not be read",
    )
    at = _page(run=run_id)
    errors = _texts(at, "error")
    assert "ValueError: the data could not be read" in errors
    assert not any("Traceback" in e for e in errors)


def test_a_double_click_on_train_queues_one_run(store, monkeypatch):
    """Streamlit reruns the page for each click: Train clicked again at once (a double click) shows the
    run that the first click queued; the same network trained again later is a run of its own."""
    _fake_running(store, owner="someone-else")  # takes the only slot: the runs wait in the queue
    at = _page()
    at.button(key="train_button").click().run()
    at.button(key="train_button").click().run()
    assert not at.exception, at.exception
    (run,) = store.list(owner="visitor-a", include_unowned=False)
    assert run.status == "queued" and any("Waiting, position 1" in i for i in _texts(at, "info"))
    monkeypatch.setattr(repeat_clicks, "REPEAT_SECONDS", 0.0)  # as if the learner clicked again later
    at.button(key="train_button").click().run()
    assert len(store.list(owner="visitor-a", include_unowned=False)) == 2


def test_queued_run_shows_its_position(store):
    _fake_running(store, owner="someone-else")  # takes the only slot
    waiting = store.create(get_preset("MLP 784-128-10"), {"epochs": 1, "subset": 2000}, owner="visitor-a")
    at = _page()
    assert any("Waiting, position 1" in i for i in _texts(at, "info"))
    at.button(key=f"stop_{waiting.id}").click().run()
    assert store.get(waiting.id).status == "stopped"
    # It never trained: it says so, with no results and no links to pages that need a trained model.
    infos = " ".join(_texts(at, "info"))
    assert "Stopped before it trained: there is no model to evaluate" in infos
    assert "Test accuracy" not in _metrics(at) and not at.get("page_link")


# ---- real trainings in the worker process --------------------------------------------------------


def test_a_quick_run_completes_with_metrics_and_a_long_one_stops_when_asked(store, monkeypatch):
    """Two visitors train at once (two worker processes start TensorFlow side by side): one a quick run
    to the end, the other a long run that it stops from the page."""
    monkeypatch.setenv("NNLAB_MAX_CONCURRENT", "2")
    long_page = _page(visitor="visitor-b")
    long_page.toggle(key="hp_quick").set_value(False).run()
    long_page.number_input(key="hp_epochs").set_value(20).run()
    long_page.button(key="train_button").click().run()
    (long_run,) = store.list(owner="visitor-b", include_unowned=False)
    at = _page()
    assert at.toggle(key="hp_quick").value  # the default: a quick run
    at.text_input(key="train_run_name").input("first try")
    at.button(key="train_button").click().run()
    assert not at.exception
    (run,) = store.list(owner="visitor-a", include_unowned=False)
    assert run.config["subset"] == QUICK_SUBSET and run.config["epochs"] == 1
    assert run.name == "first try" and at.text_input(key="train_run_name").value == ""  # not the next one's
    assert store.get(run.id).status == "running"  # beside the long run, not queued behind it

    # Wait until the long run really trains (metrics arrive), then stop it from its page.
    long_page = _wait_for(
        long_page, store, long_run.id, lambda r: not r.is_active or not store.metrics(r.id, "batch").empty
    )
    assert store.get(long_run.id).status == "running"
    long_page.button(key=f"stop_{long_run.id}").click().run()
    long_page = _wait_for(long_page, store, long_run.id, lambda r: not r.is_active)
    final = store.get(long_run.id)
    assert final.status == "stopped"
    assert final.test_accuracy is not None  # the model trained so far is kept and evaluated
    assert store.model_path(long_run.id).exists()
    assert "Test accuracy" in _metrics(long_page)

    at = _wait_for(at, store, run.id, lambda r: not r.is_active)
    assert store.get(run.id).status == "completed", store.get(run.id).error
    metrics = _metrics(at)
    accuracy = float(metrics["Test accuracy"].rstrip("%")) / 100
    assert accuracy > 0.5  # an MLP learns a lot from a quick run's images in one epoch
    assert metrics["Test loss"] != "–"
    assert store.metrics(run.id, "epoch")["val_accuracy"].notna().all()


# ---- every page ----------------------------------------------------------------------------------


PAGES = sorted(str(p) for p in [ROOT / "app.py", *(ROOT / "pages").glob("*.py")] if p.exists())


@pytest.mark.parametrize("path", PAGES, ids=[Path(p).name for p in PAGES])
def test_every_page_renders_on_an_empty_store(store, path):
    at = AppTest.from_file(path, default_timeout=120).run()
    assert not at.exception, at.exception


# ---- the editor follows the runs and the edits ---------------------------------------------------


def test_a_refresh_on_a_watched_run_edits_that_runs_network(store):
    cnn = get_preset("CNN Conv32-Pool-Conv64-Pool-Dense64")
    run = store.create(
        cnn,
        {
            "epochs": 3,
            "subset": 5000,
            "batch_size": 64,
            "learning_rate": 3e-3,
            "optimizer": "sgd",
            "momentum": 0.8,
        },
        name="my cnn",
        owner="visitor-a",
    )
    store.update(run.id, status="completed", finished=time.time(), test_accuracy=0.95, test_loss=0.2)
    at = _page(run=run.id)  # a fresh session, as after a browser refresh
    assert at.text_input(key="compose_name").value == cnn["name"]
    assert list(at.dataframe[0].value["kind"]) == [layer["kind"] for layer in cnn["layers"]]
    assert not at.toggle(key="hp_quick").value
    assert at.number_input(key="hp_epochs").value == 3 and at.number_input(key="hp_subset").value == 5000
    assert at.select_slider(key="hp_batch").value == 64 and at.selectbox(key="hp_optimizer").value == "sgd"
    assert abs(at.slider(key="hp_momentum_sgd").value - 0.8) < 1e-9


def test_edit_this_network_loads_a_runs_spec(store):
    cnn = get_preset("CNN Conv32-Pool-Conv64-Pool-Dense64")
    run = store.create(cnn, {"epochs": 1, "subset": QUICK_SUBSET}, name="cnn run", owner="visitor-a")
    store.update(run.id, status="completed", finished=time.time(), test_accuracy=0.95, test_loss=0.2)
    at = _page()
    at.selectbox(key="compose_preset").set_value("MLP 784-128-10").run()
    assert _metrics(at)["Total parameters"] == "101,770"
    at.query_params["run"] = run.id
    at.run()
    at.button(key=f"edit_{run.id}").click().run()
    assert not at.exception
    assert at.text_input(key="compose_name").value == cnn["name"]
    assert list(at.dataframe[0].value["kind"]) == [layer["kind"] for layer in cnn["layers"]]
    assert at.toggle(key="hp_quick").value  # it was a quick run


def test_the_name_follows_edits_until_the_visitor_types_one(store):
    at = _page()
    at.selectbox(key="compose_preset").set_value("CNN Conv32-Pool-Conv64-Pool-Dense64").run()
    assert at.text_input(key="compose_name").value == "CNN Conv32-Pool-Conv64-Pool-Dense64"
    at.selectbox(key="compose_add_kind").set_value("Conv2D").run()
    at.number_input(key="compose_add_position").set_value(5).run()
    at.button(key="compose_add_button").click().run()
    name = at.text_input(key="compose_name").value
    assert name.startswith("Custom CNN ") and name != "CNN Conv32-Pool-Conv64-Pool-Dense64", name
    assert "Conv32-Pool-Conv64-Pool-Conv32" in name, name
    # Undoing the edit gives the preset's name back.
    removes = [b for b in at.button if b.key and b.key.endswith("_remove")]
    removes[4].click().run()  # the added Conv2D is the fifth layer
    assert at.text_input(key="compose_name").value == "CNN Conv32-Pool-Conv64-Pool-Dense64"
    # A typed name is the visitor's: edits leave it alone.
    at.text_input(key="compose_name").set_value("mine").run()
    at.button(key="compose_add_button").click().run()
    assert at.text_input(key="compose_name").value == "mine"


def test_an_out_of_range_setting_is_explained_in_words(store):
    at = _page()
    at.selectbox(key="compose_preset").set_value("CNN Conv32-Pool-Conv64-Pool-Dense64").run()
    at.number_input(key="layer_3_kernel_size").set_value(30).run()  # no widget bound swallows it
    errors = _texts(at, "error")
    assert any("30x30 kernel is larger than" in e for e in errors), errors
    assert at.button(key="train_button").disabled


def test_a_starting_run_says_so_instead_of_empty_charts(store):
    run = store.create(
        get_preset("MLP 784-128-10"),
        {"epochs": 1, "subset": QUICK_SUBSET},
        name="starting",
        owner="visitor-a",
    )
    store.update(run.id, status="running", started=time.time(), worker=process_handle())
    at = _page(run=run.id)
    assert any("Starting: loading TensorFlow" in i for i in _texts(at, "info"))
    assert not _training_charts(at)  # no empty axes with made-up ranges


def test_charts_start_at_epoch_zero(store):
    import json

    run_id = _fake_running(store)
    at = _page(run=run_id)
    specs = [json.loads(c.proto.spec) for c in _training_charts(at)]
    assert [s["layout"]["xaxis"].get("rangemode") for s in specs[:2]] == ["tozero", "tozero"]


def test_training_settings_are_kept_after_visiting_another_page(store):
    # Streamlit forgets the value of a widget that a run does not draw: a visit to Data put every
    # training setting back to its default (the layers were kept), and so did Quick run for the boxes
    # it hides.
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=90)
    at.query_params["visitor"] = "visitor-a"
    at.run().switch_page("pages/1_Build_and_Train.py").run()
    at.toggle(key="hp_quick").set_value(False).run()
    at.number_input(key="hp_epochs").set_value(3)
    at.number_input(key="hp_subset").set_value(20000)
    at.number_input(key="hp_seed").set_value(7)
    at.toggle(key="hp_augment").set_value(True)
    at.selectbox(key="hp_schedule").set_value("exponential")
    at.selectbox(key="hp_optimizer").set_value("sgd").run()
    at.slider(key="hp_momentum_sgd").set_value(0.5)
    at.slider(key="hp_decay").set_value(0.6).run()
    at.toggle(key="hp_quick").set_value(True).run()  # hides the epochs and images boxes
    at.toggle(key="hp_quick").set_value(False).run()
    assert at.number_input(key="hp_subset").value == 20000

    at.switch_page("pages/5_Data.py").run()  # draws none of the form's widgets
    at.switch_page("pages/1_Build_and_Train.py").run()
    assert not at.exception
    assert at.toggle(key="hp_quick").value is False
    assert at.number_input(key="hp_epochs").value == 3
    assert at.number_input(key="hp_subset").value == 20000
    assert at.number_input(key="hp_seed").value == 7
    assert at.toggle(key="hp_augment").value is True
    assert at.selectbox(key="hp_optimizer").value == "sgd"
    assert at.slider(key="hp_momentum_sgd").value == 0.5
    assert at.selectbox(key="hp_schedule").value == "exponential"
    assert at.slider(key="hp_decay").value == 0.6
