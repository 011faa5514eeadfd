"""How fast each Inspect view opens for the strong preset once its model is loaded (target: under 1 s),
and how long the digit map's t-SNE takes.

A strong-preset run is trained briefly as a worker trains it (so it has snapshots; the view's cost
does not depend on how well the network is trained). The page is opened once (loading TensorFlow
and the model), then each view is opened in turn, ``--repeats`` times, through Streamlit's AppTest:
the figure is the median time of a whole page run showing that view (the page's top part, the
prediction, and the view's own work and figures), with its first opening (its caches cold) listed too.
Both the wall time and the process's CPU time are given: on a machine shared with other work the wall
time swings with the load, the CPU time (the work the view costs) far less.

    python benchmarks/inspect_views.py [--repeats 5] [--tsne]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
PAGE = str(ROOT / "pages" / "3_Inspect.py")
PRESET = "Strong CNN (BatchNorm, 99.4 %+)"


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--tsne", action="store_true", help="also time the digit map's t-SNE (tens of seconds)")
    args = p.parse_args()
    os.environ["NNLAB_HOME"] = tempfile.mkdtemp(prefix="nnlab-bench-")
    from streamlit.testing.v1 import AppTest

    from nnlab.architectures import get_preset
    from nnlab.training import TrainConfig
    from nnlab.ui.links import INSPECT_VIEWS
    from nnlab.worker import run_here

    run = run_here(get_preset(PRESET), TrainConfig(epochs=1, subset=2000, seed=0), name="benchmark")
    at = AppTest.from_file(PAGE, default_timeout=600)
    t0 = time.perf_counter()
    at.run()
    print(f"first page open (TensorFlow, the model, the Network view): {time.perf_counter() - t0:.2f} s")
    print(f"\n{PRESET} (run {run.id}), each view opened {args.repeats} times after the model is loaded:")
    print(f"  {'view':<20} {'first':>7} {'median':>7} {'max':>7}   CPU median")
    for label in INSPECT_VIEWS.values():
        seconds, cpu = [], []
        for _ in range(args.repeats + 1):
            at.session_state["insp_view"] = "Network" if label != "Network" else "Saliency"
            at.run()  # leave the view, so that the next run opens it
            at.session_state["insp_view"] = label
            t0, c0 = time.perf_counter(), time.process_time()
            at.run()
            seconds.append(time.perf_counter() - t0)
            cpu.append(time.process_time() - c0)
            assert not at.exception, at.exception
        rest = seconds[1:]
        print(
            f"  {label:<20} {seconds[0]:6.2f}s {statistics.median(rest):6.2f}s {max(rest):6.2f}s"
            f"   {statistics.median(cpu[1:]):6.2f}s",
            flush=True,
        )
    if args.tsne:
        at.session_state["insp_view"] = "Digit map"
        at.session_state["insp_map_method"] = "t-SNE"
        t0 = time.perf_counter()
        at.run()
        print(
            f"\ndigit map, t-SNE of 2,000 images (first time; then cached): {time.perf_counter() - t0:.1f} s"
        )


if __name__ == "__main__":
    main()
