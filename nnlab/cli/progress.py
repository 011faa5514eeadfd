"""The terminal's view of a training: a ``rich`` progress bar per epoch and one line per finished epoch.

It is an event sink (``nnlab.events``): ``python -m nnlab train`` hands it to the training. On a
terminal the bar redraws in place; into a file or a pipe only the lines are written.
"""

from __future__ import annotations

import sys
from typing import TextIO

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from nnlab.events import BatchEvent, EndEvent, EpochEvent, Event, StartEvent


class ProgressBar:
    """Shows the batches of the current epoch as a bar with the running loss, accuracy and pace."""

    def __init__(self, stream: TextIO = sys.stderr):
        self.console = Console(file=stream, highlight=False, soft_wrap=True)
        self.epochs = self.steps = 0
        self.progress: Progress | None = None
        self.task = None

    def __call__(self, event: Event) -> None:
        if isinstance(event, StartEvent):
            self.epochs, self.steps = event.epochs, event.steps_per_epoch
            self.console.print(
                f"training on {event.n_train} images, {self.epochs} epoch(s) of {self.steps} batches"
            )
        elif isinstance(event, BatchEvent) and self.console.is_terminal:
            self._bar().update(
                self.task,
                completed=event.batch,
                description=f"epoch {event.epoch}/{self.epochs}",
                loss=event.loss,
                accuracy=event.accuracy,
                pace=event.samples_per_sec,
            )
        elif isinstance(event, EpochEvent):
            self._close()
            self.console.print(self._epoch_line(event))
        elif isinstance(event, EndEvent):
            self._close()

    def _bar(self) -> Progress:
        if self.progress is None:
            self.progress = Progress(
                TextColumn("{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn("loss {task.fields[loss]:.4f}  acc {task.fields[accuracy]:.4f}"),
                TextColumn("{task.fields[pace]:,.0f} samples/s"),
                TimeElapsedColumn(),
                console=self.console,
                transient=True,  # the epoch's line replaces the bar when the epoch ends
            )
            self.progress.start()
            self.task = self.progress.add_task("", total=self.steps, loss=0.0, accuracy=0.0, pace=0.0)
        return self.progress

    def _close(self) -> None:
        if self.progress is not None:
            self.progress.stop()
            self.progress, self.task = None, None

    def _epoch_line(self, event: EpochEvent) -> str:
        val = ""
        if event.val_loss is not None:
            val = f"  val_loss {event.val_loss:.4f}  val_acc {event.val_accuracy:.4f}"
        return (
            f"epoch {event.epoch}/{self.epochs}  loss {event.loss:.4f}  acc {event.accuracy:.4f}{val}"
            f"  lr {event.lr:.2e}  {event.samples_per_sec:.0f} samples/s  {event.elapsed:.1f}s"
        )
