"""From scratch: a neural network in plain NumPy, trained live, next to the same network in Keras."""

from __future__ import annotations

import threading
from pathlib import Path

import streamlit as st

from nnlab import charts, scratch, scratch_view
from nnlab.limits import InvalidLimits, load_limits
from nnlab.ui.visitor import visitor_id

REFRESH_SECONDS = 1.0
MAX_RUNNING = 2  # from-scratch trainings at once on this server (each holds its data in memory)
LEARNING_RATES = (1e-4, 3e-4, 1e-3, 3e-3, 0.01, 0.03, 0.1, 0.3, 1.0, 3.0)
L2_VALUES = (0.0, 1e-6, 1e-5, 1e-4, 1e-3, 1e-2)
BATCH_SIZES = (8, 16, 32, 64, 128, 256, 512, 1024)
SUBSETS = {"1,000": 1000, "5,000": 5000, "10,000": 10000, "20,000": 20000, "all 60,000": None}
# 1 thread by default: this small network gains little from more, and on a busy machine BLAS threads
# waiting for each other made it 15x slower (benchmarks/scratch_vs_keras.py).
BLAS = {"1": 1, "2": 2, "4": 4, "the machine's setting": None}
SOURCE = Path(scratch.__file__)

HELP = {
    "hidden": "Units of each hidden layer, separated by commas: '128' is one layer, '256, 128' two. Leave empty for "
    "no hidden layer (logistic regression).",
    "activation": "relu keeps gradients alive in deep nets; sigmoid's slope is at most 0.25, so its gradients shrink "
    "layer after layer (watch the gradient norms with several sigmoid layers).",
    "init": "auto: He initialisation for relu layers, Xavier for sigmoid/tanh layers and the output.",
    "scale": "Divide the pixels by 255. Off, the network sees raw 0-255 values: sums 255 times larger, "
    "saturated or exploding units, and a loss that struggles or overflows.",
    "keras": "Also train exactly this architecture with Keras (same SGD, rate, momentum, batch size, epochs, images and "
    "split) in the background runner, and overlay its curves. Keras always gets scaled inputs.",
    "blas": "Threads NumPy's matrix library (BLAS) may use during this training. For a network this small, 1 is "
    "about as fast as more on an idle machine and far faster on a busy one.",
}


class Slot:
    """One visitor's from-scratch training and Keras twin, shared by page runs and the training thread."""

    def __init__(self) -> None:
        self.job: scratch.ScratchJob | None = None
        self.keras_run_id: str | None = None
        self.keras_error: str | None = None


class Slots:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.by_visitor: dict[str, Slot] = {}

    def get(self, visitor: str) -> Slot:
        with self.lock:
            return self.by_visitor.setdefault(visitor, Slot())

    def running(self) -> int:
        with self.lock:
            return sum(1 for s in self.by_visitor.values() if s.job is not None and s.job.running)


@st.cache_resource(show_spinner=False)
def _slots() -> Slots:
    return Slots()


@st.cache_resource(show_spinner="Preparing the images…", max_entries=2)
def _data(
    digits: tuple[int, ...] | None, subset: int | None, seed: int, scale_inputs: bool
) -> scratch.ScratchData:
    config = scratch.ScratchConfig(digits=digits, subset=subset, seed=seed, scale_inputs=scale_inputs)
    return scratch.prepare_data(config)


def _store_and_runner():
    from nnlab.ui import live

    return live.get_store(), live.get_runner()


def parse_hidden(text: str) -> tuple[int, ...]:
    """'256, 128' -> (256, 128); ValueError in plain words for anything else."""
    parts = [p.strip() for p in text.replace(";", ",").split(",") if p.strip()]
    try:
        sizes = tuple(int(p) for p in parts)
    except ValueError:
        raise ValueError(
            f"Hidden layers: write whole numbers separated by commas, like 256, 128 (got {text!r})."
        ) from None
    return sizes


# Every setting's default. The values live in the session state (not in the widgets' arguments), and
# a copy survives visits to other pages, which drop a widget's state when it is not drawn.
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


def _restore_settings() -> None:
    saved = st.session_state.get(_SAVED, {})
    for key, default in FORM_DEFAULTS.items():
        if key not in st.session_state:
            st.session_state[key] = saved.get(key, default)


def _save_settings() -> None:
    st.session_state[_SAVED] = {
        key: st.session_state[key] for key in FORM_DEFAULTS if key in st.session_state
    }


def event_every(subset: int | None, batch_size: int) -> int:
    """Report every how many batches: every batch in a short training, so its curves have points to draw."""
    n_train = int((subset or 60000) * 0.9)
    steps = max(1, -(-n_train // max(1, batch_size)))
    return max(1, min(10, steps // 40))


def settings_form() -> tuple[scratch.ScratchConfig | None, bool, list[str]]:
    """The settings as a config (None if unreadable), whether to train the Keras twin, and problems."""
    problems: list[str] = []
    _restore_settings()
    c = st.columns(3)
    with c[0]:
        hidden_text = st.text_input("Hidden layer sizes", key="fs_hidden", help=HELP["hidden"])
        activation = st.selectbox(
            "Hidden activation", scratch.ACTIVATIONS, key="fs_activation", help=HELP["activation"]
        )
        init = st.selectbox("Weight initialisation", scratch.INITS, key="fs_init", help=HELP["init"])
    with c[1]:
        lr = st.select_slider(
            "Learning rate",
            LEARNING_RATES,
            format_func=lambda v: f"{v:g}",
            key="fs_lr",
            help="How big a step each update takes downhill.",
        )
        momentum = st.slider(
            "Momentum",
            0.0,
            0.99,
            step=0.01,
            key="fs_momentum",
            help="How much of the previous update carries into the next (0 = plain SGD).",
        )
        l2 = st.select_slider(
            "L2 penalty",
            L2_VALUES,
            format_func=lambda v: f"{v:g}",
            key="fs_l2",
            help="Adds l2 x (sum of squared weights) to the loss: keeps weights small.",
        )
    with c[2]:
        batch_size = st.select_slider(
            "Batch size", BATCH_SIZES, key="fs_batch", help="Images per weight update."
        )
        epochs = int(st.number_input("Epochs", min_value=1, max_value=100, step=1, key="fs_epochs"))
        subset = SUBSETS[
            st.selectbox(
                "Training images",
                list(SUBSETS),
                key="fs_subset",
                help="A stratified sample of the 60,000 (10 % of it is held out for validation).",
            )
        ]
    c = st.columns(3)
    scale_inputs = c[0].toggle("Scale inputs to [0, 1]", key="fs_scale", help=HELP["scale"])
    task = c[1].segmented_control(
        "Task",
        ["ten digits", "two digits"],
        key="fs_task",
        help="Two digits make a binary task: one sigmoid output unit with binary cross-entropy.",
    )
    digits = None
    if task == "two digits":
        d = c[1].columns(2)
        a = d[0].selectbox("first digit", range(10), key="fs_digit_a")
        b = d[1].selectbox("second digit", range(10), key="fs_digit_b")
        digits = (int(a), int(b))
    keras_twin = c[2].toggle(
        "Train the same network in Keras too", key="fs_keras", help=HELP["keras"], disabled=digits is not None
    )
    if digits is not None:
        c[2].caption("The Keras twin trains on all ten digits only.")
    with st.expander("More settings"):
        m = st.columns(2)
        seed = int(
            m[0].number_input(
                "Seed",
                min_value=0,
                max_value=2**31 - 1,
                step=1,
                key="fs_seed",
                help="The same seed gives the same weights, shuffles and numbers.",
            )
        )
        blas = BLAS[m[1].selectbox("BLAS threads", list(BLAS), key="fs_blas", help=HELP["blas"])]
    _save_settings()
    try:
        hidden = parse_hidden(hidden_text)
    except ValueError as exc:
        return None, False, [str(exc)]
    config = scratch.ScratchConfig(
        hidden=hidden,
        activation=activation,
        init=init,
        learning_rate=float(lr),
        momentum=float(momentum),
        l2=float(l2),
        batch_size=int(batch_size),
        epochs=epochs,
        subset=subset,
        digits=digits,
        scale_inputs=scale_inputs,
        seed=seed,
        blas_threads=blas,
        batch_event_every=event_every(subset, int(batch_size)),
    )
    problems += scratch.validate_config(config)
    return config, keras_twin and digits is None, problems


def start(slot: Slot, config: scratch.ScratchConfig, keras_twin: bool, visitor: str) -> list[str]:
    """Start the NumPy training (and the Keras twin); the problems that prevented it, if any."""
    try:
        limits = load_limits()
    except InvalidLimits as exc:
        return [f"The server's limits are misconfigured: {exc}"]
    problems = limits.problems(n_params=scratch.n_params(config), epochs=config.epochs, visitor_active=0)
    if _slots().running() >= MAX_RUNNING:
        problems.append(
            f"{MAX_RUNNING} from-scratch trainings are already running on this server: try again in a minute."
        )
    if problems:
        return problems
    data = _data(config.digits, config.subset, config.seed, config.scale_inputs)
    slot.job = scratch.ScratchJob(config, data).start()
    slot.keras_run_id, slot.keras_error = None, None
    if keras_twin:
        try:
            store, runner = _store_and_runner()
            active = len(store.list(owner=visitor, include_unowned=False, statuses=("queued", "running")))
            twin_config = scratch.keras_train_config(config)
            twin_problems = limits.problems(
                n_params=scratch.n_params(config), epochs=config.epochs, visitor_active=active
            )
            if twin_problems:
                slot.keras_error = " ".join(twin_problems)
            else:
                spec = scratch.keras_spec(config)
                slot.keras_run_id = runner.submit(
                    spec, twin_config, name=scratch.keras_twin_name(config), owner=visitor
                ).id
        except Exception as exc:  # noqa: BLE001 - shown in words; the NumPy training goes on
            slot.keras_error = f"The Keras twin could not be started: {exc}"
    return []


def stop(slot: Slot) -> None:
    if slot.job is not None:
        slot.job.stop()
    if slot.keras_run_id:
        try:
            _, runner = _store_and_runner()
            runner.stop(slot.keras_run_id)
        except Exception:  # noqa: BLE001 - the run may be gone already
            pass


def keras_status(slot: Slot):
    """The Keras twin's run (or None) and its epoch table."""
    if not slot.keras_run_id:
        return None, None
    store, runner = _store_and_runner()
    run = store.get(slot.keras_run_id)
    if run is not None and run.is_active:
        runner.dispatch()
    return run, store.metrics(slot.keras_run_id, "epoch") if run is not None else None


def live_view(slot: Slot) -> None:
    job = slot.job
    if job is None:
        return
    run, _ = keras_status(slot)
    active = job.running or (run is not None and run.is_active)

    @st.fragment(run_every=REFRESH_SECONDS if active else None)
    def view() -> None:
        snap = job.snapshot()
        config = job.config
        start_event, end = snap["start"], snap["end"]
        steps = start_event["steps_per_epoch"] if start_event else None
        batch_df = scratch_view.batch_frame(snap["batches"], steps)
        epoch_df = scratch_view.epoch_frame(snap["epochs"])

        if snap["error"]:
            st.error(f"The training failed: {snap['error']}")
        elif end is None:
            done = 0.0
            if start_event and snap["batches"]:
                last = snap["batches"][-1]
                done = ((last["epoch"] - 1) * steps + last["batch"]) / (config.epochs * steps)
                text = f"Epoch {last['epoch']}/{config.epochs} · batch {last['batch']}/{steps} · {last['samples_per_sec']:,.0f} samples/s"
            else:
                text = "Starting…"
            st.progress(min(done, 1.0), text=text)
            if snap["stop_requested"]:
                st.caption("Stopping after this batch…")
            else:
                st.button(
                    "Stop",
                    icon="⏹️",
                    key="fs_stop",
                    on_click=stop,
                    args=(slot,),
                    help="End the training after the current batch; the network keeps what it learned.",
                )
        else:
            if end.get("diverged"):
                st.warning(
                    "The loss became NaN or infinite: the training **diverged**. The steps were too large for "
                    "these inputs: lower the learning rate, or scale the inputs to [0, 1].",
                    icon="💥",
                )
            elif end.get("stopped"):
                st.warning("Stopped before the end: the results are for the network as it stood.", icon="⏹️")
            for message in scratch_view.lessons(config, snap["batches"], snap["epochs"], end):
                st.warning(message, icon="💡")
            m = st.columns(3)
            m[0].metric("Test accuracy", f"{end['test_accuracy']:.2%}")
            m[1].metric("Test loss", f"{end['test_loss']:.4f}")
            m[2].metric("Training time", f"{end['elapsed']:.1f} s")

        cols = st.columns(2)
        for col, metric in zip(cols, ("loss", "accuracy")):
            fig = charts.training_figure(batch_df, epoch_df, metric, steps_per_epoch=steps)
            col.plotly_chart(
                fig, width="stretch", key="fs_chart_loss" if metric == "loss" else "fs_chart_acc"
            )

        cols = st.columns(2)
        with cols[0]:
            frame = scratch_view.grad_norm_frame(snap["batches"], steps)
            st.plotly_chart(
                scratch_view.grad_norm_figure(frame, n_layers=len(config.hidden) + 1),
                width="stretch",
                key="fs_chart_grads",
            )
            st.caption(
                "The size of each layer's weight gradient. With sigmoid and several hidden layers the lines near "
                "the input sit orders of magnitude below the output's: those layers barely learn (vanishing gradients)."
            )
        with cols[1]:
            if job.net is not None:
                images = (
                    scratch.first_layer_images(job.net, max_units=32)
                    if job.net.W[0].shape[0] == 784
                    else None
                )
                if images is not None:
                    st.plotly_chart(
                        scratch_view.weights_figure(images, total_units=job.net.W[0].shape[1]),
                        width="stretch",
                        key="fs_chart_weights",
                    )
                    st.caption(
                        "Each square is one first-layer unit's 784 weights laid out as the image they multiply "
                        "(red positive, blue negative): the stroke pattern that unit responds to."
                    )

        keras_run, keras_epochs = keras_status(slot)  # once per refresh: two database reads
        twin(slot, epoch_df, keras_run, keras_epochs)
        if active and not snap["running"] and not (keras_run is not None and keras_run.is_active):
            st.rerun()  # once: the page sees the end and polling stops

    view()


def twin(slot: Slot, scratch_epochs, run, keras_epochs) -> None:
    """The Keras twin's status (``run``, from ``keras_status``) and the two networks' curves overlaid."""
    if slot.keras_error:
        st.error(slot.keras_error)
    if not slot.keras_run_id:
        return
    st.subheader("Side by side with Keras")
    if run is None:
        st.warning("The Keras run no longer exists.")
        return
    status = {
        "queued": "waiting in the queue",
        "running": "training",
        "completed": "done",
        "stopped": "stopped",
        "failed": "failed",
    }.get(run.status, run.status)
    st.caption(
        f"Keras twin: {run.name} · {status}"
        + (f" · test accuracy {run.test_accuracy:.2%}" if run.test_accuracy is not None else "")
    )
    if run.status == "failed":
        from nnlab.ui.live import plain_error

        st.error(plain_error(run.error))
    runs = {"from scratch (NumPy)": scratch_epochs, "Keras": keras_epochs}
    cols = st.columns(2)
    cols[0].plotly_chart(charts.overlay_figure(runs, "val_accuracy"), width="stretch", key="fs_cmp_acc")
    cols[1].plotly_chart(charts.overlay_figure(runs, "loss"), width="stretch", key="fs_cmp_loss")
    table = scratch_view.comparison_table(scratch_epochs, keras_epochs)
    if not table.empty:
        st.dataframe(
            table,
            hide_index=True,
            width="stretch",
            column_config={
                "accuracy": st.column_config.NumberColumn(format="percent"),
                "val_accuracy": st.column_config.NumberColumn(format="percent"),
                "seconds": st.column_config.NumberColumn(format="%.1f"),
                "samples/s": st.column_config.NumberColumn(format="%.0f"),
            },
        )


st.set_page_config(page_title="From scratch · NN Lab", page_icon="🧠", layout="wide")
st.title("🧮 A neural network from scratch")
st.write(
    "This network is written in NumPy alone: matrix products forward, the chain rule backward, and SGD "
    "updates, in about 200 commented lines (the code is at the bottom of the page). Choose its layers and settings, "
    "train it, and watch what Keras hides: each layer's gradient and the patterns the first layer learns."
)
visitor = visitor_id()
slot = _slots().get(visitor)
running = slot.job is not None and slot.job.running

config, keras_twin, problems = settings_form()
for problem in problems:
    st.error(problem)
if config is not None and not problems:
    k = len(config.digits) if config.digits else 10
    sizes = " → ".join(str(n) for n in (784, *config.hidden, 1 if k == 2 else k))
    out = "sigmoid + binary cross-entropy" if k == 2 else "softmax + cross-entropy"
    st.caption(
        f"Network: {sizes} · {config.activation} hidden units · {out} · {scratch.n_params(config):,} parameters"
    )

if st.button(
    "Train", type="primary", icon="▶️", disabled=running or config is None or bool(problems), key="fs_train"
):
    failed = start(slot, config, keras_twin, visitor)
    for problem in failed:
        st.error(problem)
    if not failed:
        st.rerun()
if running:
    st.caption("A training is running: its view below refreshes every second.")

live_view(slot)

with st.expander("Read the code (nnlab/scratch.py)"):
    try:
        st.code(SOURCE.read_text(encoding="utf-8"), language="python", line_numbers=True)
    except OSError:
        st.caption("The source file is not available.")
