"""A visitor's runs are private: other visitors neither see nor stop them, the operator's terminal runs
(no owner) are not shown unless the operator shows them, read-only, and a link to a run the visitor
may not see is answered in words, never by silently showing another run."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from nnlab.architectures import build_model, get_preset
from nnlab.modelio import save_model_atomically
from nnlab.runs import RunStore, process_handle
from nnlab.ui.access import NO_MODEL, NOT_YOURS

ROOT = Path(__file__).resolve().parents[1]
PAGES = {
    "home": ROOT / "app.py",
    "build": ROOT / "pages" / "1_Build_and_Train.py",
    "evaluate": ROOT / "pages" / "2_Evaluate.py",
    "inspect": ROOT / "pages" / "3_Inspect.py",
    "draw": ROOT / "pages" / "4_Draw.py",
}
SPEC = get_preset("Logistic regression 784-10")


@pytest.fixture(scope="module")
def model_bytes(tmp_path_factory) -> bytes:
    path = tmp_path_factory.mktemp("model") / "model.keras"
    save_model_atomically(build_model(SPEC), path)
    return path.read_bytes()


def _page(name: str, visitor: str = "visitor-a", **params: str) -> AppTest:
    at = AppTest.from_file(str(PAGES[name]), default_timeout=120)
    at.query_params["visitor"] = visitor
    for key, value in params.items():
        at.query_params[key] = value
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def _finished(owner: str | None, name: str, model: bytes | None) -> str:
    store = RunStore()
    run = store.create(SPEC, {"epochs": 1}, name=name, owner=owner)
    if model is None:
        store.update(run.id, status="failed", finished=time.time(), error="The training ran out of memory.")
        return run.id
    store.model_path(run.id).write_bytes(model)
    store.update(run.id, status="completed", started=time.time() - 5, finished=time.time(), test_accuracy=0.9)
    return run.id


def _operators_running_run() -> str:
    """A run started by ``nnlab train`` in a terminal: no owner, its worker alive (this process)."""
    run = RunStore().create(
        SPEC, {"epochs": 3}, name="operator's run", worker={"kind": "local", **process_handle()}
    )
    return run.id


def _warnings(at: AppTest) -> list[str]:
    return [w.value for w in at.warning]


def test_the_operators_runs_are_not_listed_nor_stoppable_by_visitors(monkeypatch):
    run_id = _operators_running_run()
    home = _page("home")
    assert not any(run_id in str(df.value.to_dict()) for df in home.dataframe)
    assert any("No runs yet" in i.value for i in home.info)
    build = _page("build", run=run_id)
    assert _warnings(build) == [NOT_YOURS]
    assert not [b for b in build.button if b.key == f"stop_{run_id}"]
    assert not any("operator's run" in m.value for m in build.markdown)

    monkeypatch.setenv("NNLAB_SHOW_OPERATOR_RUNS", "1")  # shown as examples: read-only
    home = _page("home")
    (table,) = [df.value for df in home.dataframe]
    assert list(table["id"]) == [run_id] and list(table["by"]) == ["the operator (an example)"]
    build = _page("build", run=run_id)
    assert any("operator" in m.value for m in build.markdown)  # the run is shown...
    assert not [b for b in build.button if b.key == f"stop_{run_id}"]  # ...without a Stop button
    assert not RunStore().get(run_id).stop_requested


def test_a_link_to_another_visitors_run_shows_nothing_of_it_on_build_and_train(model_bytes):
    theirs = _finished("visitor-b", "B's secret run", model_bytes)
    at = _page("build", run=theirs)
    assert _warnings(at) == [NOT_YOURS]
    assert not any("secret" in m.value for m in at.markdown)
    assert at.query_params.get("run") in (None, [])  # not kept in the address either
    owner = _page("build", visitor="visitor-b", run=theirs)
    assert any("secret" in m.value for m in owner.markdown)  # its owner still sees it


@pytest.mark.parametrize(
    ("page", "key"), [("evaluate", "eval_run"), ("inspect", "insp_run"), ("draw", "draw_run")]
)
def test_result_pages_say_so_instead_of_showing_another_run(model_bytes, page, key):
    mine = _finished("visitor-a", "A's run", model_bytes)
    theirs = _finished("visitor-b", "B's run", model_bytes)
    failed = _finished("visitor-a", "A's failed run", None)
    at = _page(page, run=theirs)
    assert _warnings(at) == [NOT_YOURS]
    box = at.selectbox(key=key)
    assert box.value == mine and len(box.options) == 1  # A's own run, the only one A may see
    at = _page(page, run=failed)
    assert _warnings(at) == [NO_MODEL]
    at = _page(page, run=mine)  # a link to the visitor's own run opens it, with no warning
    assert _warnings(at) == [] and at.selectbox(key=key).value == mine


def test_a_visitor_without_runs_following_a_foreign_link_is_told_so(model_bytes):
    theirs = _finished("visitor-b", "B's run", model_bytes)
    for page in ("evaluate", "inspect", "draw"):
        at = _page(page, visitor="visitor-c", run=theirs)
        assert _warnings(at) == [NOT_YOURS]
        assert at.info  # and what to do: train a network first
