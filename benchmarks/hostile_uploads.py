"""What hostile and normal uploads cost the web process, and what the evaluating child takes.

Makes a normal upload (the 784-128-10 network as Keras saves it, 424 KB) and the issue's hostile
files from it (a Dense layer claiming 600,000 units; a 390 MB zip bomb; 3,000 layers), in a
separate process so that this one never imports TensorFlow, as the web server does not. Then, in
this process: the time ``check_model_file`` takes to refuse each hostile file (median of 5) and this
process's peak memory; and one ``predict_upload`` of the normal file (the child's wall time and peak
memory). Targets: every hostile file refused in under 1 s, the web process under 500 MB throughout.

    .venv/bin/python benchmarks/hostile_uploads.py
"""

from __future__ import annotations

import os
import resource
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

MAKE = textwrap.dedent("""
    import json, sys, zipfile
    from pathlib import Path
    from nnlab.architectures import build_model, get_preset
    folder = Path(sys.argv[1])
    build_model(get_preset("MLP 784-128-10")).save(folder / "normal.keras")

    def rewrite(name, edit=None, padding_mb=0):
        with zipfile.ZipFile(folder / "normal.keras") as a, zipfile.ZipFile(folder / name, "w", 8) as b:
            for item in a.infolist():
                data = a.read(item)
                if item.filename == "config.json" and edit:
                    config = json.loads(data)
                    edit(config["config"]["layers"])
                    data = json.dumps(config).encode()
                with b.open(item.filename, "w") as out:
                    out.write(data)
                    for _ in range(padding_mb if item.filename.endswith(".h5") else 0):
                        out.write(bytes(1_000_000))

    def wide(layers):
        layers[2]["config"]["units"] = 600_000

    def deep(layers):
        layers[2:2] = [{**layers[2], "config": {**layers[2]["config"], "name": f"d{i}"}} for i in range(3000)]

    rewrite("wide.keras", wide)
    rewrite("bomb.keras", padding_mb=390)
    rewrite("deep.keras", deep)
""")


def peak_mb(who: int = resource.RUSAGE_SELF) -> float:
    return resource.getrusage(who).ru_maxrss / 1024


def measure(folder: Path) -> None:
    """In a process of its own (its children's peak is then the sandbox child's alone)."""
    from nnlab.modelio import ModelLoadError, check_model_file
    from nnlab.sandbox import predict_upload

    print(f"web process before: peak {peak_mb():.0f} MB")
    for name in ("wide", "bomb", "deep"):
        path = folder / f"{name}.keras"
        times, message = [], ""
        for _ in range(5):
            start = time.perf_counter()
            try:
                check_model_file(path)
            except ModelLoadError as exc:
                message = str(exc)
            times.append(time.perf_counter() - start)
        size = path.stat().st_size / 1e3
        print(
            f"{name:5} ({size:,.0f} kB): refused in {1000 * statistics.median(times):.1f} ms: {message[:90]}"
        )
    print(f"web process after refusing them: peak {peak_mb():.0f} MB")
    start = time.perf_counter()
    probs = predict_upload((folder / "normal.keras").read_bytes())
    print(
        f"normal upload: {probs.shape} predictions in {time.perf_counter() - start:.1f} s (child peak "
        f"{peak_mb(resource.RUSAGE_CHILDREN):.0f} MB); web process peak {peak_mb():.0f} MB; "
        f"TensorFlow imported here: {'tensorflow' in sys.modules}"
    )


def make(folder: Path) -> None:
    """The four files in ``folder`` (``normal``, ``wide``, ``bomb``, ``deep`` .keras), made in a
    process of their own; ``tests/test_sandbox.py`` uses them too."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "TF_CPP_MIN_LOG_LEVEL": "3"}
    subprocess.run([sys.executable, "-c", MAKE, str(folder)], check=True, env=env, capture_output=True)


def main() -> None:
    if sys.argv[1:2] == ["--measure"]:
        measure(Path(sys.argv[2]))
        return
    folder = Path(tempfile.mkdtemp(prefix="nnlab-uploads-"))
    make(folder)
    env = {
        **os.environ,
        "NNLAB_HOME": os.environ.get("NNLAB_HOME") or tempfile.mkdtemp(prefix="nnlab-bench-"),
    }
    subprocess.run([sys.executable, __file__, "--measure", str(folder)], check=True, env=env)


if __name__ == "__main__":
    main()
