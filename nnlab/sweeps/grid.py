"""A sweep's grid: one or two settings with 2-5 values each, and the trainings the grid holds.

A setting is a training setting (learning rate, batch size, epochs, training images, seed) or a
setting of one layer of the network: the width (units) of a Dense layer, the filters of a Conv2D
layer, the rate of a Dropout layer. ``expand`` turns a network, its settings and the axes into one
``Point`` per cell of the grid, each checked with the usual validators: a grid with any bad cell is
refused as a whole, every problem named with the cell it comes from.
"""

from __future__ import annotations

import copy
import itertools
import re
from dataclasses import dataclass
from typing import Any

from nnlab.architectures import Spec, validate
from nnlab.training import TrainConfig, validate_config
from nnlab.validation import InvalidSettings, Problem

MIN_VALUES, MAX_VALUES, MAX_AXES = 2, 5, 2
TRAINING = {
    "learning_rate": ("learning rate", "lr"),
    "batch_size": ("batch size", "batch"),
    "epochs": ("epochs", "epochs"),
    "subset": ("training images", "images"),
    "seed": ("seed", "seed"),
}
LAYER = {"Dense": ("units", "width"), "Conv2D": ("filters", "filters"), "Dropout": ("rate", "dropout rate")}
FRACTIONS = {"learning_rate", "rate"}  # settings that take any number; the others are whole numbers


@dataclass(frozen=True)
class Axis:
    """A setting the sweep varies and its values; ``layer`` (0-based) for a layer's setting."""

    setting: str
    values: tuple = ()
    layer: int | None = None

    @property
    def label(self) -> str:
        if self.layer is None:
            return TRAINING.get(self.setting, (self.setting, ""))[0]
        word = {"units": "width", "filters": "filters", "rate": "dropout rate"}.get(
            self.setting, self.setting
        )
        return f"{word} of layer {self.layer + 1}"

    @property
    def short(self) -> str:
        if self.layer is None:
            return TRAINING.get(self.setting, ("", self.setting))[1]
        return f"layer {self.layer + 1} {self.setting}"

    def to_dict(self) -> dict[str, Any]:
        return {"setting": self.setting, "values": list(self.values), "layer": self.layer}

    @classmethod
    def from_dict(cls, data: dict) -> Axis:
        return cls(str(data.get("setting")), tuple(data.get("values") or ()), data.get("layer"))


def format_value(value: Any) -> str:
    """A value as the grid's labels show it: ``0.001``, ``64``, ``0.25``."""
    return f"{value:g}" if isinstance(value, float) else str(value)


def choices(spec: Spec) -> list[Axis]:
    """Every setting a sweep of ``spec`` can vary (no values yet): training settings, then layers."""
    out = [Axis(name) for name in TRAINING]
    for i, layer in enumerate(spec.get("layers", [])[:-1]):  # the output layer's width is the 10 digits
        kind = layer.get("kind") if isinstance(layer, dict) else None
        if kind in LAYER:
            out.append(Axis(LAYER[kind][0], layer=i))
    return out


def parse_values(text: Any, axis: Axis) -> tuple[tuple, list[Problem]]:
    """The values typed for ``axis`` ('0.001, 0.01' or '32 64 128'), and what is wrong with them."""
    parts = [p for p in re.split(r"[\s,;]+", str(text or "").strip()) if p]
    values, problems = [], []
    for part in parts[: MAX_VALUES + 1]:
        try:
            number = float(part.replace("_", ""))
        except ValueError:
            problems.append(Problem(f"{part[:20]!r} is not a number.", setting=axis.setting))
            continue
        if axis.setting in FRACTIONS:
            values.append(number)
        elif number.is_integer():
            values.append(int(number))
        else:
            message = f"The {axis.label} takes whole numbers (got {part[:20]!r})."
            problems.append(Problem(message, setting=axis.setting))
    if len(set(values)) != len(values):
        problems.append(Problem(f"Each value of the {axis.label} once, please.", setting=axis.setting))
    if not problems and not MIN_VALUES <= len(parts) <= MAX_VALUES:
        message = f"Give the {axis.label} {MIN_VALUES} to {MAX_VALUES} values (got {len(parts)})."
        problems.append(Problem(message, setting=axis.setting))
    return tuple(values), problems


@dataclass(frozen=True)
class Point:
    """One cell of the grid: its place (``row`` for the first axis, ``col`` for the second) and training."""

    row: int
    col: int
    values: tuple
    spec: Spec
    config: TrainConfig

    def label(self, axes: list[Axis]) -> str:
        return cell_label(axes, self.values)


def cell_label(axes: list[Axis], values: tuple) -> str:
    """A cell in words: 'lr 0.001 · batch 64'."""
    return " · ".join(f"{a.short} {format_value(v)}" for a, v in zip(axes, values, strict=True))


def _apply(spec: Spec, config: dict, axis: Axis, value: Any) -> None:
    if axis.layer is None:
        config[axis.setting] = value
    else:
        spec["layers"][axis.layer][axis.setting] = value


def axes_problems(spec: Spec, axes: list[Axis]) -> list[Problem]:
    """Whether the axes make a grid: 1 or 2 different settings the network has, 2-5 values each."""
    if not 1 <= len(axes) <= MAX_AXES:
        return [Problem(f"A sweep varies 1 or {MAX_AXES} settings (got {len(axes)}).", setting="axes")]
    if len({(a.setting, a.layer) for a in axes}) != len(axes):
        return [Problem("Choose two different settings (or only one).", setting="axes")]
    known = {(a.setting, a.layer) for a in choices(spec)}
    problems = [
        Problem(f"This network has no setting {a.label!r} to vary.", setting="axes")
        for a in axes
        if (a.setting, a.layer) not in known
    ]
    for axis in axes:
        if not MIN_VALUES <= len(axis.values) <= MAX_VALUES:
            message = f"Give the {axis.label} {MIN_VALUES} to {MAX_VALUES} values (got {len(axis.values)})."
            problems.append(Problem(message, setting=axis.setting))
    return problems


def expand(spec: Spec, config: TrainConfig, axes: list[Axis]) -> list[Point]:
    """Every training of the grid, row by row; ``InvalidSettings`` names every bad cell and why."""
    problems = axes_problems(spec, axes)
    if problems:
        raise InvalidSettings(problems)
    points, seen = [], set()
    ranges = [range(len(a.values)) for a in axes]
    for place in itertools.product(*ranges):
        values = tuple(a.values[i] for a, i in zip(axes, place, strict=True))
        cell_spec, cell_config = copy.deepcopy(spec), config.to_dict()
        for axis, value in zip(axes, values, strict=True):
            _apply(cell_spec, cell_config, axis, value)
        point = Point(place[0], place[1] if len(place) > 1 else 0, values, cell_spec,
                      TrainConfig.from_dict(cell_config))  # fmt: skip
        for problem in validate(cell_spec) + validate_config(point.config):
            message = f"With {point.label(axes)}: {problem}"
            if message not in seen:
                seen.add(message)
                problems.append(Problem(message, setting=problem.setting or "axes"))
        points.append(point)
    if problems:
        raise InvalidSettings(problems)
    return points
