"""Sweeps: the settings a grid can vary, the values typed for them, every cell checked, the limits applied
to the group as a whole, the sweep in the run store (SQLite and PostgreSQL), where it stands, and its
figures. (A real 2 x 2 sweep trained to the end is in test_sweep_page.py.)"""

from __future__ import annotations

import numpy as np
import pytest
from factories import busy_runner, finish

from nnlab.architectures import get_preset
from nnlab.figures.sweeps import sweep_heatmap, sweep_line
from nnlab.limits import Limits
from nnlab.sweeps import Axis, SweepStore, choices, expand, parse_values, submit_sweep, sweep_result
from nnlab.training import TrainConfig
from nnlab.validation import InvalidSettings

LOGREG = get_preset("Logistic regression 784-10")
CNN = get_preset("CNN with dropout (Keras tutorial)")
QUICK = TrainConfig(epochs=1, subset=300)
LR = Axis("learning_rate", (1e-3, 1e-2))
BATCH = Axis("batch_size", (16, 32))


def test_a_sweep_can_vary_training_settings_and_the_layers_widths_and_dropout():
    labels = [a.label for a in choices(CNN)]
    assert labels[:5] == ["learning rate", "batch size", "epochs", "training images", "seed"]
    kinds = [layer["kind"] for layer in CNN["layers"]]
    assert "filters of layer 1" in labels and f"dropout rate of layer {kinds.index('Dropout') + 1}" in labels
    assert f"width of layer {len(kinds)}" not in labels  # the output layer is always the 10 digits


@pytest.mark.parametrize(
    "text, axis, values, words",
    [
        ("0.001, 0.01 ;0.1", LR, (0.001, 0.01, 0.1), None),
        ("32 64", Axis("batch_size"), (32, 64), None),
        ("1e3 2_000", Axis("subset"), (1000, 2000), None),
        ("32, 6.5", Axis("batch_size"), (32,), "whole numbers (got '6.5')"),
        ("0.1, lots", LR, (0.1,), "'lots' is not a number"),
        ("0.1", LR, (0.1,), "2 to 5 values (got 1)"),
        ("1 2 3 4 5 6", Axis("epochs"), (1, 2, 3, 4, 5, 6), "2 to 5 values (got 6)"),
        ("16, 16", Axis("units", layer=1), (16, 16), "once"),
    ],
)
def test_typed_values_are_read_or_refused_in_words(text, axis, values, words):
    found, problems = parse_values(text, axis)
    assert found == values
    assert (words is None) == (not problems) and (words is None or words in str(problems[0]))


def test_the_grid_holds_every_cell_row_by_row_each_checked():
    axes = [LR, Axis("units", (16, 64), layer=1)]
    points = expand(get_preset("MLP 784-128-10"), QUICK, axes)
    assert [(p.row, p.col, p.label(axes)) for p in points] == [
        (0, 0, "lr 0.001 · layer 2 units 16"),
        (0, 1, "lr 0.001 · layer 2 units 64"),
        (1, 0, "lr 0.01 · layer 2 units 16"),
        (1, 1, "lr 0.01 · layer 2 units 64"),
    ]
    assert points[3].config.learning_rate == 0.01 and points[3].spec["layers"][1]["units"] == 64
    assert points[0].config.subset == 300 and points[0].spec["layers"][2]["units"] == 10
    with pytest.raises(InvalidSettings) as bad:
        expand(LOGREG, QUICK, [Axis("batch_size", (64, 512, 1024))])
    assert [str(p) for p in bad.value.problems] == [
        "With batch 512: The batch size (512) is larger than the training subset (300).",
        "With batch 1024: The batch size (1024) is larger than the training subset (300).",
    ]
    for axes, words in [
        ([], "1 or 2 settings"),
        ([LR, BATCH, Axis("epochs", (1, 2))], "1 or 2 settings"),
        ([LR, LR], "two different settings"),
        ([Axis("units", (8, 16), layer=0)], "no setting 'width of layer 1'"),
        ([Axis("learning_rate", (20.0, 0.1))], "With lr 20: The learning rate must be between"),
    ]:
        with pytest.raises(InvalidSettings, match=words):
            expand(LOGREG, QUICK, axes)


def test_the_operators_limits_apply_to_the_group_as_a_whole(backend):
    runner = busy_runner()
    five_by_five = [Axis("seed", (0, 1, 2, 3, 4)), Axis("epochs", (1, 2, 3, 4, 5))]
    with pytest.raises(InvalidSettings, match="This sweep is 25 trainings; with the 0 you have queued"):
        submit_sweep(runner, owner="vis-a", spec=LOGREG, config=QUICK, axes=five_by_five,
                     limits=Limits(max_queued_per_visitor=10))  # fmt: skip
    with pytest.raises(InvalidSettings) as caught:
        submit_sweep(runner, owner="vis-a", spec=LOGREG, config=QUICK, axes=[Axis("epochs", (1, 3, 4))],
                     limits=Limits(max_epochs=2))  # fmt: skip
    assert [str(p) for p in caught.value.problems] == [
        "This demo trains for at most 2 epochs (asked for 3).",
        "This demo trains for at most 2 epochs (asked for 4).",
    ]
    assert runner.store.list(owner="vis-a") == [] and SweepStore(runner.store).list("vis-a") == []
    sweep = submit_sweep(runner, owner="vis-a", spec=LOGREG, config=QUICK, axes=[LR, BATCH],
                         limits=Limits(max_queued_per_visitor=4))  # fmt: skip
    assert len(sweep.cells) == 4
    with pytest.raises(InvalidSettings, match="with the 4 you have queued or running"):
        submit_sweep(
            runner,
            owner="vis-a",
            spec=LOGREG,
            config=QUICK,
            axes=[LR],
            limits=Limits(max_queued_per_visitor=4),
        )


def test_a_sweep_that_would_overfill_the_whole_queue_is_refused_whole(backend, monkeypatch):
    # A hostile visitor's walk-through: with the queue nearly full, a 25-cell sweep was refused halfway
    # (its 12th run reached the queue's bound) and kept its first 11 runs, while the page said it failed.
    monkeypatch.setenv("NNLAB_MAX_QUEUED", "6")
    runner = busy_runner()
    for _ in range(3):
        runner.submit(LOGREG, QUICK, owner="another-visitor")
    bound = Limits(max_queued=6)
    with pytest.raises(InvalidSettings, match="This sweep is 4 trainings and 3 are waiting in this server's"):
        submit_sweep(runner, owner="vis-a", spec=LOGREG, config=QUICK, axes=[LR, BATCH], limits=bound)
    assert runner.store.list(owner="vis-a") == [] and SweepStore(runner.store).list("vis-a") == []
    sweep = submit_sweep(runner, owner="vis-a", spec=LOGREG, config=QUICK, axes=[LR], limits=bound)
    assert len(sweep.cells) == 2 and len(runner.store.queued_ids()) == 5


def test_a_sweep_is_stored_with_its_cells_and_read_back_as_it_stands(backend):
    runner = busy_runner()
    sweeps = SweepStore(runner.store)
    sweep = submit_sweep(runner, owner="vis-a", spec=LOGREG, config=QUICK, axes=[LR, BATCH])
    queued = runner.store.list(owner="vis-a")[::-1]  # oldest first: the queue's order
    assert [r.name.split(" · ", 1)[1] for r in queued] == [
        "lr 0.001 · batch 16", "lr 0.001 · batch 32", "lr 0.01 · batch 16", "lr 0.01 · batch 32"
    ]  # fmt: skip
    assert sweep.name == "Logistic regression 784-10: learning rate × batch size"
    assert sweeps.list("vis-b") == [] and [s.id for s in sweeps.list("vis-a")] == [sweep.id]
    again = sweeps.get(sweep.id)
    assert again.axes == [LR, BATCH] and again.cells[(1, 0)] == queued[2].id and again.config["subset"] == 300

    result = sweep_result(sweeps, again)
    assert result.total == 4 and result.is_active and result.best is None and np.isnan(result.accuracy).all()
    finish(runner.store, again.cells[(0, 1)], 0.80)
    finish(runner.store, again.cells[(1, 1)], 0.90, status="stopped")
    runner.store.update(again.cells[(1, 0)], status="failed", error="out of memory")
    result = sweep_result(sweeps, again)
    assert result.fraction_done == 0.75 and result.is_active and result.count("failed") == 1
    np.testing.assert_array_equal(result.accuracy, [[np.nan, 0.80], [np.nan, 0.90]])
    assert result.best.id == again.cells[(1, 1)] and result.cell_label(1, 1) == "lr 0.01 · batch 32"
    assert result.tick_labels(0) == ["0.001", "0.01"] and result.tick_labels(1) == ["16", "32"]


def test_the_heatmap_and_the_line_show_each_cells_accuracy():
    grid = np.array([[0.9, np.nan], [0.95, 0.5]])
    fig = sweep_heatmap(grid, ["0.001", "0.01"], ["16", "32"], "learning rate", "batch size")
    heat = fig.data[0]
    assert list(heat.x) == ["16", "32"] and list(heat.y) == ["0.001", "0.01"]
    assert [list(row) for row in heat.text] == [["90.0%", ""], ["95.0%", "50.0%"]]
    (best,) = fig.layout.shapes  # the best cell (row 1, column 0) is outlined
    assert (best.x0, best.x1, best.y0, best.y1) == (-0.5, 0.5, 0.5, 1.5)
    assert fig.layout.xaxis.title.text == "batch size" and fig.layout.yaxis.title.text == "learning rate"
    line = sweep_line(np.array([0.9, 0.95, np.nan]), ["16", "32", "64"], "batch size").data[0]
    assert list(line.x) == ["16", "32", "64"] and list(line.text) == ["90.0%", "95.0%", ""]
