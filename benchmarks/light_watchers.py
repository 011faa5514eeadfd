"""Watchers without a browser: Streamlit's own websocket protocol, as a watching tab speaks it.

A class of 50 watches from 50 machines; on this 2-core machine 50 Chromium tabs drawing live charts
would take both cores away from the server being measured. A ``LightWatcher`` asks the server for
exactly what a watching tab asks for, and reads every answer, without drawing it:

1. it opens ``/_stcore/stream`` (subprotocol ``streamlit``) and sends a ``rerun_script`` with the
   page's URL (page name and query string), as a tab does when the page opens;
2. the server runs the page and sends its elements; an ``auto_rerun`` message names each fragment
   that refreshes itself (``st.fragment(run_every=...)``) and its interval; ``stop_auto_rerun`` and
   a new ``new_session`` (a full rerun) reset them;
3. every interval, for each fragment, it sends the ``rerun_script`` a tab sends (the fragment's id,
   ``is_auto_rerun``, the page's hash), never more than one at a time, as a tab does: the next
   refresh is asked after the last one finished.

What a tab also sends and this does not: the values of the page's widgets (a watcher changes none,
and the server keeps their values) and the hashes of the messages it has cached (charts that change
every second are never cached). ``watchers.py --light`` checks that a light watcher costs the server
what a browser watcher costs, side by side, before it uses them.
"""

from __future__ import annotations

import asyncio
import os
import threading
import time
from dataclasses import dataclass, field
from urllib.parse import urlparse

from streamlit.proto.BackMsg_pb2 import BackMsg
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg


@dataclass
class LightWatcher:
    """One watching visitor: ``page`` (e.g. ``Build_and_Train``), ``query`` (``visitor=…&run=…``)."""

    url: str
    page: str
    query: str
    sent: int = 0  # refreshes asked
    finished: int = 0  # script runs the server finished for this visitor
    deltas: int = 0  # elements received
    error: str | None = None
    _page_hash: str = ""
    _intervals: dict[str, float] = field(default_factory=dict)  # fragment id -> seconds

    async def run(self, stop: asyncio.Event) -> None:
        from websockets.asyncio.client import connect

        target = urlparse(self.url)
        try:
            async with connect(
                f"ws://{target.netloc}/_stcore/stream", subprotocols=["streamlit"], max_size=None
            ) as ws:
                await self._ask(ws, None)
                done = asyncio.Event()
                reader = asyncio.create_task(self._read(ws, done))
                await self._refresh(ws, stop, done)
                reader.cancel()
        except Exception as exc:  # counted and shown by the caller
            self.error = f"{type(exc).__name__}: {exc}"

    async def _ask(self, ws, fragment: str | None) -> None:
        msg = BackMsg()
        state = msg.rerun_script
        state.query_string = self.query
        state.page_name = self.page
        state.page_script_hash = self._page_hash
        if fragment is not None:
            state.fragment_id = fragment
            state.is_auto_rerun = True
        await ws.send(msg.SerializeToString())
        self.sent += 1

    async def _read(self, ws, done: asyncio.Event) -> None:
        async for payload in ws:
            msg = ForwardMsg.FromString(payload)
            kind = msg.WhichOneof("type")
            if kind == "new_session":  # a page run: its fragments register again (auto_rerun)
                self._page_hash = msg.new_session.page_script_hash
            elif kind == "auto_rerun":
                self._intervals[msg.auto_rerun.fragment_id] = msg.auto_rerun.interval
            elif kind == "stop_auto_rerun":
                self._intervals.clear()
            elif kind == "delta":
                self.deltas += 1
            elif kind == "script_finished":
                self.finished += 1
                done.set()

    async def _refresh(self, ws, stop: asyncio.Event, done: asyncio.Event) -> None:
        """Each fragment's rerun when its interval has passed since its last one, one at a time."""
        due: dict[str, float] = {}
        while not stop.is_set():
            await _wait(done, 60)  # the page's (or the last refresh's) run has finished
            now = time.monotonic()
            for fragment, interval in list(self._intervals.items()):
                due.setdefault(fragment, now + interval)
            if not due:
                await _wait(stop, 0.2)
                continue
            fragment = min(due, key=due.get)
            await _wait(stop, max(0.0, due[fragment] - time.monotonic()))
            if stop.is_set() or fragment not in self._intervals:
                due.pop(fragment, None)
                continue
            done.clear()
            await self._ask(ws, fragment)
            due[fragment] = time.monotonic() + self._intervals[fragment]


async def _wait(event: asyncio.Event, seconds: float) -> None:
    try:
        await asyncio.wait_for(event.wait(), seconds)
    except TimeoutError:
        pass


class LightCrowd:
    """N light watchers on an event loop of their own (a thread, at niceness ``nice``): ``add``, then
    ``close``."""

    def __init__(self, nice: int = 0) -> None:
        self.loop = asyncio.new_event_loop()
        self.watchers: list[LightWatcher] = []
        self._stop = asyncio.Event()
        self._tasks: list = []
        self._nice = nice
        self._thread = threading.Thread(target=self._serve, name="light-watchers", daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        """The clients' event loop; with ``nice`` > 0 this thread (and it alone) yields the CPU to the
        server and the visitor's browser, as clients on machines of their own would."""
        if self._nice:
            os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), self._nice)
        self.loop.run_forever()

    def add(self, watcher: LightWatcher, timeout: float = 120) -> None:
        """Start ``watcher`` and wait until the server finished its first page run."""
        self.watchers.append(watcher)

        async def start():
            return asyncio.ensure_future(watcher.run(self._stop))

        self._tasks.append(asyncio.run_coroutine_threadsafe(start(), self.loop).result())
        deadline = time.monotonic() + timeout
        while watcher.finished == 0 and watcher.error is None:
            if time.monotonic() > deadline:
                raise TimeoutError(f"the server did not draw the page within {timeout:.0f} s")
            time.sleep(0.05)
        if watcher.error:
            raise RuntimeError(watcher.error)

    def close(self) -> None:
        """Stop every watcher and let each close its connection (cancelled after 5 s), then end the loop."""

        async def finish() -> None:
            self._stop.set()
            if not self._tasks:
                return
            _, pending = await asyncio.wait(self._tasks, timeout=5)
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)

        asyncio.run_coroutine_threadsafe(finish(), self.loop).result(timeout=30)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(5)


def page_run_seconds(url: str, page: str = "", query: str = "", timeout: float = 180) -> float:
    """Seconds from opening a new session to the server's end of its first page run: the server's part
    of a new visitor's page (a browser adds loading and drawing)."""

    async def first_run() -> float:
        watcher, stop = LightWatcher(url, page, query), asyncio.Event()
        t0 = time.perf_counter()
        task = asyncio.ensure_future(watcher.run(stop))
        while watcher.finished == 0 and watcher.error is None:
            if time.perf_counter() - t0 > timeout:
                break
            await asyncio.sleep(0.01)
        seconds = time.perf_counter() - t0
        stop.set()
        task.cancel()
        return seconds if watcher.finished else float("inf")

    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(1) as pool:  # a loop of its own (the caller's thread may run Playwright's)
        return pool.submit(asyncio.run, first_run()).result()
