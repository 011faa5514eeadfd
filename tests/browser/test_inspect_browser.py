"""Inspect in a real browser: a click on a cell of a feature map explains that number step by step,
and the sum shown is the sum of the products of the trained kernel and the image's patch."""

from __future__ import annotations

import re

import numpy as np
import pytest
from conftest import by_key, wait_idle
from playwright.sync_api import expect

pytestmark = pytest.mark.browser

LOAD_MS = 90_000  # the server imports TensorFlow and loads the model on a busy 2-core machine
CELL = (5, 17)  # the feature-map cell the test clicks: row, column

# Where a cell's centre is drawn on the screen, from Plotly's own axes (l2p: data -> pixels).
CELL_XY = """([row, col]) => {
    const plots = [...document.querySelectorAll('.st-key-insp_step_chart .js-plotly-plot')];
    const plot = plots[plots.length - 1];
    if (!plot || !plot._fullLayout || !plot._fullLayout.xaxis) return null;
    const box = plot.getBoundingClientRect(), xa = plot._fullLayout.xaxis, ya = plot._fullLayout.yaxis;
    return [box.left + xa._offset + xa.l2p(col), box.top + ya._offset + ya.l2p(row)];
}"""


def _expected_sum(store, run_id: str) -> str:
    """The step-by-step sum for CELL of the first convolution's map 0 on test image 0, worked out here."""
    from nnlab.evaluation import mnist_test_set
    from nnlab.explain.layers import layer_outputs
    from nnlab.explain.neuron import explain
    from nnlab.modelio import load_model_safely

    model = load_model_safely(store.model_path(run_id))
    image = mnist_test_set()[0][0].astype(np.float32) / 255.0
    first = layer_outputs(model, image)[0]
    return f"{explain(model.get_layer(first.name), first.input, (*CELL, 0)).total:.4f}"


def test_clicking_a_feature_map_cell_shows_how_its_number_was_made(open_app, app_server, trained_cnn):
    run, visitor = trained_cnn
    page = open_app("Inspect", visitor=visitor, run=run.id, view="step")
    expect(page.get_by_role("tab", name="Step by step", selected=True)).to_be_visible(timeout=LOAD_MS)
    chart = by_key(page, "insp_step_chart").locator(".js-plotly-plot")
    expect(chart).to_be_visible(timeout=LOAD_MS)
    expect(page.get_by_text("Keras computed")).to_be_visible(timeout=LOAD_MS)
    heading = page.locator('[data-testid="stMain"] h3').filter(has_text="How conv2d_1 made its number")
    expect(heading).not_to_have_text(re.compile(rf"row {CELL[0]}, column {CELL[1]},"))

    page.wait_for_function(f"() => ({CELL_XY})({list(CELL)}) !== null", timeout=LOAD_MS)
    x, y = page.evaluate(CELL_XY, list(CELL))
    page.mouse.move(x, y)
    page.mouse.click(x, y)
    expect(heading).to_have_text(re.compile(rf"row {CELL[0]}, column {CELL[1]}, map 0"), timeout=LOAD_MS)
    wait_idle(page)
    total = _expected_sum(app_server.store(), run.id)
    expect(page.get_by_text(re.compile(rf"Sum of all 9 products = {re.escape(total)}"))).to_be_visible()
    expect(page.get_by_text("Keras computed")).to_be_visible()
    assert page.locator('[data-testid="stException"]').count() == 0, app_server.log()[-3000:]
    # The number inputs follow the click.
    expect(by_key(page, "insp_step_row").locator("input")).to_have_value(str(CELL[0]))
    expect(by_key(page, "insp_step_col").locator("input")).to_have_value(str(CELL[1]))
