"""Who sees and stops which run: a visitor's runs are private to that visitor.

A visitor (the id in the URL, ``visitor.py``) sees and stops only the runs started in their own
browser. Runs with no owner were started by the operator in a terminal (``nnlab train``): visitors
neither see nor stop them, unless the operator shows them as examples
(``NNLAB_SHOW_OPERATOR_RUNS``), and then read-only. A link naming a run the visitor may not see is
answered with ``NOT_YOURS``, the same words whether the run belongs to someone else or no longer
exists, so that a link tells nothing about other visitors' runs. The command line is the operator's
and sees everything.
"""

from __future__ import annotations

from collections.abc import Iterable

from nnlab.limits import operator_runs_shown
from nnlab.runs import Run, RunStore

NOT_YOURS = (
    "The run in this link is not yours or no longer exists: each visitor sees only the runs trained "
    "in their own browser."
)
NO_MODEL = "The run in this link has no trained model to look at (it is still training, or it failed)."


def visible_runs(store: RunStore, visitor: str, statuses: Iterable[str] | None = None) -> list[Run]:
    """The runs ``visitor`` may see, newest first: their own (and the operator's, where shown)."""
    return store.list(owner=visitor, include_unowned=operator_runs_shown(), statuses=statuses)


def can_see(run: Run | None, visitor: str) -> bool:
    return run is not None and (run.owner == visitor or (run.owner is None and operator_runs_shown()))


def can_stop(run: Run | None, visitor: str | None) -> bool:
    """Only the visitor who started a run stops it (never the operator's runs, shown or not)."""
    return run is not None and visitor is not None and run.owner == visitor
