"""Sweeps: one or two settings, 2-5 values each, queued as a group of runs and compared.

- ``grid.py``: the settings a sweep can vary (``Axis``), the values typed for them, and ``expand``:
  every cell of the grid as a checked training;
- ``store.py``: ``SweepStore``, the sweeps and the cell of each run, in the run store's database;
- ``submit.py``: ``submit_sweep``, the grid queued with the limits applied to the group as a whole;
- ``results.py``: where a sweep stands: test accuracy per cell, progress, the best run, the curves.
"""

from nnlab.sweeps.grid import Axis, Point, choices, expand, format_value, parse_values
from nnlab.sweeps.results import SweepResult, curves, sweep_result
from nnlab.sweeps.store import Sweep, SweepStore
from nnlab.sweeps.submit import group_limit_problems, submit_sweep

__all__ = [
    "Axis",
    "Point",
    "Sweep",
    "SweepResult",
    "SweepStore",
    "choices",
    "curves",
    "expand",
    "format_value",
    "group_limit_problems",
    "parse_values",
    "submit_sweep",
    "sweep_result",
]
