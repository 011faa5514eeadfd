"""Sweeps in the run store's database: the sweep (its base network, settings and axes) and its runs.

A sweep's runs are ordinary runs of its owner (they show on every page like any other); the
``sweep_runs`` table says which cell of the grid each one is. ``SweepStore`` works on
``RunStore.db``, so a sweep reads the same from every web server.
"""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import dataclass, field

import sqlalchemy as sa

from nnlab.runs import ACTIVE, Run, RunNotFound, RunStore
from nnlab.runs.database import loads, row_to_run
from nnlab.runs.schema import runs, sweep_runs, sweeps
from nnlab.sweeps.grid import Axis


@dataclass(frozen=True)
class Sweep:
    """A grid of trainings queued as a group; ``cells`` maps (row, col) to a run id."""

    id: str
    owner: str | None
    name: str
    created: float
    spec: dict
    config: dict
    axes: list[Axis]
    cells: dict[tuple[int, int], str] = field(default_factory=dict)

    @property
    def shape(self) -> tuple[int, int]:
        return len(self.axes[0].values), len(self.axes[1].values) if len(self.axes) > 1 else 1


class SweepStore:
    """The sweeps of the run store ``store``."""

    def __init__(self, store: RunStore):
        self.store = store
        self.db = store.db

    def create(self, *, owner: str | None, name: str, spec: dict, config: dict, axes: list[Axis]) -> Sweep:
        row = {
            "id": uuid.uuid4().hex[:12],
            "owner": owner,
            "name": name,
            "created": time.time(),
            "spec": json.dumps(spec),
            "config": json.dumps(config),
            "axes": json.dumps([a.to_dict() for a in axes]),
        }
        with self.db.write() as con:
            con.execute(sa.insert(sweeps).values(**row))
        return Sweep(row["id"], owner, name, row["created"], spec, config, list(axes))

    def add_run(self, sweep_id: str, run_id: str, row: int, col: int) -> None:
        with self.db.write() as con:
            con.execute(
                sa.insert(sweep_runs).values(sweep_id=sweep_id, run_id=run_id, grid_row=row, grid_col=col)
            )

    def discard(self, sweep_id: str) -> None:
        """Remove a sweep none of whose runs exists (its group was refused, or its runs taken back)."""
        mine = sweep_runs.c.sweep_id == sweep_id
        with self.db.write() as con:
            has_runs = con.execute(
                sa.select(sweep_runs.c.run_id).join(runs, runs.c.id == sweep_runs.c.run_id).where(mine)
            ).first()
            if has_runs is None:
                con.execute(sa.delete(sweep_runs).where(mine))
                con.execute(sa.delete(sweeps).where(sweeps.c.id == sweep_id))

    def get(self, sweep_id: str) -> Sweep | None:
        with self.db.connect() as con:
            row = con.execute(sa.select(sweeps).where(sweeps.c.id == sweep_id)).first()
            if row is None:
                return None
            cells = con.execute(sa.select(sweep_runs).where(sweep_runs.c.sweep_id == sweep_id)).all()
        return _sweep(row, {(c.grid_row, c.grid_col): c.run_id for c in cells})

    def list(self, owner: str) -> list[Sweep]:
        """The sweeps of ``owner``, newest first (without their cells: ``get`` one to read them)."""
        query = sa.select(sweeps).where(sweeps.c.owner == owner).order_by(sweeps.c.seq.desc())
        with self.db.connect() as con:
            return [_sweep(row, {}) for row in con.execute(query)]

    def runs(self, sweep: Sweep) -> dict[tuple[int, int], Run]:
        """The runs of the sweep's cells as they stand now (a deleted run leaves its cell empty)."""
        self.store.recover()
        query = sa.select(sweep_runs.c.grid_row, sweep_runs.c.grid_col, runs).join(
            runs, runs.c.id == sweep_runs.c.run_id
        )
        with self.db.connect() as con:
            rows = con.execute(query.where(sweep_runs.c.sweep_id == sweep.id)).all()
        return {(r.grid_row, r.grid_col): row_to_run(r) for r in rows}

    def stop(self, sweep: Sweep) -> int:
        """Ask every queued or training run of the sweep to stop (a queued one leaves the queue at
        once, a training one stops at the end of its batch and keeps its model); how many were asked.
        Runs that ended keep their results."""
        asked = 0
        for run in self.runs(sweep).values():
            if run.status in ACTIVE:
                try:
                    self.store.request_stop(run.id)
                except RunNotFound:  # deleted meanwhile
                    continue
                asked += 1
        return asked


def _sweep(row: sa.Row, cells: dict[tuple[int, int], str]) -> Sweep:
    v = row._mapping
    axes = [Axis.from_dict(a) for a in loads(v["axes"], []) if isinstance(a, dict)]
    return Sweep(v["id"], v["owner"], v["name"], v["created"], loads(v["spec"], {}), loads(v["config"], {}),
                 axes, cells)  # fmt: skip
