"""Settings dataclasses of the Keras and NumPy trainers: stored as dicts, checked against their bounds in plain words."""

from __future__ import annotations

import math
from collections.abc import Collection, Mapping
from dataclasses import asdict, fields
from typing import Any, TypeVar

import numpy as np

T = TypeVar("T", bound="SettingsDict")


class SettingsDict:
    """``to_dict`` / ``from_dict`` for a settings dataclass (mixed in), as runs store their settings."""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)  # type: ignore[call-overload]

    @classmethod
    def from_dict(cls: type[T], values: Mapping[str, Any]) -> T:
        """Build from a dict, ignoring unknown keys (older stored runs may lack newer settings)."""
        names = {f.name for f in fields(cls)}  # type: ignore[arg-type]
        return cls(**{k: v for k, v in values.items() if k in names})


class InvalidConfig(ValueError):
    """Settings that cannot be used; ``problems`` lists every reason in plain words."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__(" ".join(problems))


def is_int(value: Any) -> bool:
    """A whole number (Python or NumPy), not a bool."""
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool)


def is_number(value: Any) -> bool:
    """A finite real number (Python or NumPy), not a bool."""
    return isinstance(value, (int, float, np.number)) and not isinstance(value, bool) and math.isfinite(value)


def range_problems(
    config: Any,
    limits: Mapping[str, tuple[float, float]],
    whole: Collection[str] = (),
    labels: Mapping[str, str] | None = None,
    optional: Collection[str] = (),
) -> list[str]:
    """A message for each attribute of ``config`` named in ``limits`` that is not a number within its bounds.

    Names in ``whole`` must be whole numbers; names in ``optional`` may also be None. A setting is
    called by its ``labels`` entry, else by its name with spaces.
    """
    labels = labels or {}
    problems = []
    for name, (low, high) in limits.items():
        value = getattr(config, name)
        if name in optional and value is None:
            continue
        label = labels.get(name, name.replace("_", " "))
        if not (is_int(value) if name in whole else is_number(value)):
            problems.append(
                f"The {label} must be {'a whole number' if name in whole else 'a number'} (got {value!r})."
            )
        elif not low <= value <= high:
            problems.append(f"The {label} must be between {low:g} and {high:g} (got {value:g}).")
    return problems


def subset_problems(config: Any) -> list[str]:
    """A batch larger than the training subset it is drawn from (``subset`` None: all images)."""
    if config.subset is not None and config.batch_size > config.subset:
        return [f"The batch size ({config.batch_size}) is larger than the training subset ({config.subset})."]
    return []
