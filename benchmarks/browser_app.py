"""What the browser benchmarks share: a real ``streamlit run app.py`` on a fresh store, and Chromium.

``serve(home)`` starts the app on a free localhost port with ``NNLAB_HOME=home`` and yields an
``App`` (its URL, the server's pid and CPU seconds so far, its log); ``serve(home, app_dir=...)``
starts another checkout's app instead (``--app-dir``: the "before" figures, e.g. main's code run by
this branch's benchmark); ``chromium(pw)`` launches
Debian's headless Chromium through Playwright; ``wait_idle(page)`` waits until Streamlit has drawn
the page and is not running its script. Used by ``watchers.py`` and ``first_point.py``.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "browser"))

# The browser tests' harness: Debian's Chromium and its flags, a free port, the health check.
from conftest import CHROMIUM, CHROMIUM_ARGS, _free_port, _missing, _wait_healthy  # noqa: E402

# Points drawn in the loss chart (every trace), from Plotly's computed data on the chart element.
COUNT_POINTS = """() => {
    const plots = [...document.querySelectorAll('[class*="st-key-chart_loss_"] .js-plotly-plot')];
    const counts = plots.map(p => (p.calcdata || []).reduce((n, trace) => n + trace.length, 0));
    return counts.length ? Math.max(...counts) : -1;
}"""
# How far the loss chart reaches (in epochs): grows with every refresh that brings new batches.
CHART_END = """() => {
    const plots = [...document.querySelectorAll('[class*="st-key-chart_loss_"] .js-plotly-plot')];
    const ends = plots.flatMap(p => (p.calcdata || []).map(t => t.length ? t[t.length - 1].x : -1));
    return ends.length ? Math.max(...ends) : -1;
}"""
IDLE = """() => {
    const app = document.querySelector('[data-testid="stApp"]');
    return app && app.getAttribute('data-test-script-state') === 'notRunning'
        && !document.querySelector('[data-testid="stSkeleton"]');
}"""
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


@dataclass
class App:
    url: str
    home: Path
    process: subprocess.Popen
    log_path: Path

    def cpu_seconds(self) -> float:
        """The server process's user + system CPU time so far (``/proc/<pid>/stat``, all its threads)."""
        return process_cpu_seconds(self.process.pid)

    def log(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")


def process_cpu_seconds(pid: int) -> float:
    """utime + stime of a process, in seconds."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS  # fields 14 and 15 of proc(5)


LIMITS = ("NNLAB_MAX_EPOCHS", "NNLAB_MAX_PARAMS", "NNLAB_MAX_QUEUED_PER_VISITOR", "NNLAB_MAX_CONCURRENT")


def app_env(home: Path, **extra: str) -> dict[str, str]:
    """The environment of the server (and of workers started from here): no operator limits."""
    quiet = {"TF_CPP_MIN_LOG_LEVEL": "2", "PYTHONUNBUFFERED": "1"}
    store = {"NNLAB_HOME": str(home), "NNLAB_SECRETS": str(home / "no-secrets.toml")}
    return {**{k: v for k, v in os.environ.items() if k not in LIMITS}, **quiet, **store, **extra}


def add_app_dir(parser) -> None:
    """The ``--app-dir`` option of a browser benchmark."""
    parser.add_argument(
        "--app-dir", type=Path, default=ROOT, help="checkout whose app.py is served (default: this one)"
    )


@contextmanager
def serve(home: Path, app_dir: Path = ROOT, **env: str) -> Iterator[App]:
    """``streamlit run app.py`` of ``app_dir`` on a free port of 127.0.0.1 over the store at ``home``."""
    port = _free_port()
    log_path = home / "streamlit.log"
    command = [
        sys.executable, "-m", "streamlit", "run", "app.py", "--server.headless", "true",
        "--server.port", str(port), "--server.address", "127.0.0.1",
    ]  # fmt: skip
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            command, cwd=app_dir, env=app_env(home, **env), stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip
    app = App(f"http://127.0.0.1:{port}", home, process, log_path)
    try:
        _wait_healthy(app.url, process, log_path)
        yield app
    finally:
        _end(process)


def _end(process: subprocess.Popen) -> None:
    """Stop the server's process group: politely, then for good after 15 s."""
    for sig, grace in ((signal.SIGTERM, 15), (signal.SIGKILL, None)):
        if process.poll() is None:
            os.killpg(process.pid, sig)
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(timeout=grace)


def chromium(pw):
    """Debian's Chromium, headless, through Playwright."""
    reason = _missing()
    if reason:
        raise SystemExit(f"this benchmark {reason}")
    return pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)


def wait_idle(page, timeout_ms: int = 120_000) -> None:
    """Wait until Streamlit has drawn the page and is not running its script (fragments aside)."""
    page.wait_for_selector('[data-testid="stApp"]', timeout=timeout_ms)
    page.wait_for_function(IDLE, timeout=timeout_ms, polling=50)


def stop_runs(home: Path, timeout: float = 60) -> None:
    """Stop every queued or running training of the store and wait for their workers to end."""
    sys.path.insert(0, str(ROOT))
    from nnlab.runs import RunStore, process_alive

    store = RunStore(home)
    for run in store.list(statuses=("queued", "running")):
        store.request_stop(run.id)
    deadline = time.time() + timeout
    for run in store.list():
        while run.worker and process_alive(run.worker) and time.time() < deadline:
            time.sleep(0.3)
        if run.worker and process_alive(run.worker):
            os.kill(run.worker["pid"], signal.SIGKILL)
