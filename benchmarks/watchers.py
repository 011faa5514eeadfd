"""What a class watching costs the web server: CPU per watching visitor, and the home page meanwhile.

Starts the real app (``streamlit run app.py``) on a fresh store, starts one long training (a worker
process of its own, niced so that it takes what the browsers and the server leave), then opens N
real browser contexts (Playwright + Debian's Chromium), each a session watching that training on
Build & Train (live charts, progress, Stop). Visitors see only their own runs, so every context
opens the page as the run's owner (its visitor id in the URL, as a second tab would): each is a
Streamlit session of its own, which is what a watcher costs the server. For each N it reads the
server's utime + stime from ``/proc/<pid>/stat`` before and after a measured window and reports the
server's CPU seconds per visitor-second, with what the watchers saw meanwhile (refresh requests they
sent, points their loss charts gained) so that a cheaper server is not mistaken for a stalled one.
While the N watch, new visitors open the home page (a new browser context each) and the time until
it is drawn is reported.
A last window has N visitors each watching their own queued run (the queue-position view).

Each watcher is reported as CPU per visitor-second, and above the idle server (the window with
nobody watching subtracted): what one more watcher costs. With ``--light 1,10,50`` the same run is
then watched by light watchers (``light_watchers.py``: Streamlit's websocket protocol as a tab
speaks it, nothing drawn), and the home page is opened in a real browser meanwhile: 50 Chromium tabs
would take this machine's 2 cores from the server measured, where a class's 50 tabs run on 50
machines. Run a browser and a light level of the same N to see that both cost the server the same.

Target (issue 13): at most 0.01 CPU seconds per visitor-second (1 % of a core per watcher), and the
home page in under 1 s while 50 others watch.

With ``--own-runs N``, N light watchers each watch a run of their own (runs "training elsewhere",
written by a thread here as workers' recorders write them): a class, where no run's reads and charts
are shared by several watchers.

With ``--visitor-cpu 1`` the browsers keep CPU 1 to themselves (as on the visitors' own machines)
and the server, its workers, the training and the light watchers' clients share the others: the home
page's time then holds no other visitor's browser; on a 2-core machine it is a one-core browser's.

The home page's time is read in the page: from the navigation's start to the frame that shows it drawn
(its run table included, Streamlit done running it), and in brackets from this harness (Playwright's
round trips included). It is measured with nobody watching too, in the same browser: the difference is
what the watchers cost a new visitor. On a 2-core machine the clients, the training and the browser
share the cores that a class's deployment spreads over many machines, so:

- ``--training elsewhere``: the watched run trains on another machine (its events written by a thread
  here as a cluster worker's recorder writes them): no TensorFlow on this machine;
- ``--clients-nice 19``: the light watchers' clients take only what the server and the new visitor's
  browser leave (``--server-nice N`` renices the server too);
- ``--also floor``: a Streamlit page of a title and one message, served by a server of its own (its
  replies sent at once, as NN Lab's), opened in the same windows: what any Streamlit page costs this
  machine's browser under the same load; ``--also floor-nav``: the same page as the first of a
  multipage app with NN Lab's navigation (its ten pages in the sidebar): what any Streamlit app with
  those pages costs;
  ``--also DIR``: the home page of another checkout (e.g. the version before a change), likewise.

    .venv/bin/python benchmarks/watchers.py [--levels 1,10,30,50] [--window 30] [--queued 30]
        [--light 1,10,50] [--own-runs 50] [--visitor-cpu 1] [--app-dir DIR]   (DIR: "before")
        [--training elsewhere] [--clients-nice 19] [--also floor] [--also floor-nav] [--also DIR]
"""

from __future__ import annotations

import argparse
import math
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from browser_app import (  # noqa: E402
    CHART_END,
    COUNT_POINTS,
    IDLE,
    ROOT,
    add_app_dir,
    chromium,
    serve,
    stop_runs,
    wait_idle,
)
from playwright.sync_api import Error as PlaywrightError  # noqa: E402
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg  # noqa: E402

PAGE = "Build_and_Train"
OPEN_TIMEOUT_MS = 180_000  # a page that a saturated server does not draw within this is not served
TARGET_PER_VISITOR = 0.01
OWNER = "teacher"  # the visitor whose run every watcher opens
MIN_FREE_MB = 1500  # stop adding browser contexts when the machine has less memory available


@dataclass
class Watcher:
    context: object
    page: object
    sent: int = 0  # messages to the server (refresh requests)
    finished: int = 0  # script runs the server finished for this visitor (refreshes served)

    def listen(self, ws) -> None:
        ws.on("framesent", self._sent)
        ws.on("framereceived", self._received)

    def _sent(self, _payload) -> None:
        self.sent += 1

    def _received(self, payload) -> None:
        if isinstance(payload, bytes) and len(payload) < 256:  # a script_finished message is tiny
            if ForwardMsg.FromString(payload).WhichOneof("type") == "script_finished":
                self.finished += 1


@dataclass
class Window:
    label: str
    visitors: int
    seconds: float
    server_cpu: float
    machine_busy: float
    sent_per_visitor_s: float
    served_per_visitor_s: float
    chart_advance: float  # epochs the loss charts' last point moved on, mean over the watchers
    grew: int
    batches: int | None

    @property
    def per_visitor(self) -> float:
        return self.server_cpu / (self.seconds * max(self.visitors, 1))

    @property
    def per_refresh_ms(self) -> float:
        """Server CPU per refresh served (the whole window's CPU, idle work included)."""
        served = self.served_per_visitor_s * self.seconds * max(self.visitors, 1)
        return 1000 * self.server_cpu / served if served else math.nan


def mem_available_mb() -> float:
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemAvailable:"):
            return int(line.split()[1]) / 1024
    return float("inf")


def machine_ticks() -> tuple[int, int]:
    """(busy, total) jiffies of the whole machine, from /proc/stat."""
    values = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = values[3] + values[4]
    return sum(values) - idle, sum(values)


def start_training(home: Path, preset: str, epochs: int, nice: int, owner: str = OWNER):
    """Submit one long training through the runner (its worker is a process of its own) and renice it."""
    from nnlab.architectures import get_preset
    from nnlab.runner import Runner
    from nnlab.runs import RunStore
    from nnlab.training import TrainConfig

    runner = Runner(RunStore(home), max_concurrent=1)
    run = runner.submit(get_preset(preset), TrainConfig(epochs=epochs), name="watched", owner=owner)
    if run.worker.get("pid"):
        renice(run.worker["pid"], nice)  # its threads now; those TensorFlow starts later inherit it
    return runner, run


def train_elsewhere(home: Path, preset: str):
    """The watched run training on another machine (``OwnRuns``: its events written by a thread here),
    and a runner for the queued level."""
    from nnlab.runner import Runner
    from nnlab.runs import RunStore

    runner = Runner(RunStore(home), max_concurrent=1)
    return runner, OwnRuns(runner.store, 1, preset, owner=OWNER)


def wait_for_batches(store, run_id: str, timeout: float = 300) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        run = store.get(run_id)
        if run.status != "running" and run.status != "queued":
            raise SystemExit(f"the watched training ended early ({run.status}): {run.error}")
        if (run.progress or {}).get("batch"):
            return
        time.sleep(1)
    raise SystemExit(f"the watched training reported no batch within {timeout} s")


def open_watcher(browser, url: str, visitor: str, run_id: str, chart: bool) -> Watcher:
    """A new visitor watching ``run_id``, once its view is drawn (charts with points, or its queue place)."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    watcher = Watcher(context, page)
    page.on("websocket", watcher.listen)
    page.goto(f"{url}/{PAGE}?visitor={visitor}&run={run_id}", timeout=OPEN_TIMEOUT_MS)
    if chart:
        page.wait_for_function(f"({COUNT_POINTS})() > 0", timeout=OPEN_TIMEOUT_MS, polling=200)
    else:
        page.get_by_text("Waiting, position").wait_for(timeout=OPEN_TIMEOUT_MS)
    return watcher


def open_watchers(browser, url: str, watchers: list[Watcher], n: int, run_id: str) -> str | None:
    """Add watchers up to ``n``; the reason if the machine could not hold that many."""
    while len(watchers) < n:
        if mem_available_mb() < MIN_FREE_MB:
            return f"under {MIN_FREE_MB} MB of memory left"
        try:
            watchers.append(open_watcher(browser, url, OWNER, run_id, chart=True))
        except PlaywrightError as exc:
            return (
                f"watcher {len(watchers) + 1} was not served within {OPEN_TIMEOUT_MS // 1000} s ({exc.name})"
            )
    return None


def chart_ends(watchers: list[Watcher]) -> list[float]:
    return [w.page.evaluate(CHART_END) for w in watchers]


def batches_done(store, run_id: str) -> int | None:
    progress = store.get(run_id).progress or {}
    if "epoch" not in progress or not progress.get("steps_per_epoch"):
        return None
    return int(progress["epoch"]) * int(progress["steps_per_epoch"]) + int(progress.get("batch") or 0)


def measure(app, label: str, watchers: list, seconds: float, store, run_id: str | None) -> Window:
    """Server CPU over ``seconds`` while ``watchers`` watch, and what they saw meanwhile (browser
    watchers: how far their loss charts moved; light ones draw nothing)."""
    browsers = bool(watchers) and isinstance(watchers[0], Watcher)
    ends0 = chart_ends(watchers) if run_id and browsers else []
    sent0, finished0 = sum(w.sent for w in watchers), sum(w.finished for w in watchers)
    batches0 = batches_done(store, run_id) if run_id else None
    busy0, total0 = machine_ticks()
    cpu0, t0 = app.cpu_seconds(), time.perf_counter()
    pump = watchers[0].page if browsers else None
    profiler = _profile(app, label, len(watchers), seconds)
    if pump is not None:
        pump.wait_for_timeout(seconds * 1000)  # keeps Playwright's event loop turning (frame counts)
    else:
        time.sleep(seconds)
    cpu1, t1 = app.cpu_seconds(), time.perf_counter()
    busy1, total1 = machine_ticks()
    if profiler is not None:
        profiler.wait()
    ends1 = chart_ends(watchers) if run_id and browsers else []
    batches1 = batches_done(store, run_id) if run_id else None
    if run_id and store.get(run_id).status != "running":
        raise SystemExit(f"the watched training ended during '{label}' (N={len(watchers)}): raise --epochs")
    visitor_seconds = max(len(watchers), 1) * (t1 - t0)
    advance = [b - a for a, b in zip(ends0, ends1, strict=True)]
    return Window(
        label=label,
        visitors=len(watchers),
        seconds=t1 - t0,
        server_cpu=cpu1 - cpu0,
        machine_busy=(busy1 - busy0) / max(total1 - total0, 1),
        sent_per_visitor_s=(sum(w.sent for w in watchers) - sent0) / visitor_seconds,
        served_per_visitor_s=(sum(w.finished for w in watchers) - finished0) / visitor_seconds,
        chart_advance=statistics.mean(advance) if advance else 0.0,
        grew=sum(a > 0 for a in advance),
        batches=None if batches0 is None or batches1 is None else batches1 - batches0,
    )


PROFILE_DIR: Path | None = None


def _profile(app, label: str, visitors: int, seconds: float) -> subprocess.Popen | None:
    """With ``--profile DIR``: py-spy samples the server's busy threads (250 a second)."""
    if PROFILE_DIR is None:
        return None
    out = PROFILE_DIR / f"{label.replace(' ', '-')}-{visitors}.txt"
    spy = Path(sys.executable).with_name("py-spy")
    command = [str(spy), "record", "-p", str(app.process.pid), "-d", str(int(seconds)), "-r", "250"]
    return subprocess.Popen(
        [*command, "-f", "raw", "-o", str(out), "--nonblocking"], stdout=subprocess.DEVNULL
    )


def home_page_seconds(browser, url: str, samples: int) -> dict[str, list[float]]:
    """Time until a new visitor's home page is drawn (its run table included), three ways, each
    ``samples`` times: in a new browser context (nothing cached: Streamlit's scripts are loaded and
    compiled again), in a new tab of a browser that has visited before (its files cached: a new
    session all the same), and the server's part alone (a new session's first page run, from
    ``light_watchers.page_run_seconds``: no browser; and ``static_files_seconds``: what a new
    browser fetches first). A page not drawn in time counts as infinite.

    The browsers' times are read in the page (``DRAWN``: from the navigation's start to the frame
    that shows the page drawn, as the visitor sees it) and, in brackets, by this harness (from
    ``goto`` to Playwright's answer that the page is drawn: its own round trips to the browser, in a
    process whose light watchers' clients hold its interpreter, included).
    """
    from light_watchers import page_run_seconds

    kinds = ("new browser", "new browser (harness)", "browser with its files cached", "cached (harness)")
    times: dict[str, list[float]] = {kind: [] for kind in (*kinds, "server", "server, static files")}
    for label in ALSO:
        times |= {f"{label}, new browser": [], f"{label}, cached": []}
    returning = {address: _context(browser) for address in (url, *ALSO.values())}  # each its own cache
    for address, context in returning.items():
        _draw_home(context.new_page(), address)  # its first visit fills its cache
    for _ in range(samples):
        for label, address in ALSO.items():  # in the same windows, one after the other
            (new, _), (cached, _) = _draw_home_both_ways(browser, returning[address], address)
            times[f"{label}, new browser"].append(new)
            times[f"{label}, cached"].append(cached)
        new, cached = _draw_home_both_ways(browser, returning[url], url)
        for kind, value in zip(kinds, (*new, *cached), strict=True):
            times[kind].append(value)
        times["server"].append(page_run_seconds(url))
        times["server, static files"].append(static_files_seconds(url))
    for context in returning.values():
        context.close()
    return times


def _draw_home_both_ways(browser, returning, url: str) -> tuple[tuple[float, float], tuple[float, float]]:
    """The home page at ``url`` drawn in a new browser context, then in a new tab of ``returning``
    (a context that has visited before): each as ``_draw_home`` times it."""
    context = _context(browser)
    new = _draw_home(context.new_page(), url)
    context.close()
    return new, _draw_home(returning.new_page(), url)


def static_files_seconds(url: str, connections: int = 6) -> float:
    """Seconds to fetch every script, style sheet and font that Streamlit's index page names (what a
    new browser loads before it can open a session), as a browser fetches them: over ``connections``
    kept-alive connections at once, one request after another on each. (Each over a connection of
    its own would miss a reply held back until the client acknowledges its first part: 40 ms per
    request on Streamlit's server before ``nnlab/ui/web_server.py``.)"""
    import http.client
    import re
    from concurrent.futures import ThreadPoolExecutor
    from urllib.parse import urlsplit

    address = urlsplit(url)
    timeout = OPEN_TIMEOUT_MS / 1000

    def fetch_all(paths: list[str]) -> list[bytes]:
        """``paths`` one after another over one kept-alive connection."""
        connection = http.client.HTTPConnection(address.hostname, address.port, timeout=timeout)
        bodies = []
        for path in paths:
            connection.request("GET", path)
            bodies.append(connection.getresponse().read())
        connection.close()
        return bodies

    base = address.path.rstrip("/")
    t0 = time.perf_counter()
    (index,) = fetch_all([f"{base}/"])
    names = sorted(set(re.findall(r'(?:src|href)="\.?/?([^"]+\.(?:js|css|woff2))"', index.decode())))
    lanes = [[f"{base}/{name}" for name in names[i::connections]] for i in range(connections)]
    with ThreadPoolExecutor(connections) as pool:
        sizes = [len(body) for bodies in pool.map(fetch_all, lanes) for body in bodies]
    if not names or not all(sizes):
        raise RuntimeError(f"the index page named no files to load, or one was empty: {names}")
    return time.perf_counter() - t0


# In every page of a home-page context: the moment (ms since the navigation started) of the first frame
# that shows the run table ("No runs yet") with Streamlit no longer running the script (``IDLE``).
DRAWN = f"""
window.__nnlabDrawn = null;
new MutationObserver((_, observer) => {{
    if (!({IDLE})() || !document.body.innerText.includes('No runs yet')) return;
    observer.disconnect();
    requestAnimationFrame(() => {{ window.__nnlabDrawn = performance.now(); }});
}}).observe(document, {{subtree: true, childList: true, attributes: true, characterData: true}});
"""


def _context(browser):
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    context.add_init_script(DRAWN)
    return context


def _draw_home(page, url: str) -> tuple[float, float]:
    """Seconds until the home page is drawn: as the page saw it (``DRAWN``), and as this harness saw it."""
    t0 = time.perf_counter()
    try:
        page.goto(url, timeout=OPEN_TIMEOUT_MS)
        page.get_by_text("No runs yet").wait_for(timeout=OPEN_TIMEOUT_MS)
        wait_idle(page, OPEN_TIMEOUT_MS)
        harness = time.perf_counter() - t0
        drawn = page.wait_for_function("() => window.__nnlabDrawn", timeout=OPEN_TIMEOUT_MS)
        seen = drawn.json_value() / 1000
    except PlaywrightError:
        seen = harness = math.inf
    page.close()
    return seen, harness


IDLE_RATE = 0.0  # the server's CPU per second with nobody watching (measured first)


def report(window: Window, home: list[float] | None = None) -> str:
    line = (
        f"{window.label:<18} N={window.visitors:>3}  {window.seconds:5.1f} s  server CPU "
        f"{window.server_cpu:6.2f} s = {window.server_cpu / window.seconds:6.1%} of a core  "
        f"per visitor {window.per_visitor:.4f} CPU-s/s ({window.per_visitor:.2%} of a core; "
        f"{marginal(window):.2%} above the idle server)  "
        f"machine busy {window.machine_busy:.0%}  refreshes asked {window.sent_per_visitor_s:.2f}, "
        f"served {window.served_per_visitor_s:.2f} per visitor-s ({window.per_refresh_ms:.0f} ms CPU each)"
    )
    if "watching a run" in window.label and window.grew + window.chart_advance:
        line += f"  loss chart +{window.chart_advance:.2f} epochs ({window.grew}/{window.visitors} moved)"
        if window.batches is not None:
            line += f"  training +{window.batches} batches"
    for kind, times in (home or {}).items():
        line += f"\n{'':<18} home page, {kind}: median {statistics.median(times):.2f} s " + (
            f"({', '.join(f'{t:.2f}' for t in times)})"
        )
    return line


def marginal(window: Window) -> float:
    """CPU per visitor-second above the server's idle rate: what each added watcher costs."""
    return (window.server_cpu / window.seconds - IDLE_RATE) / max(window.visitors, 1)


def light_levels(args, app, browser, store, run_id: str) -> list[tuple[Window, list]]:
    """The same run watched by N light watchers (``light_watchers.py``: the protocol without a
    browser), the home page opened meanwhile in a real browser."""
    from light_watchers import LightCrowd, LightWatcher

    crowd, results = LightCrowd(args.clients_nice), []
    try:
        for n in [int(v) for v in args.light.split(",") if v]:
            while len(crowd.watchers) < n:
                crowd.add(LightWatcher(app.url, PAGE, f"visitor={OWNER}&run={run_id}"))
            time.sleep(args.settle)
            window = measure(app, "light watching a run", crowd.watchers, args.window, store, run_id)
            home = home_page_seconds(browser, app.url, args.home_samples)
            print(report(window, home), flush=True)
            results.append((window, home))
    finally:
        crowd.close()
    return results


class OwnRuns:
    """``n`` runs that train elsewhere, as a class's runs on cluster workers (all of ``owner``'s where
    given, else each of a visitor of its own): marked running (their
    worker this process, alive), each given 5 batch events and its progress once a second by a thread
    here, as a worker's recorder writes them (and an epoch's end every 100 batches). Each of ``n``
    light watchers then watches a run of its own: what a class costs the server when nobody's run is
    shared (no snapshots: their images are made once per snapshot, not per watcher)."""

    STEPS = 400

    def __init__(self, store, n: int, preset: str, owner: str | None = None):
        import threading

        from nnlab.architectures import get_preset
        from nnlab.runs import process_handle

        self.store, self.batch = store, 0
        self.ids = []
        for i in range(n):
            name, who = ("watched", owner) if owner else (f"own {i}", f"own{i:03d}")
            run = store.create(get_preset(preset), {"epochs": 100}, name=name, owner=who)
            store.update(run.id, status="running", started=time.time(), worker=process_handle())
            self.ids.append(run.id)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._write, name="own-runs", daemon=True)
        self._thread.start()

    def _write(self) -> None:
        from nnlab.events import BatchEvent, EpochEvent

        while not self._stop.wait(1.0):
            batches = range(self.batch + 5, self.batch + 26, 5)
            self.batch += 25
            for run_id in self.ids:
                events = [self._batch(BatchEvent, b) for b in batches]
                if self.batch % self.STEPS == 0:
                    epoch = self.batch // self.STEPS
                    events.append(
                        EpochEvent(
                            epoch=epoch,
                            loss=1 / epoch,
                            accuracy=0.9,
                            lr=1e-3,
                            elapsed=0.0,
                            samples_per_sec=1e3,
                            val_loss=1 / epoch,
                            val_accuracy=0.9,
                        )
                    )
                epoch, batch = divmod(batches[-1] - 1, self.STEPS)
                progress = {
                    "epoch": epoch + 1,
                    "epochs": 100,
                    "batch": batch + 1,
                    "steps_per_epoch": self.STEPS,
                    "loss": 0.5,
                    "accuracy": 0.9,
                    "samples_per_sec": 1e3,
                    "elapsed": 0.1 * self.batch,
                }
                self.store.add_events(run_id, events, progress)

    def _batch(self, cls, step: int):
        epoch, batch = divmod(step - 1, self.STEPS)
        return cls(
            epoch=epoch + 1,
            batch=batch + 1,
            step=step,
            loss=1 / (1 + 0.01 * step),
            accuracy=0.9,
            elapsed=0.1 * step,
            samples_per_sec=1e3,
        )

    def close(self) -> None:
        self._stop.set()
        self._thread.join()
        for run_id in self.ids:  # no worker: this process is not one to wait for, or to kill (stop_runs)
            self.store.update(run_id, status="stopped", finished=time.time(), worker={})


def own_runs_level(args, app, browser, store) -> tuple[Window, dict]:
    """``--own-runs N``: N light watchers, each of a run of its own (``OwnRuns``)."""
    from light_watchers import LightCrowd, LightWatcher

    runs, crowd = OwnRuns(store, args.own_runs, args.preset), LightCrowd(args.clients_nice)
    try:
        for i, run_id in enumerate(runs.ids):
            crowd.add(LightWatcher(app.url, PAGE, f"visitor=own{i:03d}&run={run_id}"))
        time.sleep(args.settle)
        window = measure(app, "light watching their own runs", crowd.watchers, args.window, store, None)
        home = home_page_seconds(browser, app.url, args.home_samples)
        print(report(window, home), flush=True)
    finally:
        crowd.close()
        runs.close()
    return window, home


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--levels", default="1,10,30,50", help="numbers of watchers, ascending")
    parser.add_argument("--window", type=float, default=30.0, help="seconds measured at each level")
    parser.add_argument("--settle", type=float, default=10.0, help="seconds between opening and measuring")
    parser.add_argument("--home-samples", type=int, default=5)
    parser.add_argument(
        "--queued", type=int, default=30, help="visitors watching their queued runs (0: skip)"
    )
    parser.add_argument("--preset", default="CNN with dropout (Keras tutorial)")
    parser.add_argument(
        "--epochs", type=int, default=100, help="of the watched training: it must outlast every level"
    )
    parser.add_argument("--worker-nice", type=int, default=10)
    parser.add_argument(
        "--training",
        choices=("here", "elsewhere"),
        default="here",
        help="the watched run trains here (a worker process, niced) or elsewhere (written by a thread "
        "here as a cluster worker's recorder writes it: no TensorFlow on this machine)",
    )
    parser.add_argument(
        "--server-nice",
        type=int,
        default=0,
        help="niceness of the server (all its threads, and those it starts later): with --clients-nice 19 "
        "and --training elsewhere, the new visitor's browser comes first, as on a machine of its own",
    )
    parser.add_argument(
        "--clients-nice",
        type=int,
        default=0,
        help="niceness of the light watchers' clients (19: they take only what the server and the new "
        "visitor's browser leave, as clients on machines of their own)",
    )
    parser.add_argument(
        "--light", default="", help="numbers of light watchers (no browser, light_watchers.py), e.g. 1,10,50"
    )
    parser.add_argument(
        "--own-runs", type=int, default=0, help="light watchers each watching a run of its own (0: skip)"
    )
    parser.add_argument("--profile", type=Path, help="folder for py-spy profiles of the server (not timed)")
    parser.add_argument(
        "--visitor-cpu",
        type=int,
        help="a CPU of this machine kept for the browsers (the visitors' own machines): the server, its "
        "workers, the training and the light watchers' clients run on the others",
    )
    parser.add_argument(
        "--also",
        action="append",
        default=[],
        metavar="floor|floor-nav|DIR",
        help="open this home page too, in the same windows (a server of its own): 'floor', a Streamlit page "
        "of a title and one message; 'floor-nav', that page with NN Lab's navigation of ten pages; or "
        "DIR, a checkout of NN Lab (e.g. the version before a change)",
    )
    add_app_dir(parser)
    return parser.parse_args()


def watching_levels(args, app, browser, store, run_id: str) -> tuple[list[tuple[Window, list]], list]:
    watchers: list[Watcher] = []
    results = []
    for n in [int(v) for v in args.levels.split(",") if v]:
        short = open_watchers(browser, app.url, watchers, n, run_id)
        if short:
            print(f"stopping at {len(watchers)} watchers: {short}", flush=True)
            break
        time.sleep(args.settle)
        window = measure(app, "watching a run", watchers, args.window, store, run_id)
        home = home_page_seconds(browser, app.url, args.home_samples)
        print(report(window, home), f"\n{'':<18} memory available {mem_available_mb():,.0f} MB", flush=True)
        results.append((window, home))
    return results, watchers


def queued_level(args, app, browser, runner) -> Window | None:
    from nnlab.architectures import get_preset
    from nnlab.training import TrainConfig

    watchers = []
    for i in range(args.queued):
        run = runner.submit(get_preset(args.preset), TrainConfig(epochs=1), owner=f"queued{i:03d}")
        try:
            watchers.append(open_watcher(browser, app.url, f"queued{i:03d}", run.id, chart=False))
        except PlaywrightError as exc:
            print(f"stopping at {len(watchers)} watchers of queued runs ({exc.name})", flush=True)
            break
    if not watchers:
        return None
    time.sleep(args.settle)
    window = measure(app, "queued runs", watchers, args.window, runner.store, None)
    print(report(window), flush=True)
    for w in watchers:
        w.context.close()
    return window


def main() -> int:
    args = parse_args()
    global PROFILE_DIR
    PROFILE_DIR = args.profile
    if PROFILE_DIR is not None:
        PROFILE_DIR.mkdir(parents=True, exist_ok=True)
    from playwright.sync_api import sync_playwright

    home = Path(tempfile.mkdtemp(prefix="nnlab-watchers-"))
    print(f"Machine: {os.cpu_count()} CPUs, load {os.getloadavg()[0]:.1f}, store {home}", flush=True)
    server_cpus = split_cpus(args.visitor_cpu)
    with sync_playwright() as pw:  # Playwright's driver and the browser it starts keep this thread's CPUs
        browser = chromium(pw)
        if server_cpus:
            os.sched_setaffinity(0, server_cpus)  # what starts from here on: server, training, watchers
        with serve(home, args.app_dir) as app, other_apps(args.also) as others:
            ALSO.update(others)
            if args.server_nice:
                renice(app.process.pid, args.server_nice)
            run_levels(args, app, browser, home)
    return 0


# With --also: other apps whose home pages are opened in the same windows as this one's, each served
# by a server of its own (with nobody watching it): "floor" is a Streamlit page of a title and one
# message (what any Streamlit page costs this machine's browser; its server sends replies at once, as
# NN Lab's does), "floor-nav" the same page as the first of NN Lab's pages in the navigation (the
# other pages a title each), a folder is a checkout of NN Lab (another version of the home page, e.g.
# the one before a change).
FLOOR_PAGE = f"""import sys

sys.path.insert(0, {str(ROOT)!r})
import streamlit as st

from nnlab.ui.web_server import send_replies_at_once

send_replies_at_once()
st.set_page_config(page_title="NN Lab", layout="wide")
st.title("NN Lab")
st.info("No runs yet.")
"""
FLOOR_NAV_PAGE = f"""import sys

sys.path.insert(0, {str(ROOT)!r})
import streamlit as st

from nnlab.ui.links import PAGES
from nnlab.ui.web_server import send_replies_at_once

send_replies_at_once()
st.set_page_config(page_title="NN Lab", page_icon="🧠", layout="wide")


def home():
    st.title("NN Lab")
    st.info("No runs yet.")


def other():
    st.title("Another page")


st.navigation(
    [st.Page(home, title="Home", icon="🏠", default=True)]
    + [st.Page(other, title=p.title, icon=p.icon, url_path=p.url_path) for p in PAGES]
).run()
"""
FLOORS = {  # --also name -> (label, app.py)
    "floor": ("Streamlit's floor", FLOOR_PAGE),
    "floor-nav": ("Streamlit's floor, NN Lab's pages", FLOOR_NAV_PAGE),
}
ALSO: dict[str, str] = {}  # label -> URL


@contextmanager
def other_apps(wanted: list[str]):
    with ExitStack() as stack:
        urls = {}
        for what in wanted:
            home = Path(tempfile.mkdtemp(prefix="nnlab-also-"))
            folder = home if what in FLOORS else Path(what)
            if what in FLOORS:
                (folder / "app.py").write_text(FLOORS[what][1])
                shutil.copytree(ROOT / ".streamlit", folder / ".streamlit")
            label = FLOORS[what][0] if what in FLOORS else f"home of {what}"
            urls[label] = stack.enter_context(serve(home, folder)).url
        yield urls


def renice(pid: int, nice: int) -> None:
    """Every thread of process ``pid`` at niceness ``nice`` (a thread started later inherits its
    starter's: a Streamlit session's script thread, the server's)."""
    for task in Path(f"/proc/{pid}/task").iterdir():
        os.setpriority(os.PRIO_PROCESS, int(task.name), nice)


def split_cpus(visitor_cpu: int | None) -> set[int] | None:
    """With ``--visitor-cpu``: this thread (and the browser started next) on that CPU; the others returned."""
    if visitor_cpu is None:
        return None
    cpus = os.sched_getaffinity(0)
    if visitor_cpu not in cpus or len(cpus) < 2:
        raise SystemExit(f"--visitor-cpu {visitor_cpu}: needs one of {sorted(cpus)} and at least one other")
    os.sched_setaffinity(0, {visitor_cpu})
    rest = cpus - {visitor_cpu}
    others = ", ".join(map(str, sorted(rest)))
    print(
        f"Browsers on CPU {visitor_cpu} (as on the visitors' own machines); the server, its workers, "
        f"the training and the light watchers' clients on CPU {others}",
        flush=True,
    )
    return rest


def run_levels(args, app, browser, home: Path) -> None:
    elsewhere = None
    try:
        home_page_seconds(browser, app.url, 1)  # a warm app: the data glance is cached
        if args.training == "here":
            runner, run = start_training(home, args.preset, args.epochs, args.worker_nice)
        else:
            runner, elsewhere = train_elsewhere(home, args.preset)
            run = runner.store.get(elsewhere.ids[0])
        wait_for_batches(runner.store, run.id)
        idle = measure(app, "nobody watching", [], args.window, runner.store, None)
        global IDLE_RATE
        IDLE_RATE = idle.server_cpu / idle.seconds
        idle_home = home_page_seconds(browser, app.url, args.home_samples)  # the same browser, unloaded
        print(report(idle, idle_home), flush=True)
        results, watchers = watching_levels(args, app, browser, runner.store, run.id)
        for w in watchers:
            w.context.close()
        if args.light:
            results += light_levels(args, app, browser, runner.store, run.id)
        if args.own_runs:
            results.append(own_runs_level(args, app, browser, runner.store))
        queued = queued_level(args, app, browser, runner) if args.queued else None
    finally:
        if elsewhere is not None:
            elsewhere.close()
        stop_runs(home)
        browser.close()
    print("\nSummary (server CPU per visitor-second; 0.01 = 1 % of a core; home page medians: a new")
    print("browser / the same, timed by the harness / a browser with its files cached / the same, timed")
    print("by the harness / the server's part: a page run / its static files; then --also's pages):")
    print(f"    0 watching: home page median {_medians(idle_home)} s")
    for window, home_times in results:
        print(
            f"  {window.visitors:>3} {'light ' if window.label.startswith('light') else ''}watching"
            f"{' their own runs' if 'own' in window.label else ''}: "
            f"{window.per_visitor:.4f} ({marginal(window):.4f} above idle)   home page median "
            f"{_medians(home_times)} s   refreshes served {window.served_per_visitor_s:.2f}/s, "
            f"{window.per_refresh_ms:.0f} ms CPU each"
        )
    if queued is not None:
        print(f"  {queued.visitors:>3} watching queued runs: {queued.per_visitor:.4f}")
    print(f"  server with nobody watching: {idle.server_cpu / idle.seconds:.2%} of a core")


def _medians(times: dict[str, list[float]]) -> str:
    return " / ".join(f"{statistics.median(t):.2f}" for t in times.values())


if __name__ == "__main__":
    raise SystemExit(main())
