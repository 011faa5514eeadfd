"""What an open page asks of the server: the home page's run table refreshes only while a run is
active, so a class's idle home pages cost the server nothing (issue 13).

The browser's messages to the server are counted on the page's websocket; a refresh of the table
is one message. A run is made "running" by hand, its worker being this test process. A second
visitor, without runs, keeps a home page open meanwhile: it must stay silent throughout.
"""

from __future__ import annotations

import time

import pytest
from conftest import wait_idle

from nnlab.architectures import get_preset
from nnlab.runs import process_handle

pytestmark = pytest.mark.browser

QUIET_MS = 5_000  # longer than two of the table's 2 s refreshes


def _count_messages(page) -> list[int]:
    sent = [0]
    page.on("websocket", lambda ws: ws.on("framesent", lambda _: sent.__setitem__(0, sent[0] + 1)))
    return sent


def _sent_during(page, sent: list[int], ms: int) -> int:
    start = sent[0]
    page.wait_for_timeout(ms)
    return sent[0] - start


def _sent_within(page, sent: list[int], ms: int, count: int) -> int:
    """Messages sent in ``ms`` milliseconds, counted until ``count`` of them (no need to wait longer)."""
    start, deadline = sent[0], time.monotonic() + ms / 1000
    while sent[0] - start < count and time.monotonic() < deadline:
        page.wait_for_timeout(100)  # Playwright delivers the websocket events while it waits
    return sent[0] - start


def test_the_home_page_refreshes_its_runs_only_while_one_is_active(app, page):
    # A visitor without runs keeps a home page open (a tab of its own) for the whole test: it asks
    # nothing, not even while another visitor's run is active (watched for longer than QUIET_MS).
    idle = page.context.new_page()
    idle_sent = _count_messages(idle)
    idle.goto(f"{app.url}/?visitor=polling-idle-visitor")
    wait_idle(idle)
    idle.get_by_text("No runs yet").wait_for()
    idle_start, since = idle_sent[0], time.monotonic()
    _active_then_ended(app, page)
    assert time.monotonic() - since > QUIET_MS / 1000
    assert idle_sent[0] == idle_start  # nothing runs for this visitor: nothing is asked


def _active_then_ended(app, page) -> None:
    """A home page whose visitor has a running run follows it, and stops once the run has ended."""
    visitor = "polling-visitor"
    store = app.server.store()
    run = store.create(get_preset("MLP 784-128-10"), {"epochs": 2}, name="busy run", owner=visitor)
    store.update(run.id, status="running", started=time.time(), worker=process_handle())
    sent = _count_messages(page)
    page.goto(f"{app.url}/?visitor={visitor}")
    wait_idle(page)
    page.get_by_text("busy run").wait_for(state="attached")  # a cell of the table's canvas grid
    assert _sent_within(page, sent, QUIET_MS, 2) >= 2  # the table follows the run every 2 s

    store.update(run.id, status="completed", finished=time.time(), test_accuracy=0.9)
    page.get_by_text("done", exact=True).first.wait_for(state="attached", timeout=15_000)
    page.wait_for_timeout(2_500)  # the last refresh, and the page drawn once more
    assert _sent_during(page, sent, QUIET_MS) == 0  # it ended: the polling stopped
