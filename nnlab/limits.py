"""Hosted-demo limits: what an operator allows one visitor (and the whole server) to ask for.

An operator sets them by environment variable, or in a TOML file in the style of Streamlit's
``.streamlit/secrets.toml`` (either as root-level keys named like the variables, or in a
``[limits]`` table with the short names)::

    NNLAB_MAX_EPOCHS = 5              # or, in a [limits] table: max_epochs = 5
    NNLAB_MAX_PARAMS = 500000         #                          max_params = 500000
    NNLAB_MAX_QUEUED_PER_VISITOR = 2  #                          max_queued_per_visitor = 2
    NNLAB_MAX_CONCURRENT = 1          #                          max_concurrent = 1
    NNLAB_MAX_LAYERS = 50             #                          max_layers = 50
    NNLAB_MAX_ACTIVATION_MB = 3000    #                          max_activation_mb = 3000
    NNLAB_MAX_QUEUED = 50             #                          max_queued = 50
    NNLAB_SHOW_OPERATOR_RUNS = 1      #                          show_operator_runs = 1

Environment variables win over the file. A missing value, ``0`` or ``"none"`` means no limit, except
for the three that protect the machine, layers, activation memory and the whole queue: missing, they
keep their defaults (``0``/``"none"`` still lifts them; layers only up to the lab's own bound of
``shapes.MAX_LAYERS``). Going past a limit is not an error for the visitor: ``Limits.problems`` and
``Limits.network_problems`` say what the limit is. ``Runner.submit`` checks a visitor's queue limits
in the same transaction as it stores the run, so many tabs pressing Train at once cannot beat them;
the whole queue's bound (``max_queued``) matters because a new private window is a new visitor.

Runs started in a terminal (``nnlab train``) have no owner: they are the operator's, and web
visitors neither see nor stop them unless ``NNLAB_SHOW_OPERATOR_RUNS`` shows them, read-only, as
examples (``operator_runs_shown``).
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from nnlab.validation import Problem
from nnlab.words import plural

DEFAULT_MAX_LAYERS = 50  # more than any preset or lesson needs; Keras builds it in seconds
# Estimated activation memory of one training (architectures/memory.py), in decimal MB: every preset
# fits at every batch size the page offers (the CNNs at 8,192 need 2.7 GB); with the worker's own ~1 GB
# a training stays under 4 GB, which a 2-core, 23 GB machine runs beside the app.
DEFAULT_MAX_ACTIVATION_MB = 3000
# Trainings waiting to start, all visitors together: a queued run holds only a row and a folder, but
# beyond this many the last one would wait hours on a small machine; a visitor is told to come back.
DEFAULT_MAX_QUEUED = 50

ENV_NAMES = {
    "max_epochs": "NNLAB_MAX_EPOCHS",
    "max_params": "NNLAB_MAX_PARAMS",
    "max_queued_per_visitor": "NNLAB_MAX_QUEUED_PER_VISITOR",
    "max_concurrent": "NNLAB_MAX_CONCURRENT",
    "max_layers": "NNLAB_MAX_LAYERS",
    "max_activation_mb": "NNLAB_MAX_ACTIVATION_MB",
    "max_queued": "NNLAB_MAX_QUEUED",
}
SHOW_OPERATOR_RUNS_ENV = "NNLAB_SHOW_OPERATOR_RUNS"
SECRETS_ENV = "NNLAB_SECRETS"  # path of the TOML file, if not .streamlit/secrets.toml


class InvalidLimits(ValueError):
    """An operator's limit that is not a whole number; the message names the setting."""


@dataclass(frozen=True)
class Limits:
    """Upper bounds for a hosted demo; ``None`` means unlimited."""

    max_epochs: int | None = None
    max_params: int | None = None
    max_queued_per_visitor: int | None = None  # runs a visitor may have queued or running at once
    max_concurrent: int | None = None  # trainings running at once on this server
    max_layers: int | None = DEFAULT_MAX_LAYERS  # layers of one network
    max_activation_mb: int | None = DEFAULT_MAX_ACTIVATION_MB  # estimated activations of one training
    max_queued: int | None = DEFAULT_MAX_QUEUED  # trainings waiting to start, all visitors together

    def problems(self, *, n_params: int, epochs: int, visitor_active: int, queued: int = 0) -> list[Problem]:
        """Why a visitor may not start this training now, in words that state the limit.

        ``visitor_active``: the visitor's runs queued or running; ``queued``: runs waiting to start.
        """
        out = []
        if self.max_params is not None and n_params > self.max_params:
            message = (
                f"This network has {n_params:,} parameters; this demo trains networks of at most "
                f"{self.max_params:,} parameters. Use fewer units or filters, or add pooling."
            )
            out.append(Problem(message, setting="max_params"))
        if self.max_epochs is not None and epochs > self.max_epochs:
            message = f"This demo trains for at most {self.max_epochs} epochs (asked for {epochs})."
            out.append(Problem(message, setting="max_epochs"))
        if self.max_queued_per_visitor is not None and visitor_active >= self.max_queued_per_visitor:
            message = (
                f"You already have {plural(visitor_active, 'training')} queued or running; this demo allows "
                f"{plural(self.max_queued_per_visitor, 'run')} per visitor at a time. Wait for one to "
                "finish, or stop one."
            )
            out.append(Problem(message, setting="max_queued_per_visitor"))
        if self.max_queued is not None and queued >= self.max_queued:
            message = (
                f"The queue of this server is full: {queued:,} trainings are waiting to start, and this "
                f"demo queues at most {self.max_queued:,}. Try again in a few minutes."
            )
            out.append(Problem(message, setting="max_queued"))
        return out

    def network_problems(self, spec: dict, batch_size: int) -> list[Problem]:
        """Why this machine cannot train a (valid) ``spec`` at ``batch_size``: too many layers, or
        activations too large for its memory, in words that say what to change."""
        from nnlab.architectures.memory import activation_estimate
        from nnlab.ui.format import format_bytes

        out = []
        layers = len(spec["layers"])
        if self.max_layers is not None and layers > self.max_layers:
            message = (
                f"This network has {layers:,} layers; this demo trains networks of at most "
                f"{self.max_layers:,} layers. Remove some layers."
            )
            out.append(Problem(message, setting="max_layers"))
        estimate = activation_estimate(spec, batch_size)
        allowed = None if self.max_activation_mb is None else self.max_activation_mb * 1_000_000
        if allowed is not None and estimate.bytes > allowed:
            message = (
                f"Training this network at batch size {batch_size:,} would hold about "
                f"{format_bytes(estimate.bytes)} of intermediate values (activations) in memory; this "
                f"server allows {format_bytes(allowed)}. The largest is layer {estimate.largest_layer + 1} "
                f"({estimate.largest_kind}), with {estimate.largest_values:,} values per image. Use a "
                "smaller batch size, fewer filters or units, or pooling earlier."
            )
            out.append(Problem(message, setting="max_activation_mb"))
        return out

    def describe(self) -> list[str]:
        """The limits an operator set, one line each (empty when there are none).

        The machine's own bounds (layers, activation memory) are stated only when changed: at their
        defaults they are reached only by networks far beyond a lesson, and then the refusal says so.
        """
        labels = {
            "max_epochs": "epochs per training",
            "max_params": "parameters per network",
            "max_queued_per_visitor": "queued or running trainings per visitor",
            "max_concurrent": "trainings at once on this server",
            "max_layers": "layers per network",
            "max_activation_mb": "MB of activations per training",
            "max_queued": "trainings waiting in the queue",
        }
        return [
            f"at most {getattr(self, f.name):,} {labels[f.name]}"
            for f in fields(self)
            if getattr(self, f.name) not in (None, f.default)
        ]


def _parse(name: str, value: Any) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool):
        raise InvalidLimits(
            f"The limit {name} must be a whole number, or 0 / 'none' for no limit (got {value!r})."
        )
    if isinstance(value, str):
        text = value.strip().replace("_", "").replace(",", "")
        if text.lower() in ("", "none", "unlimited", "0"):
            return None
        try:
            value = int(text)
        except ValueError:
            raise InvalidLimits(
                f"The limit {name} must be a whole number, or 0 / 'none' for no limit (got {value!r})."
            ) from None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if not isinstance(value, int) or value < 0:
        raise InvalidLimits(f"The limit {name} must be a whole number of 0 or more (got {value!r}).")
    return value or None


def read_secrets(path: str | Path | None = None) -> dict[str, Any]:
    """The limit settings found in a secrets-style TOML file (missing file: none)."""
    if path is None:
        path = os.environ.get(SECRETS_ENV) or Path(".streamlit") / "secrets.toml"
    path = Path(path)
    if not path.is_file():
        return {}
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError, OSError) as exc:
        raise InvalidLimits(f"Cannot read the limits in {path}: {exc}") from None
    names = {**ENV_NAMES, "show_operator_runs": SHOW_OPERATOR_RUNS_ENV}
    found: dict[str, Any] = {}
    table = data.get("limits")
    if isinstance(table, dict):
        found.update({k: table[k] for k in names if k in table})
    found.update({k: data[env] for k, env in names.items() if env in data})
    return found


def operator_runs_shown(
    environ: Mapping[str, str] | None = None, secrets: Mapping[str, Any] | None = None
) -> bool:
    """Whether visitors see the operator's runs (no owner), read-only, as examples: off unless set."""
    environ = os.environ if environ is None else environ
    if SHOW_OPERATOR_RUNS_ENV in environ:
        value: Any = environ[SHOW_OPERATOR_RUNS_ENV]
    else:
        try:
            value = (read_secrets() if secrets is None else secrets).get("show_operator_runs", False)
        except InvalidLimits:
            return False  # a broken secrets file is reported by load_limits; meanwhile, the safe side
    return str(value).strip().lower() in ("1", "true", "yes", "on")


def load_limits(environ: Mapping[str, str] | None = None, secrets: Mapping[str, Any] | None = None) -> Limits:
    """The limits in force: environment variables over the secrets file; raises ``InvalidLimits``."""
    environ = os.environ if environ is None else environ
    secrets = read_secrets() if secrets is None else secrets
    values: dict[str, int | None] = {}
    for key, env in ENV_NAMES.items():
        if env in environ:
            values[key] = _parse(env, environ[env])
        elif key in secrets:
            values[key] = _parse(key, secrets[key])
    return Limits(**values)
