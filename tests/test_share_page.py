"""Build & Train and shared starting points (AppTest): a link loads a network and its settings into the
editor of whoever opens it, touching none of their runs; a malformed or hostile link changes nothing."""

from __future__ import annotations

import base64
import json
import time
import zlib
from urllib.parse import parse_qs, urlsplit

import pytest
from streamlit.testing.v1 import AppTest
from test_train_page import _page  # the Build & Train page for a visitor, with query parameters

from nnlab.architectures import get_preset, normalize
from nnlab.export import export_script
from nnlab.runs import RunStore
from nnlab.sharing import decode, encode
from nnlab.training import TrainConfig

START = {
    "name": "Class start: small CNN",
    "layers": [
        {"kind": "Conv2D", "filters": 16, "kernel_size": 5, "padding": "same"},
        {"kind": "MaxPooling2D", "pool_size": 2},
        {"kind": "Flatten"},
        {"kind": "Dense", "units": 48, "activation": "tanh", "l2": 0.001},
        {"kind": "Dense", "units": 10, "activation": "softmax"},
    ],
}
SETTINGS = TrainConfig(
    optimizer="sgd", learning_rate=3e-3, momentum=0.8, batch_size=64, epochs=3, validation_fraction=0.2,
    subset=2000, seed=7, schedule="cosine", augment=True,
)  # fmt: skip


def _layers(at: AppTest) -> list[dict]:
    return normalize(
        {
            "layers": [
                {k: v for k, v in layer.items() if k != "uid"} for layer in at.session_state["compose_layers"]
            ]
        }
    )["layers"]


def _link_code(at: AppTest) -> str:
    (link,) = [c.value for c in at.code if "start=" in c.value]
    return parse_qs(urlsplit(link).query)["start"][0]


def test_a_link_loads_its_network_and_settings_into_the_editor_and_touches_no_run():
    store = RunStore()
    mine = store.create(
        get_preset("MLP 784-128-10"), TrainConfig().to_dict(), name="my run", owner="visitor-a"
    )
    store.update(
        mine.id, status="completed", started=time.time() - 5, finished=time.time(), test_accuracy=0.9
    )
    before = [r.to_dict() for r in store.list()]

    at = _page(start=encode(START, SETTINGS))
    assert not at.exception and not at.error, [e.value for e in at.error]
    assert any("`Class start: small CNN`" in s.value and "untouched" in s.value for s in at.success)
    assert _layers(at) == normalize(START)["layers"]
    assert at.text_input(key="compose_name").value == START["name"]
    assert at.select_slider(key="hp_batch").value == 64 and at.select_slider(key="hp_lr").value == 3e-3
    assert at.number_input(key="hp_epochs").value == 3 and at.number_input(key="hp_subset").value == 2000
    assert (
        at.selectbox(key="hp_optimizer").value == "sgd" and at.selectbox(key="hp_schedule").value == "cosine"
    )
    assert at.toggle(key="hp_augment").value is True and at.number_input(key="hp_seed").value == 7
    assert [r.to_dict() for r in RunStore().list()] == before  # no run created, stopped or changed

    again = decode(_link_code(at))  # the page's own share link carries exactly what the editor holds
    assert again.spec["layers"] == normalize(START)["layers"] and again.config == SETTINGS
    assert (
        "visitor" not in _link_code(at)
        and "visitor=" not in [c.value for c in at.code if "start=" in c.value][0]
    )


def test_the_link_is_read_once_so_later_edits_are_kept():
    at = _page(start=encode(START, SETTINGS))
    at.selectbox(key="compose_preset").set_value("Logistic regression 784-10").run()
    assert [layer["kind"] for layer in _layers(at)] == ["Flatten", "Dense"]
    at.run()  # a rerun does not load the link over the edits
    assert [layer["kind"] for layer in _layers(at)] == ["Flatten", "Dense"]
    # and the link has left the address: a reload (a new session at that address) keeps the edits too
    assert "start" not in at.query_params
    # Opening the link again (the class's "Open the class's network", clicked once more) loads it again.
    at.query_params["start"] = encode(START, SETTINGS)
    at.run()
    assert [layer["kind"] for layer in _layers(at)] != ["Flatten", "Dense"]
    assert "start" not in at.query_params


@pytest.mark.parametrize(
    "code, words",
    [
        ("garbage", "damaged"),
        ("1" + "A" * 5000, "too long"),
        (encode(START, SETTINGS)[:-12], "damaged"),
        ("1" + base64.urlsafe_b64encode(zlib.compress(b'{"name": "no layers"}')).decode(), "list of at most"),
    ],
)
def test_a_malformed_or_hostile_link_changes_nothing(code, words):
    at = _page()
    at.selectbox(key="compose_preset").set_value("CNN with dropout (Keras tutorial)").run()
    at.select_slider(key="hp_batch").set_value(32).run()
    layers = _layers(at)
    at.query_params["start"] = code
    at.run()
    assert not at.exception
    (error,) = [e.value for e in at.error]
    assert "nothing was changed" in error and words in error
    assert _layers(at) == layers and at.select_slider(key="hp_batch").value == 32
    assert RunStore().list() == []


def test_markdown_in_a_linked_name_is_shown_as_text():
    spec = {**START, "name": "![pixel](http://tracker.invalid/p.png) **loud**"}
    at = _page(start=encode(spec, SETTINGS))
    (message,) = [s.value for s in at.success]
    assert "`![pixel](http://tracker.invalid/p.png) **loud**`" in message  # inside code: never rendered


def test_build_and_train_shows_the_editors_network_as_code():
    at = _page()
    spec = {"name": at.text_input(key="compose_name").value, "layers": _layers(at)}
    config = TrainConfig(epochs=1, subset=6000)  # the quick run the form starts with
    scripts = [c.value for c in at.code if c.language == "python"]
    assert scripts == [export_script(spec, config, source="NN Lab's editor").text.rstrip("\n")]
    labels = [b.label for b in at.get("download_button")]
    assert any(".py" in label for label in labels) and any(".ipynb" in label for label in labels)


def test_a_hostile_links_text_is_never_rendered_as_markdown():
    payload = {"layers": [{"kind": "![pixel](http://tracker.invalid/p.png)"}]}
    code = "1" + base64.urlsafe_b64encode(zlib.compress(json.dumps(payload).encode())).decode()
    at = _page(start=code)
    (error,) = [e.value for e in at.error]
    assert "unknown layer kind" in error and "](http" not in error and "\\!\\[pixel\\]" in error


def test_settings_the_form_cannot_show_are_named():
    at = _page(start=encode(START, TrainConfig(learning_rate=0.0042, batch_size=100)))
    (warning,) = [w.value for w in at.warning]
    assert "learning rate 0\\.0042" in warning and "batch size 100" in warning
    assert _layers(at) == normalize(START)["layers"]  # the network itself is loaded
