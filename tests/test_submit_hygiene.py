"""Whatever a caller hands ``Runner.submit``, it answers in words (``InvalidSettings``) and stores
nothing half-made; run names are text without control characters; visitor ids are whole ids.

Random junk comes from hypothesis: nested lists and dicts of numbers, text, NumPy scalars and
plain objects, where the layer settings and training settings are expected.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from streamlit.testing.v1 import AppTest

from nnlab.architectures import LAYER_DEFAULTS, LAYER_KINDS, get_preset, validate
from nnlab.runner import Runner
from nnlab.runs import RunStore
from nnlab.training import TrainConfig, validate_config
from nnlab.validation import InvalidSettings, Problem

SETTINGS = sorted({k for d in LAYER_DEFAULTS.values() for k in d})
CONFIG_FIELDS = sorted(TrainConfig().to_dict())
scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats()
    | st.text(max_size=6)
    | st.sampled_from([*LAYER_KINDS, "relu", "softmax", "same", "valid", "adam"])
    | st.sampled_from([np.int64(3), np.float32(0.5), np.float64("nan"), np.complex128(1j), np.bool_(True)])
    | st.builds(object)
)
junk = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3),
    max_leaves=12,
)
layers = st.fixed_dictionaries(
    {}, optional={"kind": st.sampled_from(LAYER_KINDS) | junk, **dict.fromkeys(SETTINGS, junk)}
)
specs = st.fixed_dictionaries({"layers": st.lists(layers | junk, max_size=5)}, optional={"name": junk}) | junk
configs = st.dictionaries(st.sampled_from(CONFIG_FIELDS) | st.text(max_size=6), junk, max_size=6) | junk
FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


class NoWorker:
    """An executor that starts nothing: submitting is what is tested."""

    def launch(self, store, run_id):
        return {"kind": "none"}

    def is_alive(self, handle):
        return True


@FUZZ
@given(spec=specs)
def test_architecture_validation_answers_any_junk_with_problems(spec):
    problems = validate(spec)
    assert isinstance(problems, list) and all(isinstance(p, Problem) for p in problems)
    assert all(len(p.message) < 1000 for p in problems)  # values are quoted cut short


@FUZZ
@given(values=st.dictionaries(st.sampled_from(CONFIG_FIELDS), junk, max_size=8))
def test_training_validation_answers_any_junk_with_problems(values):
    problems = validate_config(TrainConfig.from_dict(values))
    assert isinstance(problems, list) and all(isinstance(p, Problem) for p in problems)


@FUZZ
@given(spec=specs, config=configs, name=st.none() | junk)
def test_submit_answers_junk_in_words_and_leaves_no_orphan_folder(tmp_path_factory, spec, config, name):
    store = RunStore(tmp_path_factory.mktemp("store"))
    runner = Runner(store, executor=NoWorker())
    try:
        runner.submit(spec, config, name=name, owner="visitor")
    except InvalidSettings as exc:
        assert exc.problems and all(str(p) for p in exc.problems)
    folders = {p.name for p in (store.root / "runs").iterdir()}
    assert folders == {r.id for r in store.list()}  # a folder only for a stored run


def test_the_issues_malformed_specs_are_refused_in_words(tmp_path):
    store = RunStore(tmp_path)
    runner = Runner(store, executor=NoWorker())
    good = get_preset("MLP 784-128-10")
    cases = [
        ("a string", {}, "must be a dict"),
        ({"layers": ["Dense", 5]}, {}, "unknown layer kind None"),
        (
            {"layers": [{"kind": "Dense", "units": "128"}]},
            {},
            "units must be a whole number of at least 1 (got '128')",
        ),
        (good, {"batch_size": "64"}, "batch size must be a whole number (got '64')"),
        (good, {"epochs": 10**400}, "epochs must be between 1 and 1000 (got 1000000"),
        (good, {"augment": "yes"}, "augmentation setting must be on or off (got 'yes')"),
        ({**good, "notes": object()}, {}, "cannot be stored"),
        (good, ["epochs", 3], "must be a TrainConfig or a dict"),
    ]
    for spec, config, words in cases:
        with pytest.raises(InvalidSettings) as info:
            runner.submit(spec, config, owner="visitor")
        assert words in str(info.value), str(info.value)
    assert store.list() == [] and list((store.root / "runs").iterdir()) == []


def test_numpy_numbers_are_accepted_and_stored_as_plain_json(tmp_path):
    runner = Runner(RunStore(tmp_path), executor=NoWorker())
    spec = {
        "name": "np",
        "layers": [{"kind": "Flatten"}, {"kind": "Dense", "units": np.int64(10), "activation": "softmax"}],
    }
    run = runner.submit(spec, {"batch_size": np.int32(64), "augment": np.bool_(False)}, owner="visitor")
    assert run.spec["layers"][1]["units"] == 10 and run.config["batch_size"] == 64
    assert run.config["augment"] is False


def test_run_and_network_names_are_text_without_control_characters(tmp_path):
    runner = Runner(RunStore(tmp_path), executor=NoWorker())
    spec = get_preset("MLP 784-128-10")
    for name, words in (
        ("evil\x1b]0;pwned\x07\x1b[2J", "control characters ('\\x07', '\\x1b')"),
        ("two\nlines", "control characters ('\\n')"),
        ("right-to-left \u202e gnp.exe", "control characters ('\\u202e')"),
        ("x" * 10_000, "10,000 characters long; use at most 200"),
        (12345, "must be text (got 12345)"),
    ):
        with pytest.raises(InvalidSettings, match="run name") as info:
            runner.submit(spec, {"epochs": 1}, name=name, owner="visitor")
        assert words in str(info.value)
    with pytest.raises(InvalidSettings, match="network name holds control characters"):
        runner.submit({**spec, "name": "net\x1b[31m"}, {"epochs": 1}, owner="visitor")
    markdown = "![pixel](http://example.com/p.png) **bold** <img src=x>"  # shown as text, so allowed
    assert runner.submit(spec, {"epochs": 1}, name=markdown, owner="visitor").name == markdown


def test_a_visitor_id_with_a_trailing_newline_is_refused():
    at = AppTest.from_file(str(Path(__file__).resolve().parents[1] / "app.py"), default_timeout=60)
    at.query_params["visitor"] = "abcdefg\n"
    at.run()
    assert not at.exception
    kept = at.session_state["visitor"]
    assert kept != "abcdefg\n" and "\n" not in kept and len(kept) == 16  # a fresh id instead
    assert at.query_params["visitor"] in (kept, [kept])
