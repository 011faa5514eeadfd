"""Queueing a sweep: its grid checked cell by cell, the limits applied to the group as a whole.

A sweep of 5 x 5 values is 25 trainings: against the operator's bound on a visitor's queued or
running trainings (``limits.Limits``) it counts as 25, and so it does against a class's trainings per
student (``classes.submit``). Each cell's network and epochs must also keep the limits. The grid
is refused as a whole, in words, when any of this fails; otherwise its runs are queued in order
(row by row), each recorded with its cell.
"""

from __future__ import annotations

from nnlab import sharing
from nnlab.architectures import Spec, count_params
from nnlab.classes import Member, Training, submit_trainings
from nnlab.limits import Limits
from nnlab.runner import Runner
from nnlab.runs import ACTIVE
from nnlab.sweeps.grid import Axis, Point, expand
from nnlab.sweeps.store import Sweep, SweepStore
from nnlab.training import TrainConfig
from nnlab.validation import InvalidSettings, Problem


def group_limit_problems(
    runner: Runner, limits: Limits, points: list[Point], owner: str | None
) -> list[Problem]:
    """The operator's limits for a group, as the queue stands: each cell's network and epochs, the
    group's size plus ``owner``'s queued or running trainings against the per-visitor bound, and the
    group's size plus the trainings every visitor has waiting against the whole queue's bound. (Each
    run is admitted again as it is queued; a group checked run by run stopped at the queue's bound
    halfway through, a sweep of 25 queued with 11 of its cells.)"""
    active = len(runner.store.list(owner=owner, include_unowned=False, statuses=ACTIVE)) if owner else 0
    waiting = len(runner.store.queued_ids())
    out: list[Problem] = []
    for point in points:
        found = limits.problems(
            n_params=count_params(point.spec), epochs=point.config.epochs, visitor_active=0
        )
        out += [p for p in found if p.setting != "max_queued_per_visitor" and p not in out]
    bound = limits.max_queued_per_visitor
    if bound is not None and active + len(points) > bound:
        message = (
            f"This sweep is {len(points)} trainings; with the {active} you have queued or running that is "
            f"more than the {bound} this demo allows per visitor at a time. Use fewer values, or wait "
            "for your trainings to finish."
        )
        out.append(Problem(message, setting="max_queued_per_visitor"))
    whole = limits.max_queued
    if whole is not None and waiting + len(points) > whole:
        message = (
            f"This sweep is {len(points)} trainings and {waiting} are waiting in this server's queue: "
            f"together more than the {whole} it holds. Use fewer values, or try again in a few minutes."
        )
        out.append(Problem(message, setting="max_queued"))
    return out


def sweep_name(spec: Spec, axes: list[Axis]) -> str:
    what = " × ".join(a.label for a in axes)
    return sharing.clean_name(f"{spec.get('name', 'Custom network')}: {what}")


def submit_sweep(
    runner: Runner,
    *,
    owner: str | None,
    spec: Spec,
    config: TrainConfig,
    axes: list[Axis],
    limits: Limits | None = None,
    member: Member | None = None,
) -> Sweep:
    """Queue the grid of ``spec`` and ``config`` along ``axes`` as one sweep of ``owner``.

    ``InvalidSettings`` lists every problem (bad cells, limits, the class's rules); then nothing is queued.
    """
    points = expand(spec, config, axes)
    if limits is not None:
        problems = group_limit_problems(runner, limits, points, owner)
        if problems:
            raise InvalidSettings(problems)
    sweeps = SweepStore(runner.store)
    name = sweep_name(spec, axes)
    sweep = sweeps.create(owner=owner, name=name, spec=spec, config=config.to_dict(), axes=axes)
    trainings = [Training(p.spec, p.config, name=f"{name} · {p.label(axes)}") for p in points]
    try:
        submit_trainings(
            runner,
            trainings,
            owner=owner,
            member=member,
            sweep=True,
            on_run=lambda i, run: sweeps.add_run(sweep.id, run.id, points[i].row, points[i].col),
        )
    finally:
        sweeps.discard(sweep.id)  # only if none of its runs is left (the group was refused)
    found = sweeps.get(sweep.id)
    assert found is not None
    return found
