"""Validation bounds what a training costs: windows no larger than their input (whatever the padding),
a number of layers, and the activation memory of a batch, all said in words a learner understands."""

from __future__ import annotations

import time

import pytest

from nnlab.architectures import PRESETS, count_params, summary, validate
from nnlab.architectures.memory import activation_estimate
from nnlab.limits import DEFAULT_MAX_LAYERS, Limits, load_limits
from nnlab.runner import check_training
from nnlab.validation import InvalidSettings

OUTPUT = [{"kind": "Flatten"}, {"kind": "Dense", "units": 10, "activation": "softmax"}]


def _spec(*layers: dict) -> dict:
    return {"name": "test", "layers": [*layers, *OUTPUT]}


def _dense_stack(n: int) -> dict:
    """Flatten, ``n`` hidden Dense layers, the output: ``n + 2`` layers."""
    return {"name": "deep", "layers": [OUTPUT[0], *[{"kind": "Dense", "units": 10}] * n, OUTPUT[1]]}


def test_a_pooling_window_of_a_billion_is_refused_with_same_padding_too():
    problems = validate(_spec({"kind": "MaxPooling2D", "pool_size": 10**9, "padding": "same"}))
    (problem,) = problems
    assert problem.layer == 0
    assert "1,000,000,000x1,000,000,000 pool is larger than its 28x28 input" in str(problem)
    assert "at most 28x28" in str(problem)
    valid = validate(_spec({"kind": "Conv2D", "kernel_size": 30}))  # the same rule, its own advice
    assert "use a kernel of at most 28x28, or remove a pooling layer" in str(valid[0])
    assert validate(_spec({"kind": "Conv2D", "kernel_size": 28, "padding": "same"})) == []  # as large: fine


def test_a_wide_convolution_at_batch_256_is_refused_for_its_activation_memory():
    wide = _spec({"kind": "Conv2D", "filters": 4096, "kernel_size": 1, "padding": "same"})
    assert validate(wide) == [] and count_params(wide) < 33_000_000  # valid, and few parameters...
    with pytest.raises(InvalidSettings) as info:
        check_training(wide, {"batch_size": 256, "epochs": 1})
    (problem,) = info.value.problems
    assert problem.setting == "max_activation_mb"
    for words in ("batch size 256", "13.2 GB", "3.0 GB", "layer 1 (Conv2D)", "3,211,264 values per image"):
        assert words in problem.message
    check_training(wide, {"batch_size": 32, "epochs": 1})  # ...and a smaller batch fits: no exception


def test_every_preset_fits_at_every_batch_size_the_page_offers():
    limits = Limits()
    for spec in PRESETS.values():
        for batch in (1, 32, 128, 512, 2048, 8192):
            assert limits.network_problems(spec, batch) == [], (spec["name"], batch)


def test_the_activation_estimate_counts_the_input_and_every_layer():
    spec = PRESETS["MLP 784-128-10"]  # 784 (input) + 784 (Flatten) + 128 + 10 values per image
    estimate = activation_estimate(spec, batch_size=128)
    assert estimate.bytes == 4 * (784 + 784 + 128 + 10) * 256  # 2 x 128 images (values and gradients)
    assert (estimate.largest_layer, estimate.largest_kind) == (0, "Flatten")


def test_the_number_of_layers_is_bounded_by_default_and_tunable(monkeypatch):
    deep = _dense_stack(60)
    with pytest.raises(InvalidSettings, match=f"at most {DEFAULT_MAX_LAYERS:,} layers"):
        check_training(deep, {"epochs": 1})
    monkeypatch.setenv("NNLAB_MAX_LAYERS", "100")
    assert load_limits().max_layers == 100
    check_training(deep, {"epochs": 1})  # the operator allows it
    monkeypatch.setenv("NNLAB_MAX_LAYERS", "10")
    assert "at most 10 layers" in str(Limits(max_layers=10).network_problems(deep, 32)[0])
    assert "at most 10 layers per network" in load_limits().describe()
    assert Limits().describe() == []  # the machine's defaults are not stated as an operator's limits


def test_deep_stacks_never_hit_a_recursion_error():
    """A thousand layers (the issue's RecursionError) and a hundred thousand are refused at once."""
    for n in (1_000, 100_000):
        deep = _dense_stack(n)
        start = time.perf_counter()
        (problem,) = validate(deep)
        assert f"has {n + 2:,} layers; this lab builds at most 200" in problem.message
        assert summary(deep).empty and count_params(deep) == 0
        with pytest.raises(InvalidSettings, match="at most 200"):
            check_training(deep, {"epochs": 1})
        assert time.perf_counter() - start < 1.0
    nested = [0]
    for _ in range(100_000):  # a setting nested far deeper than Python's recursion limit
        nested = [nested]
    with pytest.raises(InvalidSettings, match="number of filters must be a whole number"):
        check_training(_spec({"kind": "Conv2D", "filters": nested}), {"epochs": 1})


def test_build_and_train_states_the_memory_limit_before_training(monkeypatch):
    from pathlib import Path

    from streamlit.testing.v1 import AppTest

    monkeypatch.setenv("NNLAB_MAX_ACTIVATION_MB", "1")  # less than the default MLP needs (1.7 MB)
    at = AppTest.from_file(str(Path(__file__).resolve().parents[1] / "pages" / "1_Build_and_Train.py"))
    at.query_params["visitor"] = "visitor-a"
    at.run(timeout=120)
    assert not at.exception
    assert at.button(key="train_button").disabled
    assert any("this server allows 1.0 MB" in i.value for i in at.info)
