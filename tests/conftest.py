"""Shared fixtures. Every test gets its own run store (NNLAB_HOME) so nothing leaks between tests."""

from __future__ import annotations

import os

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


@pytest.fixture(autouse=True)
def _isolated_home(tmp_path_factory, monkeypatch):
    home = tmp_path_factory.mktemp("nnlab_home")
    monkeypatch.setenv("NNLAB_HOME", str(home))
    yield home
