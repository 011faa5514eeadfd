"""One language for everything a learner or an operator can get wrong.

Every validator in NN Lab (the architecture, the Keras training settings, the NumPy network's
settings, the operator's limits) returns a list of ``Problem``: what is wrong, in words a learner
understands, and where (a layer, or a setting). An empty list means "fine". Code that must refuse
bad input raises ``InvalidSettings`` carrying that list, so that a page can show each problem where
it belongs and the command line can print them all.
"""

from __future__ import annotations

import math
import reprlib
import unicodedata
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, fields
from typing import Any, TypeVar

import numpy as np

T = TypeVar("T", bound="SettingsDict")


@dataclass(frozen=True)
class Problem:
    """One thing wrong: ``message`` in plain words; ``layer`` (0-based) or ``setting`` says where."""

    message: str
    layer: int | None = None
    setting: str | None = None

    def __str__(self) -> str:
        return self.message if self.layer is None else f"Layer {self.layer + 1}: {self.message}"


class InvalidSettings(ValueError):
    """Raised for input that cannot be used; ``problems`` lists every reason."""

    def __init__(self, problems: Iterable[Problem]):
        self.problems = list(problems)
        super().__init__(" ".join(str(p) for p in self.problems))

    @property
    def about_network(self) -> bool:
        """Whether any problem concerns the network's layers (rather than its training settings)."""
        return any(p.layer is not None or p.setting == "architecture" for p in self.problems)


class SettingsDict:
    """``to_dict`` / ``from_dict`` for a settings dataclass (mixed in), as runs store their settings."""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)  # type: ignore[call-overload]

    @classmethod
    def from_dict(cls: type[T], values: Mapping[str, Any]) -> T:
        """Build from a dict, ignoring unknown keys (older stored runs may lack newer settings)."""
        names = {f.name for f in fields(cls)}  # type: ignore[arg-type]
        return cls(**{k: v for k, v in values.items() if k in names})


_SHORT_REPR = reprlib.Repr()
_SHORT_REPR.maxlevel, _SHORT_REPR.maxstring, _SHORT_REPR.maxother, _SHORT_REPR.maxlong = 3, 60, 60, 40
_SHORT_REPR.maxlist = _SHORT_REPR.maxtuple = _SHORT_REPR.maxdict = _SHORT_REPR.maxset = 6


def quote(value: Any) -> str:
    """A bad value as a message quotes it: its repr, cut short (a value may be huge or deeply nested)."""
    try:
        return _SHORT_REPR.repr(value)
    except Exception:  # a __repr__ that fails: name the type instead
        return f"a {type(value).__name__}"


MAX_NAME_CHARS = 200  # the page takes 80; a generated name (a Keras twin's settings) may run longer
# Characters a name must not hold: controls (terminal escapes, newlines), text-direction overrides
# (which make a name read differently from what it is) and lone surrogates (not storable text).
_BIDI_CONTROLS = set("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f")


def _unfit_character(char: str) -> bool:
    return unicodedata.category(char) in ("Cc", "Cs", "Zl", "Zp") or char in _BIDI_CONTROLS


def name_problems(name: Any, setting: str = "name", what: str = "run name") -> list[Problem]:
    """Why ``name`` cannot name a run or a network: not text, too long, or holding control characters.

    None (no name: one is made up) is fine. Markdown and HTML are fine too: names are shown as plain text.
    """
    if name is None:
        return []
    if not isinstance(name, str):
        return [Problem(f"The {what} must be text (got {quote(name)}).", setting=setting)]
    problems = []
    if len(name) > MAX_NAME_CHARS:
        message = f"The {what} is {len(name):,} characters long; use at most {MAX_NAME_CHARS}."
        problems.append(Problem(message, setting=setting))
    bad = sorted({char for char in name if _unfit_character(char)})
    if bad:
        shown = ", ".join(ascii(char) for char in bad[:5])
        message = (
            f"The {what} holds control characters ({shown}), which cannot be shown as text: "
            "use letters, digits, spaces and punctuation."
        )
        problems.append(Problem(message, setting=setting))
    return problems


def is_int(value: Any) -> bool:
    """A whole number (Python or NumPy), not a bool."""
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool)


def is_number(value: Any) -> bool:
    """A finite real number (Python or NumPy), not a bool."""
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        return False
    return is_int(value) or math.isfinite(value)  # a whole number is finite, however large


def range_problems(
    config: Any,
    bounds: Mapping[str, tuple[float, float]],
    whole: Collection[str] = (),
    labels: Mapping[str, str] | None = None,
    optional: Collection[str] = (),
) -> list[Problem]:
    """A problem for each attribute of ``config`` named in ``bounds`` that is not a number within them.

    Names in ``whole`` must be whole numbers; names in ``optional`` may also be None. A setting is
    called by its ``labels`` entry, else by its name with spaces.
    """
    labels = labels or {}
    problems = []
    for name, (low, high) in bounds.items():
        value = getattr(config, name)
        if name in optional and value is None:
            continue
        label = labels.get(name, name.replace("_", " "))
        kind = "a whole number" if name in whole else "a number"
        if not (is_int(value) if name in whole else is_number(value)):
            problems.append(Problem(f"The {label} must be {kind} (got {quote(value)}).", setting=name))
        elif not low <= value <= high:
            problems.append(
                Problem(
                    f"The {label} must be between {low:g} and {high:g} (got {_number(value)}).", setting=name
                )
            )
    return problems


def _number(value: Any) -> str:
    """``20000``, ``1e-07``; a whole number too large for a float is quoted cut short."""
    try:
        return f"{value:g}"
    except (OverflowError, ValueError, TypeError):
        return quote(value)


def choice_problems(
    config: Any, choices: Mapping[str, Sequence[str]], labels: Mapping[str, str]
) -> list[Problem]:
    """A problem for each attribute of ``config`` named in ``choices`` whose value is not one of them."""
    problems = []
    for name, allowed in choices.items():
        value = getattr(config, name)
        if value not in allowed:
            message = f"Unknown {labels.get(name, name)} {quote(value)}; choose one of {', '.join(allowed)}."
            problems.append(Problem(message, setting=name))
    return problems


def switch_problems(config: Any, labels: Mapping[str, str]) -> list[Problem]:
    """A problem for each attribute of ``config`` named in ``labels`` that is not True or False."""
    problems = []
    for name, label in labels.items():
        value = getattr(config, name)
        if not isinstance(value, (bool, np.bool_)):
            problems.append(
                Problem(f"The {label} setting must be on or off (got {quote(value)}).", setting=name)
            )
    return problems


def subset_problems(config: Any) -> list[Problem]:
    """A batch larger than the training subset it is drawn from (``subset`` None: all images)."""
    if config.subset is not None and config.batch_size > config.subset:
        message = (
            f"The batch size ({config.batch_size}) is larger than the training subset ({config.subset})."
        )
        return [Problem(message, setting="batch_size")]
    return []
