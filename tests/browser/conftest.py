"""Browser test harness: the real app under ``streamlit run``, driven by Playwright in Chromium.

Fixtures for every browser test:

- ``app_server`` (session): starts ``python -m streamlit run app.py`` on a free localhost port with
  a temporary run store (``NNLAB_HOME``), one warm spare worker (the default of a deployed
  server) and TensorFlow on one thread (``TF_NUM_INTRAOP_THREADS``), waits for ``/_stcore/health``,
  and at the end stops the server and any training worker it started. ``app_server.url`` is the base URL,
  ``app_server.store()`` the server's ``RunStore``, ``app_server.log()`` its output so far.
  ``running_app(home)`` starts another such server for one test (a server of its own, e.g. freshly
  started).
- ``browser`` (session): headless Debian Chromium (``/usr/bin/chromium``) through Playwright.
- ``page`` (each test): a fresh browser context and page (its own visitor).
- ``open_app`` (each test): ``open_app(page_path="", **query)`` opens a page of the app in
  ``page`` and waits until the script has finished running; returns the Playwright page.
- ``trained_cnn`` (session): ``(run, visitor)``, a tiny CNN trained once in the server's store for
  the tests that only read a trained network (Draw, Inspect), owned by a visitor of its own.

Helpers: ``wait_idle(page)`` waits until Streamlit has finished a rerun; ``by_key(page, key)``
finds the element of a widget or element created with ``key=`` (its ``.st-key-<key>`` class).
Tests in this folder import them (``from conftest import by_key, wait_idle``) or use the ``app``
fixture's methods.

Browser tests are marked ``browser`` and are skipped, with the reason, where Chromium or
Playwright is missing. ``.ci/run`` (scripts/test.sh) installs Debian's chromium first.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlencode

import pytest

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
START_TIMEOUT = 90  # seconds for the server to answer its health check on a busy machine
DEFAULT_TIMEOUT_MS = 30_000


def _missing() -> str | None:
    if not os.path.exists(CHROMIUM):
        return (
            f"browser tests need Debian's chromium at {CHROMIUM} (apt-get install chromium "
            "chromium-driver; .ci/run does it)"
        )
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "browser tests need Playwright for Python (pip install -r requirements-dev.txt)"
    return None


def pytest_collection_modifyitems(config, items):
    reason = _missing()
    here = Path(__file__).parent
    for item in items:
        if Path(str(item.fspath)).is_relative_to(here):
            item.add_marker(pytest.mark.browser)
            if reason:
                item.add_marker(pytest.mark.skip(reason=reason))


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _python() -> str:
    venv = ROOT / ".venv" / "bin" / "python"
    return str(venv) if venv.exists() else sys.executable


@dataclass
class AppServer:
    url: str
    home: Path
    process: subprocess.Popen
    log_path: Path

    def store(self):
        from nnlab.runs import RunStore

        return RunStore(self.home)

    def log(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def stop_workers(self, timeout: float = 30) -> None:
        """Stop every training of this store and make sure no worker process outlives the tests."""
        from nnlab.runs import process_alive

        store = self.store()
        for run in store.list(statuses=("queued", "running")):
            store.request_stop(run.id)
        deadline = time.time() + timeout
        for run in store.list():
            handle = run.worker or {}
            pid = handle.get("pid")
            if not pid or pid == os.getpid():
                continue
            while process_alive(handle) and time.time() < deadline:
                time.sleep(0.3)
            if process_alive(handle):
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass


def _wait_healthy(url: str, process: subprocess.Popen, log_path: Path) -> None:
    deadline = time.time() + START_TIMEOUT
    while time.time() < deadline:
        if process.poll() is not None:
            raise RuntimeError(
                f"streamlit exited with status {process.returncode}:\n{log_path.read_text()[-3000:]}"
            )
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as resp:
                if resp.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.3)
    raise RuntimeError(
        f"streamlit did not answer {url}/_stcore/health within {START_TIMEOUT} "
        f"s:\n{log_path.read_text()[-3000:]}"
    )


@pytest.fixture(scope="session")
def app_server(tmp_path_factory) -> Iterator[AppServer]:
    reason = _missing()
    if reason:
        pytest.skip(reason)
    with running_app(tmp_path_factory.mktemp("browser_nnlab_home")) as server:
        yield server


@contextmanager
def running_app(home: Path) -> Iterator[AppServer]:
    """``streamlit run app.py`` on a free localhost port over the run store at ``home``, until the
    block ends (then the server and any training worker it started are stopped)."""
    log_path = home / "streamlit.log"
    port = _free_port()
    env = {**os.environ, "NNLAB_HOME": str(home), "TF_CPP_MIN_LOG_LEVEL": "2", "PYTHONUNBUFFERED": "1"}
    for name in (
        "NNLAB_MAX_EPOCHS",
        "NNLAB_MAX_PARAMS",
        "NNLAB_MAX_QUEUED_PER_VISITOR",
        "NNLAB_MAX_CONCURRENT",
        "NNLAB_SECRETS",
    ):
        env.pop(name, None)  # the tests expect no hosted-demo limits
    env["NNLAB_SECRETS"] = str(home / "no-secrets.toml")
    # The server keeps one warm spare worker, as a deployed server does by default (nnlab/warm.py): it
    # warms up while the first tests run, so the trainings started from the page skip TensorFlow's
    # import. (Cold workers are covered by tests/test_train_page.py, test_runner.py and others.)
    env["NNLAB_WARM_WORKERS"] = "1"
    # TensorFlow in the server and in its workers computes on one thread: a training leaves the other
    # core to Chromium, the server and the test (on a 2-core machine this costs less CPU in all).
    env["TF_NUM_INTRAOP_THREADS"] = env["TF_NUM_INTEROP_THREADS"] = "1"
    command = [
        _python(),
        "-m",
        "streamlit",
        "run",
        "app.py",
        "--server.headless",
        "true",
        "--server.port",
        str(port),
        "--server.address",
        "127.0.0.1",
        "--browser.gatherUsageStats",
        "false",
        "--server.fileWatcherType",
        "none",
    ]
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
    server = AppServer(f"http://127.0.0.1:{port}", home, process, log_path)
    try:
        _wait_healthy(server.url, process, log_path)
        yield server
    finally:
        try:
            os.killpg(process.pid, signal.SIGTERM)
            process.wait(timeout=15)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            try:
                os.killpg(process.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            process.wait(timeout=5)
        server.stop_workers()


@pytest.fixture(scope="session")
def trained_cnn(app_server):
    """A finished tiny CNN in the server's run store, owned by a visitor of its own (other visitors do
    not see it): trained once for every test that only reads a trained network."""
    from nnlab.architectures import get_preset
    from nnlab.training import TrainConfig
    from nnlab.worker import run_here

    visitor = "trained" + uuid.uuid4().hex[:12]
    spec = get_preset("CNN Conv32-Pool-Conv64-Pool-Dense64")
    config = TrainConfig(epochs=1, subset=600, batch_size=64)
    store = app_server.store()
    run = run_here(spec, config, name="browser test network", owner=visitor, store=store)
    assert run.status == "completed", run.error
    assert store.model_path(run.id).is_file()
    return run, visitor


@pytest.fixture(scope="session")
def browser():
    reason = _missing()
    if reason:
        pytest.skip(reason)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            yield b
        finally:
            b.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    context.set_default_timeout(DEFAULT_TIMEOUT_MS)
    pg = context.new_page()
    try:
        yield pg
    finally:
        context.close()


def wait_idle(page, timeout_ms: int = 60_000) -> None:
    """Wait until Streamlit has drawn the app and is not running the script (fragments aside)."""
    page.wait_for_selector('[data-testid="stApp"]', timeout=timeout_ms)
    page.wait_for_function(
        """() => {
            const app = document.querySelector('[data-testid="stApp"]');
            return app && app.getAttribute('data-test-script-state') === 'notRunning'
                && !document.querySelector('[data-testid="stSkeleton"]');
        }""",
        timeout=timeout_ms,
    )
    page.wait_for_timeout(200)  # let the last deltas land


def by_key(page, key: str):
    """The element container of the widget or element created with ``key=key``."""
    return page.locator(f".st-key-{key}")


@pytest.fixture
def open_app(app_server, page) -> Callable[..., object]:
    def _open(page_path: str = "", **query: str):
        url = f"{app_server.url}/{page_path.lstrip('/')}"
        if query:
            url += "?" + urlencode(query)
        page.goto(url)
        wait_idle(page)
        return page

    return _open


@pytest.fixture
def app(app_server):
    """The helpers above as one object, for tests in other files: ``app.wait_idle(page)`` etc."""

    class _Helpers:
        server = app_server
        url = app_server.url

        @staticmethod
        def wait_idle(pg, timeout_ms: int = 60_000) -> None:
            wait_idle(pg, timeout_ms)

        @staticmethod
        def by_key(pg, key: str):
            return by_key(pg, key)

    return _Helpers()
