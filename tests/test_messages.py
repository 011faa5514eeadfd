"""Messages that say what really happened: a vocabulary file is not a Lambda layer, running out of
memory is not a weights mismatch, phone photos (MPO) are JPEGs, sizes never read "50.0 MB; at most
50.0 MB", broken (NaN) outputs are pointed out, and an upload error is not followed by "draw a digit"."""

from __future__ import annotations

import io
import re
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw
from streamlit.testing.v1 import AppTest

from nnlab import evaluation as ev
from nnlab.canvas import canvas_to_mnist, load_image_bytes
from nnlab.modelio import MAX_BYTES, ModelLoadError, _explain, check_model_file
from nnlab.runs import RunStore

ROOT = Path(__file__).resolve().parents[1]
KERAS_VOCABULARY_ERROR = (  # what Keras 3 raises in safe mode for StringLookup(vocabulary="/etc/passwd")
    "Requested the loading of a vocabulary file outside of the model archive. This carries a potential "
    "risk of loading arbitrary and sensitive files and thus it is disallowed by default. If you trust "
    "the source of the artifact, you can override this error by passing `safe_mode=False` to the "
    "loading function, or calling `keras.config.enable_unsafe_deserialization(). Vocabulary file: "
    "'/etc/passwd'"
)
TF_OOM = (  # what building the 600,000-unit layer raised under a memory limit
    "{{function_node __wrapped__StatelessRandomUniformV2_device_/job:localhost/replica:0/task:0/device:"
    "CPU:0}} OOM when allocating tensor with shape[784,600000] and type float on /job:localhost"
)


@pytest.fixture(scope="module")
def keras():
    from nnlab._tf import keras

    return keras


def _logistic(keras, broken: bool = False):
    model = keras.Sequential(
        [keras.Input((28, 28, 1)), keras.layers.Flatten(), keras.layers.Dense(10, activation="softmax")]
    )
    if broken:  # a training that diverged leaves NaN weights
        kernel, bias = model.layers[-1].get_weights()
        model.layers[-1].set_weights([np.full_like(kernel, np.nan), bias])
    return model


def test_a_vocabulary_file_is_not_called_a_lambda_layer(keras, tmp_path):
    message = _explain(ValueError(KERAS_VOCABULARY_ERROR))
    assert "vocabulary file" in message and "Lambda" not in message
    inputs = keras.Input((28, 28, 1), dtype="string")  # an image model with a StringLookup inside
    lookup = keras.layers.StringLookup(vocabulary=["a", "b"])(keras.layers.Flatten()(inputs))
    model = keras.Model(inputs, keras.layers.Dense(10)(keras.layers.CategoryEncoding(3)(lookup)))
    model.save(tmp_path / "lookup.keras")
    with pytest.raises(ModelLoadError, match="StringLookup layer, which NN Lab does not accept") as info:
        check_model_file(tmp_path / "lookup.keras")
    assert "Lambda" not in str(info.value)


def test_running_out_of_memory_is_not_called_a_weights_mismatch():
    for exc in (MemoryError(), ValueError(TF_OOM), RuntimeError("std::bad_alloc")):
        message = _explain(exc)
        assert "more memory than NN Lab allows" in message and "weights do not match" not in message


def test_phone_photos_in_mpo_format_are_read_like_jpegs():
    photo = Image.new("RGB", (1200, 900), (215, 215, 210))
    ImageDraw.Draw(photo).line([(400, 200), (800, 200), (550, 750)], fill=(30, 30, 30), width=60)
    buffer = io.BytesIO()
    photo.save(buffer, "MPO", save_all=True, append_images=[photo.rotate(3)])  # two pictures, as phones do
    assert Image.open(io.BytesIO(buffer.getvalue())).format == "MPO"
    digit = canvas_to_mnist(load_image_bytes(buffer.getvalue()))
    assert digit is not None and digit.shape == (28, 28) and digit.max() > 0.9


@pytest.mark.parametrize("extra", [1, 999, 49_999, 50_001, 1_000_000])
def test_a_size_over_the_limit_never_reads_the_same_as_the_limit(extra):
    with pytest.raises(ModelLoadError) as info:
        ev.load_uploaded_model(b"PK" + b"x" * (MAX_BYTES + extra - 2))
    shown, allowed = re.search(r"too large \((.+); at most (.+)\)", str(info.value)).groups()
    assert shown != allowed, str(info.value)
    assert allowed in ("50.0 MB", "50.00 MB", "50,000,000 bytes")  # decimal MB, as the upload widget counts
    from nnlab.ui import upload

    assert upload.MAX_BYTES // 1_000_000 == 50 == MAX_BYTES / 1e6


def _store_run(model, owner: str = "visitor-a") -> str:
    from nnlab.architectures import get_preset
    from nnlab.modelio import save_model_atomically

    store = RunStore()
    run = store.create(get_preset("Logistic regression 784-10"), {"epochs": 1}, name="run", owner=owner)
    save_model_atomically(model, store.model_path(run.id))
    store.update(run.id, status="completed", started=time.time() - 5, finished=time.time(), test_accuracy=0.9)
    return run.id


def _page(name: str) -> AppTest:
    at = AppTest.from_file(str(ROOT / "pages" / name), default_timeout=180)
    at.query_params["visitor"] = "visitor-a"
    return at


def test_a_model_whose_outputs_are_nan_gets_a_warning_everywhere(keras, tmp_path):
    broken = _logistic(keras, broken=True)
    broken.save(tmp_path / "nan.keras")
    evaluate = _page("2_Evaluate.py").run()
    evaluate.radio(key="eval_source").set_value("An uploaded model").run()
    evaluate.file_uploader(key="eval_upload").upload("nan.keras", (tmp_path / "nan.keras").read_bytes()).run()
    assert not evaluate.exception and not evaluate.metric  # no meaningless accuracy...
    (warning,) = [w.value for w in evaluate.warning]  # ...but the reason
    assert "not numbers (NaN or infinite) for 10,000 of the 10,000 test images" in warning
    _store_run(broken)
    inspect = _page("3_Inspect.py").run()
    assert not inspect.exception
    assert any("outputs are not numbers" in w.value for w in inspect.warning)
    draw = _page("4_Draw.py").run()
    assert not draw.exception  # (Draw reads a drawing: tests/test_draw_page.py draws on it)
    from nnlab.predict import predict_digit

    with pytest.raises(ValueError, match="outputs are not numbers"):
        predict_digit(broken, np.zeros((28, 28), np.float32))


def test_after_an_upload_error_the_draw_page_does_not_ask_to_draw(keras):
    _store_run(_logistic(keras))
    at = _page("4_Draw.py").run()
    at.radio(key="draw_source").set_value("Upload a picture").run()
    assert any("Upload a picture of one digit" in i.value for i in at.info)
    at.file_uploader(key="draw_upload").set_value(("notes.png", b"these are my notes", "image/png")).run()
    assert not at.exception
    assert any("not an image" in e.value for e in at.error)
    assert not any("draw" in i.value.lower() for i in at.info)
