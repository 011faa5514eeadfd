"""Small builders of training events for tests that write metrics to a store by hand."""

from __future__ import annotations

from nnlab.events import BatchEvent, EpochEvent


def batch_event(
    epoch: int, batch: int, loss: float, accuracy: float = 0.5, steps_per_epoch: int = 100
) -> BatchEvent:
    step = (epoch - 1) * steps_per_epoch + batch
    return BatchEvent(
        epoch=epoch,
        batch=batch,
        step=step,
        loss=loss,
        accuracy=accuracy,
        elapsed=0.1 * step,
        samples_per_sec=1e3,
    )


def epoch_event(epoch: float, loss: float, accuracy: float = 0.5, **more) -> EpochEvent:
    values = {"lr": 1e-3, "elapsed": 10.0 * epoch, "samples_per_sec": 1000.0, **more}
    return EpochEvent(epoch=epoch, loss=loss, accuracy=accuracy, **values)
