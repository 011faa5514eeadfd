"""A damaged SQLite store is said to be so, never taken for an empty one, and ``nnlab repair`` brings
its runs back from their folders with models that still evaluate.

Two damages, as a disk or a careless copy makes them: 4 KB of garbage inside the file, and the file
truncated to 0 bytes. The store holds two trained runs: one written by this version (its folder has
``run.json``), one as an older version left it (a model and its test predictions, no record).
"""

from __future__ import annotations

import os
import random
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from nnlab.architectures import get_preset
from nnlab.evaluation import accuracy_and_loss, cached_test_predictions, mnist_test_set, predict_test
from nnlab.modelio import load_model_safely
from nnlab.runs import RunStore, StoreError
from nnlab.runs.database import dispose_engines
from nnlab.runs.integrity import RECORD_FILE, DamagedStore
from nnlab.training import TrainConfig
from nnlab.worker import run_here

ROOT = Path(__file__).resolve().parent.parent
QUICK = TrainConfig(subset=300, epochs=1, validation_fraction=0.1, batch_size=32)


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> Path:
    """A store with two trained runs (trained once for the module); each test damages a copy."""
    root = tmp_path_factory.mktemp("trained_store")
    store = RunStore(root, "")
    for name in ("new run", "old run"):
        run = run_here(
            get_preset("Logistic regression 784-10"), QUICK, name=name, owner="v" * 32, store=store
        )
        assert run.status == "completed"
        cached_test_predictions(store, run.id, load_model_safely(store.model_path(run.id)))
    old = next(r for r in store.list() if r.name == "old run")
    (store.run_dir(old.id) / RECORD_FILE).unlink()  # as a store written before run.json existed
    dispose_engines()  # every connection closed: the WAL folded into runs.sqlite
    return root


def _damage(path: Path, how: str) -> None:
    if how == "truncated":
        path.write_bytes(b"")
        return
    data = bytearray(path.read_bytes())
    data[4096:8192] = random.Random(11).randbytes(4096)  # the second page: a table's root
    path.write_bytes(bytes(data))


def _cli(*args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run(
        [sys.executable, "-m", "nnlab", *args], env=env, capture_output=True, text=True, timeout=300
    )


@pytest.fixture(params=["garbage", "truncated"])
def damaged_home(request, trained, _isolated_home) -> tuple[Path, bytes]:
    home = _isolated_home
    shutil.copytree(trained, home, dirs_exist_ok=True)
    _damage(home / "runs.sqlite", request.param)
    return home, (home / "runs.sqlite").read_bytes()


def test_a_damaged_store_is_said_to_be_so_and_repair_brings_the_runs_back(damaged_home):
    home, damaged_bytes = damaged_home
    with pytest.raises(DamagedStore) as refused:
        RunStore()
    message = str(refused.value)
    assert f"{home / 'runs.sqlite'} is damaged" in message and "nnlab repair" in message
    assert "Nothing is lost" in message and str(home / "runs") in message

    listed = _cli("runs")  # the operator's terminal: words, not a traceback
    assert listed.returncode == 1 and "Traceback" not in listed.stderr
    assert "is damaged" in listed.stderr and "nnlab repair" in listed.stderr

    home_page = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120).run()  # every page: app.py
    assert not home_page.exception
    assert any("is damaged" in e.value and "nnlab repair" in e.value for e in home_page.error)

    repaired = _cli("repair")
    assert repaired.returncode == 0, repaired.stderr
    assert "2 run(s)" in repaired.stdout
    kept = list(home.glob("runs.sqlite.damaged-*"))
    assert [p.read_bytes() for p in kept if p.name.endswith(tuple("0123456789"))] == [damaged_bytes]

    store = RunStore()
    runs = {r.name: r for r in store.list()}
    recovered = next(name for name in runs if name.startswith("Recovered run"))
    assert set(runs) == {"new run", recovered}
    assert runs["new run"].owner == "v" * 32 and runs["new run"].config["subset"] == 300
    _, y_test = mnist_test_set()
    for run in runs.values():  # the models are usable: they evaluate to the scores the runs show
        assert run.status == "completed" and store.has_model(run.id)
        model = load_model_safely(store.model_path(run.id))
        accuracy, _ = accuracy_and_loss(predict_test(model), y_test)
        assert accuracy == pytest.approx(run.test_accuracy, abs=1e-4)
    assert runs[recovered].spec["layers"] and runs[recovered].n_params == 7850


def test_a_missing_run_list_beside_models_is_not_an_empty_store(trained, _isolated_home):
    shutil.copytree(trained, _isolated_home, dirs_exist_ok=True)
    (_isolated_home / "runs.sqlite").unlink()
    with pytest.raises(StoreError, match="it is missing, yet 2 run folder"):
        RunStore()


def test_a_new_store_and_a_healthy_one_open(tmp_path):
    store = RunStore(tmp_path / "fresh", "")
    store.create(get_preset("Logistic regression 784-10"), QUICK.to_dict(), name="kept")
    dispose_engines()
    assert [r.name for r in RunStore(tmp_path / "fresh", "").list()] == ["kept"]
