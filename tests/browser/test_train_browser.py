"""Build & Train in a real browser: a run's chart grows while it trains and its accuracy
shows; a longer run survives a refresh and a second tab, and the Stop button ends it as stopped."""

from __future__ import annotations

import re
import time
from urllib.parse import parse_qs, urlparse

import pytest
from conftest import by_key, wait_idle

from nnlab.ui.hyperparams import QUICK_SUBSET

pytestmark = pytest.mark.browser

PAGE = "Build_and_Train"
EPOCHS = 2  # typed into the epochs field (5 there by default): the run must follow it
TRAIN_TIMEOUT = 240  # seconds: a worker imports TensorFlow and trains on a busy 2-core machine

# Points drawn in the loss chart (every trace), from Plotly's computed data on the chart element.
# While a fragment redraws, the old chart may linger a moment: the newest has the most points.
COUNT_POINTS = """() => {
    const plots = [...document.querySelectorAll('[class*="st-key-chart_loss_"] .js-plotly-plot')];
    const counts = plots.map(p => (p.calcdata || []).reduce((n, trace) => n + trace.length, 0));
    return counts.length ? Math.max(...counts) : -1;
}"""


def _choose(page, key: str, option: str) -> None:
    choice = page.get_by_role("option", name=option, exact=True)
    _click_until(by_key(page, key), lambda: choice.wait_for(timeout=5000))
    choice.click()
    wait_idle(page)


def _click_until(locator, done, attempts: int = 5) -> None:
    """Click, and click again if nothing happened: a fragment's refresh can swap the element."""
    for _ in range(attempts):
        locator.first.click()
        try:
            done()
            return
        except Exception:  # Playwright's timeout: try once more
            continue
    done()


def _metric(page, label: str) -> str | None:
    metric = page.locator('[data-testid="stMetric"]').filter(has_text=label)
    if metric.count() == 0:
        return None
    return metric.first.locator('[data-testid="stMetricValue"]').inner_text()


def test_chart_grows_while_training_and_accuracy_shows(open_app, app_server):
    page = open_app(PAGE)
    # A CNN with small batches: enough work that the chart visibly grows during the run.
    _choose(page, "compose_preset", "CNN Conv32-Pool-Conv64-Pool-Dense64")
    slider = by_key(page, "hp_batch").locator('input[type="range"]')
    slider.focus()
    for _ in range(4):  # 128 -> 64 -> 32 -> 16 -> 8
        page.keyboard.press("ArrowLeft")
    wait_idle(page)
    assert slider.get_attribute("aria-valuetext") == "8"
    # Two epochs of the quick subset in batches of 8 (1,500 steps): seconds on a fast machine, so the
    # chart (refreshed every second) is seen growing mid-run.
    by_key(page, "hp_quick").locator("label").click()
    wait_idle(page)
    for key, value in (("hp_subset", QUICK_SUBSET), ("hp_epochs", EPOCHS)):
        field = by_key(page, key).locator("input")
        field.fill(str(value))
        field.press("Enter")
        wait_idle(page)

    by_key(page, "train_button").locator("button").click()
    seen_while_training: list[int] = []
    deadline = time.time() + TRAIN_TIMEOUT
    while time.time() < deadline:
        if _metric(page, "Test accuracy"):
            break
        if page.locator('[data-testid="stProgress"]').count():
            n = page.evaluate(COUNT_POINTS)
            if n > 0:
                seen_while_training.append(n)
        page.wait_for_timeout(250)
    accuracy = _metric(page, "Test accuracy")
    assert accuracy, f"no result within {TRAIN_TIMEOUT} s; server log:\n{app_server.log()[-2000:]}"
    # The chart gained points while the run was training (it refreshes without a page reload).
    assert len(set(seen_while_training)) >= 2, seen_while_training
    assert seen_while_training == sorted(seen_while_training)
    assert page.evaluate(COUNT_POINTS) >= max(seen_while_training)
    assert float(accuracy.rstrip("%")) > 50, accuracy
    assert _metric(page, "Test loss") not in (None, "–")
    # Links to the other pages with this run selected.
    run_id = re.search(
        r"\bchart_loss_([0-9a-f]+)",
        page.locator('[class*="st-key-chart_loss_"]').first.get_attribute("class"),
    ).group(1)
    link = page.get_by_role("link", name=re.compile("Evaluate this run"))
    assert f"run={run_id}" in (link.get_attribute("href") or "")
    (run,) = [r for r in app_server.store().list() if r.id == run_id]
    assert (
        run.status == "completed" and run.config["subset"] == QUICK_SUBSET and run.config["epochs"] == EPOCHS
    )


def test_long_run_reattaches_and_stops(open_app, app_server, page):
    page = open_app(PAGE)
    by_key(page, "hp_quick").locator("label").click()
    wait_idle(page)
    epochs = by_key(page, "hp_epochs").locator("input")
    epochs.fill("30")
    epochs.press("Enter")
    wait_idle(page)
    by_key(page, "train_button").locator("button").click()
    stop = page.locator('[class*="st-key-stop_"] button')
    stop.first.wait_for(timeout=60_000)
    page.locator('[data-testid="stProgress"]').filter(has_text="Epoch 1/30").wait_for(
        timeout=TRAIN_TIMEOUT * 1000
    )

    # A refresh re-attaches (the run is in the URL) ... (Its Stop button in the new document is the
    # sign: no wait for an idle script, which the live view reruns every second while the run trains.)
    run_id = parse_qs(urlparse(page.url).query)["run"][0]
    page.reload()
    stop.first.wait_for()
    # ... and so does a second tab that knows only the visitor.
    visitor = parse_qs(urlparse(page.url).query)["visitor"][0]
    second = page.context.new_page()
    second.goto(f"{app_server.url}/{PAGE}?visitor={visitor}")
    second.locator(f".st-key-stop_{run_id} button").first.wait_for()
    second.close()
    assert app_server.store().get(run_id).status == "running"

    _click_until(
        stop,
        lambda: (
            page.get_by_text("Stopping")
            .or_(page.get_by_text("Stopped before the end"))
            .first.wait_for(timeout=5_000)
        ),
    )
    page.get_by_text("Stopped before the end").wait_for(timeout=90_000)
    run = app_server.store().get(run_id)
    assert run.status == "stopped"
    assert run.test_accuracy is not None and app_server.store().model_path(run_id).exists()
    assert _metric(page, "Test accuracy")
