"""How fast the Evaluate page opens a run: the first time (predicting the test set) and once seen.

Prints seconds for: the first open (predictions computed and stored), a second open in the same
server process, and an open in a fresh process (cold imports, predictions read from disk).
Run from the repository root: .venv/bin/python benchmarks/eval_page_open.py
"""

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = (
    Path(__file__).resolve().parents[1]
    if (Path(__file__).resolve().parents[1] / "nnlab").is_dir()
    else Path.cwd()
)
PAGE = str(ROOT / "pages" / "2_Evaluate.py")
OPEN = f"""
import sys, time
t = time.perf_counter()
from streamlit.testing.v1 import AppTest
at = AppTest.from_file({PAGE!r}, default_timeout=600).run()
assert not at.exception, at.exception
print(f"{{time.perf_counter() - t:.2f}}", "tensorflow" in sys.modules)
"""


def main() -> None:
    home = tempfile.mkdtemp(prefix="nnlab-bench-")
    os.environ["NNLAB_HOME"] = home
    sys.path.insert(0, str(ROOT))
    from nnlab.architectures import get_preset
    from nnlab.runs import RunStore
    from nnlab.training import TrainConfig, train
    from nnlab.worker import record_result

    config = TrainConfig(epochs=1, subset=2000, seed=0)
    result = train(get_preset("CNN with dropout (Keras tutorial)"), config)
    store = RunStore()
    run = store.create(get_preset("CNN with dropout (Keras tutorial)"), config.to_dict())
    record_result(store, run.id, result, started=time.time() - result.elapsed)

    from streamlit.testing.v1 import AppTest

    t = time.perf_counter()
    AppTest.from_file(PAGE, default_timeout=600).run()
    first = time.perf_counter() - t
    t = time.perf_counter()
    AppTest.from_file(PAGE, default_timeout=600).run()
    warm = time.perf_counter() - t
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    out = subprocess.run(
        [sys.executable, "-c", OPEN], env=env, capture_output=True, text=True, check=True
    ).stdout.split()
    print(f"first open (predicts 10,000 test images, includes TF import): {first:.2f} s")
    print(f"open of a seen run, same server process:                     {warm:.2f} s")
    print(
        f"open of a seen run, fresh process (cold imports):           {out[0]} s (TensorFlow "
        f"imported: {out[1]})"
    )


if __name__ == "__main__":
    main()
