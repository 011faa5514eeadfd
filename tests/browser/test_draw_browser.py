"""Draw in a real browser: a stroke on the real canvas reaches the trained network, which shows the
digit it reads with its probabilities; with no trained network the page points to Build & Train."""

from __future__ import annotations

import itertools
import re

import pytest
from conftest import by_key, wait_idle
from playwright.sync_api import expect

pytestmark = pytest.mark.browser

PAGE = "Draw"
LOAD_MS = 90_000  # first load of a page: the server imports TensorFlow and loads the model (busy machine)
PREDICT_MS = 60_000  # a stroke -> Python -> prediction on a busy 2-core machine

# The probabilities chart's bars as drawn ({digit: height}), from Plotly's computed data on the
# chart element (the newest chart; the figure's arrays arrive binary-encoded, calcdata is decoded).
PROBABILITIES = """() => {
    const plots = [...document.querySelectorAll('.st-key-draw_probs .js-plotly-plot')];
    const plot = plots[plots.length - 1];
    if (!plot || !plot.calcdata || !plot.calcdata.length) return null;
    const axis = plot._fullLayout.xaxis;
    return Object.fromEntries(plot.calcdata[0].map(
        bar => [String(axis._categories ? axis._categories[bar.p] : bar.p), bar.s]));
}"""


SEVEN = [(0.28, 0.22), (0.72, 0.22), (0.62, 0.45), (0.50, 0.80)]  # a top bar, a slanted downstroke


def _draw_seven(page, canvas) -> None:
    """A big '7' in the middle of the canvas: a top bar, then a slanted downstroke (one stroke)."""
    box = canvas.bounding_box()
    assert box and box["width"] > 100 and box["height"] > 100, box
    x0, y0, w, h = box["x"], box["y"], box["width"], box["height"]
    page.mouse.move(x0 + SEVEN[0][0] * w, y0 + SEVEN[0][1] * h)
    page.mouse.down()
    for fx, fy in SEVEN[1:]:
        page.mouse.move(x0 + fx * w, y0 + fy * h, steps=12)
    page.mouse.up()


def _stroke(page, draw=None) -> None:
    """Draw the '7' on the current canvas (with ``draw``, the mouse by default) until the canvas takes it
    (its Undo button comes on).

    Under load a freshly mounted canvas can show before its drawing handlers are ready, and a
    stroke drawn in that moment is lost (as it would be for a person, who simply draws again).
    """
    for attempt in range(3):
        canvas = page.locator("canvas.upper-canvas")
        expect(canvas).to_be_visible(timeout=LOAD_MS)
        (draw or _draw_seven)(page, canvas)
        try:
            expect(page.get_by_role("button", name="Undo")).to_be_enabled(timeout=10_000)
            return
        except AssertionError:
            if attempt == 2:
                raise


def _read_digit(page) -> str:
    metric = page.locator('[data-testid="stMetric"]').filter(has_text="The network reads")
    expect(metric).to_be_visible(timeout=PREDICT_MS)
    value = metric.locator('[data-testid="stMetricValue"]').inner_text().strip()
    assert re.fullmatch(r"[0-9]", value), value
    return value


def test_stroke_on_canvas_gets_a_prediction(open_app, app_server, trained_cnn):
    run, visitor = trained_cnn
    page = open_app(PAGE, visitor=visitor)
    expect(page.get_by_role("heading", name="Draw a digit")).to_be_visible()
    # The seeded run is the network chosen (the only one this visitor has).
    expect(by_key(page, "draw_run").get_by_role("combobox")).to_have_value(
        re.compile("browser test network"), timeout=LOAD_MS
    )
    expect(page.locator("canvas.upper-canvas")).to_be_visible(timeout=LOAD_MS)
    expect(page.get_by_role("button", name="Undo")).to_be_disabled()  # nothing drawn yet
    expect(page.get_by_text("Draw a digit on the canvas")).to_be_visible()
    assert page.locator('[data-testid="stException"]').count() == 0

    _stroke(page)
    digit = _read_digit(page)
    wait_idle(page)
    expect(page.locator(".st-key-draw_seen .js-plotly-plot")).to_be_visible()  # what the network sees
    expect(page.locator(".st-key-draw_probs .js-plotly-plot")).to_be_visible()
    probs = page.evaluate(PROBABILITIES)
    assert probs is not None and sorted(probs) == [str(d) for d in range(10)], probs
    assert abs(sum(probs.values()) - 1.0) < 1e-3, probs
    # The chart and the answer agree: the digit shown is the most probable one.
    assert max(probs, key=probs.get) == digit, (digit, probs)
    assert page.locator('[data-testid="stException"]').count() == 0, app_server.log()[-3000:]

    # Clearing the canvas takes the prediction away and asks for a new drawing.
    by_key(page, "draw_clear").locator("button").click()
    expect(page.get_by_text("Draw a digit on the canvas")).to_be_visible(timeout=PREDICT_MS)
    expect(page.locator('[data-testid="stMetric"]').filter(has_text="The network reads")).to_have_count(0)
    # ... and a new stroke on the fresh canvas is read again.
    wait_idle(page)
    expect(page.get_by_role("button", name="Undo")).to_be_disabled()  # an empty canvas
    _stroke(page)
    _read_digit(page)


def test_without_a_model_the_page_links_to_build_and_train(open_app):
    page = open_app(PAGE)  # a new visitor: no trained network of theirs
    expect(page.get_by_role("heading", name="Draw a digit")).to_be_visible()
    expect(page.get_by_text("There is no trained network yet")).to_be_visible(timeout=LOAD_MS)
    assert page.locator("canvas.upper-canvas").count() == 0
    assert page.locator('[data-testid="stException"]').count() == 0
    link = page.get_by_role("link", name=re.compile("Build & Train a network"))
    expect(link).to_be_visible()
    assert re.search(r"(^|/)Build_and_Train/?$", link.get_attribute("href") or ""), link.get_attribute("href")
    link.click()
    expect(page.get_by_role("heading", name="Build & Train")).to_be_visible(timeout=LOAD_MS)
    assert re.search(r"/Build_and_Train(\?|$)", page.url), page.url


def _finger_seven(page, canvas) -> None:
    """The same '7' drawn with a finger: real touch events (Chromium's input, as a phone sends them)."""
    box = canvas.bounding_box()
    x0, y0, w, h = box["x"], box["y"], box["width"], box["height"]
    cdp = page.context.new_cdp_session(page)
    points = [SEVEN[0]]
    for (ax, ay), (bx, by) in itertools.pairwise(SEVEN):
        points += [(ax + (bx - ax) * i / 12, ay + (by - ay) * i / 12) for i in range(1, 13)]
    for i, (fx, fy) in enumerate(points):
        kind = "touchStart" if i == 0 else "touchMove"
        cdp.send(
            "Input.dispatchTouchEvent", {"type": kind, "touchPoints": [{"x": x0 + fx * w, "y": y0 + fy * h}]}
        )
        page.wait_for_timeout(15)
    cdp.send("Input.dispatchTouchEvent", {"type": "touchEnd", "touchPoints": []})
    cdp.detach()


def test_a_finger_drawing_on_a_phone_gets_a_prediction(browser, app_server, trained_cnn):
    run, visitor = trained_cnn
    context = browser.new_context(viewport={"width": 400, "height": 860}, has_touch=True, is_mobile=True)
    context.set_default_timeout(30_000)
    try:
        page = context.new_page()
        page.goto(f"{app_server.url}/{PAGE}?visitor={visitor}")
        wait_idle(page)
        canvas = page.locator("canvas.upper-canvas")
        expect(canvas).to_be_visible(timeout=LOAD_MS)
        box = canvas.bounding_box()
        assert box["x"] >= 0 and box["x"] + box["width"] <= 400, box  # the canvas fits the phone
        _stroke(page, draw=_finger_seven)
        _read_digit(page)
        assert page.evaluate("document.documentElement.scrollWidth") <= 400  # no sideways scrolling
        assert page.locator('[data-testid="stException"]').count() == 0
    finally:
        context.close()
