"""The From-scratch page's settings form: the NumPy network's layers and how to train it.

The values live in the session state (not in the widgets' arguments), and a copy survives visits to
other pages, which drop a widget's state when it is not drawn.
"""

from __future__ import annotations

import math

import streamlit as st

from nnlab import scratch
from nnlab.ui.hyperparams import epochs_input

LEARNING_RATES = (1e-4, 3e-4, 1e-3, 3e-3, 0.01, 0.03, 0.1, 0.3, 1.0, 3.0)
L2_VALUES = (0.0, 1e-6, 1e-5, 1e-4, 1e-3, 1e-2)
BATCH_SIZES = (8, 16, 32, 64, 128, 256, 512, 1024)
MAX_EPOCHS = 100  # the epochs box's own bound (the operator's limit, where lower, bounds it instead)
SUBSETS = {"1,000": 1000, "5,000": 5000, "10,000": 10000, "20,000": 20000, "all 60,000": None}
# 1 thread by default: this small network gains little from more, and on a busy machine BLAS threads
# waiting for each other made it 15x slower (benchmarks/scratch_vs_keras.py).
BLAS = {"1": 1, "2": 2, "4": 4, "the machine's setting": None}

HELP = {
    "hidden": "Units of each hidden layer, separated by commas: '128' is one layer, '256, 128' two. "
    "Leave empty for no hidden layer (logistic regression).",
    "activation": "relu keeps gradients alive in deep nets; sigmoid's slope is at most 0.25, so its "
    "gradients "
    "shrink layer after layer (watch the gradient norms with several sigmoid layers).",
    "init": "auto: He initialisation for relu layers, Xavier for sigmoid/tanh layers and the output.",
    "scale": "Divide the pixels by 255. Off, the network sees raw 0-255 values: sums 255 times larger, "
    "saturated or exploding units, and a loss that struggles or overflows.",
    "keras": "Also train exactly this architecture with Keras (same SGD, rate, momentum, batch size, epochs, "
    "images and split) in the background runner, and overlay its curves. Keras always gets scaled inputs.",
    "blas": "Threads NumPy's matrix library (BLAS) may use during this training. For a network this small, "
    "1 is about as fast as more on an idle machine and far faster on a busy one.",
}

# Every setting's default, by its widget key.
FORM_DEFAULTS = {
    "fs_hidden": "128",
    "fs_activation": scratch.ACTIVATIONS[0],
    "fs_init": scratch.INITS[0],
    "fs_lr": 0.1,
    "fs_momentum": 0.9,
    "fs_l2": 0.0,
    "fs_batch": 64,
    "fs_epochs": 3,
    "fs_subset": "10,000",
    "fs_scale": True,
    "fs_task": "ten digits",
    "fs_digit_a": 3,
    "fs_digit_b": 8,
    "fs_keras": False,
    "fs_seed": 0,
    "fs_blas": next(iter(BLAS)),
}
_SAVED = "fs_saved_settings"


def parse_hidden(text: str) -> tuple[int, ...]:
    """'256, 128' -> (256, 128); ValueError in plain words for anything else."""
    parts = [p.strip() for p in text.replace(";", ",").split(",") if p.strip()]
    try:
        return tuple(int(p) for p in parts)
    except ValueError:
        raise ValueError(
            f"Hidden layers: write whole numbers separated by commas, like 256, 128 (got {text!r})."
        ) from None


def event_every(subset: int | None, batch_size: int) -> int:
    """Report every how many batches: every batch in a short training, so its curves have points to draw."""
    steps = max(1, math.ceil(int((subset or 60000) * 0.9) / max(1, batch_size)))
    return max(1, min(10, steps // 40))


def settings_form(max_epochs: int | None = None) -> tuple[scratch.ScratchConfig | None, bool, list[str]]:
    """The settings as a config (None if unreadable), whether to train the Keras twin, and problems;
    the epochs box goes up to ``max_epochs`` (the operator's limit), where there is one."""
    saved = st.session_state.get(_SAVED, {})
    for key, default in FORM_DEFAULTS.items():
        if key not in st.session_state:
            st.session_state[key] = saved.get(key, default)
    c = st.columns(3)
    with c[0]:
        hidden_text = st.text_input("Hidden layer sizes", key="fs_hidden", help=HELP["hidden"])
        st.selectbox("Hidden activation", scratch.ACTIVATIONS, key="fs_activation", help=HELP["activation"])
        st.selectbox("Weight initialisation", scratch.INITS, key="fs_init", help=HELP["init"])
    with c[1]:
        _step_settings()
    with c[2]:
        _data_settings(max_epochs)
    digits, keras_twin = _task_settings()
    with st.expander("More settings"):
        m = st.columns(2)
        seed_help = "The same seed gives the same weights, shuffles and numbers."
        m[0].number_input("Seed", min_value=0, max_value=2**31 - 1, step=1, key="fs_seed", help=seed_help)
        m[1].selectbox("BLAS threads", list(BLAS), key="fs_blas", help=HELP["blas"])
    st.session_state[_SAVED] = {
        key: st.session_state[key] for key in FORM_DEFAULTS if key in st.session_state
    }
    try:
        hidden = parse_hidden(hidden_text)
    except ValueError as exc:
        return None, False, [str(exc)]
    config = _config(hidden, digits)
    return config, keras_twin and digits is None, [str(p) for p in scratch.validate_config(config)]


def _step_settings() -> None:
    def fmt(v: float) -> str:
        return f"{v:g}"

    lr_help = "How big a step each update takes downhill."
    st.select_slider("Learning rate", LEARNING_RATES, format_func=fmt, key="fs_lr", help=lr_help)
    momentum_help = "How much of the previous update carries into the next (0 = plain SGD)."
    st.slider("Momentum", 0.0, 0.99, step=0.01, key="fs_momentum", help=momentum_help)
    l2_help = "Adds l2 x (sum of squared weights) to the loss: keeps weights small."
    st.select_slider("L2 penalty", L2_VALUES, format_func=fmt, key="fs_l2", help=l2_help)


def _data_settings(max_epochs: int | None) -> None:
    st.select_slider("Batch size", BATCH_SIZES, key="fs_batch", help="Images per weight update.")
    epochs_input("fs_epochs", MAX_EPOCHS, max_epochs)
    subset_help = "A stratified sample of the 60,000 (10 % of it is held out for validation)."
    st.selectbox("Training images", list(SUBSETS), key="fs_subset", help=subset_help)


def _task_settings() -> tuple[tuple[int, int] | None, bool]:
    """Scaling, the task (ten or two digits), the Keras twin: the digits kept, and whether to train a twin."""
    c = st.columns(3)
    c[0].toggle("Scale inputs to [0, 1]", key="fs_scale", help=HELP["scale"])
    binary_help = "Two digits make a binary task: one sigmoid output unit with binary cross-entropy."
    task = c[1].segmented_control("Task", ["ten digits", "two digits"], key="fs_task", help=binary_help)
    digits = None
    if task == "two digits":
        d = c[1].columns(2)
        a = d[0].selectbox("first digit", range(10), key="fs_digit_a")
        b = d[1].selectbox("second digit", range(10), key="fs_digit_b")
        digits = (int(a), int(b))
    twin = c[2].toggle(
        "Train the same network in Keras too", key="fs_keras", help=HELP["keras"], disabled=digits is not None
    )
    if digits is not None:
        c[2].caption("The Keras twin trains on all ten digits only.")
    return digits, twin


def _config(hidden: tuple[int, ...], digits: tuple[int, int] | None) -> scratch.ScratchConfig:
    state = st.session_state
    subset, batch_size = SUBSETS[state["fs_subset"]], int(state["fs_batch"])
    return scratch.ScratchConfig(
        hidden=hidden,
        activation=state["fs_activation"],
        init=state["fs_init"],
        learning_rate=float(state["fs_lr"]),
        momentum=float(state["fs_momentum"]),
        l2=float(state["fs_l2"]),
        batch_size=batch_size,
        epochs=int(state["fs_epochs"]),
        subset=subset,
        digits=digits,
        scale_inputs=bool(state["fs_scale"]),
        seed=int(state["fs_seed"]),
        blas_threads=BLAS[state["fs_blas"]],
        batch_event_every=event_every(subset, batch_size),
    )


def network_caption(config: scratch.ScratchConfig) -> str:
    """'Network: 784 → 128 → 10 · relu hidden units · softmax + cross-entropy · 101,770 parameters'."""
    k = len(config.digits) if config.digits else 10
    sizes = " → ".join(str(n) for n in (784, *config.hidden, 1 if k == 2 else k))
    out = "sigmoid + binary cross-entropy" if k == 2 else "softmax + cross-entropy"
    params = scratch.n_params(config)
    return f"Network: {sizes} · {config.activation} hidden units · {out} · {params:,} parameters"
