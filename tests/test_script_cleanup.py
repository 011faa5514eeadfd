"""A script run's end leaves Keras alone (``nnlab.ui.script_cleanup``, issue 13).

Streamlit ended every script run, each watcher's refresh every second included, with
``keras.backend.clear_session()`` once Keras was imported in the server: a full garbage collection
each time (with TensorFlow loaded, 50 watchers kept the server collecting all the time). Here Keras is
imported in the test process, as the server has it once a visitor opened Evaluate, Inspect or Draw,
and ``clear_session`` is replaced by a counter.
"""

from __future__ import annotations

import gc
from pathlib import Path

import pytest
from streamlit.runtime.scriptrunner import script_runner
from streamlit.testing.v1 import AppTest

APP = str(Path(__file__).resolve().parent.parent / "app.py")


@pytest.fixture
def cleared(monkeypatch) -> list[str]:
    """Keras imported; each ``clear_session`` and each explicit ``gc.collect`` from now on, counted."""
    from nnlab._tf import keras

    calls: list[str] = []
    monkeypatch.setattr(keras.backend, "clear_session", lambda *_a, **_k: calls.append("clear_session"))
    monkeypatch.setattr(gc, "collect", lambda *_a, **_k: calls.append("gc.collect") or 0)
    return calls


def test_streamlits_own_cleanup_clears_keras_after_a_run(cleared):
    """What Streamlit did after every run (kept as ``streamlit_cleanup`` once replaced)."""
    cleanup = script_runner._clean_problem_modules
    getattr(cleanup, "streamlit_cleanup", cleanup)()
    assert cleared == ["clear_session"]


def test_the_apps_runs_leave_keras_and_the_garbage_collector_alone(_isolated_home, cleared):
    """The home page run twice (the first run replaces the cleanup, once per server): no Keras
    session cleared, no full collection asked for, by either run's end."""
    at = AppTest.from_file(APP, default_timeout=60).run()
    at.run()
    assert not at.exception, at.exception
    assert getattr(script_runner._clean_problem_modules, "streamlit_cleanup", None) is not None
    assert cleared == []
