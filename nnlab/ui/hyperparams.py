"""The hyperparameter form: every TrainConfig setting, bounded, with a one-line lesson each."""

from __future__ import annotations

import streamlit as st

from nnlab.limits import Limits
from nnlab.training import BOUNDS, OPTIMIZERS, PRESET_SETTINGS, SCHEDULES, TrainConfig

QUICK_SUBSET = 6000
QUICK_EPOCHS = 1
FULL = 60000
LEARNING_RATES = (1e-5, 3e-5, 1e-4, 3e-4, 1e-3, 2e-3, 3e-3, 1e-2, 3e-2, 0.1, 0.3, 1.0)
BATCH_SIZES = (8, 16, 32, 64, 128, 256, 512, 1024, 2048)

HELP = {
    "quick": f"Train on {QUICK_SUBSET:,} images for {QUICK_EPOCHS} epoch: a result in seconds, good "
    "for a demo (but less accurate).",
    "learning_rate": "How big a step the optimizer takes downhill each batch: too small learns slowly, too "
    "large jumps around and may diverge.",
    "batch_size": "Images per weight update: larger batches give smoother but fewer updates per epoch and "
    "use more memory.",
    "epochs": "How many times the training goes through all its images.",
    "validation_fraction": "Share of the training images held back to check, after each epoch, how well the "
    "network does on images it did not learn from.",
    "optimizer": "The rule that turns gradients into weight updates: adam adapts the step per weight (a "
    "safe default); sgd is plain gradient descent with momentum.",
    "momentum": "How much of the previous update carries over into the next one (smooths and speeds up sgd).",
    "schedule": "How the learning rate changes during training: constant; plateau cuts it when "
    "validation loss stops improving; cosine and exponential shrink it steadily.",
    "plateau_factor": "When the validation loss stops improving, multiply the learning rate by this.",
    "plateau_patience": "Epochs without improvement before the learning rate is cut.",
    "decay_rate": "Multiply the learning rate by this after every epoch.",
    "early_stopping": "Stop when the validation loss stops improving, and keep the best weights: saves time "
    "and avoids overfitting.",
    "early_stopping_patience": "Epochs without improvement before training stops.",
    "augment": "Show each image shifted (up to 2 px) and rotated (up to 8°) at random: more varied "
    "data, better generalisation, slower epochs.",
    "subset": "How many of the 60,000 training images to use (a stratified sample keeps every digit "
    "equally present). Fewer trains faster but worse.",
    "scale_inputs": "On: pixels are divided by 255, so the network sees values 0-1. Off: its weights see the "
    "raw 0-255 values (its first layer multiplies the image by 255; every page still feeds it the same "
    "images): huge inputs make huge steps, so sgd stalls near chance and adam learns worse. The classic "
    "lesson.",
    "seed": "Starting point of all randomness (weights, shuffling, split): the same seed gives the "
    "same result.",
}


def _fmt_lr(value: float) -> str:
    return f"{value:g}"


# The form's widget key for each setting a preset may recommend.
_KEYS = {
    "epochs": "hp_epochs",
    "batch_size": "hp_batch",
    "learning_rate": "hp_lr",
    "schedule": "hp_schedule",
    "validation_fraction": "hp_val",
    "optimizer": "hp_optimizer",
}


def _apply_recommended(settings: dict) -> None:
    """Button callback (runs before the widgets exist, so it may set their values)."""
    st.session_state["hp_quick"] = False
    st.session_state["hp_subset"] = FULL
    for name, value in settings.items():
        st.session_state[_KEYS[name]] = value


def load_config(config: dict) -> None:
    """Put a run's settings into the form (to train its network again), skipping values it cannot show.

    Call it before the form is drawn, or from a button callback.
    """
    subset = config.get("subset")
    epochs = config.get("epochs")
    quick = subset == QUICK_SUBSET and epochs == QUICK_EPOCHS
    state = st.session_state
    state["hp_quick"] = quick
    if not quick:
        if isinstance(subset, int) and BOUNDS["subset"][0] <= subset <= FULL:
            state["hp_subset"] = subset
        elif subset is None:
            state["hp_subset"] = FULL
        if isinstance(epochs, int) and epochs >= 1:
            state["hp_epochs"] = epochs
    choices = {
        "batch_size": ("hp_batch", BATCH_SIZES),
        "learning_rate": ("hp_lr", LEARNING_RATES),
        "optimizer": ("hp_optimizer", OPTIMIZERS),
        "schedule": ("hp_schedule", SCHEDULES),
    }
    for name, (key, allowed) in choices.items():
        value = config.get(name)
        match = next(
            (
                a
                for a in allowed
                if a == value
                or (isinstance(a, float) and isinstance(value, (int, float)) and abs(a - value) <= 1e-9 * a)
            ),
            None,
        )
        if match is not None:
            state[key] = match
    val = config.get("validation_fraction")
    if isinstance(val, (int, float)) and 0 <= val <= 0.5:
        state["hp_val"] = round(float(val) * 20) / 20
    if isinstance(config.get("seed"), int):
        state["hp_seed"] = config["seed"]
    for name, key in (
        ("early_stopping", "hp_early"),
        ("augment", "hp_augment"),
        ("scale_inputs", "hp_scale"),
    ):
        if isinstance(config.get(name), bool):
            state[key] = config[name]
    if config.get("optimizer") in ("sgd", "rmsprop") and isinstance(config.get("momentum"), (int, float)):
        state[f"hp_momentum_{config['optimizer']}"] = min(0.99, max(0.0, float(config["momentum"])))


# Every widget's default, kept in the session state so that the buttons' callbacks may set them.
FORM_DEFAULTS = {
    "hp_quick": True,
    "hp_subset": FULL,
    "hp_batch": 128,
    "hp_lr": 1e-3,
    "hp_val": 0.1,
    "hp_seed": 0,
    "hp_early": False,
    "hp_augment": False,
    "hp_scale": True,
    "hp_momentum_sgd": 0.9,
    "hp_momentum_rmsprop": 0.0,
    "hp_plateau_factor": 0.5,
    "hp_plateau_patience": 1,
    "hp_decay": 0.8,
    "hp_early_patience": 3,
}
_KEPT = (*FORM_DEFAULTS, "hp_epochs", "hp_optimizer", "hp_schedule")  # the settings a learner makes


def keep_settings() -> None:
    """Keep the form's settings through a visit to another page (``app.py`` calls this in every run).

    Streamlit forgets a widget's value at the end of a run that does not draw it (another page, or a
    box that Quick run hides), but keeps a value set through the session state: so each setting is
    set again, as it stands, in every run (Streamlit's way for multipage apps).
    """
    for key in _KEPT:
        if key in st.session_state:
            st.session_state[key] = st.session_state[key]


def hyperparameter_form(limits: Limits, preset: str | None = None) -> TrainConfig:
    """Draw the settings and return the training config they describe (validate it before use)."""
    _recommended_button(preset)
    for key, default in FORM_DEFAULTS.items():
        st.session_state.setdefault(key, default)
    quick = st.toggle("Quick run", key="hp_quick", help=HELP["quick"])
    values: dict = {}
    c = st.columns(4)
    with c[0]:
        values["epochs"] = _epochs(quick, limits)
    with c[1]:
        values["subset"] = _subset(quick)
    with c[2]:
        values["batch_size"] = int(
            st.select_slider("Batch size", BATCH_SIZES, key="hp_batch", help=HELP["batch_size"])
        )
    with c[3]:
        lr = st.select_slider(
            "Learning rate", LEARNING_RATES, format_func=_fmt_lr, key="hp_lr", help=HELP["learning_rate"]
        )
        values["learning_rate"] = float(lr)
    c = st.columns(4)
    with c[0]:
        values |= _optimizer()
    with c[1]:
        values |= _schedule()
    with c[2]:
        split = st.slider(
            "Validation split", 0.0, 0.5, step=0.05, key="hp_val", help=HELP["validation_fraction"]
        )
        values["validation_fraction"] = float(split)
        low, high = BOUNDS["seed"]
        values["seed"] = int(st.number_input("Seed", low, high, key="hp_seed", help=HELP["seed"]))
    with c[3]:
        values |= _regularisation()
    return TrainConfig(**values)


def _recommended_button(preset: str | None) -> None:
    recommended = PRESET_SETTINGS.get(preset or "")
    if not recommended:
        return
    summary = ", ".join(
        f"{k.replace('_', ' ')} {v:g}" if isinstance(v, float) else f"{k.replace('_', ' ')} {v}"
        for k, v in recommended.items()
    )
    st.button(
        f"Use the settings this preset was tuned with ({summary}, all 60,000 images)",
        key="hp_recommended",
        on_click=_apply_recommended,
        args=(recommended,),
        icon="🎯",
        help="The settings with which this preset reaches its advertised accuracy (a full "
        "training: minutes, not seconds).",
    )


def _epochs(quick: bool, limits: Limits) -> int:
    if quick:
        st.number_input(
            "Epochs", value=QUICK_EPOCHS, disabled=True, help=HELP["epochs"], key="hp_epochs_quick"
        )
        return QUICK_EPOCHS
    st.session_state.setdefault("hp_epochs", min(5, _most_epochs(BOUNDS["epochs"][1], limits.max_epochs)))
    return epochs_input("hp_epochs", BOUNDS["epochs"][1], limits.max_epochs, help=HELP["epochs"])


def _most_epochs(ceiling: int, max_epochs: int | None) -> int:
    return ceiling if max_epochs is None else max(1, min(max_epochs, ceiling))


def epochs_input(key: str, ceiling: int, max_epochs: int | None, help: str | None = None) -> int:
    """An Epochs box (state ``key``) offering what the lab trains, no more: up to ``ceiling``, or the
    operator's ``max_epochs`` where lower (said under the box); a value kept from before is brought
    down to it."""
    most = _most_epochs(ceiling, max_epochs)
    if st.session_state.get(key, 0) > most:
        st.session_state[key] = most
    epochs = st.number_input("Epochs", min_value=1, max_value=most, step=1, key=key, help=help)
    if max_epochs is not None:
        st.caption(f"Trainings here take at most {max_epochs} epochs.")
    return int(epochs)


def _subset(quick: bool) -> int | None:
    if quick:
        st.number_input(
            "Training images", value=QUICK_SUBSET, disabled=True, help=HELP["subset"], key="hp_subset_quick"
        )
        return QUICK_SUBSET
    low = BOUNDS["subset"][0]
    subset = int(
        st.number_input(
            "Training images", min_value=low, max_value=FULL, step=1000, key="hp_subset", help=HELP["subset"]
        )
    )
    return None if subset >= FULL else subset


def _optimizer() -> dict:
    optimizer = st.selectbox("Optimizer", OPTIMIZERS, key="hp_optimizer", help=HELP["optimizer"])
    momentum = 0.9
    if optimizer in ("sgd", "rmsprop"):
        key = f"hp_momentum_{optimizer}"
        momentum = st.slider("Momentum", 0.0, 0.99, step=0.01, key=key, help=HELP["momentum"])
    return {"optimizer": optimizer, "momentum": float(momentum)}


def _schedule() -> dict:
    schedule = st.selectbox("Learning-rate schedule", SCHEDULES, key="hp_schedule", help=HELP["schedule"])
    values = {
        "schedule": schedule,
        "plateau_factor": FORM_DEFAULTS["hp_plateau_factor"],
        "plateau_patience": FORM_DEFAULTS["hp_plateau_patience"],
        "decay_rate": FORM_DEFAULTS["hp_decay"],
    }
    if schedule == "plateau":
        factor = st.slider(
            "Cut factor", 0.05, 0.95, step=0.05, key="hp_plateau_factor", help=HELP["plateau_factor"]
        )
        patience = st.number_input(
            "Patience (epochs)", 0, 100, step=1, key="hp_plateau_patience", help=HELP["plateau_patience"]
        )
        values |= {"plateau_factor": float(factor), "plateau_patience": int(patience)}
    elif schedule == "exponential":
        decay = st.slider("Decay per epoch", 0.05, 1.0, step=0.05, key="hp_decay", help=HELP["decay_rate"])
        values["decay_rate"] = float(decay)
    return values


def _regularisation() -> dict:
    early_stopping = st.toggle("Early stopping", key="hp_early", help=HELP["early_stopping"])
    patience = FORM_DEFAULTS["hp_early_patience"]
    if early_stopping:
        patience = int(
            st.number_input(
                "Patience (epochs)",
                0,
                100,
                step=1,
                key="hp_early_patience",
                help=HELP["early_stopping_patience"],
            )
        )
    augment = st.toggle("Augmentation", key="hp_augment", help=HELP["augment"])
    scale = st.toggle("Scale pixels to 0-1", key="hp_scale", help=HELP["scale_inputs"])
    return {
        "early_stopping": early_stopping,
        "early_stopping_patience": patience,
        "augment": augment,
        "scale_inputs": scale,
    }
