"""Queueing trainings, one or a group (a sweep), with a class's rules checked when they are submitted.

``submit_trainings`` validates every training first (nothing is queued if one is invalid). For a
student (``member``), the class's limits apply to the group as a whole: a 5 x 5 sweep is 25
trainings against the class's trainings per student, its largest network against the class's
parameters, its longest training against the class's epochs; where the class hides the layer
editor, only the presets and the class's starting network may be trained; where it hides sweeps, no
sweep. The count and the slots are taken in one transaction (``ClassStore.reserve``), so a student
cannot pass the limit with two tabs or two web servers at once.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from nnlab.architectures import count_params
from nnlab.classes.rules import Classroom, Member, allowed_network
from nnlab.classes.store import ClassStore
from nnlab.runner import Runner, check_training
from nnlab.runs import Run
from nnlab.validation import InvalidSettings, Problem


@dataclass(frozen=True)
class Training:
    """One training to queue: a network, its settings (a ``TrainConfig`` or a dict) and a run name."""

    spec: dict
    config: Any
    name: str | None = None


def class_problems(
    classroom: Classroom, trainings: Sequence[Training], used: int, sweep: bool = False
) -> list[Problem]:
    """Why the class does not let a student (with ``used`` trainings started) queue ``trainings``."""
    checked = [check_training(t.spec, t.config) for t in trainings]
    n_params = max(count_params(spec) for spec, _ in checked)
    epochs = max(int(config["epochs"]) for _, config in checked)
    problems = classroom.limits.problems(n_params=n_params, epochs=epochs, used=used, new=len(trainings))
    if sweep and classroom.hides("sweeps"):
        problems.append(
            Problem("Your class does not use sweeps: train one network at a time.", setting="class")
        )
    if classroom.hides("layer_editor"):
        start = _start_spec(classroom)
        if not all(allowed_network(spec, start) for spec, _ in checked):
            message = "In this class you train the preset networks or the class's starting network only."
            problems.append(Problem(message, setting="architecture"))
    return problems


def _start_spec(classroom: Classroom) -> dict | None:
    from nnlab import sharing

    if not classroom.start:
        return None
    try:
        return sharing.decode(classroom.start).spec
    except InvalidSettings:
        return None


def submit_trainings(
    runner: Runner,
    trainings: Sequence[Training],
    *,
    owner: str | None,
    member: Member | None = None,
    sweep: bool = False,
    on_run: Callable[[int, Run], None] | None = None,
) -> list[Run]:
    """Queue ``trainings`` in order for ``owner``; ``InvalidSettings`` (every problem) leaves none
    queued (a run that a worker started meanwhile is asked to stop).

    ``on_run(i, run)`` is called as each run is queued (a sweep records its place in the grid). Each
    run is admitted against the operator's limits as it is queued; if one is refused partway (the
    whole queue filled by other visitors meanwhile), the group's runs queued so far are taken back.
    """
    for training in trainings:
        check_training(training.spec, training.config)
    classes = ClassStore(runner.store)
    slots: list[int] = []
    if member is not None:
        slots = classes.reserve(
            member, len(trainings), lambda classroom, used: class_problems(classroom, trainings, used, sweep)
        )
    queued: list[Run] = []
    try:
        for i, training in enumerate(trainings):
            run = runner.submit(training.spec, training.config, name=training.name, owner=owner)
            queued.append(run)  # stored: from here on taken back if the group fails
            if slots:
                classes.attach(slots[i], run.id)
            if on_run is not None:
                on_run(i, run)
    except Exception:
        _take_back(runner, classes, queued, slots)
        raise
    finally:
        classes.release(slots)  # only the slots no run was attached to (an error on the way)
    return queued


def _take_back(runner: Runner, classes: ClassStore, queued: list[Run], slots: list[int]) -> None:
    """Remove a refused group's runs queued so far (and free their class slots); one that a worker
    has already started is asked to stop instead (it keeps its slot: it did train)."""
    for i, run in enumerate(queued):
        try:
            try:
                runner.store.delete(run.id)
            except ValueError:  # training already: it cannot be deleted before it stops
                runner.stop(run.id)
                continue
            if slots:
                classes.detach(slots[i])
        except Exception:  # the store failing: the group's own error is the one to report
            continue
