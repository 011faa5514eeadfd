"""What a class is made of, checked in words: its name, a student's display name, its challenge, its
limits and the parts of the UI it hides. Plain data and checks; the database is ``store.py``.

Everything a teacher or a student types arrives as text from a browser, so every check here returns
``validation.Problem``s that quote the bad value, and ``clean_text`` makes any text one plain line
(no control or invisible formatting characters). Pages show names as text, never as Markdown.
"""

from __future__ import annotations

import unicodedata
from dataclasses import asdict, dataclass, field
from typing import Any

from nnlab.architectures import PRESETS, normalize, short_name
from nnlab.validation import Problem, is_int
from nnlab.words import plural

MAX_CLASS_NAME = 80
MAX_DISPLAY_NAME = 30
MAX_CHALLENGE_TEXT = 200
MAX_RUNS_PER_STUDENT = 1000

# The parts of the UI a teacher may hide from the class: a key and what a student then misses.
HIDEABLE = {
    "layer_editor": "the layer editor: students train the presets or the class's starting network",
    "take_home": "code export and share links on Build & Train",
    "sweeps": "the Sweeps page",
    "evaluate": "the Evaluate page",
    "inspect": "the Inspect page",
    "draw": "the Draw page",
    "data": "the Data page",
    "from_scratch": "the From scratch page",
}


def clean_text(text: Any, max_chars: int) -> str:
    """``text`` on one line: control and format characters (bidi overrides, zero widths) dropped,
    spaces collapsed, cut at ``max_chars``."""
    kept = "".join(
        " " if c.isspace() else c for c in str(text) if c.isspace() or unicodedata.category(c)[0] != "C"
    )
    return " ".join(kept.split())[:max_chars]


def name_key(name: str) -> str:
    """A display name folded for comparison: 'ADA', 'Ada' and 'ａｄａ' are the same student."""
    return unicodedata.normalize("NFKC", name).casefold()


def _length_problems(raw: str, *, most: int, what: str, setting: str, empty: str) -> list[Problem]:
    """Why ``raw`` is no name of ``what``: empty once cleaned (``empty`` says what to do), or too long."""
    text = clean_text(raw, most + 1)
    if not text:
        return [Problem(empty, setting=setting)]
    if len(text) > most:
        return [Problem(f"{what} has at most {most} characters (got {len(raw.strip())}).", setting=setting)]
    return []


def class_name_problems(name: Any) -> list[Problem]:
    empty = "Give the class a name (for example 'Year 10, Tuesday')."
    raw = "" if name is None else str(name)
    return _length_problems(raw, most=MAX_CLASS_NAME, what="A class name", setting="class_name", empty=empty)


def display_name_problems(name: Any) -> list[Problem]:
    """Why ``name`` cannot be a student's display name (shown to the whole class)."""
    raw = "" if name is None else str(name)
    empty = "Choose the name the class will see next to your results."
    problems = _length_problems(
        raw, most=MAX_DISPLAY_NAME, what="A display name", setting="display_name", empty=empty
    )
    if problems:
        return problems
    text = clean_text(raw, MAX_DISPLAY_NAME)
    if text != " ".join(raw.split()):
        message = f"A display name is plain text on one line: {text!r} without the hidden characters works."
        return [Problem(message, setting="display_name")]
    if not any(c.isalnum() for c in text):
        return [Problem(f"A display name needs a letter or a digit (got {text!r}).", setting="display_name")]
    return []


def _whole_or_none(value: Any, label: str, setting: str, high: int) -> list[Problem]:
    if value is None:
        return []
    if not is_int(value) or not 1 <= value <= high:
        message = f"The {label} must be a whole number from 1 to {high:,}, or empty for none (got {value!r})."
        return [Problem(message, setting=setting)]
    return []


@dataclass(frozen=True)
class ClassLimits:
    """A class's own bounds, checked when a student submits (``None``: no bound of the class's)."""

    max_epochs: int | None = None
    max_params: int | None = None
    max_runs: int | None = None  # trainings each student may start (failed or never started: not counted)

    def check(self) -> list[Problem]:
        return (
            _whole_or_none(self.max_epochs, "most epochs", "max_epochs", 1000)
            + _whole_or_none(self.max_params, "most parameters", "max_params", 100_000_000)
            + _whole_or_none(self.max_runs, "most runs per student", "max_runs", MAX_RUNS_PER_STUDENT)
        )

    def describe(self) -> list[str]:
        words = {
            "max_epochs": "epochs per training",
            "max_params": "parameters per network",
            "max_runs": "trainings per student",
        }
        return [f"at most {v:,} {words[k]}" for k, v in asdict(self).items() if v is not None]

    def problems(self, *, n_params: int, epochs: int, used: int, new: int = 1) -> list[Problem]:
        """Why a student may not start ``new`` trainings (``used`` started already) in this class."""
        group = f"; this would start {new}" if new > 1 else ""
        asked = (  # each bound: the value asked for, and what to say when it is over the bound
            ("max_params", n_params, "This class trains networks of at most {bound:,} parameters; this one "
             "has {value:,}. Use fewer units or filters, or add pooling."),
            ("max_epochs", epochs, "This class trains for at most {bound} epochs (asked for {value})."),
            ("max_runs", used + new, "Each student may start {trainings} in this class; you have "
             "started {used}{group}. Failed trainings do not count."),
        )  # fmt: skip
        return [
            Problem(
                text.format(
                    bound=bound, value=value, used=used, group=group, trainings=plural(bound, "training")
                ),
                setting=setting,
            )
            for setting, value, text in asked
            if (bound := getattr(self, setting)) is not None and value > bound
        ]


@dataclass(frozen=True)
class Challenge:
    """What the class is asked to do, checked on the leaderboard: the best test accuracy, within
    ``max_params`` parameters and ``max_seconds`` of training (either may be None)."""

    text: str = ""
    max_params: int | None = None
    max_seconds: int | None = None

    @property
    def is_set(self) -> bool:
        return bool(self.text or self.max_params or self.max_seconds)

    def check(self) -> list[Problem]:
        problems = []
        if len(clean_text(self.text, MAX_CHALLENGE_TEXT + 1)) > MAX_CHALLENGE_TEXT:
            message = f"A challenge is at most {MAX_CHALLENGE_TEXT} characters (got {len(self.text)})."
            problems.append(Problem(message, setting="challenge"))
        problems += _whole_or_none(self.max_params, "challenge's most parameters", "max_params", 100_000_000)
        problems += _whole_or_none(self.max_seconds, "challenge's most seconds", "max_seconds", 86_400)
        return problems

    def rules(self) -> list[str]:
        out = [f"at most {self.max_params:,} parameters"] if self.max_params else []
        return out + ([f"at most {self.max_seconds:,} s of training"] if self.max_seconds else [])

    def meets(self, n_params: int, seconds: float | None) -> bool:
        """Whether a finished run keeps the challenge's rules (always, when it has none)."""
        if self.max_params is not None and n_params > self.max_params:
            return False
        return self.max_seconds is None or (seconds is not None and seconds <= self.max_seconds)


@dataclass(frozen=True)
class Classroom:
    """A class as stored (the teacher's secret is not here: only its hash is kept)."""

    id: str
    name: str
    created: float
    challenge: Challenge = field(default_factory=Challenge)
    limits: ClassLimits = field(default_factory=ClassLimits)
    hidden: frozenset[str] = frozenset()
    start: str | None = None  # a sharing code: the network students start from

    def hides(self, part: str) -> bool:
        return part in self.hidden


@dataclass(frozen=True)
class Member:
    """A student in a class: the visitor id (never shown to others) and the name the class sees."""

    visitor: str
    class_id: str
    display_name: str
    joined: float


@dataclass(frozen=True)
class Entry:
    """One finished run on the leaderboard."""

    display_name: str
    run_id: str
    test_accuracy: float
    n_params: int
    seconds: float | None
    network: str
    status: str
    meets: bool


def hidden_problems(parts: Any) -> list[Problem]:
    unknown = [str(p)[:40] for p in parts if p not in HIDEABLE]
    return [Problem(f"There is no part of the UI called {p!r} to hide.", setting="hidden") for p in unknown]


def network_summary(spec: dict) -> str:
    """The layers in a few characters, whatever the student named them: 'CNN Conv8-Pool-Dense32'."""
    try:
        return short_name(spec).removeprefix("Custom ")
    except Exception:  # a stored network NN Lab can no longer read: say so, do not fail the table
        return "(unreadable network)"


def allowed_network(spec: dict, start_spec: dict | None) -> bool:
    """Whether ``spec`` is a preset or the class's starting network (when the layer editor is hidden)."""
    try:
        layers = normalize(spec)["layers"]
    except Exception:
        return False
    known = [normalize(p)["layers"] for p in PRESETS.values()]
    if start_spec is not None:
        known.append(normalize(start_spec)["layers"])
    return layers in known
