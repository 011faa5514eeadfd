"""The Draw page (Streamlit's AppTest, no browser).

A drawing is injected the way the canvas component delivers it: its widget state holds the canvas
as a PNG data URL. The networks are small Keras models with chosen weights (a strong bias makes a
sure or an unsure network), stored as finished runs, so the page's answer is known in advance.
"""

from __future__ import annotations

import ast
import base64
import io
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw
from streamlit.testing.v1 import AppTest

from nnlab.architectures import get_preset
from nnlab.canvas import canvas_to_mnist
from nnlab.modelio import save_model_atomically
from nnlab.predict import predict_digit
from nnlab.runs import RunStore
from nnlab.training import TrainConfig
from nnlab.ui.format import percent_sure

ROOT = Path(__file__).resolve().parents[1]
DRAW = str(ROOT / "pages" / "4_Draw.py")
TIMEOUT = 120
CANVAS = "draw_canvas_0"


@pytest.fixture(autouse=True)
def _operator_runs_shown(monkeypatch):
    """The runs here are stored the way ``nnlab train`` leaves them (no owner): the operator's runs,
    which visitors see only where the operator shows them as examples (ui/access.py)."""
    monkeypatch.setenv("NNLAB_SHOW_OPERATOR_RUNS", "1")


def _model(bias: dict[int, float], seed: int = 0):
    """A logistic-regression network whose answer is set by its biases (small random weights)."""
    from nnlab._tf import keras

    model = keras.Sequential(
        [keras.Input((28, 28, 1)), keras.layers.Flatten(), keras.layers.Dense(10, activation="softmax")]
    )
    kernel = np.random.default_rng(seed).normal(0, 0.02, (784, 10)).astype(np.float32)
    b = np.zeros(10, np.float32)
    for digit, value in bias.items():
        b[digit] = value
    model.layers[-1].set_weights([kernel, b])
    return model


def _store_run(model, name: str, accuracy: float) -> str:
    """A finished run holding ``model``, as the training worker leaves it."""
    store = RunStore()
    run = store.create(get_preset("Logistic regression 784-10"), TrainConfig().to_dict(), name=name)
    save_model_atomically(model, store.model_path(run.id))
    now = time.time()
    store.update(
        run.id, status="completed", started=now - 5, finished=now, test_loss=0.5, test_accuracy=accuracy
    )
    return run.id


def _canvas(strokes: bool = True) -> np.ndarray:
    """A 280 x 280 RGBA canvas as streamlit-drawable-canvas returns it: a '7' in white, or nothing."""
    img = Image.new("RGBA", (280, 280), (0, 0, 0, 255))
    if strokes:
        ImageDraw.Draw(img).line(
            [(90, 60), (200, 60), (130, 230)], fill=(255, 255, 255, 255), width=18, joint="curve"
        )
    return np.asarray(img)


def _draw(at: AppTest, canvas: np.ndarray, key: str = CANVAS) -> None:
    """Put a drawing into the canvas's widget state, as the browser component sends it."""
    buffer = io.BytesIO()
    Image.fromarray(canvas).save(buffer, format="PNG")
    url = "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")
    at.session_state[key] = {
        "drawing": {"raw": {"objects": [{"type": "path"}], "background": "#000000"}, "data": url},
        "backgroundFit": None,
    }


def _no_errors(at: AppTest) -> None:
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]


def _reading(at: AppTest) -> tuple[str, str]:
    (metric,) = [m for m in at.metric if m.label == "The network reads"]
    return metric.value, metric.delta


def test_without_runs_the_page_points_to_training():
    at = AppTest.from_file(DRAW, default_timeout=TIMEOUT).run()
    _no_errors(at)
    assert any("no trained network yet" in i.value.lower() for i in at.info)
    assert any("Build & Train" in m.value for m in at.markdown)  # the link (plain outside the full app)
    assert not at.metric


def test_a_drawing_is_read_and_shown(tmp_path):
    sure = _model({3: 9.0})
    run_id = _store_run(sure, "sure network", 0.9)
    at = AppTest.from_file(DRAW, default_timeout=TIMEOUT).run()
    _no_errors(at)
    assert at.selectbox(key="draw_run").value == run_id
    assert any("Draw a digit on the canvas" in i.value for i in at.info)  # before the first stroke
    assert "nnlab_last_drawing" not in at.session_state

    canvas = _canvas()
    _draw(at, canvas)
    at.run()
    _no_errors(at)
    expected_img = canvas_to_mnist(canvas)
    expected = predict_digit(sure, expected_img)
    assert expected.max() > 0.995  # a sure network: read to a tenth, not rounded up to 100%
    assert _reading(at) == (str(int(np.argmax(expected))), f"{percent_sure(expected.max())} sure")
    assert _reading(at)[1].startswith("99.")
    assert _reading(at)[0] == "3"
    assert not at.warning  # a sure network: no warning
    # What the network sees is stored for the Inspect page, exactly the image it was given.
    np.testing.assert_allclose(at.session_state["nnlab_last_drawing"], expected_img)
    assert at.session_state["nnlab_selected_run"] == run_id
    # Two charts: the 28 x 28 image and the ten probabilities.
    charts = [c for c in at.get("plotly_chart")]
    assert len(charts) == 2
    assert any("Inspect" in m.value for m in at.markdown)


def test_an_unsure_network_gets_a_gentle_warning():
    _store_run(_model({5: 3.0, 6: 2.8}), "torn network", 0.5)
    at = AppTest.from_file(DRAW, default_timeout=TIMEOUT)
    _draw(at, _canvas())
    at.run()
    _no_errors(at)
    digit, _ = _reading(at)
    assert digit in ("5", "6")
    (warning,) = at.warning
    assert "not sure" in warning.value and "hesitates between 5" in warning.value and "and 6" in warning.value


def test_a_low_top_probability_gets_a_warning_too():
    _store_run(_model({2: 2.0}), "timid network", 0.6)  # e^2 / (e^2 + 9): about 45 % for the 2
    at = AppTest.from_file(DRAW, default_timeout=TIMEOUT)
    _draw(at, _canvas())
    at.run()
    _no_errors(at)
    assert _reading(at)[0] == "2"
    (warning,) = at.warning
    assert "best guess, 2, gets only" in warning.value


def test_empty_canvas_after_reset_asks_to_draw_and_clear_gives_a_new_canvas():
    _store_run(_model({3: 9.0}), "sure network", 0.9)
    at = AppTest.from_file(DRAW, default_timeout=TIMEOUT)
    _draw(at, _canvas())
    at.run()
    _no_errors(at)
    drawn = np.array(at.session_state["nnlab_last_drawing"])
    _draw(at, _canvas(strokes=False))  # the toolbar's reset sends an all-black canvas
    at.run()
    _no_errors(at)
    assert any("No digit found yet" in i.value for i in at.info)
    assert not at.metric
    np.testing.assert_array_equal(
        at.session_state["nnlab_last_drawing"], drawn
    )  # the last real drawing is kept

    _draw(at, _canvas())
    at.run()
    assert at.metric
    at.button(key="draw_clear").click().run()
    _no_errors(at)
    assert at.session_state["draw_canvas_n"] == 1
    assert not at.metric
    assert any("Draw a digit on the canvas" in i.value for i in at.info)


def test_the_best_run_is_chosen_and_a_link_can_name_another():
    weak = _store_run(_model({1: 9.0}), "weak network", 0.40)
    best = _store_run(_model({3: 9.0}), "best network", 0.95)
    newest = _store_run(_model({7: 9.0}), "newest network", 0.70)
    at = AppTest.from_file(DRAW, default_timeout=TIMEOUT)
    _draw(at, _canvas())
    at.run()
    _no_errors(at)
    assert at.selectbox(key="draw_run").value == best
    options = " | ".join(at.selectbox(key="draw_run").options)
    assert (
        "weak network (✅ completed · 40.0%, " in options
        and "best network (✅ completed · 95.0%, " in options
    )
    assert _reading(at)[0] == "3"
    at.selectbox(key="draw_run").set_value(weak).run()
    _no_errors(at)
    assert _reading(at)[0] == "1"  # the drawing is read again by the chosen network

    linked = AppTest.from_file(DRAW, default_timeout=TIMEOUT)
    linked.query_params["run"] = newest
    _draw(linked, _canvas())
    linked.run()
    _no_errors(linked)
    assert linked.selectbox(key="draw_run").value == newest
    assert _reading(linked)[0] == "7"


def test_saliency_overlay():
    _store_run(_model({3: 4.0}), "network", 0.9)
    at = AppTest.from_file(DRAW, default_timeout=TIMEOUT)
    _draw(at, _canvas())
    at.run()
    at.toggle(key="draw_saliency").set_value(True).run()
    _no_errors(at)
    assert len(list(at.get("plotly_chart"))) == 3
    assert any("Bright pixels" in c.value for c in at.caption)


def test_a_damaged_model_file_gives_a_message_not_a_traceback():
    run_id = _store_run(_model({3: 9.0}), "broken", 0.9)
    RunStore().model_path(run_id).write_bytes(b"not a keras file")
    at = AppTest.from_file(DRAW, default_timeout=TIMEOUT).run()
    assert not at.exception
    assert any("cannot be used" in e.value for e in at.error)


def test_an_uploaded_photo_is_read_and_a_bad_file_explained():
    _store_run(_model({3: 9.0}), "network", 0.9)
    at = AppTest.from_file(DRAW, default_timeout=TIMEOUT).run()
    at.radio(key="draw_source").set_value("Upload a picture").run()
    _no_errors(at)
    assert not at.metric
    # A photo: dark ink on grey paper -> inverted, then read like a drawing.
    paper = np.full((300, 400), 200, np.uint8)
    photo = Image.fromarray(paper)
    ImageDraw.Draw(photo).line([(150, 50), (260, 50), (190, 250)], fill=40, width=16)
    buffer = io.BytesIO()
    photo.convert("RGB").save(buffer, format="JPEG", quality=90)
    at.file_uploader(key="draw_upload").set_value(("seven.jpg", buffer.getvalue(), "image/jpeg"))
    at.run()
    _no_errors(at)
    assert _reading(at)[0] == "3"
    seen = np.asarray(at.session_state["nnlab_last_drawing"])
    assert seen.shape == (28, 28) and seen.max() > 0.9 and seen[0].max() == 0  # white digit on black
    # Not an image: a plain message, no traceback.
    at.file_uploader(key="draw_upload").set_value(("notes.png", b"these are my notes", "image/png"))
    at.run()
    assert not at.exception
    assert any("not an image" in e.value for e in at.error)
    assert not at.metric
    # A strip of pixels (a hostile visitor's upload): refused in words; showing it raised in st.image.
    strip = io.BytesIO()
    Image.new("L", (1000, 1), 0).save(strip, format="PNG")
    at.file_uploader(key="draw_upload").set_value(("strip.png", strip.getvalue(), "image/png"))
    at.run()
    assert not at.exception
    assert any("strip" in e.value for e in at.error)


def test_page_does_not_import_tensorflow_at_the_top():
    """TensorFlow takes seconds to import: the page must only pull it in when a model is loaded."""
    tree = ast.parse(Path(DRAW).read_text())
    modules = []
    for node in tree.body:
        if isinstance(node, ast.Import):
            modules += [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            modules.append(node.module)
    assert not any(m.split(".")[0] in ("tensorflow", "keras") for m in modules)
    ours = [m for m in modules if m.startswith("nnlab")]
    code = (
        f"import sys; import {', '.join(ours)}; print('tensorflow' in sys.modules or 'keras' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "False"


def test_the_saliency_toggle_keeps_its_state_across_clearing_the_canvas():
    """On, then Clear the canvas, then a new drawing: the toggle still reads on and the overlay is shown."""
    _store_run(_model({3: 4.0}), "network", 0.9)
    at = AppTest.from_file(DRAW, default_timeout=TIMEOUT)
    _draw(at, _canvas())
    at.run()
    at.toggle(key="draw_saliency").set_value(True).run()
    at.button(key="draw_clear").click().run()
    _no_errors(at)
    toggle = at.toggle(key="draw_saliency")
    assert toggle.value is True and toggle.disabled  # still there (nothing to explain yet), still on
    _draw(at, _canvas(), key="draw_canvas_1")
    at.run()
    _no_errors(at)
    assert at.toggle(key="draw_saliency").value is True
    assert len(list(at.get("plotly_chart"))) == 3  # the overlay is shown, as the toggle says
    at.toggle(key="draw_saliency").set_value(False).run()
    assert at.toggle(key="draw_saliency").value is False
    assert len(list(at.get("plotly_chart"))) == 2


def test_the_link_to_inspect_asks_for_the_drawing():
    run_id = _store_run(_model({3: 9.0}), "network", 0.9)
    at = AppTest.from_file(DRAW, default_timeout=TIMEOUT)
    _draw(at, _canvas())
    at.run()
    _no_errors(at)
    step, fooling = [m.value for m in at.markdown if "Inspect" in m.value]
    for linked, view in ((step, "step"), (fooling, "fooling")):
        assert "image=drawing" in linked and f"run={run_id}" in linked and f"view={view}" in linked
