"""Import: models saved by tutorial-style scripts (``model.save('model.h5')``) become runs that can be
evaluated, inspected, drawn on and edited; files that could run code, or are damaged, are refused in words."""

from __future__ import annotations

import base64
import json
import marshal
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import h5py
import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from nnlab import evaluation as ev
from nnlab.architectures import IMPORTED, build_model, count_params, get_preset, layer_shapes, validate
from nnlab.importing import import_model_file
from nnlab.modelio import ModelLoadError, load_model_safely, save_model_atomically
from nnlab.runs import RunStore

ROOT = Path(__file__).resolve().parents[1]
PAGES = ROOT / "pages"
TIMEOUT = 120

# What the TensorFlow beginner tutorial and the Keras MNIST convnet example do, saved as they save it
# (the data comes from nnlab because keras.datasets would need the internet).
TUTORIAL = """
import sys
import keras
from nnlab.data import load_mnist

out = sys.argv[1]
(x_train, y_train), (x_test, y_test) = load_mnist()
x_train, x_test = x_train[:3000] / 255.0, x_test / 255.0
y_train = y_train[:3000]
keras.utils.set_random_seed(0)

model = keras.models.Sequential([
    keras.layers.Flatten(input_shape=(28, 28)),
    keras.layers.Dense(128, activation="relu"),
    keras.layers.Dropout(0.2),
    keras.layers.Dense(10),
])
loss_fn = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
model.compile(optimizer="adam", loss=loss_fn, metrics=["accuracy"])
model.fit(x_train, y_train, epochs=1, verbose=0)
print("mlp", model.evaluate(x_test, y_test, verbose=0)[1])
model.save(out + "/mlp.h5")

cnn = keras.Sequential([
    keras.Input(shape=(28, 28, 1)),
    keras.layers.Conv2D(32, kernel_size=(3, 3), activation="relu"),
    keras.layers.MaxPooling2D(pool_size=(2, 2)),
    keras.layers.Conv2D(64, kernel_size=(3, 3), activation="relu"),
    keras.layers.MaxPooling2D(pool_size=(2, 2)),
    keras.layers.Flatten(),
    keras.layers.Dropout(0.5),
    keras.layers.Dense(10, activation="softmax"),
])
cnn.compile(loss="sparse_categorical_crossentropy", optimizer="adam", metrics=["accuracy"])
cnn.fit(x_train[..., None], y_train, batch_size=128, epochs=1, verbose=0)
print("cnn", cnn.evaluate(x_test[..., None], y_test, verbose=0)[1])
cnn.save(out + "/cnn.h5")

rnn = keras.Sequential(
    [keras.Input((28, 28)), keras.layers.LSTM(16), keras.layers.Dense(10, activation="softmax")]
)
rnn.save(out + "/lstm.h5")
rnn.save_weights(out + "/only.weights.h5")

lam = keras.Sequential([
    keras.Input((28, 28, 1)), keras.layers.Flatten(), keras.layers.Lambda(lambda t: t * 2.0),
    keras.layers.Dense(10, activation="softmax"),
])
lam.save(out + "/lambda.h5")
"""


@pytest.fixture(scope="module")
def tutorial(tmp_path_factory):
    """The files a tutorial-style script saved, and the test accuracy each model reported there."""
    out = tmp_path_factory.mktemp("tutorial")
    script = out / "tutorial.py"
    script.write_text(TUTORIAL)
    env = {"PYTHONPATH": str(ROOT), "TF_CPP_MIN_LOG_LEVEL": "3", "PATH": "/usr/bin:/bin"}
    done = subprocess.run(
        [sys.executable, str(script), str(out)], capture_output=True, text=True, env=env, timeout=300
    )
    assert done.returncode == 0, done.stderr[-3000:]
    scores = {
        line.split()[0]: float(line.split()[1])
        for line in done.stdout.splitlines()
        if line[:3] in ("mlp", "cnn")
    }
    return out, scores


def _no_errors(at: AppTest) -> None:
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]


def test_a_tutorial_mlp_h5_becomes_an_editable_run_with_the_same_answers(tutorial):
    out, scores = tutorial
    store = RunStore()
    done = import_model_file(store, out / "mlp.h5", owner="visitor-a")
    run = done.run
    assert run.status == "completed" and run.owner == "visitor-a" and run.name == "Imported: mlp.h5"
    kinds = [(layer["kind"], layer.get("units"), layer.get("activation")) for layer in run.spec["layers"]]
    assert kinds == [
        ("Flatten", None, None),
        ("Dense", 128, "relu"),
        ("Dropout", None, None),
        ("Dense", 10, "softmax"),
    ]
    assert done.conversion.editable and done.conversion.logits  # raw scores in the file, softmax here
    assert not validate(run.spec) and run.n_params == count_params(run.spec) == 101_770
    assert run.test_accuracy == pytest.approx(scores["mlp"], abs=1e-3)  # the accuracy the script measured
    kept = load_model_safely(store.model_path(run.id))  # NN Lab's own model, with the file's weights
    assert [type(layer).__name__ for layer in kept.layers] == [
        type(layer).__name__ for layer in build_model(run.spec).layers
    ]
    probs = ev.load_cached_predictions(store, run.id)
    assert probs.shape == (10000, 10) and np.allclose(probs.sum(axis=1), 1, atol=1e-4)


def test_a_tutorial_cnn_h5_imports_with_its_layers(tutorial):
    out, scores = tutorial
    run = import_model_file(RunStore(), out / "cnn.h5").run
    assert [layer["kind"] for layer in run.spec["layers"]] == [
        "Conv2D",
        "MaxPooling2D",
        "Conv2D",
        "MaxPooling2D",
        "Flatten",
        "Dropout",
        "Dense",
    ]
    assert run.n_params == 34_826 and run.test_accuracy == pytest.approx(scores["cnn"], abs=1e-3)


def _keras2_config(path: Path) -> dict:
    """The MLP's config the way TensorFlow 2.15's Keras wrote it (batch_input_shape, plain dtypes)."""
    dense = {
        "trainable": True,
        "dtype": "float32",
        "use_bias": True,
        "kernel_initializer": {"class_name": "GlorotUniform", "config": {"seed": None}},
        "bias_initializer": {"class_name": "Zeros", "config": {}},
        "kernel_regularizer": None,
        "bias_regularizer": None,
        "activity_regularizer": None,
        "kernel_constraint": None,
        "bias_constraint": None,
    }
    return {
        "class_name": "Sequential",
        "config": {
            "name": "sequential",
            "layers": [
                {
                    "class_name": "InputLayer",
                    "config": {
                        "batch_input_shape": [None, 28, 28],
                        "dtype": "float32",
                        "sparse": False,
                        "ragged": False,
                        "name": "flatten_input",
                    },
                },
                {
                    "class_name": "Flatten",
                    "config": {
                        "name": "flatten",
                        "trainable": True,
                        "dtype": "float32",
                        "batch_input_shape": [None, 28, 28],
                        "data_format": "channels_last",
                    },
                },
                {
                    "class_name": "Dense",
                    "config": {"name": "dense", "units": 128, "activation": "relu", **dense},
                },
                {
                    "class_name": "Dropout",
                    "config": {
                        "name": "dropout",
                        "trainable": True,
                        "dtype": "float32",
                        "rate": 0.2,
                        "noise_shape": None,
                        "seed": None,
                    },
                },
                {
                    "class_name": "Dense",
                    "config": {"name": "dense_1", "units": 10, "activation": "linear", **dense},
                },
            ],
        },
    }


def _rewrite_h5(source: Path, target: Path, config: dict, version: str = "2.15.0") -> Path:
    shutil.copy(source, target)
    with h5py.File(target, "r+") as f:
        f.attrs["model_config"] = json.dumps(config)
        f.attrs["keras_version"] = version
    return target


def test_an_h5_written_by_tensorflow_2_keras_imports(tutorial, tmp_path):
    out, _ = tutorial
    store = RunStore()
    legacy = _rewrite_h5(out / "mlp.h5", tmp_path / "keras2.h5", _keras2_config(out / "mlp.h5"))
    run = import_model_file(store, legacy).run
    same = import_model_file(store, out / "mlp.h5").run
    assert run.spec["layers"] == same.spec["layers"] and run.test_accuracy == same.test_accuracy


def test_a_model_with_a_layer_nn_lab_cannot_build_is_kept_but_not_editable(tutorial):
    out, _ = tutorial
    done = import_model_file(RunStore(), out / "lstm.h5")
    layers = done.run.spec["layers"]
    assert layers[0] == {"kind": IMPORTED, "class_name": "LSTM", "output_shape": [16], "params": 2880}
    assert done.run.n_params == 3050  # the LSTM's parameters count, though NN Lab cannot build it
    assert not done.conversion.editable and "LSTM" in str(done.conversion.problems[0])
    problems = validate(done.run.spec)
    assert problems and "layer (LSTM) is not one NN Lab can build" in str(problems[0])


def test_declared_shapes_of_imported_layers_are_not_trusted_blindly():
    for declared, params in (([-3], 5), ([10**9], 5), ("16", 5), ([16], -1), ([16], True)):
        spec = {"layers": [{"kind": IMPORTED, "class_name": "X", "output_shape": declared, "params": params}]}
        assert layer_shapes(spec) == [(None, 0)] and count_params(spec) == 0 and validate(spec)


def _lambda_bytes(marker: Path) -> str:
    """Marshalled bytecode, as TensorFlow 2's Keras saved a Lambda: it creates ``marker`` when it runs
    (Keras with safe_mode=False would run it; NN Lab must refuse it before anything runs)."""
    code = eval(f"lambda x: (open({str(marker)!r}, 'w').close(), x)[1]").__code__  # no closure
    return base64.b64encode(marshal.dumps(code)).decode()


def _keras_with(path: Path, target: Path, change) -> Path:
    with zipfile.ZipFile(path) as src, zipfile.ZipFile(target, "w") as dst:
        for item in src.infolist():
            data = src.read(item)
            if item.filename == "config.json":
                config = json.loads(data)
                change(config)
                data = json.dumps(config).encode()
            dst.writestr(item, data)
    return target


def _hostile_files(out: Path, tmp: Path) -> dict[str, tuple[Path, str]]:
    marker = tmp / "code-ran"
    lam = _keras2_config(out / "mlp.h5")
    lam["config"]["layers"].insert(
        3,
        {
            "class_name": "Lambda",
            "config": {
                "name": "lambda",
                "trainable": True,
                "dtype": "float32",
                "function": [_lambda_bytes(marker), None, None],
                "function_type": "lambda",
                "module": "__main__",
                "output_shape": None,
                "output_shape_type": "raw",
                "output_shape_module": None,
                "arguments": {},
            },
        },
    )
    plain = tmp / "plain.keras"
    save_model_atomically(build_model(get_preset("MLP 784-128-10")), plain)

    def tfsm(config):
        config["config"]["layers"][1] = {
            "module": "keras.layers",
            "class_name": "TFSMLayer",
            "config": {"name": "x", "filepath": str(tmp), "call_endpoint": "serve"},
            "registered_name": None,
        }

    def foreign(config):
        config["config"]["layers"][1]["module"] = "os"

    truncated = tmp / "truncated.h5"
    truncated.write_bytes((out / "cnn.h5").read_bytes()[:5000])
    return {
        "keras 2 lambda bytecode": (_rewrite_h5(out / "mlp.h5", tmp / "lambda2.h5", lam), "Lambda layer"),
        "keras 3 lambda": (out / "lambda.h5", "Lambda layer"),
        "savedmodel wrapper": (_keras_with(plain, tmp / "tfsm.keras", tfsm), "TFSMLayer"),
        "module outside keras": (_keras_with(plain, tmp / "os.keras", foreign), "module 'os'"),
        "weights only": (out / "only.weights.h5", "holds only weights"),
        "truncated": (truncated, "HDF5|damaged|truncated"),
        "not json": (_rewrite_h5(out / "mlp.h5", tmp / "nojson.h5", {}, "3"), "Keras"),
        "deep json": (_deep(out / "mlp.h5", tmp / "deep.h5"), "not valid JSON"),
    }


def _deep(source: Path, target: Path) -> Path:
    shutil.copy(source, target)
    with h5py.File(target, "r+") as f:
        f.attrs["model_config"] = "[" * 100_000 + "]" * 100_000
    return target


def test_unsafe_or_damaged_files_are_refused_in_words_and_run_nothing(tutorial, tmp_path):
    import re

    out, _ = tutorial
    store = RunStore()
    for case, (path, words) in _hostile_files(out, tmp_path).items():
        with pytest.raises(ModelLoadError) as info:
            import_model_file(store, path)
        assert re.search(words, str(info.value)), (case, str(info.value))
        assert "Traceback" not in str(info.value)
    assert not (tmp_path / "code-ran").exists()  # the marshalled bytecode never ran
    assert store.list() == []  # a refused file leaves no run behind


def test_imported_runs_open_on_evaluate_inspect_draw_and_in_the_editor(tutorial):
    out, scores = tutorial
    store = RunStore()
    cnn = import_model_file(store, out / "cnn.h5", owner="visitor-a").run
    for page in ("2_Evaluate.py", "3_Inspect.py", "4_Draw.py"):
        at = AppTest.from_file(str(PAGES / page), default_timeout=TIMEOUT)
        at.query_params["visitor"] = "visitor-a"
        at.query_params["run"] = cnn.id
        at.run()
        _no_errors(at)
        if page == "2_Evaluate.py":
            assert {m.label: m.value for m in at.metric}["Test accuracy"] == f"{cnn.test_accuracy:.2%}"
            assert any("layers.Conv2D(32, 3" in c.value for c in at.code)  # its code, to take home
    at = AppTest.from_file(str(PAGES / "1_Build_and_Train.py"), default_timeout=TIMEOUT)
    at.query_params["visitor"] = "visitor-a"
    at.query_params["run"] = cnn.id
    at.run()
    _no_errors(at)
    layers = at.session_state["compose_layers"]
    assert [layer["kind"] for layer in layers] == [layer["kind"] for layer in cnn.spec["layers"]]
    assert at.button(key=f"edit_{cnn.id}")  # "Edit this network / train it again"


def test_a_run_the_editor_cannot_hold_says_so_on_build_and_train(tutorial):
    out, _ = tutorial
    lstm = import_model_file(RunStore(), out / "lstm.h5", owner="visitor-a").run
    at = AppTest.from_file(str(PAGES / "1_Build_and_Train.py"), default_timeout=TIMEOUT)
    at.query_params["visitor"] = "visitor-a"
    at.query_params["run"] = lstm.id
    at.run()
    _no_errors(at)
    assert any("not opened in the editor" in i.value and "LSTM" in i.value for i in at.info)
    assert not [b for b in at.button if b.key == f"edit_{lstm.id}"]
    assert all(layer["kind"] != IMPORTED for layer in at.session_state["compose_layers"])  # the preset stays


def test_an_uploaded_h5_is_kept_with_the_visitors_runs_from_evaluate(tutorial):
    out, _ = tutorial
    at = AppTest.from_file(str(PAGES / "2_Evaluate.py"), default_timeout=TIMEOUT)
    at.query_params["visitor"] = "visitor-b"
    at.run()
    at.radio(key="eval_source").set_value("An uploaded model").run()
    at.file_uploader(key="eval_upload").upload("cnn.h5", (out / "cnn.h5").read_bytes()).run()
    _no_errors(at)
    assert RunStore().list() == []  # evaluating an upload keeps nothing
    at.button(key="import_button").click().run()
    _no_errors(at)
    (run,) = RunStore().list(owner="visitor-b", include_unowned=False)
    assert run.name == "Imported: cnn.h5" and run.status == "completed"
    assert any(run.id in s.value for s in at.success)
    assert not [b for b in at.button if b.key == "import_button"]  # kept once: no second button
    at.button(key="import_evaluate").click().run()
    _no_errors(at)
    assert at.radio(key="eval_source").value == "A trained run"
    assert at.selectbox(key="eval_run").value == run.id
    assert {m.label: m.value for m in at.metric}["Parameters"] == f"{run.n_params:,}"


def test_the_cli_imports_a_file_as_a_run(tutorial, tmp_path):
    out, _ = tutorial
    env = {
        "PYTHONPATH": str(ROOT),
        "TF_CPP_MIN_LOG_LEVEL": "3",
        "NNLAB_HOME": str(tmp_path),
        "PATH": "/usr/bin:/bin",
    }

    def nnlab_import(name: str) -> subprocess.CompletedProcess:
        command = [sys.executable, "-m", "nnlab", "import", str(out / name)]
        return subprocess.run(command, capture_output=True, text=True, env=env, timeout=240)

    done = nnlab_import("lstm.h5")
    assert done.returncode == 0, done.stderr[-2000:]
    assert "imported" in done.stdout and "not editable" in done.stdout and "LSTM" in done.stdout
    refused = nnlab_import("lambda.h5")
    assert refused.returncode == 2 and "Lambda layer" in refused.stderr and "Traceback" not in refused.stderr


def _kinds(conversion) -> list[str]:
    return [layer["kind"] for layer in conversion.spec["layers"]]


def test_keras_models_convert_layer_by_layer_or_say_why_not():
    from nnlab._tf import keras
    from nnlab.importing import convert
    from nnlab.importing.as_run import model_to_keep

    L = keras.layers
    flat = keras.Input((784,))
    x = L.Reshape((28, 28, 1))(flat)
    x = L.Conv2D(4, 3, use_bias=True)(x)
    x = L.Activation("relu")(x)
    x = L.BatchNormalization()(x)  # Keras' momentum 0.99: a note, not a refusal
    x = L.Flatten()(x)
    out = L.Dense(10, bias_regularizer=keras.regularizers.L2(0.1))(x)  # logits, and a bias penalty
    reshaped = keras.Model(flat, out)
    c = convert(reshaped)
    assert c.editable and c.logits and _kinds(c) == ["Conv2D", "BatchNormalization", "Flatten", "Dense"]
    assert c.spec["layers"][0]["activation"] == "relu" and c.spec["layers"][-1]["activation"] == "softmax"
    assert any("momentum 0.9" in n for n in c.notes) and any("bias regularizer" in n for n in c.notes)
    kept = model_to_keep(reshaped, c)  # NN Lab's own model with the file's weights: the same answers
    x_test = ev.to_model_input(kept, ev.mnist_test_set()[0][:32])
    logits = reshaped.predict(x_test.reshape(-1, 784), verbose=0)
    expected = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    np.testing.assert_allclose(kept.predict(x_test, verbose=0), expected, atol=1e-4)

    inp = keras.Input((28, 28, 1))
    a = L.Conv2D(4, 3, padding="same")(inp)
    branched = keras.Model(
        inp, L.Dense(10, activation="softmax")(L.Flatten()(L.Add()([a, L.Conv2D(4, 1)(inp)])))
    )
    assert "not a plain stack" in str(convert(branched).problems[0])
    assert convert(branched).spec["layers"][0]["params"] == branched.count_params()

    odd = keras.Sequential([keras.Input((28, 28, 1)), L.Conv2D(4, (3, 5)), L.Flatten(),
                            L.Dense(10, activation="softmax", use_bias=False)])  # fmt: skip
    problems = [str(p) for p in convert(odd).problems]
    assert "Layer 1" in problems[0] and "not square" in problems[0]
    assert "Layer 3" in problems[1] and "no bias" in problems[1]
