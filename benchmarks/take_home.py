"""What the classroom features cost: share-link sizes, export time, and importing a model file.

- the share code of every preset with its recommended settings (characters in the link);
- generating the script and the notebook of the strong preset (median of 20, milliseconds);
- importing a model file as a run (load safely, convert, copy the weights into NN Lab's model, classify
  the 10,000 test images, keep it), TensorFlow already imported: a tutorial MLP and CNN saved as
  ``.h5`` (median of 3 each, seconds).

    .venv/bin/python benchmarks/take_home.py [--repeats 3]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from nnlab.architectures import PRESETS, build_model, get_preset  # noqa: E402
from nnlab.export import export_notebook, export_script  # noqa: E402
from nnlab.sharing import encode  # noqa: E402
from nnlab.training import preset_config  # noqa: E402

STRONG = "Strong CNN (BatchNorm, 99.4 %+)"
TUTORIAL_CNN = {
    "layers": [
        {"kind": "Conv2D", "filters": 32},
        {"kind": "MaxPooling2D"},
        {"kind": "Conv2D", "filters": 64},
        {"kind": "MaxPooling2D"},
        {"kind": "Flatten"},
        {"kind": "Dropout", "rate": 0.5},
        {"kind": "Dense", "units": 10, "activation": "softmax"},
    ]
}


def _median_seconds(task, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        task()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    for name, spec in PRESETS.items():
        print(f"share code {len(encode(spec, preset_config(name))):>4} characters  {name}")
    spec, config = get_preset(STRONG), preset_config(STRONG)
    script = _median_seconds(lambda: export_script(spec, config), 20) * 1000
    notebook = _median_seconds(lambda: export_notebook(spec, config), 20) * 1000
    print(f"export of the strong preset: script {script:.1f} ms, notebook {notebook:.1f} ms (medians of 20)")

    from nnlab.importing import import_model_file
    from nnlab.runs import RunStore

    with tempfile.TemporaryDirectory() as tmp:
        store = RunStore(Path(tmp) / "store")
        for label, net in (("MLP 784-128-10", get_preset("MLP 784-128-10")), ("tutorial CNN", TUTORIAL_CNN)):
            path = Path(tmp) / f"{label.split()[0].lower()}.h5"
            build_model(net).save(path)  # the legacy HDF5 file model.save('model.h5') writes
            import_model_file(store, path)  # once first: Keras' own first-call costs
            seconds = _median_seconds(lambda p=path: import_model_file(store, p), args.repeats)
            print(f"import of a {label} .h5 as a run: {seconds:.2f} s (median of {args.repeats})")


if __name__ == "__main__":
    main()
