"""Starting points as link codes: every preset round-trips, codes are short, and nothing hostile gets in."""

from __future__ import annotations

import base64
import json
import zlib

import pytest

from nnlab.architectures import PRESETS, get_preset, normalize
from nnlab.sharing import MAX_CODE_CHARS, decode, encode
from nnlab.training import TrainConfig, preset_config
from nnlab.validation import InvalidSettings


def _pack(payload, raw: bytes | None = None) -> str:
    data = raw if raw is not None else json.dumps(payload).encode()
    return "1" + base64.urlsafe_b64encode(zlib.compress(data, 9)).decode().rstrip("=")


def _refused(code) -> list[str]:
    with pytest.raises(InvalidSettings) as info:
        decode(code)
    messages = [str(p) for p in info.value.problems]
    assert messages and all(m and "Traceback" not in m for m in messages)
    return messages


@pytest.mark.parametrize("name", list(PRESETS))
def test_every_preset_with_its_settings_round_trips_in_a_short_code(name):
    spec, config = get_preset(name), preset_config(name)
    code = encode(spec, config)
    assert len(code) <= 400 and code.isascii() and all(c.isalnum() or c in "-_" for c in code)
    start = decode(code)
    assert start.spec == normalize(spec) and start.name == name
    assert start.config == config


def test_every_training_setting_travels():
    config = TrainConfig(
        optimizer="sgd",
        learning_rate=0.03,
        momentum=0.8,
        batch_size=64,
        epochs=7,
        validation_fraction=0.2,
        subset=3000,
        seed=42,
        schedule="exponential",
        decay_rate=0.7,
        early_stopping=True,
        early_stopping_patience=2,
        augment=True,
    )
    spec = {
        "name": "Mine",
        "layers": [{"kind": "Flatten"}, {"kind": "Dense", "units": 10, "activation": "softmax", "l2": 0.001}],
    }
    start = decode(encode(spec, config))
    assert start.config == config and start.spec["layers"][1]["l2"] == 0.001


def test_an_invalid_network_is_not_turned_into_a_link():
    broken = {"layers": [{"kind": "Dense", "units": 10, "activation": "softmax"}]}  # no Flatten first
    with pytest.raises(InvalidSettings, match="Flatten"):
        encode(broken, TrainConfig())


def test_names_arrive_on_one_line_without_control_characters():
    # NN Lab never encodes such a name (validation refuses it), but a code can be written by hand.
    name = "Evil\nname\x1b[31m with ![img](http://x.invalid/t.png)" + "x" * 200
    start = decode(_pack({**GOOD, "name": name}))
    assert "\n" not in start.name and "\x1b" not in start.name and len(start.name) <= 80


GOOD = {"name": "n", "layers": [{"kind": "Flatten"}, {"kind": "Dense", "units": 10, "activation": "softmax"}]}


@pytest.mark.parametrize(
    "code, words",
    [
        (None, "holds no starting point"),
        ("", "holds no starting point"),
        ("x" * (MAX_CODE_CHARS + 1), "too long"),
        ("2" + _pack(GOOD)[1:], "damaged"),  # another version
        ("1!!!not base64!!!", "damaged"),
        ("1" + base64.urlsafe_b64encode(b"not zlib at all").decode(), "damaged"),
        (_pack(GOOD)[:-10], "damaged"),  # cut short
        (_pack(None, b"\xff\xfe not utf-8"), "damaged"),
        (_pack(None, b"{not json"), "damaged"),
        (_pack(None, b"[" * 15000 + b"]" * 15000), "damaged|more than"),  # deep nesting
        (_pack(None, b" " * 1_000_000), "more than"),  # a zlib bomb: 1 MB packed in ~1 kB
        (_pack([1, 2, 3]), "does not hold a network"),
        (_pack({**GOOD, "run": "abc"}), "does not hold a network"),
        (_pack({"layers": "Dense"}), "list of at most"),
        (_pack({"layers": [{"kind": "Flatten"}] * 100}), "list of at most"),
        (_pack({"layers": [{"kind": "Lambda", "function": "os.system"}]}), "unknown layer kind 'Lambda'"),
        (_pack({"layers": [{"kind": "Imported", "params": 5}]}), "unknown layer kind 'Imported'"),
        (_pack({"layers": [{"kind": "Flatten", "code": "x"}]}), "has no setting 'code'"),
        (_pack({**GOOD, "config": {"epochs": 3, "exec": "x"}}), "no training setting 'exec'"),
        (_pack({**GOOD, "config": {"augment": "yes"}}), "true or false"),
        (_pack({**GOOD, "config": {"epochs": "5"}}), "epochs must be a whole number"),
        (_pack({**GOOD, "config": {"learning_rate": 1e300}}), "learning rate must be between"),
        (_pack({**GOOD, "config": "fast"}), "not a list of settings"),
        (_pack({"layers": [{"kind": "Dense", "units": 10**9, "activation": "softmax"}]}), "too many"),
    ],
)
def test_malformed_or_hostile_codes_are_refused_in_words(code, words):
    import re

    messages = _refused(code)
    assert any(re.search(words, m) for m in messages), messages
