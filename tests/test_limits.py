"""Hosted-demo limits: read from the environment or a secrets-style file, stated in words."""

from __future__ import annotations

import pytest

from nnlab.limits import InvalidLimits, Limits, load_limits, read_secrets


def test_no_settings_means_no_limits(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    limits = load_limits(environ={})
    assert limits == Limits()
    assert limits.problems(n_params=10**9, epochs=1000, visitor_active=50) == []
    assert limits.describe() == []


def test_environment_variables_set_limits():
    env = {
        "NNLAB_MAX_EPOCHS": "5",
        "NNLAB_MAX_PARAMS": "100_000",
        "NNLAB_MAX_QUEUED_PER_VISITOR": "2",
        "NNLAB_MAX_CONCURRENT": "1",
    }
    assert load_limits(environ=env, secrets={}) == Limits(5, 100_000, 2, 1)


@pytest.mark.parametrize("value", ["0", "none", "", "unlimited"])
def test_zero_or_none_means_unlimited(value):
    assert load_limits(environ={"NNLAB_MAX_EPOCHS": value}, secrets={}).max_epochs is None


@pytest.mark.parametrize("value", ["five", "-3", "2.5"])
def test_bad_value_names_the_setting(value):
    with pytest.raises(InvalidLimits, match="NNLAB_MAX_EPOCHS"):
        load_limits(environ={"NNLAB_MAX_EPOCHS": value}, secrets={})


def test_secrets_file_root_keys_and_limits_table(tmp_path, monkeypatch):
    path = tmp_path / "secrets.toml"
    path.write_text("NNLAB_MAX_EPOCHS = 3\n[limits]\nmax_params = 50000\nmax_epochs = 9\n", encoding="utf-8")
    assert read_secrets(path) == {"max_params": 50000, "max_epochs": 3}
    monkeypatch.setenv("NNLAB_SECRETS", str(path))
    assert load_limits(environ={}) == Limits(max_epochs=3, max_params=50000)
    # The environment wins over the file.
    assert load_limits(environ={"NNLAB_MAX_EPOCHS": "7"}).max_epochs == 7


def test_default_secrets_path_is_streamlit_secrets(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / ".streamlit").mkdir()
    (tmp_path / ".streamlit" / "secrets.toml").write_text("[limits]\nmax_concurrent = 2\n", encoding="utf-8")
    assert load_limits(environ={}).max_concurrent == 2


def test_broken_secrets_file_is_reported_in_words(tmp_path):
    path = tmp_path / "secrets.toml"
    path.write_text("max_epochs = = 3", encoding="utf-8")
    with pytest.raises(InvalidLimits, match="Cannot read the limits"):
        read_secrets(path)


def test_problems_state_each_limit():
    limits = Limits(max_epochs=5, max_params=1000, max_queued_per_visitor=1)
    assert limits.problems(n_params=1000, epochs=5, visitor_active=0) == []
    problems = limits.problems(n_params=101_770, epochs=6, visitor_active=1)
    assert len(problems) == 3
    assert "101,770 parameters" in problems[0].message and "at most 1,000" in problems[0].message
    assert "at most 5 epochs" in problems[1].message and problems[1].setting == "max_epochs"
    assert "1 run per visitor" in problems[2].message
    assert "at most 5 epochs per training" in limits.describe()
