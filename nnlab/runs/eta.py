"""How long a queued run will wait: its place in the queue, the slots that train, recent durations.

The estimate is ``ceil(position / slots) x typical``: the runs ahead of it go through the slots in
rounds, each round taking about as long as a recent training (``typical_duration``: the median of the
last completed runs, on every machine, as the store keeps them). No recent run: no estimate.
"""

from __future__ import annotations

import statistics

import sqlalchemy as sa

from nnlab.runs.schema import runs

RECENT = 20


def typical_duration(store, recent: int = RECENT) -> float | None:
    """The median training time, in seconds, of the last ``recent`` completed runs (None: none yet)."""
    query = (
        sa.select(runs.c.finished - runs.c.started)
        .where(runs.c.status == "completed", runs.c.started.is_not(None), runs.c.finished.is_not(None))
        .order_by(runs.c.seq.desc())
        .limit(recent)
    )
    with store.db.connect() as con:
        durations = [float(d) for d in con.scalars(query) if d is not None and d >= 0]
    return statistics.median(durations) if durations else None


def estimated_wait(position: int, slots: int, typical: float | None) -> float | None:
    """Seconds until a run at ``position`` (1 = next) starts with ``slots`` trainings at once."""
    if typical is None or position < 1:
        return None
    return -(-position // max(1, slots)) * typical  # ceiling division: whole rounds of the slots
