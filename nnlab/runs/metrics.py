"""Reading a run's metric events: its whole history as a table, or only the events newer than some.

``RunStore.metrics`` gives one kind (epoch or batch) as a table; ``RunStore.events_after`` gives the
events stored after a given one, so that a live view reads only what is new each second (issue 13).
Both read the same rows the same way, on SQLite and PostgreSQL alike.

An event's number is its ``seq`` in the ``events`` table. A run's events are written by its one worker,
one transaction after the other, so the numbers of one run's events grow in the order they become
visible (on PostgreSQL too, where numbers are handed out before commit): reading "after the last
number I hold" never skips an event of that run.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

import sqlalchemy as sa

from nnlab.events import global_step
from nnlab.runs.database import loads
from nnlab.runs.schema import events, runs

if TYPE_CHECKING:
    import pandas as pd

EPOCH_COLUMNS = ["epoch", "loss", "accuracy", "val_loss", "val_accuracy", "lr", "elapsed", "samples_per_sec"]
BATCH_COLUMNS = ["epoch", "batch", "step", "loss", "accuracy", "elapsed", "samples_per_sec"]
KINDS = ("epoch", "batch")


def read_events(
    con: sa.Connection, run_id: str, kinds: Iterable[str] = KINDS, after: int = 0
) -> list[tuple[int, str, dict]]:
    """``(number, kind, record)`` of the run's events of ``kinds`` numbered above ``after``, oldest first.

    Batch records stored by an older version have no ``step``: it is worked out from the run's
    ``steps_per_epoch`` here, so every reader sees the same records.
    """
    query = (
        sa.select(events.c.seq, events.c.kind, events.c.data)
        .where(events.c.run_id == run_id, events.c.kind.in_(list(kinds)), events.c.seq > after)
        .order_by(events.c.seq)
    )
    rows = [(int(seq), kind, loads(data, {})) for seq, kind, data in con.execute(query)]
    if any(kind == "batch" and "step" not in record for _, kind, record in rows):
        progress = con.scalar(sa.select(runs.c.progress).where(runs.c.id == run_id))
        _add_steps([record for _, kind, record in rows if kind == "batch"], loads(progress, {}))
    return rows


def _add_steps(records: list[dict], progress: dict) -> None:
    steps = progress.get("steps_per_epoch")
    for rec in records:
        if "step" not in rec and steps and "epoch" in rec and "batch" in rec:
            rec["step"] = global_step(rec["epoch"], rec["batch"], steps)


def metric_frame(con: sa.Connection, run_id: str, kind: str) -> pd.DataFrame:
    """One kind of the run's history as a table: one row per epoch, or per reported batch."""
    if kind not in KINDS:
        raise ValueError("kind must be 'epoch' or 'batch'")
    records = [record for _, _, record in read_events(con, run_id, (kind,))]
    columns = list(EPOCH_COLUMNS if kind == "epoch" else BATCH_COLUMNS)
    import pandas as pd  # here: the home page, which every new visitor opens first, needs no pandas

    frame = pd.DataFrame.from_records(records) if records else pd.DataFrame(columns=columns)
    extra = [c for c in frame.columns if c not in columns]
    return frame.reindex(columns=columns + extra)
