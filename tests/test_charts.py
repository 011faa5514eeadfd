"""The live-training figures: right traces, right positions, empty tables draw cleanly."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from nnlab.figures import training as charts


def _batch_df() -> pd.DataFrame:
    rows = []
    for epoch in (1, 2):
        for batch in (5, 10):
            rows.append(
                {
                    "epoch": epoch,
                    "batch": batch,
                    "step": (epoch - 1) * 10 + batch,
                    "loss": 2.0 / (epoch * batch),
                    "accuracy": 0.05 * epoch * batch,
                }
            )
    return pd.DataFrame(rows)


def _epoch_df() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "epoch": [1, 2],
            "loss": [0.5, 0.3],
            "accuracy": [0.8, 0.9],
            "val_loss": [0.45, 0.35],
            "val_accuracy": [0.85, 0.88],
            "lr": [1e-3, 5e-4],
        }
    )


def test_training_figure_has_batch_train_and_validation_traces():
    fig = charts.training_figure(_batch_df(), _epoch_df(), "accuracy", steps_per_epoch=10, smoothing=0)
    names = [t.name for t in fig.data]
    assert names == ["training (per batch, smoothed)", "training (epoch)", "validation (epoch)"]
    # Batch 5 of 10 in epoch 2 sits at 1.5 epochs; epoch points sit at whole epochs.
    assert list(fig.data[0].x) == [0.5, 1.0, 1.5, 2.0]
    assert list(fig.data[0].y) == pytest.approx([0.25, 0.5, 0.5, 1.0])
    assert list(fig.data[2].y) == [0.85, 0.88]
    assert fig.layout.yaxis.tickformat == ".1~%"


def test_the_untrained_score_at_step_0_is_the_first_point_and_marked():
    start = pd.DataFrame([{"epoch": 1, "batch": 0, "step": 0, "loss": 2.31, "accuracy": 0.09}])
    # right after the start: only the untrained network's score, drawn as a visible marker at 0
    fig = charts.training_figure(start, pd.DataFrame(), "loss", steps_per_epoch=10)
    marker = fig.data[-1]
    assert marker.name == "untrained network (step 0)" and marker.mode == "markers"
    assert (list(marker.x), list(marker.y)) == ([0.0], [2.31])
    # later: the batch line starts there, the marker stays unsmoothed
    fig = charts.training_figure(pd.concat([start, _batch_df()]), _epoch_df(), "loss", steps_per_epoch=10)
    assert fig.data[0].x[0] == 0.0 and fig.data[0].y[0] == pytest.approx(2.31)
    assert [t.name for t in fig.data][:2] == ["training (per batch, smoothed)", "untrained network (step 0)"]
    # a run recorded before step 0 existed has no marker
    older = charts.training_figure(_batch_df(), _epoch_df())
    assert "untrained network (step 0)" not in [t.name for t in older.data]


def test_batch_positions_estimate_steps_per_epoch_when_unknown():
    assert list(charts.batch_positions(_batch_df())) == [0.5, 1.0, 1.5, 2.0]


def test_smoothing_follows_exponential_moving_average():
    values = pd.Series([1.0, 0.0, 0.0])
    assert list(charts.smooth(values, 0)) == [1.0, 0.0, 0.0]
    smoothed = charts.smooth(values, 0.5)
    assert smoothed.iloc[0] == 1.0 and 0 < smoothed.iloc[2] < smoothed.iloc[1] < 1.0
    with pytest.raises(ValueError, match="got 1.0"):
        charts.smooth(values, 1.0)


@pytest.mark.parametrize("weight", [0.0, 0.3, 0.6, 0.95])
def test_smoothing_equals_pandas_exponential_moving_average(weight):
    """The fast filter is the bias-corrected EMA that pandas computes (``ewm(adjust=True)``)."""
    values = pd.Series(np.random.default_rng(0).random(3000))
    expected = values.ewm(alpha=1 - weight, adjust=True).mean() if weight else values
    np.testing.assert_allclose(charts.smooth(values, weight), expected, rtol=1e-12, atol=1e-12)


def test_a_chart_of_column_arrays_equals_the_chart_of_frames():
    """A live view hands its tables over as float arrays: the same chart as from DataFrames."""
    batch, epoch = _batch_df(), pd.DataFrame({"epoch": [1, 2], "loss": [0.5, 0.3], "val_loss": [0.6, np.nan]})
    as_arrays = [{c: df[c].to_numpy(dtype=float) for c in df} for df in (batch, epoch)]

    def plain(chart) -> str:
        return json.dumps(chart, default=lambda a: np.asarray(a).tolist(), sort_keys=True)

    for metric in ("loss", "accuracy"):
        frames = charts.training_chart(batch, epoch, metric)
        assert plain(charts.training_chart(*as_arrays, metric)) == plain(frames)
    assert plain(charts.lr_chart(as_arrays[1])) == plain(charts.lr_chart(epoch))
    empty = {c: np.empty(0) for c in batch}
    assert charts.training_chart(empty, {}, "loss")[0] == []


def test_empty_tables_give_labelled_empty_charts():
    empty = pd.DataFrame(columns=["epoch", "batch", "loss", "accuracy", "val_loss", "val_accuracy", "lr"])
    for fig in (
        charts.training_figure(empty, empty, "loss"),
        charts.lr_figure(empty),
        charts.runs_figure({"a": empty}),
    ):
        assert len(fig.data) == 0
        assert fig.layout.title.text


def test_epoch_without_validation_draws_only_training():
    df = _epoch_df().drop(columns=["val_loss", "val_accuracy"])
    fig = charts.training_figure(pd.DataFrame(), df, "loss")
    assert [t.name for t in fig.data] == ["training (epoch)"]


def test_unknown_metric_is_refused():
    with pytest.raises(ValueError, match="metric"):
        charts.training_figure(_batch_df(), _epoch_df(), "f1")
    with pytest.raises(ValueError, match="metric"):
        charts.runs_figure({}, "f1")


def test_lr_figure_uses_log_scale():
    fig = charts.lr_figure(_epoch_df())
    assert list(fig.data[0].y) == [1e-3, 5e-4]
    assert fig.layout.yaxis.type == "log"


def test_overlay_has_one_line_per_run_with_data():
    other = _epoch_df().assign(val_accuracy=[0.7, 0.75])
    fig = charts.runs_figure({"run A": _epoch_df(), "run B": other, "empty": pd.DataFrame()}, "val_accuracy")
    assert [t.name for t in fig.data] == ["run A", "run B"]
    assert list(fig.data[1].y) == [0.7, 0.75]


def test_live_charts_are_valid_plotly_figures():
    """The live charts skip plotly's property check when built (``style.plain_figure``): a checked
    rebuild of each gives the same figure, so nothing in them is misspelt or out of range."""
    import json

    import plotly.graph_objects as go

    figures = [
        charts.training_figure(_batch_df(), _epoch_df(), metric, steps_per_epoch=10)
        for metric in ("loss", "accuracy")
    ]
    figures += [charts.lr_figure(_epoch_df()), charts.training_figure(pd.DataFrame(), pd.DataFrame())]
    for fig in figures:
        checked = go.Figure(fig.to_dict())  # raises on an unknown property or a bad value
        assert json.loads(checked.to_json()) == json.loads(fig.to_json())  # nothing was rewritten


def test_a_sent_figure_is_the_valid_figure_with_float32_points_and_lends_its_layout():
    """A live chart is handed to Streamlit as a ``SentFigure``: the dict sent, made without plotly
    objects. Checked by plotly it is the static figure of the same tables (points in float32), and
    st.plotly_chart takes the dict as it is; the next one lends the unchanged layout."""
    import json

    import plotly.graph_objects as go
    import plotly.io as pio
    import plotly.tools
    from factories import sent_chart

    from nnlab.figures.style import SentFigure

    sent = SentFigure(*charts.training_chart(_batch_df(), _epoch_df(), "loss", steps_per_epoch=10))
    checked = go.Figure(sent.to_dict())  # raises on an unknown property or a bad value
    assert json.loads(checked.to_json()) == json.loads(pio.to_json(sent))  # nothing was rewritten
    static = charts.training_figure(_batch_df(), _epoch_df(), "loss", steps_per_epoch=10)
    assert sent_chart(sent) == sent_chart(static)  # the same chart, to 6 digits
    assert sent.to_dict()["data"][0]["x"]["dtype"] == "f4"  # half of plotly's float64
    # what st.plotly_chart does with a figure: the prepared dict itself, no copy
    assert plotly.tools.return_figure_from_figure_or_data(sent, validate_figure=True) is sent.to_dict()
    longer = pd.concat([_batch_df(), _batch_df().assign(epoch=3)])
    again = SentFigure(*charts.training_chart(longer, _epoch_df(), "loss", steps_per_epoch=10), previous=sent)
    assert again.to_dict()["layout"] is sent.to_dict()["layout"]  # only the points changed
    assert len(sent_chart(again)["data"][0]["x"]) == 8
    accuracy = SentFigure(*charts.training_chart(_batch_df(), _epoch_df(), "accuracy"), previous=again)
    assert accuracy.to_dict()["layout"] is not again.to_dict()["layout"]  # another layout: made anew
