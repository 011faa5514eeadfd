"""Export: a network and its settings as a Keras script and notebook that build the same layers and train.

The scripts really run, in a fresh Python process that cannot import nnlab (only TensorFlow), on a
tiny subset given on their command line: one reads a folder of plain IDX files, one the MNIST files
bundled with nnlab (once nnlab is importable).
"""

from __future__ import annotations

import ast
import gzip
import math
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from nnlab.architectures import build_model, count_params, get_preset
from nnlab.data import BUNDLED_DIR
from nnlab.export import export_notebook, export_script, sections
from nnlab.modelio import load_model_safely
from nnlab.training import TrainConfig
from nnlab.validation import InvalidSettings

ROOT = Path(__file__).resolve().parents[1]

CUSTOM_CNN = {
    "name": "My CNN",
    "layers": [
        {"kind": "Conv2D", "filters": 8, "kernel_size": 5, "strides": 2, "padding": "same", "l1": 1e-4},
        {"kind": "AveragePooling2D", "pool_size": 2, "strides": 1},
        {"kind": "BatchNormalization"},
        {"kind": "Dropout", "rate": 0.25},
        {"kind": "Flatten"},
        {"kind": "Dense", "units": 32, "activation": "tanh", "l2": 1e-3},
        {"kind": "Dense", "units": 10, "activation": "softmax"},
    ],
}
CASES = {
    "mlp": (get_preset("MLP 784-128-10"), TrainConfig(), "plain"),
    "cnn": (
        CUSTOM_CNN,
        TrainConfig(
            optimizer="sgd",
            learning_rate=0.05,
            momentum=0.8,
            batch_size=32,
            validation_fraction=0.2,
            schedule="cosine",
            early_stopping=True,
            augment=True,
            seed=3,
            epochs=2,  # its script's default (no --epochs given): the schedule spans the run's epochs
        ),
        "bundled",
    ),
    "strong": (
        get_preset("Strong CNN (BatchNorm, 99.4 %+)"),
        TrainConfig(
            optimizer="rmsprop", schedule="plateau", batch_size=64, validation_fraction=0.0, epochs=1
        ),
        "bundled",
    ),
}
QUICK = {
    "mlp": ["--subset", "1000", "--epochs", "2"],
    "cnn": ["--subset", "500"],
    "strong": ["--subset", "300"],
}

DRIVER = """
import runpy, sys
for name, script, args, nnlab_root in CALLS:
    if nnlab_root:
        sys.path.insert(0, nnlab_root)  # from now on nnlab is installed: its bundled MNIST is found
    print(f"=== {name}", flush=True)
    sys.argv = [script, *args]
    runpy.run_path(script, run_name="__main__")
    print(f"=== end {name}", flush=True)
"""


def _plain_idx_folder(tmp: Path) -> Path:
    folder = tmp / "mnist-plain"
    folder.mkdir()
    for gz in BUNDLED_DIR.glob("*-ubyte.gz"):
        (folder / gz.name.removesuffix(".gz")).write_bytes(gzip.decompress(gz.read_bytes()))
    return folder


@pytest.fixture(scope="module")
def ran(tmp_path_factory):
    """Every case exported and run in one fresh process (TensorFlow is imported once)."""
    tmp = tmp_path_factory.mktemp("exported")
    data = _plain_idx_folder(tmp)
    calls = []
    for name, (spec, config, source) in CASES.items():
        script = tmp / export_script(spec, config).file_name
        script.write_text(export_script(spec, config).text)
        args = [*QUICK[name], "--output", str(tmp / f"{name}.keras")]
        args += ["--data", str(data)] if source == "plain" else []
        calls.append((name, str(script), args, str(tmp / "site") if source == "bundled" else None))
    site = tmp / "site"
    site.mkdir()
    (site / "nnlab").symlink_to(ROOT / "nnlab")  # "pip install nnlab": only the package, nothing else
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"} | {"TF_CPP_MIN_LOG_LEVEL": "3"}
    out = subprocess.run(
        [sys.executable, "-c", f"CALLS = {calls!r}\n{DRIVER}"],
        capture_output=True,
        text=True,
        cwd=tmp,
        env=env,
        timeout=600,
    )
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    logs = dict(re.findall(r"=== (\w+)\n(.*?)=== end \1", out.stdout, flags=re.S))
    assert set(logs) == set(CASES), out.stdout[-2000:]
    return tmp, logs


def _layer_signature(model) -> list:
    rows = []
    for layer in model.layers:
        config = {k: v for k, v in layer.get_config().items() if k not in ("name", "seed")}
        rows.append((type(layer).__name__, layer.count_params(), tuple(layer.output.shape), config))
    return rows


@pytest.mark.parametrize("name", list(CASES))
def test_an_exported_script_builds_the_same_network_and_trains_it(ran, name):
    tmp, logs = ran
    spec, config, source = CASES[name]
    log = logs[name]
    assert f"Total params: {count_params(spec):,}" in log  # the printed model summary
    trained = load_model_safely(tmp / f"{name}.keras", compile=False)
    assert _layer_signature(trained) == _layer_signature(build_model(spec))  # same layers, same settings
    assert trained.count_params() == count_params(spec)
    folder = "mnist-plain" if source == "plain" else "datasets/mnist"
    assert re.search(rf"MNIST from \S*{folder}: 60000 training and 10000 test images", log)
    n_train = int(re.search(r"(\d+) training, (\d+) validation", log).group(1))
    subset = int(QUICK[name][1])
    assert abs(n_train - subset * (1 - config.validation_fraction)) <= 5  # the subset and validation split
    accuracy = float(re.search(r"Test accuracy: ([0-9.]+)", log).group(1))
    assert 0.0 <= accuracy <= 1.0
    if name == "mlp":  # it trains: 1,000 images for 2 epochs lift a fresh network well above chance (10 %)
        assert accuracy > 0.6, log[-800:]


def test_the_exported_optimizer_schedule_and_batches_are_the_runs(ran):
    from nnlab._tf import keras

    tmp, logs = ran
    spec, config, _ = CASES["cnn"]
    model = keras.models.load_model(tmp / "cnn.keras")  # with its optimizer (compiled by the script)
    n_train = int(re.search(r"(\d+) training, ", logs["cnn"]).group(1))
    steps = math.ceil(n_train / config.batch_size)
    optimizer = model.optimizer
    assert type(optimizer).__name__ == "SGD" and optimizer.get_config()["momentum"] == pytest.approx(0.8)
    schedule = optimizer.get_config()["learning_rate"]
    assert schedule["class_name"] == "CosineDecay"
    assert schedule["config"]["initial_learning_rate"] == pytest.approx(0.05)
    assert schedule["config"]["decay_steps"] == config.epochs * steps  # the run's epochs, its batches
    assert int(optimizer.iterations.numpy()) % steps == 0  # whole epochs of batch_size images
    assert type(keras.models.load_model(tmp / "strong.keras").optimizer).__name__ == "RMSprop"


def _code_cells(text: str) -> list[str]:
    notebook = nbformat.reads(text, as_version=4)
    nbformat.validate(notebook)
    return [cell.source for cell in notebook.cells if cell.cell_type == "code"]


@pytest.mark.parametrize("name", list(CASES))
def test_the_notebook_is_valid_and_holds_the_same_code(name):
    spec, config, _ = CASES[name]
    script = export_script(spec, config).text
    cells = _code_cells(export_notebook(spec, config).text)
    expected = [s.code for s in sections(spec, config) if s.in_notebook]
    assert cells == expected and len(cells) >= 7
    assert all(cell in script for cell in cells)
    assert "argparse.ArgumentParser" in script and not any("parse_args" in cell for cell in cells)
    assert export_notebook(spec, config).file_name == export_script(spec, config).file_name[:-3] + ".ipynb"


@pytest.mark.parametrize("name", list(CASES))
def test_exported_scripts_are_lint_clean(tmp_path, name):
    spec, config, _ = CASES[name]
    path = tmp_path / "script.py"
    path.write_text(export_script(spec, config).text)
    ruff = shutil.which("ruff", path=str(Path(sys.executable).parent)) or shutil.which("ruff")
    if ruff is None:
        pytest.skip("ruff is not installed")
    lint = [
        ruff,
        "check",
        "--no-cache",
        "--isolated",
        "--select",
        "E,F,W,I",
        "--line-length",
        "100",
        str(path),
    ]
    out = subprocess.run(lint, capture_output=True, text=True)
    assert out.returncode == 0, out.stdout  # no unused import, no undefined name, no long line


def test_a_hostile_name_stays_in_comments():
    spec = get_preset("MLP 784-128-10")
    spec["name"] = 'x""" ; import os; os.system("touch /tmp/pwned")  # <img src=x onerror=alert(1)>'
    script = export_script(spec, TrainConfig()).text
    tree = ast.parse(script)
    calls = {
        n.func.attr for n in ast.walk(tree) if isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute)
    }
    assert "system" not in calls
    imported = {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    assert imported == {"argparse", "gzip", "importlib.util", "struct", "keras", "numpy"}
    title = nbformat.reads(export_notebook(spec, TrainConfig()).text, as_version=4).cells[0].source
    assert "\\<img" in title and not re.search(r"(?<!\\)<", title)  # Markdown shows it as text
    spec["name"] = "two\nlines"  # a name that could break out of a comment is refused in words
    with pytest.raises(InvalidSettings, match="control characters"):
        export_script(spec, TrainConfig())


def test_an_invalid_network_or_setting_is_not_exported():
    with pytest.raises(InvalidSettings, match="Flatten"):
        export_script({"layers": [{"kind": "Dense", "units": 10, "activation": "softmax"}]}, TrainConfig())
    with pytest.raises(InvalidSettings, match="epochs"):
        export_notebook(get_preset("MLP 784-128-10"), TrainConfig(epochs=0))
