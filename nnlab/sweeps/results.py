"""Where a sweep stands: its runs by cell, the test accuracy of the grid, progress and the best run."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from nnlab.runs import Run, RunStore
from nnlab.runs.record import ACTIVE
from nnlab.sweeps.grid import cell_label, format_value
from nnlab.sweeps.store import Sweep, SweepStore

FINISHED = ("completed", "stopped")


@dataclass(frozen=True)
class SweepResult:
    """A sweep and its runs as they stand now (read them again for fresh values)."""

    sweep: Sweep
    runs: dict[tuple[int, int], Run]

    @property
    def total(self) -> int:
        rows, cols = self.sweep.shape
        return rows * cols

    def count(self, *statuses: str) -> int:
        return sum(run.status in statuses for run in self.runs.values())

    @property
    def is_active(self) -> bool:
        return self.count(*ACTIVE) > 0

    @property
    def fraction_done(self) -> float:
        """The share of the grid's trainings that have ended (finished, stopped or failed)."""
        return (len(self.runs) - self.count(*ACTIVE)) / self.total if self.total else 1.0

    @property
    def accuracy(self) -> np.ndarray:
        """Test accuracy per cell (rows: the first axis's values; columns: the second's); NaN until done."""
        grid = np.full(self.sweep.shape, np.nan)
        for (row, col), run in self.runs.items():
            if run.status in FINISHED and run.test_accuracy is not None:
                grid[row, col] = run.test_accuracy
        return grid

    @property
    def best(self) -> Run | None:
        done = [r for r in self.runs.values() if r.status in FINISHED and r.test_accuracy is not None]
        return max(done, key=lambda r: (r.test_accuracy, -r.n_params)) if done else None

    def cell_label(self, row: int, col: int) -> str:
        axes = self.sweep.axes
        values = (axes[0].values[row],) + ((axes[1].values[col],) if len(axes) > 1 else ())
        return cell_label(axes, values)

    def tick_labels(self, axis: int) -> list[str]:
        return [format_value(v) for v in self.sweep.axes[axis].values]


def sweep_result(store: SweepStore, sweep: Sweep) -> SweepResult:
    return SweepResult(sweep, store.runs(sweep))


def curves(store: RunStore, result: SweepResult) -> dict[str, pd.DataFrame]:
    """Each started run's epoch table, labelled by its cell, in the grid's order (for overlaid curves)."""
    return {
        result.cell_label(row, col): store.metrics(run.id, "epoch")
        for (row, col), run in sorted(result.runs.items())
        if run.status != "queued"
    }
