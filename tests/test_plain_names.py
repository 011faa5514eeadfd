"""Run names are plain text everywhere: never Markdown or HTML in the pages, never escape codes in
the operator's terminal. (``tests/browser/test_names_browser.py`` checks the pages in Chromium.)"""

from __future__ import annotations

import html
import os
import subprocess
import sys
import time
from pathlib import Path

from markdown_it import MarkdownIt
from streamlit.testing.v1 import AppTest

from nnlab.architectures import get_preset
from nnlab.figures.training import runs_figure
from nnlab.runs import RunStore
from nnlab.ui.format import markdown_safe, plain_text, terminal_text

ROOT = Path(__file__).resolve().parents[1]
HOSTILE = [
    "![pixel](http://tracker.example/p.png)",
    '<img src="http://tracker.example/i.png">',
    "[click me](javascript:alert(1)) and <https://tracker.example>",
    "**bold** _it_ `code` # heading $x^2$ :red[red] :material/home: | a | b |",
    "\\![escaped](http://tracker.example/e.png) 1. list > quote",
]


def test_plain_text_renders_as_the_name_itself_in_commonmark():
    md = MarkdownIt("commonmark").enable("table")
    for name in HOSTILE:
        rendered = md.render(f"#### {plain_text(name)}")
        assert "<img" not in rendered and "<a " not in rendered and "<strong" not in rendered
        text = html.unescape(rendered.removeprefix("<h4>").removesuffix("</h4>\n"))
        assert text == name  # every character shown, none interpreted


def test_messages_quoting_a_files_layer_names_make_no_link_or_image():
    """An uploaded model's error may quote its layer names: they cannot make the page fetch anything."""
    md = MarkdownIt("commonmark")
    for name in HOSTILE:
        message = f"The model describes 471,000,010 parameters; the largest is layer '{name}' (Dense)."
        rendered = md.render(markdown_safe(message))
        assert "<img" not in rendered and "<a " not in rendered and "<strong" not in rendered
        assert "471,000,010 parameters; the largest is layer '" in rendered  # ordinary text untouched


def test_control_characters_are_written_out_for_the_terminal():
    assert terminal_text("ok\x1b]0;pwned\x07\x1b[2J\u202e!") == "ok\\x1b]0;pwned\\x07\\x1b[2J\\u202e!"
    assert terminal_text("MLP 784-128-10, Nov 29 23:01:02") == "MLP 784-128-10, Nov 29 23:01:02"


def test_nnlab_runs_sends_no_escape_code_to_the_terminal():
    store = RunStore()
    run = store.create(get_preset("MLP 784-128-10"), {"epochs": 1}, name="evil\x1b]0;pwned\x07\x1b[2J")
    store.update(run.id, status="failed", error="Traceback ...\nValueError: \x1b[31mred\x1b[0m")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    for args in (["runs"], ["stop", run.id], ["delete", run.id]):
        out = subprocess.run(
            [sys.executable, "-m", "nnlab", *args], capture_output=True, env=env, timeout=120
        )
        assert out.returncode == 0, out.stderr
        assert b"\x1b" not in out.stdout and b"\x07" not in out.stdout
        assert b"evil\\x1b]0;pwned" in out.stdout or args != ["runs"]


def test_the_live_view_and_the_home_page_show_a_name_as_text():
    store = RunStore()
    name = HOSTILE[0]
    run = store.create(get_preset("MLP 784-128-10"), {"epochs": 4}, name=name, owner="visitor-a")
    progress = {"epoch": 1, "epochs": 4, "batch": 3, "steps_per_epoch": 10, "elapsed": 1.0}
    store.update(run.id, status="running", started=time.time(), progress=progress)
    store.update(run.id, worker={"kind": "local", "pid": os.getpid(), "start": None})
    build = AppTest.from_file(str(ROOT / "pages" / "1_Build_and_Train.py"), default_timeout=120)
    build.query_params["visitor"] = "visitor-a"
    build.run()
    assert not build.exception
    headers = [m.value for m in build.markdown if "pixel" in m.value]
    assert headers == [f"#### {plain_text(name)}"]
    home = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
    home.query_params["visitor"] = "visitor-a"
    home.run()
    (bar,) = home.get("progress")
    assert bar.proto.text.startswith(plain_text(name))


def test_chart_legends_escape_html():
    import pandas as pd

    epochs = pd.DataFrame({"epoch": [1, 2], "loss": [0.5, 0.4], "val_loss": [0.6, 0.5]})
    figure = runs_figure({'<a href="http://tracker.example">x</a>': epochs}, "loss", validation=True)
    assert {trace.name for trace in figure.data} == {
        '&lt;a href="http://tracker.example"&gt;x&lt;/a&gt; (training)',
        '&lt;a href="http://tracker.example"&gt;x&lt;/a&gt; (validation)',
    }


def test_counts_are_said_in_words_not_with_an_s_in_brackets():
    # "1 student(s) joined", "2 setting(s)": said as a person would say them.
    from nnlab.classes.rules import ClassLimits
    from nnlab.words import plural

    assert [plural(n, "student") for n in (0, 1, 2, 1500)] == [
        "0 students", "1 student", "2 students", "1,500 students",
    ]  # fmt: skip
    (one,) = ClassLimits(max_runs=1).problems(n_params=10, epochs=1, used=1)
    assert "may start 1 training in this class" in one.message
    (two,) = ClassLimits(max_runs=2).problems(n_params=10, epochs=1, used=2)
    assert "may start 2 trainings in this class" in two.message


def test_how_sure_is_never_rounded_up_to_certain():
    # Draw said "100% sure" where Inspect said 99.8% for the same drawing.
    from nnlab.ui.format import percent_sure

    cases = {0.0: "0%", 0.87: "87%", 0.994: "99%", 0.998: "99.8%", 0.99996: "99.9%", 1.0: "100%"}
    assert {p: percent_sure(p) for p in cases} == cases
