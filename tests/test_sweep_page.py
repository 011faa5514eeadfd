"""The Sweeps page through Streamlit's AppTest: the form queues the grid, the results show a heatmap
(two settings) or a line (one) with the best run, and a real 2 x 2 sweep trains to the end.

The form and figure tests keep their runs queued behind a run that holds the only training slot
(``busy_runner``) and write results as a worker writes them; the 2 x 2 sweep is trained for real by
the worker's own ``execute_run``, here in the test process (TensorFlow loaded once, tiny subsets).
"""

from __future__ import annotations

import base64
import json
from pathlib import Path

import numpy as np
import pytest
from factories import busy_runner, finish
from streamlit.testing.v1 import AppTest

from nnlab.architectures import get_preset
from nnlab.sweeps import Axis, SweepStore, submit_sweep
from nnlab.training import TrainConfig
from nnlab.worker import execute_run

ROOT = Path(__file__).resolve().parent.parent
PAGE = str(ROOT / "pages" / "7_Sweeps.py")
LOGREG = get_preset("Logistic regression 784-10")
MLP = get_preset("MLP 784-128-10")
TINY = TrainConfig(epochs=1, subset=300, batch_size=64, seed=0)
LR = Axis("learning_rate", (1e-3, 1e-2))
BATCH = Axis("batch_size", (32, 64))


@pytest.fixture
def runner(_isolated_home):
    return busy_runner()


def _page(visitor: str = "visitor-a", **params: str) -> AppTest:
    at = AppTest.from_file(PAGE, default_timeout=120)
    at.query_params["visitor"] = visitor
    for key, value in params.items():
        at.query_params[key] = value
    return at.run()


def _array(value) -> np.ndarray:
    """A plotly array from a figure's JSON: a list, or the typed-array form ``{dtype, bdata, shape}``."""
    if not isinstance(value, dict):
        return np.array(value, dtype=float)
    flat = np.frombuffer(base64.b64decode(value["bdata"]), dtype=value["dtype"]).astype(float)
    shape = value.get("shape")
    return flat.reshape([int(n) for n in str(shape).split(",")]) if shape else flat


def _figure(at: AppTest, prefix: str) -> dict:
    charts = [c for c in at.get("plotly_chart") if c.proto.id and prefix in c.proto.id]
    assert len(charts) == 1, [c.proto.id for c in at.get("plotly_chart")]
    return json.loads(charts[0].proto.spec)


def _metrics(at: AppTest) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


def test_the_form_queues_the_grid_as_one_group(runner):
    at = _page()
    assert not at.exception, at.exception
    assert "No sweeps yet" in " ".join(str(i.value) for i in at.info)
    assert "**3 × 2 = 6 trainings**, queued together (row by row)." in [str(m.value) for m in at.markdown]
    values = at.text_input(key="sweep_values_0_learning_rate_None")
    values.set_value("0.001, lots").run()  # a typo is answered in words, and nothing can be queued
    assert any("'lots' is not a number" in str(e.value) for e in at.error)
    assert at.button[0].disabled
    values.set_value("0.001, 0.01").run()
    assert not at.error and not at.button[0].disabled
    at.button[0].click().run()
    assert not at.exception, at.exception
    (sweep,) = SweepStore(runner.store).list("visitor-a")
    assert [a.values for a in sweep.axes] == [(0.001, 0.01), (32, 128)] and sweep.shape == (2, 2)
    runs = SweepStore(runner.store).runs(sweep)
    assert sorted(runs) == [(0, 0), (0, 1), (1, 0), (1, 1)]
    assert {r.status for r in runs.values()} == {"queued"} and {r.owner for r in runs.values()} == {
        "visitor-a"
    }
    assert runs[(1, 0)].config["learning_rate"] == 0.01 and runs[(1, 0)].config["batch_size"] == 32
    assert at.query_params["sweep"] in (sweep.id, [sweep.id])
    assert any("0 of 4 trainings ended" in str(p.proto.text) for p in at.get("progress"))
    at.button(key="sweep_queue").click().run()  # clicked twice at once (a double click): still one sweep
    assert [s.id for s in SweepStore(runner.store).list("visitor-a")] == [sweep.id]
    assert len(runner.store.list(owner="visitor-a", include_unowned=False)) == 4
    heat = _figure(at, "sweep_accuracy")["data"][0]
    assert heat["type"] == "heatmap" and np.isnan(_array(heat["z"])).all()


def test_two_settings_show_a_heatmap_the_curves_and_the_best_run(runner):
    sweep = submit_sweep(runner, owner="visitor-a", spec=LOGREG, config=TINY, axes=[LR, BATCH])
    runs = SweepStore(runner.store).runs(sweep)
    accuracy = {(0, 0): 0.81, (0, 1): 0.84, (1, 0): 0.92}  # (1, 1) still queued
    for cell, value in accuracy.items():
        finish(runner.store, runs[cell].id, value)
    at = _page()
    assert not at.exception, at.exception
    heat = _figure(at, "sweep_accuracy")["data"][0]
    assert heat["type"] == "heatmap" and heat["y"] == ["0.001", "0.01"] and heat["x"] == ["32", "64"]
    z = _array(heat["z"])
    assert np.allclose(z[[0, 0, 1], [0, 1, 0]], [0.81, 0.84, 0.92]) and np.isnan(z[1, 1])
    assert _metrics(at)["Best test accuracy"] == "92.00%" and "lr 0.01" in _metrics(at)["With"]
    assert any("3 of 4 trainings ended" in str(p.proto.text) for p in at.get("progress"))
    cells = at.dataframe[0].value
    assert list(cells["test accuracy (%)"].fillna(-1)) == [81.0, 84.0, 92.0, -1]

    other = _page("visitor-b", sweep=sweep.id)  # another visitor's link: not shown, said in words
    assert "not yours" in " ".join(str(w.value) for w in other.warning) and not other.get("plotly_chart")


def test_one_setting_shows_a_line(runner):
    sweep = submit_sweep(
        runner, owner="visitor-a", spec=LOGREG, config=TINY, axes=[Axis("epochs", (1, 2, 3))]
    )
    for row, run in sorted(SweepStore(runner.store).runs(sweep).items()):
        finish(runner.store, run.id, 0.80 + 0.05 * row[0])
    at = _page()
    line = _figure(at, "sweep_accuracy")["data"][0]
    assert line["type"] == "scatter" and line["x"] == ["1", "2", "3"]
    assert (
        np.allclose(_array(line["y"]), [0.80, 0.85, 0.90]) and _metrics(at)["Best test accuracy"] == "90.00%"
    )


def test_a_2x2_sweep_trains_to_the_end_with_a_heatmap(runner):
    sweep = submit_sweep(runner, owner="visitor-a", spec=MLP, config=TINY, axes=[LR, BATCH])
    sweeps = SweepStore(runner.store)
    for run in sweeps.runs(sweep).values():
        finished = execute_run(runner.store, run.id, dispatch_next=False)  # as a worker does
        assert finished is not None and finished.status == "completed", finished and finished.error
    runs = sweeps.runs(sweep)
    assert all(0.2 < r.test_accuracy <= 1 for r in runs.values())
    at = _page(sweep=sweep.id)
    assert not at.exception, at.exception
    z = _array(_figure(at, "sweep_accuracy")["data"][0]["z"])
    expected = [[runs[(i, j)].test_accuracy for j in range(2)] for i in range(2)]
    assert np.allclose(z, expected)
    best = max(runs.values(), key=lambda r: r.test_accuracy)
    assert _metrics(at)["Best test accuracy"] == f"{best.test_accuracy:.2%}"
    assert any("4 of 4 trainings ended" in str(p.proto.text) for p in at.get("progress"))
    curves = _figure(at, "sweep_curves")["data"]
    assert len({trace["name"] for trace in curves}) >= 4  # each run's curve, overlaid


def test_a_students_sweep_counts_every_cell_against_the_class(runner):
    from nnlab.classes import ClassLimits, ClassStore

    classes = ClassStore(runner.store)
    classroom, _ = classes.create("Year 10")
    classes.join(classroom.id, "visitor-a", "Ada")
    classes.set_limits(classroom.id, ClassLimits(max_runs=4))
    at = _page()
    assert not at.exception, at.exception
    assert any("started 0; this would start 6" in str(e.value) for e in at.error)  # 3 x 2 > 4
    assert at.button[0].disabled
    at.text_input(key="sweep_values_0_learning_rate_None").set_value("0.001, 0.01").run()  # 2 x 2 = 4
    assert not at.error and not at.button[0].disabled
    classes.set_hidden(classroom.id, ["sweeps"])
    hidden = _page()
    assert "Your class does not use sweeps" in str(hidden.info[0].value) and not hidden.button


def test_a_grid_the_queue_cannot_hold_is_refused_before_the_button(runner, monkeypatch):
    monkeypatch.setenv("NNLAB_MAX_QUEUED", "8")
    for _ in range(3):
        runner.submit(LOGREG, TINY, owner="another-visitor")
    at = _page()  # 6 trainings and 3 waiting: more than the queue's 8
    assert not at.exception, at.exception
    assert any("This sweep is 6 trainings and 3 are waiting" in str(e.value) for e in at.error)
    assert at.button[0].disabled
    at.text_input(key="sweep_values_0_learning_rate_None").set_value("0.001, 0.01").run()  # 4 fit
    assert not at.error and not at.button[0].disabled


def test_stop_the_sweep_stops_every_run_that_has_not_ended(runner):
    import time

    from nnlab.runs import process_handle

    sweep = submit_sweep(runner, owner="visitor-a", spec=LOGREG, config=TINY, axes=[LR, BATCH])
    cells = SweepStore(runner.store).runs(sweep)
    finish(runner.store, cells[(0, 0)].id, 0.91)  # ended: keeps its result
    training = cells[(0, 1)].id
    runner.store.update(training, status="running", started=time.time(), worker=process_handle())
    at = _page(sweep=sweep.id)
    assert not at.exception, at.exception
    at.button(key=f"sweep_stop_{sweep.id}").click().run()
    assert not at.exception, at.exception
    now = SweepStore(runner.store).runs(sweep)
    assert now[(0, 0)].status == "completed" and now[(0, 0)].test_accuracy == 0.91
    assert now[(0, 1)].status == "running" and now[(0, 1)].stop_requested  # stops at its batch's end
    assert now[(1, 0)].status == now[(1, 1)].status == "stopped"  # out of the queue at once
    (bar,) = [p.proto.text for p in at.get("progress")]
    assert "0 waiting" in bar and "2 stopped" in bar, bar
    assert SweepStore(runner.store).stop(sweep) == 1  # only the one still training is asked again
