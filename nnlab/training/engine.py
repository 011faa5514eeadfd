"""The training engine: one Keras ``fit`` of a spec with a validated config, reporting events.

``train`` is what the CLI, the background worker and the tests call. It reports progress through a
single lightweight Keras callback (``callback.py``) so that watching a training costs almost
nothing, and it honours a stop request within one batch, keeping the model as it stands.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Any

from nnlab import data as nndata
from nnlab.architectures import Spec, build_model
from nnlab.architectures.memory import evaluation_batch
from nnlab.events import EndEvent, EpochEvent, EventSink, StopCheck
from nnlab.training.config import TrainConfig, validate_config
from nnlab.validation import InvalidSettings


@dataclass
class TrainResult:
    model: Any
    history: list[EpochEvent]  # one per finished epoch
    test_loss: float
    test_accuracy: float
    stopped: bool
    elapsed: float  # seconds of training (without the final test evaluation)
    n_train: int
    n_val: int


PreparedData = nndata.Splits  # scaled images with a channel axis: (N, 28, 28, 1) float32 in [0, 1]


def prepare_data(config: TrainConfig, source: str | None = None) -> PreparedData:
    """Load MNIST and shape it for training: subset, stratified validation split, scaling, channel."""
    train, test = nndata.load_mnist(source)
    splits = nndata.training_splits(train, test, config.subset, config.validation_fraction, config.seed)
    return splits.map_images(lambda x: nndata.add_channel(nndata.scale(x)))


def make_optimizer(config: TrainConfig, steps_per_epoch: int):
    """The Keras optimizer with the learning-rate schedule built in (where it is a schedule)."""
    from nnlab._tf import keras

    lr: Any = config.learning_rate
    if config.schedule == "cosine":
        lr = keras.optimizers.schedules.CosineDecay(
            config.learning_rate, decay_steps=max(1, config.epochs * steps_per_epoch)
        )
    elif config.schedule == "exponential":
        lr = keras.optimizers.schedules.ExponentialDecay(
            config.learning_rate, decay_steps=steps_per_epoch, decay_rate=config.decay_rate
        )
    if config.optimizer == "adam":
        return keras.optimizers.Adam(lr)
    if config.optimizer == "sgd":
        return keras.optimizers.SGD(lr, momentum=config.momentum)
    # RMSprop divides each step by a running average of squared gradients; heavy momentum on top
    # makes it overshoot badly, so momentum of 0.5 or more (sgd's usual 0.9) is dropped here.
    return keras.optimizers.RMSprop(lr, momentum=config.momentum if config.momentum < 0.5 else 0.0)


def train(
    spec: Spec, config: TrainConfig, *, on_event: EventSink | None = None,
    should_stop: StopCheck | None = None, data: PreparedData | None = None, snapshots: bool = False,
) -> TrainResult:  # fmt: skip
    """Train ``spec`` with ``config``; events go to ``on_event``; ``should_stop()`` ends it early.

    With ``snapshots``, ``on_event`` also gets ``SnapshotEvent``s (``nnlab.snapshots``); with
    ``config.scale_inputs`` off the model's first layer multiplies its 0-1 input by 255. Raises
    ``InvalidSettings`` (every problem of the config or the spec). The same seed, the same numbers.
    """
    problems = validate_config(config)
    if problems:
        raise InvalidSettings(problems)
    from nnlab._tf import keras
    from nnlab.training.callback import event_callback

    keras.utils.set_random_seed(config.seed)
    if data is None:
        data = prepare_data(config)
    model = build_model(spec, raw_pixels=not config.scale_inputs)  # InvalidSettings: every problem
    n_train, n_val = len(data.y_train), len(data.y_val)
    steps = math.ceil(n_train / config.batch_size)
    model.compile(
        optimizer=make_optimizer(config, steps), loss="sparse_categorical_crossentropy", metrics=["accuracy"]
    )
    first = (data.x_train[: config.batch_size], data.y_train[: config.batch_size])  # its step-0 score
    events = event_callback(
        on_event, should_stop, every=config.batch_event_every, batch_size=config.batch_size,
        n_train=n_train, epochs=config.epochs, first_batch=first,
    )  # fmt: skip
    validation = (data.x_val, data.y_val) if n_val else None
    t0 = time.perf_counter()
    model.fit(
        **_fit_inputs(data, config),
        epochs=config.epochs,
        validation_data=validation,
        callbacks=[events, *_keras_callbacks(config, monitor="val_loss" if n_val else "loss")]
        + (_snapshot_callbacks(on_event, data, steps) if snapshots else []),
        verbose=0,
    )
    elapsed = time.perf_counter() - t0
    test_loss, test_accuracy = model.evaluate(
        data.x_test, data.y_test, batch_size=evaluation_batch(config.batch_size), verbose=0
    )
    result = TrainResult(
        model, events.history, float(test_loss), float(test_accuracy), events.stopped, elapsed, n_train, n_val
    )
    if on_event is not None:
        on_event(
            EndEvent(
                stopped=result.stopped,
                test_loss=result.test_loss,
                test_accuracy=result.test_accuracy,
                elapsed=elapsed,
            )
        )
    return result


def _keras_callbacks(config: TrainConfig, monitor: str) -> list[Any]:
    """Keras' own callbacks for the plateau schedule and early stopping, where asked for."""
    from nnlab._tf import keras

    callbacks: list[Any] = []
    if config.schedule == "plateau":
        callbacks.append(
            keras.callbacks.ReduceLROnPlateau(
                monitor=monitor,
                factor=config.plateau_factor,
                patience=config.plateau_patience,
                min_lr=1e-6,
                verbose=0,
            )
        )
    if config.early_stopping:
        callbacks.append(
            keras.callbacks.EarlyStopping(
                monitor=monitor, patience=config.early_stopping_patience, restore_best_weights=True, verbose=0
            )
        )
    return callbacks


def _fit_inputs(data: PreparedData, config: TrainConfig) -> dict[str, Any]:
    """``fit``'s data arguments: the arrays, or a shuffled and augmented dataset."""
    if config.augment:
        from nnlab.training.augmentation import augmented_dataset

        # the dataset shuffles itself and makes the batches
        dataset = augmented_dataset(data.x_train, data.y_train, config.batch_size, config.seed)
        return {"x": dataset, "y": None, "shuffle": False}
    return {"x": data.x_train, "y": data.y_train, "batch_size": config.batch_size, "shuffle": True}


def _snapshot_callbacks(on_event: EventSink | None, data: PreparedData, steps: int) -> list[Any]:
    """The callback taking snapshots (``nnlab.snapshots``) for ``on_event``, or none without a sink."""
    if on_event is None:
        return []
    from nnlab.snapshots import probe_indices
    from nnlab.training.snapshots import SnapshotCallback

    probe = probe_indices(data.y_test)
    return [SnapshotCallback(on_event, data.x_test[probe], probe, steps)]
