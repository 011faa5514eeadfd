"""What a live view keeps between its refreshes: a run's metrics, read a little at a time, and its charts.

Every visitor watching a training refreshes its view every second. Reading the whole metric history
and rebuilding the three plotly figures each time cost the web server about 5 % of a core per
watcher (issue 13). A ``LiveMetrics`` object, kept in the visitor's session, instead:

- skips the read when the run's status and progress are those of the last refresh (the worker
  writes its events and its progress in one transaction: no new progress, no new events);
- otherwise reads only the events stored after the last one it holds, in the same read as the run
  itself (``read``, ``RunStore.get_with_events``);
- makes a chart again only when its data changed, and then straight as the dict Streamlit sends
  (``style.SentFigure``: no plotly object, float32 arrays, the layout of the last one lent); an
  unchanged chart is handed back as it was (the browser then does not redraw it).

One object serves every visitor watching the same run (``live.py`` shares it across sessions, so
30 watchers of a run share one copy of each chart); a lock keeps the sessions' threads from updating
it at once. Their reads are shared too: a read younger than ``SHARED_READ_SECONDS`` answers every
watcher who refreshes meanwhile (50 watchers of a run: about 5 reads a second instead of 50; each
watcher's own read was a fifth of what its refresh cost the server, issue 13). Nothing here imports
Streamlit.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from nnlab.figures.style import SentFigure
from nnlab.figures.training import lr_chart, training_chart
from nnlab.runs import Run, RunStore
from nnlab.runs.metrics import BATCH_COLUMNS, EPOCH_COLUMNS

# A watcher's view refreshes every second (every 0.25 s while a run waits for its first point): a read
# younger than this is what the store would say, give or take what the worker wrote meanwhile.
SHARED_READ_SECONDS = 0.2


@dataclass(frozen=True)
class Charts:
    """A run's three live charts."""

    loss: SentFigure
    accuracy: SentFigure
    lr: SentFigure


class _Table:
    """One kind of metric rows (batch or epoch) as a growing float array per column.

    Numbers only (what the charts draw); a field that is not a number is kept as NaN.
    """

    def __init__(self, columns: list[str]):
        self.names = list(columns)
        self.values = np.full((64, len(self.names)), np.nan)
        self.rows = 0

    def add(self, records: list[dict[str, Any]]) -> None:
        for name in {k for r in records for k in r} - set(self.names):  # a field the store does not list
            self.names.append(name)
            self.values = np.hstack([self.values, np.full((len(self.values), 1), np.nan)])
        needed = self.rows + len(records)
        if needed > len(self.values):  # double the room: adding stays cheap as a long run grows
            grown = np.full((max(needed, 2 * len(self.values)), len(self.names)), np.nan)
            grown[: self.rows] = self.values[: self.rows]
            self.values = grown
        block = [[_number(r.get(name)) for name in self.names] for r in records]
        self.values[self.rows : needed] = np.asarray(block, dtype=float).reshape(
            len(records), len(self.names)
        )
        self.rows = needed

    def frame(self) -> pd.DataFrame:
        return pd.DataFrame(self.values[: self.rows].copy(), columns=self.names)

    def columns(self) -> dict[str, np.ndarray]:
        """The rows so far, column by column (views: rows already held never change)."""
        return {name: self.values[: self.rows, i] for i, name in enumerate(self.names)}


def _number(value: Any) -> float:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else np.nan


class LiveMetrics:
    """One run's metric history as a live view follows it (see the module's docstring)."""

    def __init__(self, run_id: str):
        self.run_id = run_id
        self.last_event = 0  # the number of the newest event held
        self.batch = _Table(BATCH_COLUMNS)
        self.epoch = _Table(EPOCH_COLUMNS)
        self._seen: tuple | None = None  # (status, progress) of the run at the last read
        self.run: Run | None = None  # the run as last read
        self._read_at = -float("inf")  # time.monotonic() of the last read of the store
        self._figures: dict[str, tuple[Any, SentFigure]] = {}  # name -> (version, chart)
        self._lock = threading.Lock()  # one history, many watching sessions' threads

    def update(self, store: RunStore, run: Run) -> bool:
        """Read what the run stored since the last update (nothing if its progress is unchanged).

        Returns whether anything new arrived.
        """
        if run.id != self.run_id:
            raise ValueError(f"this history follows run {self.run_id}, not {run.id}")
        self.run = run
        seen = (run.status, run.progress)
        if seen == self._seen:
            return False
        return self._take(run, store.events_after(self.run_id, self.last_event))

    def read(self, store: RunStore, *, shared_for: float | None = None) -> Run | None:
        """The run as it stands (as ``RunStore.get``), what it stored since the last read taken in: one
        read of the store for both, what a live view does each second. A read of the last
        ``shared_for`` seconds (``SHARED_READ_SECONDS``: another watcher's) answers without reading again."""
        shared_for = SHARED_READ_SECONDS if shared_for is None else shared_for
        with self._lock:
            if self.run is not None and time.monotonic() - self._read_at < shared_for:
                return self.run
            run, new = store.get_with_events(
                self.run_id, self.last_event, lambda r: (r.status, r.progress) != self._seen
            )
            self._read_at = time.monotonic()
            if run is not None:
                self.run = run
                self._take(run, new)
            return run

    def forget_read(self) -> None:
        """The next ``read`` reads the store: this server has just changed the run (Stop clicked)."""
        with self._lock:
            self._read_at = -float("inf")

    def _take(self, run: Run, new: list[tuple[int, str, dict]]) -> bool:
        self._seen = (run.status, run.progress)
        if new:
            self.batch.add([record for _, kind, record in new if kind == "batch"])
            self.epoch.add([record for _, kind, record in new if kind == "epoch"])
            self.last_event = new[-1][0]
        return bool(new)

    def frames(self) -> tuple[pd.DataFrame, pd.DataFrame]:
        """The batch and the epoch table, with the columns of ``RunStore.metrics``."""
        return self.batch.frame(), self.epoch.frame()

    def charts(self, store: RunStore, run: Run, *, read: bool = True) -> Charts | None:
        """The loss, accuracy and learning-rate charts as of now; None while there is nothing to chart.

        A chart whose data did not change is the very same ``SentFigure`` as at the last call; one
        that gained points is made anew from the tables (its layout lent by the last one). With
        ``read=False``, the charts of what is already held (no read of the store: what refreshes
        every few seconds beside a view that reads every second). Safe to call from several
        sessions at once.
        """
        with self._lock:
            if read or self.run is None:  # None: nothing read yet (a history made since, e.g. after eviction)
                self.update(store, run)
            return self._charts(run)

    def _charts(self, run: Run) -> Charts | None:
        if not self.batch.rows and not self.epoch.rows:
            return None
        steps = (run.progress or {}).get("steps_per_epoch")
        tables = (self.batch.columns(), self.epoch.columns())  # no DataFrame: arrays are what charts read

        def figure(name: str, made_from: Any, chart) -> SentFigure:
            cached = self._figures.get(name)
            if cached is None or cached[0] != made_from:
                self._figures[name] = (made_from, SentFigure(*chart(*tables), previous=cached and cached[1]))
            return self._figures[name][1]

        both = (self.batch.rows, self.epoch.rows, steps)
        return Charts(
            loss=figure("loss", both, lambda b, e: training_chart(b, e, "loss", steps_per_epoch=steps)),
            accuracy=figure(
                "acc", both, lambda b, e: training_chart(b, e, "accuracy", steps_per_epoch=steps)
            ),
            lr=figure("lr", self.epoch.rows, lambda _b, e: lr_chart(e)),
        )
