"""The training engine: a validated config, one Keras ``fit``, and a stream of events.

``train`` is what the CLI, the background runner and the tests call. It reports progress through a
single lightweight Keras callback (``EventCallback``) so that watching a training costs almost
nothing, and it honours a stop request within one batch, keeping the model as it stands.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from nnlab import data as nndata
from nnlab.architectures import Spec, build_model
from nnlab.validation import InvalidConfig, SettingsDict, range_problems, subset_problems

OPTIMIZERS = ("adam", "sgd", "rmsprop")
SCHEDULES = ("constant", "plateau", "cosine", "exponential")

Event = dict[str, Any]
EventSink = Callable[[Event], None]
StopCheck = Callable[[], bool]


@dataclass
class TrainConfig(SettingsDict):
    """Every hyperparameter of one training. Defaults suit the tutorial networks."""

    optimizer: str = "adam"
    learning_rate: float = 1e-3
    momentum: float = 0.9  # used by sgd (and rmsprop)
    batch_size: int = 128
    epochs: int = 5
    validation_fraction: float = 0.1
    subset: int | None = None  # training images to use; None = all 60,000
    seed: int = 0
    schedule: str = "constant"
    plateau_factor: float = 0.5  # ReduceLROnPlateau: multiply the rate by this...
    plateau_patience: int = 1  # ...after this many epochs without improvement
    decay_rate: float = 0.8  # exponential schedule: rate multiplier per epoch
    early_stopping: bool = False
    early_stopping_patience: int = 3
    augment: bool = False  # small random shifts (up to 2 px) and rotations (up to 8 degrees)
    batch_event_every: int = 5  # report batch metrics every this many batches


# Settings that suit a preset better than the defaults (the UI offers them when the preset is chosen).
PRESET_SETTINGS: dict[str, dict[str, Any]] = {
    "Strong CNN (BatchNorm, 99.4 %+)": {
        "epochs": 10,
        "batch_size": 128,
        "learning_rate": 2e-3,
        "schedule": "cosine",
        "validation_fraction": 0.0,
    },
}


def preset_config(preset: str) -> TrainConfig:
    """The recommended config for a preset (the defaults where it has none)."""
    return TrainConfig(**PRESET_SETTINGS.get(preset, {}))


# Bounds shared by validation, the CLI and the UI's widgets.
LIMITS = {
    "learning_rate": (1e-6, 10.0),
    "momentum": (0.0, 0.999),
    "batch_size": (1, 8192),
    "epochs": (1, 1000),
    "validation_fraction": (0.0, 0.5),
    "subset": (100, 60000),
    "seed": (0, 2**31 - 1),
    "plateau_factor": (0.01, 0.99),
    "plateau_patience": (0, 100),
    "decay_rate": (0.01, 1.0),
    "early_stopping_patience": (0, 100),
    "batch_event_every": (1, 1000),
}


def validate_config(config: TrainConfig) -> list[str]:
    """Every problem with ``config`` in plain words; empty means it can be used."""
    problems = []
    if config.optimizer not in OPTIMIZERS:
        problems.append(f"Unknown optimizer {config.optimizer!r}; choose one of {', '.join(OPTIMIZERS)}.")
    if config.schedule not in SCHEDULES:
        problems.append(
            f"Unknown learning-rate schedule {config.schedule!r}; choose one of {', '.join(SCHEDULES)}."
        )
    ints = {
        "batch_size",
        "epochs",
        "subset",
        "seed",
        "plateau_patience",
        "early_stopping_patience",
        "batch_event_every",
    }
    labels = {"subset": "training subset", "validation_fraction": "validation fraction"}
    problems += range_problems(config, LIMITS, whole=ints, labels=labels, optional={"subset"})
    if not problems and config.subset is not None and config.validation_fraction > 0:
        if int(config.subset * config.validation_fraction) < 10:
            problems.append(
                "The validation split of this subset holds fewer than 10 images: use a larger subset or validation fraction."
            )
    if not problems:
        problems += subset_problems(config)
    return problems


@dataclass
class TrainResult:
    model: Any
    history: list[dict[str, float]]  # one dict per finished epoch
    test_loss: float
    test_accuracy: float
    stopped: bool
    elapsed: float  # seconds of training (without the final test evaluation)
    n_train: int
    n_val: int
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass
class PreparedData:
    x_train: np.ndarray
    y_train: np.ndarray
    x_val: np.ndarray
    y_val: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray


def prepare_data(config: TrainConfig, source: str | None = None) -> PreparedData:
    """Load MNIST and shape it for training: subset, stratified validation split, scaling, channel."""
    (x_train, y_train), (x_test, y_test) = nndata.load_mnist(source)
    if config.subset is not None:
        x_train, y_train = nndata.stratified_subset(x_train, y_train, config.subset, seed=config.seed)
    x_tr, y_tr, x_val, y_val = nndata.stratified_split(
        x_train, y_train, config.validation_fraction, seed=config.seed
    )
    prep = lambda x: nndata.add_channel(nndata.scale(x))  # noqa: E731
    return PreparedData(prep(x_tr), y_tr, prep(x_val), y_val, prep(x_test), y_test)


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
    return keras.optimizers.RMSprop(lr, momentum=config.momentum if config.momentum < 0.5 else 0.0)


def current_lr(model) -> float:
    """The optimizer's learning rate right now (schedules included)."""
    return float(np.asarray(model.optimizer.learning_rate))


class EventCallback:
    """Factory for the one Keras callback that turns training into events and honours stops.

    Kept as a thin wrapper so that this module imports without TensorFlow.
    """

    def __new__(
        cls,
        sink: EventSink | None,
        should_stop: StopCheck | None,
        every: int,
        batch_size: int,
        n_train: int,
        epochs: int,
    ):
        from nnlab._tf import keras

        class _Callback(keras.callbacks.Callback):
            def __init__(self) -> None:
                super().__init__()
                self.stopped = False
                self.t0 = 0.0
                self.epoch = 0
                self.epoch_t0 = 0.0
                self.history: list[dict[str, float]] = []

            def _emit(self, event: Event) -> None:
                if sink is not None:
                    sink(event)

            def on_train_begin(self, logs=None):
                self.t0 = time.perf_counter()
                steps = math.ceil(n_train / batch_size)
                self._emit(
                    {
                        "type": "start",
                        "epochs": epochs,
                        "steps_per_epoch": steps,
                        "n_train": n_train,
                        "lr": current_lr(self.model),
                        "time": time.time(),
                    }
                )

            def on_epoch_begin(self, epoch, logs=None):
                self.epoch = epoch
                self.epoch_t0 = time.perf_counter()
                self.epoch_lr = current_lr(self.model)  # the rate this epoch trains with
                self.batches_done = 0

            def on_train_batch_end(self, batch, logs=None):
                self.batches_done = batch + 1  # in this epoch
                if should_stop is not None and should_stop():
                    self.stopped = True
                    self.model.stop_training = True
                if sink is not None and ((batch + 1) % every == 0 or self.stopped):
                    now = time.perf_counter()
                    seen = min((batch + 1) * batch_size, n_train)
                    self._emit(
                        {
                            "type": "batch",
                            "epoch": self.epoch + 1,
                            "batch": batch + 1,
                            "loss": float(logs["loss"]),
                            "accuracy": float(logs["accuracy"]),
                            "elapsed": now - self.t0,
                            "samples_per_sec": seen / max(now - self.epoch_t0, 1e-9),
                        }
                    )

            def on_epoch_end(self, epoch, logs=None):
                now = time.perf_counter()
                steps = math.ceil(n_train / batch_size)
                done = self.batches_done
                # An epoch cut short by a stop request is placed where it ended (e.g. 0.22), not at 1.
                position = epoch + 1 if done >= steps else round(epoch + done / steps, 3)
                row = {
                    "epoch": position,
                    **{k: float(v) for k, v in (logs or {}).items() if k != "learning_rate"},
                }
                row["lr"] = self.epoch_lr
                row["elapsed"] = now - self.t0
                row["samples_per_sec"] = min(done * batch_size, n_train) / max(now - self.epoch_t0, 1e-9)
                self.history.append(row)
                self._emit({"type": "epoch", **row})

        return _Callback()


def train(
    spec: Spec,
    config: TrainConfig,
    on_event: EventSink | None = None,
    should_stop: StopCheck | None = None,
    data: PreparedData | None = None,
) -> TrainResult:
    """Train ``spec`` with ``config``; events go to ``on_event``; ``should_stop()`` ends it early.

    The same seed gives the same numbers on the CPU.
    """
    problems = validate_config(config)
    if problems:
        raise InvalidConfig(problems)
    from nnlab._tf import keras

    keras.utils.set_random_seed(config.seed)
    if data is None:
        data = prepare_data(config)
    model = build_model(spec)  # raises InvalidArchitecture with every problem
    n_train, n_val = len(data.y_train), len(data.y_val)
    steps = math.ceil(n_train / config.batch_size)
    model.compile(
        optimizer=make_optimizer(config, steps), loss="sparse_categorical_crossentropy", metrics=["accuracy"]
    )

    events = EventCallback(
        on_event, should_stop, config.batch_event_every, config.batch_size, n_train, config.epochs
    )
    callbacks: list[Any] = [events]
    monitor = "val_loss" if n_val else "loss"
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

    x, y = data.x_train, data.y_train
    validation = (data.x_val, data.y_val) if n_val else None
    if config.augment:
        x = _augmented_dataset(data.x_train, data.y_train, config)
        y = None
        fit_kwargs: dict[str, Any] = {"shuffle": False}  # the dataset shuffles itself
    else:
        fit_kwargs = {"batch_size": config.batch_size, "shuffle": True}
    t0 = time.perf_counter()
    model.fit(
        x, y, epochs=config.epochs, validation_data=validation, callbacks=callbacks, verbose=0, **fit_kwargs
    )
    elapsed = time.perf_counter() - t0
    test_loss, test_accuracy = model.evaluate(data.x_test, data.y_test, batch_size=512, verbose=0)
    result = TrainResult(
        model, events.history, float(test_loss), float(test_accuracy), events.stopped, elapsed, n_train, n_val
    )
    if on_event is not None:
        on_event(
            {
                "type": "end",
                "stopped": result.stopped,
                "test_loss": result.test_loss,
                "test_accuracy": result.test_accuracy,
                "elapsed": elapsed,
            }
        )
    return result


def _augmented_dataset(x: np.ndarray, y: np.ndarray, config: TrainConfig):
    """Shuffled batches with small random shifts and rotations, seeded."""
    from nnlab._tf import keras, tf

    augment = keras.Sequential(
        [
            keras.layers.RandomRotation(8 / 360, fill_mode="constant", seed=config.seed),
            keras.layers.RandomTranslation(2 / 28, 2 / 28, fill_mode="constant", seed=config.seed + 1),
        ]
    )
    ds = tf.data.Dataset.from_tensor_slices((x, y)).shuffle(
        len(y), seed=config.seed, reshuffle_each_iteration=True
    )
    ds = ds.batch(config.batch_size).map(
        lambda a, b: (augment(a, training=True), b), num_parallel_calls=tf.data.AUTOTUNE
    )
    return ds.prefetch(tf.data.AUTOTUNE)
