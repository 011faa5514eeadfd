"""A run named with Markdown and HTML that point at a tracking pixel: in a real browser, every page that
shows the name shows it as typed, and the browser never asks the tracker for anything."""

from __future__ import annotations

import http.server
import threading
import time
import uuid

import pytest
from conftest import wait_idle

pytestmark = pytest.mark.browser

LOAD_MS = 90_000
SELECTED = "inputs => inputs.map(i => i.value || i.getAttribute('aria-label') || '')"


@pytest.fixture
def tracker():
    """A local HTTP server standing in for a tracking-pixel host: it records every request."""
    hits: list[str] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 (the http.server API)
            hits.append(self.path)
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}", hits
    server.shutdown()


def _runs(app_server, name: str, visitor: str) -> tuple[str, str]:
    """A finished run with a model, and a running one (the home page shows its progress bar)."""
    from nnlab.architectures import build_model, get_preset
    from nnlab.modelio import save_model_atomically
    from nnlab.runs import process_handle

    store = app_server.store()
    spec = get_preset("Logistic regression 784-10")
    done = store.create(spec, {"epochs": 1}, name=name, owner=visitor)
    save_model_atomically(build_model(spec), store.model_path(done.id))
    store.update(
        done.id, status="completed", started=time.time() - 5, finished=time.time(), test_accuracy=0.9
    )
    running = store.create(
        spec, {"epochs": 4}, name=name, owner=visitor, worker={"kind": "local", **process_handle()}
    )
    progress = {"epoch": 1, "epochs": 4, "batch": 3, "steps_per_epoch": 10, "elapsed": 1.0}
    store.update(running.id, progress=progress)
    return done.id, running.id


def test_a_markdown_name_is_text_on_every_page_and_fetches_nothing(open_app, app_server, tracker):
    url, hits = tracker
    name = f"![t]({url}/md.png)<img src={url}/html.png>**b**"
    visitor = "names" + uuid.uuid4().hex[:10]
    done, running = _runs(app_server, name, visitor)
    try:
        pages = [("", {}), ("Build_and_Train", {"run": done}), ("Evaluate", {"run": done})]
        pages += [("Inspect", {"run": done}), ("Draw", {"run": done})]
        for path, query in pages:
            page = open_app(path, visitor=visitor, **query)
            page.locator('[data-testid="stMain"] h1').first.wait_for(timeout=LOAD_MS)
            wait_idle(page)
            page.wait_for_timeout(500)  # an image would be requested by now
            assert page.locator('[data-testid="stException"]').count() == 0, path
            main = page.locator('[data-testid="stMain"]')
            assert main.locator(f'img[src^="{url}"]').count() == 0, path
            shown = main.inner_text() + "\n".join(main.locator("input").evaluate_all(SELECTED))
            assert name in shown, (path, shown[:2000])  # shown as typed (a select box shows it in its input)
        assert hits == []
    finally:
        app_server.store().request_stop(running)
        app_server.store().update(running, status="stopped", finished=time.time())
