"""The home page lists this visitor's runs, newest first, with status, accuracy and errors in words."""

from __future__ import annotations

import io
import re
from pathlib import Path

import numpy as np
from PIL import Image
from streamlit.testing.v1 import AppTest

from nnlab import architectures
from nnlab.runs import RunStore, process_handle
from nnlab.training import TrainConfig

APP = Path(__file__).resolve().parents[1] / "app.py"


def _home() -> AppTest:
    at = AppTest.from_file(str(APP), default_timeout=60)
    at.query_params["visitor"] = "visitor_a"
    return at.run()


def test_home_renders_on_an_empty_store():
    at = _home()
    assert not at.exception
    assert "NN Lab" in at.title[0].value
    assert any("No runs yet" in i.value for i in at.info)


def _glance_svg(at: AppTest) -> str:
    """The SVG of the home page's Markdown picture (``![words](data:image/svg+xml;base64,...)``)."""
    import base64

    image = re.compile(r"!\[[^\]]*\]\(data:image/svg\+xml;base64,([A-Za-z0-9+/=]+)\)")
    found = [image.search(m.value) for m in at.markdown]
    [picture] = [match.group(1) for match in found if match]
    return base64.b64decode(picture).decode()


def test_home_shows_the_data_at_a_glance():
    """One picture (no chart to load): the first training image of each digit, over a bar per digit
    with its count."""
    import base64

    from nnlab import data

    at = _home()
    (x_train, y_train), _ = data.load_mnist()
    assert not at.get("plotly_chart")
    assert any("first training image of each digit" in c.value for c in at.caption)
    svg = _glance_svg(at)
    pictures = re.findall(r'<image href="data:image/png;base64,([^"]+)"', svg)
    assert len(pictures) == 10
    for digit, (picture, count) in enumerate(zip(pictures, data.class_counts(y_train), strict=True)):
        shown = np.asarray(Image.open(io.BytesIO(base64.b64decode(picture))).convert("L"))
        np.testing.assert_array_equal(shown, x_train[int((y_train == digit).argmax())])  # that digit's
        assert f">{count:,}</text>" in svg and f">{digit}</text>" in svg


def test_a_new_visitors_home_page_without_runs_is_drawn_by_streamlits_first_scripts():
    """Text, a Markdown picture, captions and a message only: Streamlit fetches the code that draws an
    image, a page link, a table or HTML when the first one arrives, and the page is shown only once
    it is there (0.1 s more for each kind in a new browser, issue 13). It names every page, with what
    a learner does there; the sidebar's navigation links them."""
    from nnlab.ui.links import PAGES

    at = _home()
    assert not at.exception

    def kinds(node) -> set[str]:
        children = getattr(node, "children", {}).values()
        return {type(node).__name__}.union(*(kinds(child) for child in children))

    drawn = (kinds(at.main) | kinds(at.sidebar)) - {"SpecialBlock", "Block", "Column"}  # AppTest's nodes
    assert drawn == {"Title", "Subheader", "Markdown", "Caption", "Info"}, drawn
    assert not any(m.proto.allow_html for m in at.markdown)
    words = "\n".join(m.value for m in at.markdown)
    for page in PAGES:
        assert f"{page.icon} **{page.title}**: {page.blurb}" in words


def test_home_lists_runs_newest_first_with_failures_in_words():
    store = RunStore()
    spec = architectures.get_preset("MLP 784-128-10")
    config = TrainConfig(epochs=1, subset=500).to_dict()
    done = store.create(spec, config, name="first", owner="visitor_a")
    store.update(
        done.id, status="completed", test_accuracy=0.9512, started=done.created, finished=done.created + 12
    )
    broken = store.create(spec, config, name="second", owner="visitor_a")
    store.update(broken.id, status="failed", error="The training ran out of memory.")
    # Another visitor's run, training (its worker being this process): listed to its owner only. Not
    # queued: the page would start a real worker for it.
    other = store.create(spec, config, name="someone else's", owner="visitor_b")
    store.update(other.id, status="running", started=done.created, worker=process_handle())
    at = _home()
    assert not at.exception
    table = at.dataframe[0].value
    assert list(table["name"]) == ["second", "first"]
    assert table["status"].iloc[0] == "failed: The training ran out of memory."
    assert table["test accuracy"].iloc[1] == 95.12
    assert table["parameters"].iloc[1] == 101770


def test_a_damaged_run_database_is_explained_not_a_traceback(_isolated_home):
    (_isolated_home / "runs.sqlite").write_bytes(b"this is not a database" * 100)
    at = _home()
    assert not at.exception
    assert "is damaged" in at.error[0].value and "nnlab repair" in at.error[0].value
    assert "move it away" not in at.error[0].value  # that advice would hide every run


def test_an_unreachable_postgresql_is_explained_not_a_traceback(monkeypatch):
    from servers import free_port

    monkeypatch.setenv("NNLAB_DATABASE_URL", f"postgresql://nnlab:s3cret@127.0.0.1:{free_port()}/nnlab")
    at = _home()
    assert not at.exception
    message = at.error[0].value
    assert "cannot be reached" in message and "NNLAB_DATABASE_URL" in message and "s3cret" not in message


def test_the_home_page_imports_no_heavy_library_it_does_not_need(_isolated_home):
    """A new visitor's first page on a fresh server: neither TensorFlow nor pandas, nbformat or Altair
    is imported for it (each costs a second or more on the first open)."""
    import subprocess
    import sys

    heavy = ["tensorflow", "keras", "pandas", "nbformat", "altair"]
    program = (
        "import sys\n"
        "from streamlit.testing.v1 import AppTest\n"
        f"at = AppTest.from_file({str(APP)!r}, default_timeout=60)\n"
        "at.query_params['visitor'] = 'visitor_a'\n"
        "at.run()\n"
        "assert not at.exception, at.exception\n"
        "assert any('No runs yet' in i.value for i in at.info)\n"
        f"print(sorted(m for m in {heavy!r} if m in sys.modules))\n"
    )
    done = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip().splitlines()[-1] == "[]"
