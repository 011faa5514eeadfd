"""Run one training in this process, with a progress bar, and store it like any other run."""

from __future__ import annotations

from nnlab.cli.progress import ProgressBar
from nnlab.training import TrainConfig
from nnlab.ui.format import plain_error, terminal_text


def run_in_terminal(spec: dict, config: TrainConfig, name: str) -> int:
    """Train in the foreground (Ctrl-C stops gracefully); the run lands in the store like any other."""
    from nnlab.runs import RunStore
    from nnlab.worker import run_here

    store = RunStore()
    run = run_here(spec, config, name=name, store=store, on_event=ProgressBar())
    if run.status == "failed":
        print(f"run {run.id} failed: {terminal_text(plain_error(run.error))}")
        return 1
    print(f"test accuracy {run.test_accuracy:.4f}  test loss {run.test_loss:.4f}  ({run.status})")
    print(f"run {run.id} saved in {store.run_dir(run.id)}; model: {store.model_path(run.id)}")
    return 0
