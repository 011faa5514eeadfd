"""A one-line terminal progress bar fed by training events (no dependency beyond the stdlib)."""

from __future__ import annotations

import sys
import time
from typing import Any, TextIO


class ProgressBar:
    """Redraws one line per event: epoch, batch, loss, accuracy and samples per second."""

    def __init__(self, stream: TextIO = sys.stderr, width: int = 24, min_interval: float = 0.1):
        self.stream, self.width, self.min_interval = stream, width, min_interval
        self.epochs = self.steps = 0
        self._last = 0.0
        self._tty = stream.isatty()

    def __call__(self, event: dict[str, Any]) -> None:
        kind = event["type"]
        if kind == "start":
            self.epochs, self.steps = event["epochs"], event["steps_per_epoch"]
            print(
                f"training on {event['n_train']} images, {self.epochs} epoch(s) of {self.steps} batches",
                file=self.stream,
            )
        elif kind == "batch":
            now = time.monotonic()
            if self._tty and now - self._last >= self.min_interval:
                self._last = now
                self._draw(event, end="")
        elif kind == "epoch":
            val = ""
            if "val_loss" in event:
                val = f"  val_loss {event['val_loss']:.4f}  val_acc {event['val_accuracy']:.4f}"
            line = (
                f"epoch {event['epoch']}/{self.epochs}  loss {event['loss']:.4f}  acc {event['accuracy']:.4f}{val}"
                f"  lr {event['lr']:.2e}  {event['samples_per_sec']:.0f} samples/s  {event['elapsed']:.1f}s"
            )
            print(("\r\033[K" if self._tty else "") + line, file=self.stream, flush=True)

    def _draw(self, event: dict[str, Any], end: str) -> None:
        done = int(self.width * event["batch"] / max(self.steps, 1))
        bar = "#" * done + "." * (self.width - done)
        print(
            f"\r\033[Kepoch {event['epoch']}/{self.epochs} [{bar}] batch {event['batch']}/{self.steps}"
            f"  loss {event['loss']:.4f}  acc {event['accuracy']:.4f}  {event['samples_per_sec']:.0f} samples/s",
            end=end,
            file=self.stream,
            flush=True,
        )
