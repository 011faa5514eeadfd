"""`python -m nnlab`: presets, a quick training in the terminal, and one-line errors with status 2."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def nnlab(*args: str, timeout: int = 240) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "TF_CPP_MIN_LOG_LEVEL": "3"}
    return subprocess.run(
        [sys.executable, "-m", "nnlab", *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=timeout,
    )


def test_presets_lists_every_preset_with_its_parameter_count():
    out = nnlab("presets")
    assert out.returncode == 0
    assert "MLP 784-256-128-10" in out.stdout and "235,146 parameters" in out.stdout
    assert "CNN with dropout (Keras tutorial)" in out.stdout and "70,378 parameters" in out.stdout


@pytest.mark.parametrize(
    "args, message",
    [
        (["train", "--preset", "nope"], "unknown preset 'nope'"),
        (["train", "--preset", "MLP"], "ambiguous"),
        (["train", "--preset", "MLP 784-128-10", "--epochs", "0"], "epochs must be between 1"),
        (["train", "--preset", "MLP 784-128-10", "--lr", "fast"], "invalid float value"),
        (["train"], "required: --preset"),
        (["fly"], "invalid choice"),
    ],
)
def test_bad_arguments_give_one_line_and_status_2(args, message):
    out = nnlab(*args)
    assert out.returncode == 2
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0]


def test_quick_training_prints_progress_accuracy_and_where_the_model_is(tmp_path):
    out = nnlab(
        "train",
        "--preset",
        "logistic",
        "--epochs",
        "2",
        "--subset",
        "1000",
        "--seed",
        "1",
        "--batch-size",
        "50",
        "--raw-pixels",
    )
    assert out.returncode == 0, out.stderr
    assert "epoch 2/2" in out.stderr and "samples/s" in out.stderr
    acc_line = next(line for line in out.stdout.splitlines() if line.startswith("test accuracy"))
    assert float(acc_line.split()[2]) > 0.6
    model_path = Path(out.stdout.strip().splitlines()[-1].split("model: ")[1])
    assert model_path.is_file() and model_path.suffix == ".keras"
    listing = json.loads(nnlab("runs", "--json").stdout)
    assert listing[0]["status"] == "completed" and listing[0]["test_accuracy"] > 0.6
    assert listing[0]["config"]["scale_inputs"] is False  # --raw-pixels is recorded with the run


def test_export_writes_a_runs_script_or_notebook_into_the_current_folder(tmp_path):
    from nnlab.architectures import get_preset
    from nnlab.export import export_notebook, export_script
    from nnlab.runs import RunStore
    from nnlab.training import TrainConfig

    config = TrainConfig(epochs=3, batch_size=64, schedule="cosine")
    run = RunStore().create(get_preset("CNN with dropout (Keras tutorial)"), config.to_dict(), name="my cnn")
    folder = tmp_path / "here"
    folder.mkdir()
    env = {**os.environ, "PYTHONPATH": str(ROOT)}

    def export(*args):
        return subprocess.run(
            [sys.executable, "-m", "nnlab", "export", *args],
            capture_output=True,
            text=True,
            env=env,
            cwd=folder,
        )

    first, second, notebook = export(run.id), export("my cnn"), export(run.id[:6], "--notebook")
    for out in (first, second, notebook):
        assert out.returncode == 0, out.stderr
    paths = [Path(out.stdout.strip()) for out in (first, second, notebook)]
    assert [p.name for p in paths] == [
        "cnn-with-dropout-keras-tutorial.py",
        "cnn-with-dropout-keras-tutorial-2.py",  # never over a file that is there
        "cnn-with-dropout-keras-tutorial.ipynb",
    ]
    assert all(p.parent == folder for p in paths)
    spec = get_preset("CNN with dropout (Keras tutorial)")
    assert paths[0].read_text() == export_script(spec, config, source=f"run {run.id}").text
    assert paths[2].read_text() == export_notebook(spec, config, source=f"run {run.id}").text
    missing = export("nope")
    assert missing.returncode == 2 and "no run 'nope'" in missing.stderr
