"""Make README's picture, ``docs/screenshot.png``: the Build & Train page while a network trains.

    .venv/bin/python scripts/screenshot.py [--out docs/screenshot.png]

Starts the app on a fresh store (``benchmarks/browser_app.serve``), trains the Keras tutorial's
dropout CNN on 30,000 images for 4 epochs through the runner (a worker process, as a Train click
does), opens its live view in Debian's headless Chromium and, once the second epoch is under way,
takes the picture of the page's Train section: the progress, the pace and the live loss and
accuracy charts. Install ``fonts-noto-color-emoji`` first so that the page's icons are drawn.
About a minute on a 2-core machine; not part of the tests.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "benchmarks")]

from browser_app import COUNT_POINTS, LIMITS, app_env, chromium, serve, stop_runs  # noqa: E402

VISITOR = "readme"  # the runs' owner: the page opens as this visitor's
EPOCHS = 4
SHOW_FROM_EPOCH = 2  # the charts show a finished epoch (its dots) and the next one's batches


def train(home: Path):
    from nnlab.architectures import get_preset
    from nnlab.runner import Runner
    from nnlab.runs import RunStore
    from nnlab.training import TrainConfig

    runner = Runner(RunStore(home), max_concurrent=1)
    config = TrainConfig(epochs=EPOCHS, subset=30_000)
    name = "Keras tutorial CNN, 30,000 images"
    return runner.submit(get_preset("CNN with dropout (Keras tutorial)"), config, name=name, owner=VISITOR)


def wait_for_epoch(store, run_id: str, epoch: int, timeout: float = 300) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        run = store.get(run_id)
        if run.status not in ("queued", "running"):
            raise SystemExit(f"the training ended before epoch {epoch} ({run.status}): {run.error}")
        if (run.progress or {}).get("epoch", 0) >= epoch and (run.progress or {}).get("batch", 0) > 60:
            return
        time.sleep(0.5)
    raise SystemExit(f"the training did not reach epoch {epoch} within {timeout} s")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "screenshot.png")
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    from nnlab.runs import RunStore

    with tempfile.TemporaryDirectory(prefix="nnlab-screenshot-") as folder:
        home = Path(folder)
        os.environ.update(app_env(home))  # the run submitted here: the server's store, no operator limits
        for name in (*LIMITS, "NNLAB_BROKER_URL"):
            os.environ.pop(name, None)
        with serve(home) as app, sync_playwright() as pw:
            browser = chromium(pw)
            try:
                run = train(home)
                page = browser.new_page(viewport={"width": 1300, "height": 1050})
                page.goto(f"{app.url}/Build_and_Train?visitor={VISITOR}&run={run.id}")
                page.wait_for_function(f"({COUNT_POINTS})() > 0", timeout=180_000, polling=500)
                wait_for_epoch(RunStore(home), run.id, SHOW_FROM_EPOCH)
                time.sleep(2)  # a refresh or two: the charts and the progress catch up with the store
                page.get_by_text("3 · Train").evaluate("e => e.scrollIntoView({block: 'start'})")
                time.sleep(0.5)
                page.screenshot(path=str(args.out))
            finally:
                browser.close()
                stop_runs(home)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
