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


def busy_runner(owner: str = "someone-else"):
    """A runner whose one training slot is taken by a run that looks alive (its worker is this test
    process), so that what a test submits stays queued: no worker starts, no TensorFlow loads."""
    import time

    from nnlab.architectures import get_preset
    from nnlab.runner import Runner
    from nnlab.runs import RunStore, process_handle

    store = RunStore()
    run = store.create(get_preset("Logistic regression 784-10"), {"epochs": 1, "subset": 300}, owner=owner)
    store.update(run.id, status="running", started=time.time(), worker=process_handle())
    return Runner(store, max_concurrent=1)


def finish(store, run_id: str, accuracy: float, seconds: float = 10.0, status: str = "completed") -> None:
    """Mark a stored run as ended with a test accuracy, as a worker would."""
    import time

    now = time.time()
    store.update(
        run_id, status=status, started=now - seconds, finished=now, test_accuracy=accuracy, test_loss=0.3
    )


def sent_chart(figure) -> dict:
    """A figure's dict as sent to the browser, with its typed arrays (``{"dtype", "bdata"}``, as
    plotly.js reads them) decoded to float64 lists rounded to 6 significant digits: a live chart
    (float32) and the static chart of the same data (float64) compare equal."""
    import base64

    import numpy as np

    def decoded(value):
        if isinstance(value, dict) and set(value) == {"dtype", "bdata"}:
            array = np.frombuffer(base64.b64decode(value["bdata"]), dtype=np.dtype(value["dtype"]))
            return [float(f"{v:.6g}") for v in array.astype(float)]
        if isinstance(value, (list, tuple)) and all(isinstance(v, (int, float)) for v in value):
            return [float(f"{v:.6g}") for v in value]
        if isinstance(value, dict):
            return {k: decoded(v) for k, v in value.items()}
        if isinstance(value, list):
            return [decoded(v) for v in value]
        return value

    import json

    import plotly.io as pio

    return decoded(json.loads(pio.to_json(figure, validate=False)))
