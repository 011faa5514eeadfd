"""The strong preset: test accuracy and time on this machine (issue 2: >= 99.4 % within 5 minutes).

Trains the preset on all 60,000 training images with its recommended settings
(``nnlab.training.preset_config``) and prints the training time, the whole-process time and the
test accuracy on the 10,000 test images.

    python benchmarks/strong_preset.py [--epochs N]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

T_PROCESS = time.perf_counter()
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from nnlab import architectures  # noqa: E402
from nnlab.events import EpochEvent  # noqa: E402
from nnlab.training import preset_config, train  # noqa: E402

NAME = "Strong CNN (BatchNorm, 99.4 %+)"


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--epochs", type=int, default=None)
    args = p.parse_args()
    config = preset_config(NAME)
    if args.epochs:
        config.epochs = args.epochs

    def show(event) -> None:
        if isinstance(event, EpochEvent):
            print(
                f"epoch {event.epoch:2d}  loss {event.loss:.4f}  lr {event.lr:.2e}  {event.elapsed:6.1f} s",
                flush=True,
            )

    result = train(architectures.get_preset(NAME), config, on_event=show)
    total = time.perf_counter() - T_PROCESS
    print(
        f"\n{NAME}: {architectures.count_params(architectures.PRESETS[NAME]):,} parameters, "
        f"{config.epochs} epochs, "
        f"batch {config.batch_size}, {config.optimizer} lr {config.learning_rate} {config.schedule}"
    )
    print(
        f"test accuracy {100 * result.test_accuracy:.2f} %   training {result.elapsed:.0f} s   "
        f"whole process {total:.0f} s"
    )


if __name__ == "__main__":
    main()
