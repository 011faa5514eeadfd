"""Starting points: a network and its training settings as a short code that fits in a link.

A teacher (or anyone) turns the editor's network into a link, ``.../Build_and_Train?start=CODE``;
whoever opens it finds that network and those settings in their own editor. The code is
``1`` (the format's version) followed by the base64url text (no padding) of the zlib-compressed JSON
``{"name": ..., "layers": [...], "config": {...}}``, where every layer and the config keep only the
settings that differ from their defaults. Class mode can keep the same code for a class's starting
network.

A code arrives from anyone, so ``decode`` trusts nothing: the length, the packing (a zlib bomb),
the JSON's shape, every key and type, then the network and the settings in the one validation
language (``architectures.validate`` and ``training.validate_config``). It returns a
``StartingPoint`` or raises ``InvalidSettings`` listing every problem in words.
"""

from __future__ import annotations

import base64
import binascii
import json
import zlib
from dataclasses import dataclass, fields
from typing import Any

from nnlab.architectures import LAYER_DEFAULTS, LAYER_KINDS, Spec, normalize, validate
from nnlab.training import TrainConfig, validate_config
from nnlab.validation import InvalidSettings, Problem

VERSION = "1"
MAX_CODE_CHARS = 4000  # far more than any network of the editor needs (the strong CNN takes ~250)
MAX_JSON_BYTES = 20_000
MAX_LAYERS = 64
MAX_NAME_CHARS = 80
_BOOLS = ("early_stopping", "augment")
_CONFIG_KEYS = tuple(f.name for f in fields(TrainConfig))


@dataclass(frozen=True)
class StartingPoint:
    """A network and how to train it, as a link carries them."""

    spec: Spec
    config: TrainConfig

    @property
    def name(self) -> str:
        return str(self.spec.get("name", "Custom network"))


def clean_name(name: Any) -> str:
    """A network's name on one line: no control characters, at most ``MAX_NAME_CHARS``."""
    text = " ".join("".join(c if c.isprintable() else " " for c in str(name)).split())
    return text[:MAX_NAME_CHARS] or "Custom network"


def encode(spec: Spec, config: TrainConfig) -> str:
    """The code of a valid network and settings (raises ``InvalidSettings`` for invalid ones)."""
    problems = validate(spec) + validate_config(config)
    if problems:
        raise InvalidSettings(problems)
    layers = []
    for layer in normalize(spec)["layers"]:
        defaults = LAYER_DEFAULTS[layer["kind"]]
        layers.append({k: v for k, v in layer.items() if k == "kind" or v != defaults[k]})
    default = TrainConfig().to_dict()
    settings = {k: v for k, v in config.to_dict().items() if v != default[k]}
    payload = {"name": clean_name(spec.get("name", "Custom network")), "layers": layers, "config": settings}
    packed = zlib.compress(json.dumps(payload, separators=(",", ":")).encode(), 9)
    return VERSION + base64.urlsafe_b64encode(packed).decode().rstrip("=")


def _link_problem(message: str) -> InvalidSettings:
    return InvalidSettings([Problem(message, setting="link")])


def _unpack(code: Any) -> Any:
    """The JSON a code holds (any JSON value), or ``InvalidSettings`` saying why there is none."""
    damaged = "This link is damaged or incomplete (was it copied whole?): it holds no network."
    if not isinstance(code, str) or not code:
        raise _link_problem("This link holds no starting point.")
    if len(code) > MAX_CODE_CHARS:
        raise _link_problem(
            f"This link is too long to be a starting point ({len(code):,} characters; at most "
            f"{MAX_CODE_CHARS:,})."
        )
    if code[0] != VERSION:
        raise _link_problem(f"{damaged} (It does not start with the version mark {VERSION!r}.)")
    try:
        packed = base64.urlsafe_b64decode(code[1:] + "=" * (-len(code[1:]) % 4))
        unpacker = zlib.decompressobj()
        text = unpacker.decompress(packed, MAX_JSON_BYTES)
        if unpacker.unconsumed_tail:
            raise _link_problem(f"This link unpacks to more than {MAX_JSON_BYTES:,} bytes: it is refused.")
        if not unpacker.eof:
            raise ValueError("truncated")
        return json.loads(text.decode("utf-8"))
    except InvalidSettings:
        raise
    except (binascii.Error, ValueError, zlib.error, RecursionError):  # JSONDecodeError is a ValueError
        raise _link_problem(damaged) from None


def _layer_problems(i: int, layer: Any) -> list[Problem]:
    if not isinstance(layer, dict) or layer.get("kind") not in LAYER_KINDS:
        kind = layer.get("kind") if isinstance(layer, dict) else layer
        return [Problem(f"unknown layer kind {str(kind)[:40]!r}; choose one of {', '.join(LAYER_KINDS)}", i)]
    unknown = sorted(str(k)[:40] for k in layer if k != "kind" and k not in LAYER_DEFAULTS[layer["kind"]])
    return [Problem(f"a {layer['kind']} layer has no setting {k!r}", i) for k in unknown]


def _config_problems(config: Any) -> list[Problem]:
    if not isinstance(config, dict):
        return [Problem("The training settings in this link are not a list of settings.", setting="link")]
    problems = [
        Problem(f"There is no training setting {str(k)[:40]!r}.", setting="link")
        for k in config
        if k not in _CONFIG_KEYS
    ]
    for key in _BOOLS:
        if key in config and not isinstance(config[key], bool):
            problems.append(Problem(f"The setting {key} must be true or false.", setting=key))
    return problems


def decode(code: Any) -> StartingPoint:
    """The starting point a link's code holds; ``InvalidSettings`` (every problem, in words) otherwise."""
    data = _unpack(code)
    if not isinstance(data, dict) or not set(data) <= {"name", "layers", "config"}:
        raise _link_problem("This link does not hold a network and its training settings.")
    layers, config = data.get("layers"), data.get("config", {})
    if not isinstance(layers, list) or len(layers) > MAX_LAYERS:
        raise _link_problem(f"The network in this link must be a list of at most {MAX_LAYERS} layers.")
    problems = [p for i, layer in enumerate(layers) for p in _layer_problems(i, layer)]
    problems += _config_problems(config)
    if problems:
        raise InvalidSettings(problems)
    spec = {"name": clean_name(data.get("name", "Custom network")), "layers": layers}
    settings = TrainConfig.from_dict(config)
    problems = validate(spec) + validate_config(settings)
    if problems:
        raise InvalidSettings(problems)
    return StartingPoint(normalize(spec), settings)
