"""The live view's history of a run: read a little at a time, the same as the whole, figures reused.

A run store is real, on both databases (the ``backend`` fixture: SQLite in the test's own NNLAB_HOME,
and a real PostgreSQL); ``CountingStore`` is that store with a record of what each incremental read
asked for and got, so that a test can see what was read.
"""

from __future__ import annotations

import json
import subprocess
import time

import numpy as np
import pandas as pd
import plotly.io as pio
import pytest
import sqlalchemy as sa
from factories import batch_event, epoch_event, sent_chart

from nnlab.architectures import get_preset
from nnlab.figures.training import MAX_LINE_POINTS, thin, training_figure
from nnlab.runs import RunStore, process_handle
from nnlab.runs.record import DIED_MESSAGE
from nnlab.runs.recorder import StoreRecorder
from nnlab.runs.schema import events as events_table
from nnlab.ui.live_metrics import LiveMetrics

STEPS = 100


class CountingStore(RunStore):
    """The real store, remembering each read of events (``events_after``, ``get_with_events``):
    (after, number of events returned)."""

    def __init__(self, root=None):
        super().__init__(root)
        self.reads: list[tuple[int, int]] = []

    def events_after(self, run_id, after=0):
        events = super().events_after(run_id, after)
        self.reads.append((after, len(events)))
        return events

    def get_with_events(self, run_id, after, wanted):
        run, events = super().get_with_events(run_id, after, wanted)
        self.reads.append((after, len(events)))
        return run, events


@pytest.fixture
def store(backend) -> CountingStore:
    return CountingStore()


def _running(store: RunStore) -> str:
    run = store.create(get_preset("MLP 784-128-10"), {"epochs": 3}, name="watched", owner="v")
    store.update(run.id, status="running", started=time.time(), worker=process_handle())
    return run.id


def _write(store: RunStore, run_id: str, epoch: int, batches: range, end_epoch: bool = False) -> None:
    """What a worker's recorder writes in one flush: some events and the progress they lead to."""
    events = [batch_event(epoch, b, loss=1.0 / b, accuracy=0.001 * b, steps_per_epoch=STEPS) for b in batches]
    if end_epoch:
        events.append(epoch_event(epoch, loss=0.5 / epoch, accuracy=0.8, val_loss=0.6, val_accuracy=0.79))
    progress = {"epoch": epoch, "epochs": 3, "batch": batches[-1], "steps_per_epoch": STEPS}
    store.add_events(run_id, events, progress)


def test_events_after_gives_only_the_newer_events_in_order(store):
    run_id = _running(store)
    other = _running(store)
    _write(store, run_id, 1, range(5, 51, 5))
    _write(store, other, 1, range(5, 11, 5))  # another run's events are never mixed in
    everything = store.events_after(run_id)
    assert [kind for _, kind, _ in everything] == ["batch"] * 10
    assert [record["batch"] for _, _, record in everything] == list(range(5, 51, 5))
    numbers = [number for number, _, _ in everything]
    assert numbers == sorted(numbers)
    _write(store, run_id, 1, range(55, 101, 5), end_epoch=True)
    newer = store.events_after(run_id, numbers[-1])
    assert [record["batch"] for _, kind, record in newer if kind == "batch"] == list(range(55, 101, 5))
    assert [kind for _, kind, _ in newer][-1] == "epoch"
    assert store.events_after(run_id, newer[-1][0]) == []


def test_events_of_an_older_version_get_their_step_as_in_the_whole_history(store):
    """Batch events stored before ``step`` was recorded: both reads work it out the same way."""
    run_id = _running(store)
    old = [{"epoch": 2, "batch": b, "loss": 1.0 / b} for b in (10, 20)]
    with store.db.write() as con:
        con.execute(
            sa.insert(events_table), [{"run_id": run_id, "kind": "batch", "data": json.dumps(r)} for r in old]
        )
    store.add_events(run_id, [], {"epoch": 2, "epochs": 3, "batch": 20, "steps_per_epoch": STEPS})
    assert [record["step"] for _, _, record in store.events_after(run_id)] == [110, 120]
    assert store.metrics(run_id, "batch")["step"].tolist() == [110, 120]


def test_history_read_bit_by_bit_equals_the_whole_history(store):
    run_id = _running(store)
    history = LiveMetrics(run_id)
    for epoch in (1, 2):
        for start in range(5, 101, 25):
            _write(store, run_id, epoch, range(start, start + 25, 5), end_epoch=start + 25 > 100)
            assert history.update(store, store.get(run_id))
    # Each read after the first started where the previous one ended, and got only the new events.
    afters = [after for after, _ in store.reads]
    assert afters[0] == 0 and afters == sorted(afters) and len(set(afters)) == len(afters)
    assert [n for _, n in store.reads] == [5, 5, 5, 6] * 2  # five batches a flush, an epoch at its end
    batch_df, epoch_df = history.frames()
    for mine, whole in (
        (batch_df, store.metrics(run_id, "batch")),
        (epoch_df, store.metrics(run_id, "epoch")),
    ):
        columns = [c for c in whole.columns if whole[c].notna().any()]
        pd.testing.assert_frame_equal(
            mine[columns].reset_index(drop=True), whole[columns].astype(float), check_dtype=False
        )


def test_nothing_is_read_while_the_progress_stands_still(store):
    run_id = _running(store)
    history = LiveMetrics(run_id)
    _write(store, run_id, 1, range(5, 26, 5))
    run = store.get(run_id)
    assert history.update(store, run)
    reads = len(store.reads)
    for _ in range(3):  # three refreshes of a run whose worker wrote nothing meanwhile
        assert not history.update(store, store.get(run_id))
    assert len(store.reads) == reads
    store.update(run_id, status="completed", finished=time.time())  # a new status is read again
    assert not history.update(store, store.get(run_id))
    assert len(store.reads) == reads + 1


def _whole(store: RunStore, run_id: str, metric: str) -> str:
    """The chart a page reading the whole history draws, as sent (``factories.sent_chart``)."""
    batch_df, epoch_df = store.metrics(run_id, "batch"), store.metrics(run_id, "epoch")
    return sent_chart(training_figure(batch_df, epoch_df, metric, steps_per_epoch=STEPS))


def test_charts_change_only_when_their_data_changed_and_match_the_whole_history(store):
    run_id = _running(store)
    history = LiveMetrics(run_id)
    assert history.charts(store, store.get(run_id)) is None  # nothing to chart yet
    _write(store, run_id, 1, range(5, 51, 5))
    first = history.charts(store, store.get(run_id))
    assert sent_chart(first.loss) == _whole(store, run_id, "loss")
    lr_before = pio.to_json(first.lr)
    again = history.charts(store, store.get(run_id))  # nothing new: the very same, untouched figures
    assert again.loss is first.loss and again.accuracy is first.accuracy and again.lr is first.lr
    steps = [
        (1, range(55, 101, 5), True),  # the epoch ends: epoch and validation traces appear
        (2, range(5, 51, 5), False),  # batches only: new points in the same traces
        (2, range(55, 101, 5), True),
    ]
    previous = first
    for epoch, batches, end in steps:
        sent_before = pio.to_json(previous.loss)
        _write(store, run_id, epoch, batches, end_epoch=end)
        later = history.charts(store, store.get(run_id))
        for metric, fig in (("loss", later.loss), ("accuracy", later.accuracy)):
            assert sent_chart(fig) == _whole(store, run_id, metric)
        assert (pio.to_json(later.lr) == lr_before) == (not end)  # it changes at the end of an epoch
        # a chart handed out earlier (another watcher may be sending it now) is left as it was
        assert pio.to_json(previous.loss) == sent_before != pio.to_json(later.loss)
        lr_before, previous = pio.to_json(later.lr), later


def test_a_refresh_reads_the_run_and_its_new_points_at_once(store):
    """What the live view does each second: one read for the run and its new events; the charts then
    drawn without another read, equal to the whole history's; nothing read while nothing was written."""
    run_id = _running(store)
    history = LiveMetrics(run_id)
    _write(store, run_id, 1, range(5, 26, 5))
    run = history.read(store)
    assert run.id == run_id and run.status == "running" and run.progress == store.get(run_id).progress
    assert store.reads == [(0, 5)] and history.batch.rows == 5
    charts = history.charts(store, run, read=False)
    assert store.reads == [(0, 5)]  # drawing read nothing more
    assert sent_chart(charts.loss) == _whole(store, run_id, "loss")
    again = history.read(store, shared_for=0)  # a second later: nothing new was written
    assert again.progress == run.progress and store.reads[-1] == (history.last_event, 0)
    _write(store, run_id, 1, range(30, 101, 5), end_epoch=True)
    later = history.read(store, shared_for=0)
    assert later.progress["batch"] == 100 and store.reads[-1][1] == 16  # 15 batches and the epoch
    for metric in ("loss", "accuracy"):
        assert sent_chart(getattr(history.charts(store, later, read=False), metric)) == _whole(
            store, run_id, metric
        )
    assert LiveMetrics("no-such-run").read(store) is None


def test_watchers_refreshing_within_a_moment_share_one_read(store):
    """Every watcher of a run refreshes each second: one read answers those who refresh within
    ``shared_for`` of it (the run and its points as the store had them then); a read after that, or
    after this server changed the run (``forget_read``: Stop clicked), reads the store again."""
    run_id = _running(store)
    history = LiveMetrics(run_id)
    _write(store, run_id, 1, range(5, 26, 5))
    first = history.read(store, shared_for=60)
    assert len(store.reads) == 1 and first.progress["batch"] == 25
    _write(store, run_id, 1, range(30, 51, 5))
    for _ in range(10):  # ten more watchers within the minute: the same answer, no read
        assert history.read(store, shared_for=60) is first
    assert len(store.reads) == 1 and history.batch.rows == 5
    store.request_stop(run_id)
    history.forget_read()
    stopping = history.read(store, shared_for=60)
    assert len(store.reads) == 2 and stopping.stop_requested and stopping.progress["batch"] == 50
    assert history.batch.rows == 10
    assert history.read(store, shared_for=0).progress["batch"] == 50 and len(store.reads) == 3


def test_a_history_made_anew_reads_before_it_draws(store):
    """A history pushed out of the shared cache between a refresh's read and its drawing (a class
    watching more runs than it holds) is made anew: it reads what it holds nothing of, never draws empty."""
    run_id = _running(store)
    _write(store, run_id, 1, range(5, 26, 5))
    charts = LiveMetrics(run_id).charts(store, store.get(run_id), read=False)
    assert charts is not None and sent_chart(charts.loss) == _whole(store, run_id, "loss")


def test_a_refresh_notices_a_dead_worker(store):
    """As ``RunStore.get``: a run whose worker died is reported failed, its points kept."""
    run_id = _running(store)
    _write(store, run_id, 1, range(5, 26, 5))
    gone = subprocess.Popen(["true"])
    gone.wait()
    store.update(run_id, worker=process_handle(gone.pid))
    history = LiveMetrics(run_id)
    run = history.read(store)
    assert run.status == "failed" and run.error == DIED_MESSAGE
    assert history.batch.rows == 5


def test_a_history_follows_one_run_only(store):
    history = LiveMetrics(_running(store))
    with pytest.raises(ValueError, match="follows run"):
        history.update(store, store.get(_running(store)))


def test_a_recorder_flush_is_seen_whole(store):
    """The worker's recorder writes events and progress together: a refresh sees all of a flush."""
    run_id = _running(store)
    history = LiveMetrics(run_id)
    recorder = StoreRecorder(store, run_id)
    for b in range(1, 41):
        recorder(batch_event(1, b, loss=1.0 / b, steps_per_epoch=STEPS))
    recorder.flush()
    history.update(store, store.get(run_id))
    assert history.batch.rows == 40 and history.last_event == store.events_after(run_id)[-1][0]


def test_a_long_line_is_thinned_to_what_a_chart_can_show():
    x, y = np.arange(5000.0), np.arange(5000.0) ** 2
    tx, ty = thin(x, y)
    assert len(tx) <= MAX_LINE_POINTS and tx[0] == 0 and tx[-1] == 4999
    assert np.all(np.diff(tx) > 0) and np.array_equal(ty, tx**2)
    short = np.arange(10.0)
    assert thin(short, short)[0] is short
