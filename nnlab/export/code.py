"""The pieces of an exported program: each layer, the optimizer and its schedule, the callbacks.

Every function returns Python source text that builds the same thing ``architectures.build_model``
and ``training.engine`` build (the same layers, settings, optimizer, schedule and callbacks), written
the way the Keras tutorials write it. Numbers are written with ``repr`` and no text from a user ever
reaches the code outside a comment made safe by ``comment_text``.
"""

from __future__ import annotations

from typing import Any

from nnlab.training import TrainConfig


def comment_text(text: Any, max_chars: int = 100) -> str:
    """``text`` on one line, fit for a ``#`` comment or Markdown: no line breaks nor control characters."""
    flat = "".join(c if c.isprintable() else " " for c in str(text))
    flat = " ".join(flat.split())
    return flat if len(flat) <= max_chars else flat[: max_chars - 1] + "…"


def _num(value: Any) -> str:
    return repr(float(value))


def _regularizer(layer: dict[str, Any]) -> list[str]:
    if not (layer["l1"] or layer["l2"]):
        return []
    return [f"kernel_regularizer=regularizers.L1L2(l1={_num(layer['l1'])}, l2={_num(layer['l2'])})"]


def _window(layer: dict[str, Any], default_strides: Any) -> list[str]:
    strides = [f"strides={layer['strides']}"] if layer["strides"] != default_strides else []
    return strides + ([f'padding="{layer["padding"]}"'] if layer["padding"] != "valid" else [])


def layer_call(layer: dict[str, Any]) -> tuple[str, list[str]]:
    """One normalized spec layer as a Keras layer and its arguments: ``("layers.Dense", ["128", ...])``."""
    kind = layer["kind"]
    if kind == "Dense":
        return "layers.Dense", [
            str(layer["units"]),
            f'activation="{layer["activation"]}"',
            *_regularizer(layer),
        ]
    if kind == "Conv2D":
        args = [str(layer["filters"]), str(layer["kernel_size"]), f'activation="{layer["activation"]}"']
        return "layers.Conv2D", args + _window(layer, 1) + _regularizer(layer)
    if kind in ("MaxPooling2D", "AveragePooling2D"):
        return f"layers.{kind}", [str(layer["pool_size"]), *_window(layer, None)]
    if kind == "Dropout":
        return "layers.Dropout", [_num(layer["rate"])]
    if kind == "BatchNormalization":
        # NN Lab's momentum (Keras' default is 0.99): the running statistics settle within a short training.
        return "layers.BatchNormalization", ["momentum=0.9"]
    if kind == "Flatten":
        return "layers.Flatten", []
    raise ValueError(f"no code for a layer of kind {kind!r}")


def layer_code(layer: dict[str, Any], indent: int = 0, width: int = 100) -> str:
    """A layer call as ruff formats it: on one line if it fits, else one argument per line."""
    name, args = layer_call(layer)
    pad = " " * indent
    line = f"{pad}{name}({', '.join(args)}),"
    if len(line) <= width:
        return line
    inner = "".join(f"{pad}    {arg},\n" for arg in args)
    return f"{pad}{name}(\n{inner}{pad}),"


def model_code(layers: list[dict[str, Any]], raw_pixels: bool = False) -> str:
    """The ``keras.Sequential`` model, one layer per line (``raw_pixels``: input scaling off)."""
    lines = ["model = keras.Sequential(", "    [", "        keras.Input(shape=(28, 28, 1)),"]
    if raw_pixels:  # as build_model(raw_pixels=True) builds it
        lines += [
            "        # Input scaling off: the images stay 0-1, but the weights see raw 0-255 pixels.",
            "        layers.Rescaling(255.0),",
        ]
    lines += [layer_code(layer, indent=8) for layer in layers]
    lines += ["    ]", ")", "model.summary()"]
    return "\n".join(lines)


def optimizer_code(config: TrainConfig) -> str:
    """The learning rate (a schedule where the run used one) and the optimizer, then ``compile``."""
    lines = []
    rate = "LEARNING_RATE"
    if config.schedule in ("cosine", "exponential"):
        lines.append("steps_per_epoch = math.ceil(len(x_train) / BATCH_SIZE)")
        rate = "learning_rate"
    if config.schedule == "cosine":
        lines.append("# Cosine decay: the rate glides from LEARNING_RATE down to 0 over the whole training.")
        lines += [
            "learning_rate = keras.optimizers.schedules.CosineDecay(",
            "    LEARNING_RATE, decay_steps=EPOCHS * steps_per_epoch",
            ")",
        ]
    elif config.schedule == "exponential":
        lines.append(f"# Exponential decay: the rate is multiplied by {config.decay_rate:g} every epoch.")
        lines += [
            "learning_rate = keras.optimizers.schedules.ExponentialDecay(",
            f"    LEARNING_RATE, decay_steps=steps_per_epoch, decay_rate={_num(config.decay_rate)}",
            ")",
        ]
    lines.append(_optimizer_line(config, rate))
    lines.append(
        'model.compile(optimizer=optimizer, loss="sparse_categorical_crossentropy", metrics=["accuracy"])'
    )
    return "\n".join(lines)


def _optimizer_line(config: TrainConfig, rate: str) -> str:
    if config.optimizer == "adam":
        return f"optimizer = keras.optimizers.Adam(learning_rate={rate})"
    if config.optimizer == "sgd":
        return f"optimizer = keras.optimizers.SGD(learning_rate={rate}, momentum={_num(config.momentum)})"
    # As NN Lab does: heavy momentum on top of RMSprop overshoots, so 0.5 or more is dropped.
    momentum = config.momentum if config.momentum < 0.5 else 0.0
    return f"optimizer = keras.optimizers.RMSprop(learning_rate={rate}, momentum={_num(momentum)})"


def callbacks_code(config: TrainConfig) -> str:
    """The Keras callbacks for the plateau schedule and early stopping (an empty list without them)."""
    lines = ['monitor = "val_loss" if len(x_val) else "loss"  # what the callbacks watch', "callbacks = []"]
    if config.schedule == "plateau":
        lines += [
            "# Cut the learning rate when the loss stops improving.",
            "callbacks.append(",
            "    keras.callbacks.ReduceLROnPlateau("
            f"monitor=monitor, factor={_num(config.plateau_factor)}, "
            f"patience={config.plateau_patience}, min_lr=1e-6)",
            ")",
        ]
    if config.early_stopping:
        lines += [
            "# Stop when the loss stops improving, and keep the best weights.",
            "callbacks.append(",
            "    keras.callbacks.EarlyStopping("
            f"monitor=monitor, patience={config.early_stopping_patience}, restore_best_weights=True)",
            ")",
        ]
    return "\n".join(lines)


def fit_code(config: TrainConfig) -> str:
    """``model.fit`` on the arrays, or on a shuffled dataset of augmented batches."""
    validation = "validation_data=(x_val, y_val) if len(x_val) else None"
    if not config.augment:
        return "\n".join(
            [
                "history = model.fit(",
                "    x_train,",
                "    y_train,",
                "    batch_size=BATCH_SIZE,",
                "    epochs=EPOCHS,",
                f"    {validation},",
                "    callbacks=callbacks,",
                ")",
            ]
        )
    return "\n".join(
        [
            "# Augmentation: each batch is shown rotated (up to 8 degrees) and shifted (up to 2 pixels).",
            "augment = keras.Sequential(",
            "    [",
            '        layers.RandomRotation(8 / 360, fill_mode="constant", seed=SEED),',
            '        layers.RandomTranslation(2 / 28, 2 / 28, fill_mode="constant", seed=SEED + 1),',
            "    ]",
            ")",
            "train_data = (",
            "    tf.data.Dataset.from_tensor_slices((x_train, y_train))",
            "    .shuffle(len(y_train), seed=SEED)",
            "    .batch(BATCH_SIZE)",
            "    .map(lambda images, labels: (augment(images, training=True), labels))",
            "    .prefetch(tf.data.AUTOTUNE)",
            ")",
            "history = model.fit(",
            "    train_data,",
            "    shuffle=False,  # the dataset shuffles itself",
            "    epochs=EPOCHS,",
            f"    {validation},",
            "    callbacks=callbacks,",
            ")",
        ]
    )
