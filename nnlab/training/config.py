"""Every hyperparameter of one Keras training, the range each may take, and its check."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from nnlab.validation import (
    Problem,
    SettingsDict,
    choice_problems,
    range_problems,
    subset_problems,
    switch_problems,
)

OPTIMIZERS = ("adam", "sgd", "rmsprop")
SCHEDULES = ("constant", "plateau", "cosine", "exponential")


@dataclass
class TrainConfig(SettingsDict):
    """Every hyperparameter of one training. Defaults suit the tutorial networks."""

    optimizer: str = "adam"
    learning_rate: float = 1e-3
    momentum: float = 0.9  # used by sgd (and rmsprop)
    batch_size: int = 128
    epochs: int = 5
    validation_fraction: float = 0.1
    subset: int | None = None  # training images to use; None = all 60,000
    seed: int = 0
    schedule: str = "constant"
    plateau_factor: float = 0.5  # ReduceLROnPlateau: multiply the rate by this...
    plateau_patience: int = 1  # ...after this many epochs without improvement
    decay_rate: float = 0.8  # exponential schedule: rate multiplier per epoch
    early_stopping: bool = False
    early_stopping_patience: int = 3
    augment: bool = False  # small random shifts (up to 2 px) and rotations (up to 8 degrees)
    scale_inputs: bool = True  # False: the weights see raw 0-255 pixels (a Rescaling(255) first layer)
    batch_event_every: int = 5  # report batch metrics every this many batches


# Settings that suit a preset better than the defaults (the UI offers them when the preset is chosen).
PRESET_SETTINGS: dict[str, dict[str, Any]] = {
    "Strong CNN (BatchNorm, 99.4 %+)": {
        "epochs": 10,
        "batch_size": 128,
        "learning_rate": 2e-3,
        "schedule": "cosine",
        "validation_fraction": 0.0,
    }
}


def preset_config(preset: str) -> TrainConfig:
    """The recommended config for a preset (the defaults where it has none)."""
    return TrainConfig(**PRESET_SETTINGS.get(preset, {}))


# The range each setting may take, shared by validation, the CLI and the UI's widgets. These are
# the lab's own bounds; an operator's (usually tighter) limits for a hosted demo are in limits.py.
BOUNDS = {
    "learning_rate": (1e-6, 10.0),
    "momentum": (0.0, 0.999),
    "batch_size": (1, 8192),
    "epochs": (1, 1000),
    "validation_fraction": (0.0, 0.5),
    "subset": (100, 60000),
    "seed": (0, 2**31 - 1),
    "plateau_factor": (0.01, 0.99),
    "plateau_patience": (0, 100),
    "decay_rate": (0.01, 1.0),
    "early_stopping_patience": (0, 100),
    "batch_event_every": (1, 1000),
}
WHOLE = {
    "batch_size",
    "epochs",
    "subset",
    "seed",
    "plateau_patience",
    "early_stopping_patience",
    "batch_event_every",
}
LABELS = {"subset": "training subset", "validation_fraction": "validation fraction"}
SWITCHES = {  # settings that are on or off
    "early_stopping": "early stopping",
    "augment": "augmentation",
    "scale_inputs": "input scaling",
}


def validate_config(config: TrainConfig) -> list[Problem]:
    """Every problem with ``config`` in plain words; empty means it can be used."""
    choices = {"optimizer": OPTIMIZERS, "schedule": SCHEDULES}
    problems = choice_problems(config, choices, {"schedule": "learning-rate schedule"})
    problems += range_problems(config, BOUNDS, whole=WHOLE, labels=LABELS, optional={"subset"})
    problems += switch_problems(config, SWITCHES)
    if not problems and config.subset is not None and config.validation_fraction > 0:
        if int(config.subset * config.validation_fraction) < 10:
            message = (
                "The validation split of this subset holds fewer than 10 images: "
                "use a larger subset or validation fraction."
            )
            problems.append(Problem(message, setting="validation_fraction"))
    if not problems:
        problems += subset_problems(config)
    return problems
